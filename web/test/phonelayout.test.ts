import { test } from "node:test";
import assert from "node:assert/strict";
import type { Participant } from "../src/conference";
import { roomWords } from "../src/roomname";
import { fillGridFor, gridFor, stageFor } from "../src/ui/layout";
import { followNewShares } from "../src/ui/meeting/stage";
import { newMeetingState, type Meeting, type TileEntry } from "../src/ui/meeting/state";

// A phone held upright: 390 px wide, the grid's area once the top bar, the toolbar and the padding are taken.
const phoneW = 374;
const phoneH = 700;

test("six people on a phone: two columns of tiles that fill the width, not one column of small 16:9 tiles", () => {
  const fixed = gridFor(6, phoneW, phoneH);
  assert.equal(fixed.cols, 1, "what 16:9 tiles give: one narrow column");
  const g = fillGridFor(6, phoneW, phoneH);
  assert.equal(g.cols, 2);
  assert.equal(g.rows, 3);
  assert.equal(g.tileW, (phoneW - 8) / 2, "the two columns fill the width");
  assert.ok(g.tileW * g.tileH > 1.5 * fixed.tileW * fixed.tileH, `tiles ${g.tileW}×${g.tileH} against ${fixed.tileW}×${fixed.tileH}`);
  assert.ok(3 * g.tileH + 16 <= phoneH + 0.001, "three rows fit the height");
});

test("the fill grid keeps tiles between 9:16 and 16:9", () => {
  for (let n = 1; n <= 12; n++) {
    for (const [w, h] of [
      [phoneW, phoneH],
      [phoneH, phoneW],
      [1264, 700],
    ]) {
      const g = fillGridFor(n, w, h);
      const a = g.tileW / g.tileH;
      assert.ok(a >= 9 / 16 - 1e-9 && a <= 16 / 9 + 1e-9, `${n} in ${w}×${h}: aspect ${a}`);
      assert.ok(g.cols * g.tileW + (g.cols - 1) * 8 <= w + 1e-6 && g.rows * g.tileH + (g.rows - 1) * 8 <= h + 1e-6, `${n} in ${w}×${h} overflows`);
      assert.ok(g.cols * g.rows >= n);
    }
  }
  // One person fills the phone's screen; two are stacked.
  assert.deepEqual(fillGridFor(1, phoneW, phoneH).cols, 1);
  assert.ok(fillGridFor(1, phoneW, phoneH).tileH > 600);
  assert.equal(fillGridFor(2, phoneW, phoneH).cols, 1);
});

test("the stage on an upright phone fills the room above the filmstrip", () => {
  const fixed = stageFor(2, phoneW, phoneH);
  const g = stageFor(2, phoneW, phoneH, 16 / 9, 8, true);
  assert.equal(g.stageW, phoneW);
  assert.equal(g.stageH, phoneH - g.stripH - 8, "as tall as the room left by the filmstrip");
  assert.ok(g.stageH > 2.5 * fixed.stageH, `${g.stageH} against a 16:9 stage of ${fixed.stageH}`);
  assert.deepEqual([g.stripW, g.stripH], [fixed.stripW, fixed.stripH], "the filmstrip is the same");
  assert.equal(stageFor(0, phoneW, phoneH, 16 / 9, 8, true).stageH, phoneH, "alone: the whole area");
});

test("room names wrap between their words", () => {
  assert.deepEqual(roomWords("ThirstyHorsesDanceQuickly"), ["Thirsty", "Horses", "Dance", "Quickly"]);
  assert.deepEqual(roomWords("team-weekly_sync.v2"), ["team-", "weekly_", "sync.", "v2"]);
  assert.deepEqual(roomWords("lowercase"), ["lowercase"]);
  assert.deepEqual(roomWords("ÜberÄrgerÖl"), ["Über", "Ärger", "Öl"]);
  assert.deepEqual(roomWords("ABCRoom"), ["ABCRoom"], "no break inside a run of capitals");
  for (const n of ["ThirstyHorsesDanceQuickly", "team-weekly_sync.v2", "a"]) assert.equal(roomWords(n).join(""), n);
});

/** A meeting state with its tiles: cameras of the ids, and remote screen shares of `sharing`. */
function tilesOf(cams: string[], sharing: string[]): TileEntry[] {
  const p = (id: string) => ({ id, local: id === "me" }) as Participant;
  return [...cams.map((id) => ({ key: id, p: p(id), screen: false })), ...sharing.map((id) => ({ key: `${id}-v1`, p: p(id), screen: true }))];
}
function meetingState(): Meeting {
  return { state: newMeetingState() } as Meeting;
}

test("a screen share takes the stage and, when it ends, the grid comes back", () => {
  const m = meetingState();
  const cams = ["me", "bob", "cy"];
  followNewShares(m, tilesOf(cams, []));
  assert.equal(m.state.stageView, false);
  followNewShares(m, tilesOf(cams, ["bob"]));
  assert.equal(m.state.stageView, true);
  assert.equal(m.state.pinned, "bob-v1");
  followNewShares(m, tilesOf(cams, ["bob"]));
  assert.equal(m.state.pinned, "bob-v1");
  followNewShares(m, tilesOf(cams, []));
  assert.equal(m.state.stageView, false, "back to the grid");
  assert.equal(m.state.pinned, "");
});

test("a screen share that ends gives back the stage with the pin the user had", () => {
  const m = meetingState();
  m.state.stageView = true;
  m.state.pinned = "cy";
  followNewShares(m, tilesOf(["me", "bob", "cy"], ["bob"]));
  assert.equal(m.state.pinned, "bob-v1");
  followNewShares(m, tilesOf(["me", "bob", "cy"], []));
  assert.equal(m.state.stageView, true);
  assert.equal(m.state.pinned, "cy");
});

test("overlapping shares: the other share keeps the stage, then the user's layout comes back", () => {
  const m = meetingState();
  const cams = ["me", "bob", "cy"];
  followNewShares(m, tilesOf(cams, ["bob"]));
  followNewShares(m, tilesOf(cams, ["bob", "cy"]));
  assert.equal(m.state.pinned, "cy-v1", "the newest share takes the stage");
  followNewShares(m, tilesOf(cams, ["bob"]));
  assert.equal(m.state.pinned, "bob-v1", "the share still on takes it back");
  assert.equal(m.state.stageView, true);
  followNewShares(m, tilesOf(cams, []));
  assert.equal(m.state.stageView, false, "the grid the user had before the first share");
});

test("a layout the user chose during a share is kept when the share ends", () => {
  const m = meetingState();
  const cams = ["me", "bob", "cy"];
  followNewShares(m, tilesOf(cams, ["bob"]));
  m.state.pinned = "cy"; // the user pinned Cy's camera while Bob shared
  followNewShares(m, tilesOf(cams, []));
  assert.equal(m.state.stageView, true);
  assert.equal(m.state.pinned, "cy");
  // And one who went back to the grid during a share stays there; the next share takes the stage again.
  followNewShares(m, tilesOf(cams, ["bob"]));
  m.state.stageView = false;
  m.state.pinned = "";
  followNewShares(m, tilesOf(cams, []));
  assert.equal(m.state.stageView, false);
  followNewShares(m, tilesOf(cams, ["cy"]));
  assert.equal(m.state.pinned, "cy-v1");
});
