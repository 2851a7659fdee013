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

/**
 * Tiles whose shape may vary between minAspect and maxAspect (width over
 * height), for a portrait area such as a phone's: the videos are cropped
 * to fill their tile (object-fit: cover), so six people on a 390 px wide
 * screen get two columns of tall tiles that fill the screen, rather than
 * one column of small 16:9 tiles with wide margins. Picks the column count
 * that gives the largest tile area.
 */
export function fillGridFor(n: number, w: number, h: number, minAspect = 9 / 16, maxAspect = 16 / 9, gap = 8): Grid {
  n = Math.max(1, n);
  let best: Grid = { cols: 1, rows: n, tileW: 0, tileH: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellW = (w - gap * (cols - 1)) / cols;
    const cellH = (h - gap * (rows - 1)) / rows;
    if (cellW <= 0 || cellH <= 0) continue;
    const aspect = Math.min(maxAspect, Math.max(minAspect, cellW / cellH));
    const tileW = Math.min(cellW, cellH * aspect);
    const tileH = tileW / aspect;
    if (tileW * tileH > best.tileW * best.tileH) best = { cols, rows, tileW, tileH };
  }
  return best;
}

export interface Stage {
  stageW: number;
  stageH: number;
  stripW: number;
  stripH: number;
}

/**
 * Stage view geometry in a w×h area: a filmstrip row of `others` tiles at
 * the bottom (a fifth of the height, 72–160 px, narrower tiles when they
 * would not fit in one row) and the largest tile of the aspect ratio above it;
 * with fill (a phone held upright), a stage as wide as the area and as tall
 * as the room above the filmstrip, the video cropped to fill it (a screen
 * share is letterboxed inside) as Jitsi Meet's mobile stage does, rather
 * than a 16:9 strip with the screen's lower half empty.
 */
export function stageFor(others: number, w: number, h: number, aspect = 16 / 9, gap = 8, fill = false): Stage {
  let stripH = others > 0 ? Math.min(160, Math.max(72, h / 5)) : 0;
  let stripW = stripH * aspect;
  if (others > 0 && others * stripW + (others - 1) * gap > w) {
    stripW = Math.max(0, (w - (others - 1) * gap) / others);
    stripH = stripW / aspect;
  }
  const room = Math.max(0, h - (others > 0 ? stripH + gap : 0));
  if (fill) return { stageW: Math.max(0, w), stageH: room, stripW, stripH };
  const stageW = Math.max(0, Math.min(w, room * aspect));
  return { stageW, stageH: stageW / aspect, stripW, stripH };
}

/**
 * A grid whose tiles would be smaller than minW in gridFor: tiles minW wide
 * (or wider, filling the row) in as many columns as fit, and as many rows
 * as it takes; the grid scrolls, and only the rows in sight get video.
 */
export function scrollGridFor(n: number, w: number, minW: number, aspect = 16 / 9, gap = 8): Grid {
  n = Math.max(1, n);
  const cols = Math.max(1, Math.min(n, Math.floor((w + gap) / (minW + gap))));
  const tileW = Math.max(minW, (w - gap * (cols - 1)) / cols);
  return { cols, rows: Math.ceil(n / cols), tileW, tileH: tileW / aspect };
}

/** The parts of a DOMRect that shownFraction reads. */
export type Box = Pick<DOMRect, "left" | "top" | "right" | "bottom" | "width" | "height">;

/** How much of a tile the grid shows (0–1): the share of its area inside the grid's box. */
export function shownFraction(tile: Box, view: Box): number {
  const w = Math.min(tile.right, view.right) - Math.max(tile.left, view.left);
  const h = Math.min(tile.bottom, view.bottom) - Math.max(tile.top, view.top);
  if (w <= 0 || h <= 0 || tile.width <= 0 || tile.height <= 0) return 0;
  return (w * h) / (tile.width * tile.height);
}
