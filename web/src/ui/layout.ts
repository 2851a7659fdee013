// Tile grid geometry: how many columns give the largest tiles of a given
// aspect ratio for n participants in a w×h area.

export interface Grid {
  cols: number;
  rows: number;
  tileW: number;
  tileH: number;
}

export function gridFor(n: number, w: number, h: number, aspect = 16 / 9, gap = 8): Grid {
  n = Math.max(1, n);
  let best: Grid = { cols: 1, rows: n, tileW: 0, tileH: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellW = (w - gap * (cols - 1)) / cols;
    const cellH = (h - gap * (rows - 1)) / rows;
    if (cellW <= 0 || cellH <= 0) continue;
    const tileW = Math.min(cellW, cellH * aspect);
    const tileH = tileW / aspect;
    if (tileW > best.tileW) best = { cols, rows, tileW, tileH };
  }
  return best;
}
