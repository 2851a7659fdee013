import { test } from "node:test";
import assert from "node:assert/strict";
import { gridFor, scrollGridFor, shownFraction } from "../src/ui/layout";

test("a grid too small for its tiles scrolls: minimum width, as many columns as fit", () => {
  // Twelve people in 500×300: gridFor would make tiles under 120 px wide.
  assert.ok(gridFor(12, 500, 300).tileW < 180);
  const g = scrollGridFor(12, 500, 180);
  assert.equal(g.cols, 2);
  assert.equal(g.rows, 6);
  assert.equal(g.tileW, 246); // the two columns fill the row
  assert.equal(g.tileH, 246 / (16 / 9));
  // Narrower than one tile: one column of the minimum width; never more columns than tiles.
  assert.deepEqual(scrollGridFor(3, 100, 180), { cols: 1, rows: 3, tileW: 180, tileH: 180 / (16 / 9) });
  assert.equal(scrollGridFor(2, 2000, 180).cols, 2);
});

test("how much of a tile the grid shows", () => {
  const view = new DOMRectLike(0, 0, 400, 300);
  assert.equal(shownFraction(new DOMRectLike(10, 10, 100, 100), view), 1);
  assert.equal(shownFraction(new DOMRectLike(10, 250, 100, 100), view), 0.5);
  assert.equal(shownFraction(new DOMRectLike(10, 290, 100, 100), view), 0.1);
  assert.equal(shownFraction(new DOMRectLike(10, 400, 100, 100), view), 0);
  assert.equal(shownFraction(new DOMRectLike(10, 10, 0, 0), view), 0);
});

/** A Box as getBoundingClientRect gives it (node has no DOMRect). */
class DOMRectLike {
  left: number;
  top: number;
  right: number;
  bottom: number;
  constructor(
    x: number,
    y: number,
    public width: number,
    public height: number,
  ) {
    this.left = x;
    this.top = y;
    this.right = x + width;
    this.bottom = y + height;
  }
}
