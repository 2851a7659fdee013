// The settings dialog's and the participants panel's logic without a page:
// the remembered choices, the video quality's cap on what the bridge is
// asked for, and the people search.
import { test } from "node:test";
import assert from "node:assert/strict";
import { capConstraints, receiverConstraints } from "../src/bridgechannel";
import { Prefs, qualityHeight } from "../src/prefs";
import { nameMatches } from "../src/ui/meeting/peoplesearch";

function memory() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

test("noise suppression and video quality are remembered, with the browser's defaults until chosen", () => {
  const s = memory();
  const p = new Prefs(s);
  assert.equal(p.noiseSuppression, true);
  assert.equal(p.videoQuality, "high");
  p.noiseSuppression = false;
  p.videoQuality = "low";
  const q = new Prefs(s);
  assert.equal(q.noiseSuppression, false);
  assert.equal(q.videoQuality, "low");
  q.noiseSuppression = true;
  q.videoQuality = "high";
  assert.equal(s.m.size, 0, "defaults are not stored");
  s.m.set("parley.videoQuality", "ultra");
  assert.equal(new Prefs(s).videoQuality, "high", "an unknown value reads as the default");
  assert.deepEqual(qualityHeight, { low: 180, standard: 360, high: 720 });
});

test("the quality cap limits every source, the stage and screen shares included, and the default", () => {
  const c = receiverConstraints(
    [
      { source: "aaaa-v0", height: 600 },
      { source: "bbbb-v0", height: 120 },
      { source: "cccc-v1", height: 500, onStage: true, desktop: true },
    ],
    1,
  );
  assert.deepEqual(c.constraints, { "aaaa-v0": { maxHeight: 720 }, "bbbb-v0": { maxHeight: 180 }, "cccc-v1": { maxHeight: 720 } });
  const low = capConstraints(c, 180);
  assert.deepEqual(low.constraints, { "aaaa-v0": { maxHeight: 180 }, "bbbb-v0": { maxHeight: 180 }, "cccc-v1": { maxHeight: 180 } });
  assert.deepEqual(low.defaultConstraints, { maxHeight: 180, maxFrameRate: -1 });
  assert.deepEqual(low.onStageSources, ["cccc-v1"]);
  assert.equal(low.lastN, c.lastN);
  const standard = capConstraints(c, 360);
  assert.deepEqual(standard.constraints["aaaa-v0"], { maxHeight: 360 });
  assert.deepEqual(standard.constraints["bbbb-v0"], { maxHeight: 180 }, "a smaller tile keeps its smaller ask");
  assert.equal(capConstraints(c, 0), c, "no cap");
  // "low": 15 frames a second too, on every source and the default (which a later message must clear with -1).
  const slow = capConstraints(c, 180, 15);
  assert.deepEqual(slow.constraints["aaaa-v0"], { maxHeight: 180, maxFrameRate: 15 });
  assert.deepEqual(slow.defaultConstraints, { maxHeight: 180, maxFrameRate: 15 });
  assert.deepEqual(capConstraints(c, 0, 15).constraints["aaaa-v0"], { maxHeight: 720, maxFrameRate: 15 }, "a frame rate alone");
  assert.equal(c.defaultConstraints.maxFrameRate, -1, "without a cap the default asks for every frame");
  assert.deepEqual(c.constraints["aaaa-v0"], { maxHeight: 720 }, "the input is not changed");
});

test("people search: each word typed starts a word of the name, case and accents aside", () => {
  assert.equal(nameMatches("Ada Lovelace", "ada"), true);
  assert.equal(nameMatches("Ada Lovelace", "love"), true);
  assert.equal(nameMatches("Ada Lovelace", "lace"), false);
  assert.equal(nameMatches("Ada Lovelace", "l a"), true);
  assert.equal(nameMatches("José Álvarez", "jose alv"), true);
  assert.equal(nameMatches("Phil (phone)", "phone"), true);
  assert.equal(nameMatches("Grace", ""), true);
  assert.equal(nameMatches("Grace", "bob"), false);
});
