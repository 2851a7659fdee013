import { test } from "node:test";
import assert from "node:assert/strict";
import { Prefs } from "../src/prefs";

function memory() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k), m };
}

test("display name and devices are remembered", () => {
  const s = memory();
  const p = new Prefs(s);
  p.displayName = "Ada";
  p.setDevice("videoinput", "cam1");
  const q = new Prefs(s);
  assert.equal(q.displayName, "Ada");
  assert.equal(q.device("videoinput"), "cam1");
  assert.equal(q.device("audioinput"), "");
});

test("recent rooms: newest first, no duplicates, bounded", () => {
  const p = new Prefs(memory());
  for (let i = 0; i < 12; i++) p.addRecentRoom("Room" + i, i);
  p.addRecentRoom("room3", 100);
  const r = p.recentRooms();
  assert.equal(r.length, 8);
  assert.deepEqual(r[0], { name: "room3", at: 100 });
  assert.equal(r.filter((x) => x.name.toLowerCase() === "room3").length, 1);
  p.removeRecentRoom("room3");
  assert.equal(p.recentRooms()[0]!.name, "Room11");
});

test("broken or missing storage forgets quietly", () => {
  const s = memory();
  s.m.set("parley.recent", "{not json");
  assert.deepEqual(new Prefs(s).recentRooms(), []);
  const throwing = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("full"); }, removeItem: () => {} };
  const p = new Prefs(throwing);
  p.displayName = "x";
  assert.equal(p.displayName, "");
  const none = new Prefs(null);
  assert.match(none.machineUid(), /^[0-9a-f]{32}$/);
});

test("machine uid is stable", () => {
  const s = memory();
  assert.equal(new Prefs(s).machineUid(), new Prefs(s).machineUid());
});
