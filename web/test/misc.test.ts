import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatLog } from "../src/chat";
import { parseConfig } from "../src/config";
import { describeMediaError, levelOf } from "../src/media";
import { gridFor, stageFor } from "../src/ui/layout";
import { endpointIdFor, guardWrites, withPrevId } from "../src/xmpp";

test("endpoint ID from the anonymous node (§2.2)", () => {
  assert.equal(endpointIdFor("3F2A9C1E-7b1c-4d"), "3f2a9c1e");
  assert.equal(endpointIdFor("zz2a9c1e", () => "deadbeef"), "deadbeef");
  assert.equal(endpointIdFor("", () => "deadbeef"), "deadbeef");
});

test("previd in the resume URL", () => {
  assert.equal(withPrevId("wss://h:8443/xmpp-websocket", "abc"), "wss://h:8443/xmpp-websocket?previd=abc");
  assert.equal(withPrevId("wss://h/xmpp-websocket?previd=old&room=x", ""), "wss://h/xmpp-websocket?room=x");
});

test("no write reaches a WebSocket that is not open", async () => {
  const written: string[] = [];
  const x = {
    socket: { socket: { readyState: 1 } } as { socket?: { readyState?: number } | null } | null,
    async write(s: string) {
      written.push(s);
    },
  };
  guardWrites(x);
  await x.write("<r/>");
  x.socket!.socket!.readyState = 2; // CLOSING
  await assert.rejects(x.write("<a h='1'/>"), /closed/);
  x.socket = null; // detached after close
  await assert.rejects(x.write("<a h='1'/>"), /closed/);
  assert.deepEqual(written, ["<r/>"]);
});

test("chat log: unread counting and de-duplication", () => {
  const log = new ChatLog(3);
  const m = (id: string, extra = {}) => ({ id, from: "a", body: id, private: false, at: new Date(), history: false, mine: false, ...extra });
  assert.ok(log.add(m("1"), false));
  assert.equal(log.add(m("1"), false), false);
  log.add(m("2", { mine: true }), false);
  log.add(m("3", { history: true }), false);
  log.add(m("4"), true);
  assert.equal(log.unread, 1);
  assert.equal(log.messages.length, 3);
  log.markRead();
  assert.equal(log.unread, 0);
});

test("config.json", () => {
  const c = parseConfig({ hosts: { domain: "d", muc: "conference.d" }, websocket: "wss://d/xmpp-websocket" });
  assert.equal(c.hosts.focus, "focus.d");
  assert.throws(() => parseConfig({ hosts: {} }));
  assert.throws(() => parseConfig(null));
});

test("media errors have a message for each failure", () => {
  assert.equal(describeMediaError({ name: "NotAllowedError" }, "video").reason, "denied");
  assert.match(describeMediaError({ name: "NotAllowedError" }, "video").message, /camera is blocked/);
  assert.equal(describeMediaError({ name: "NotFoundError" }, "audio").reason, "missing");
  assert.match(describeMediaError({ name: "NotFoundError" }, "audio").message, /No microphone/);
  assert.equal(describeMediaError({ name: "NotReadableError" }, "both").reason, "busy");
  assert.equal(describeMediaError(new Error("?"), "audio").reason, "other");
});

test("level meter scale", () => {
  assert.equal(levelOf(new Float32Array(128)), 0);
  assert.equal(levelOf(new Float32Array(128).fill(1)), 1);
  const quiet = levelOf(new Float32Array(128).fill(0.001)); // -60 dBFS
  assert.ok(quiet < 0.01);
});

test("tile grid picks the largest tiles", () => {
  assert.deepEqual(gridFor(1, 1600, 900, 16 / 9, 0), { cols: 1, rows: 1, tileW: 1600, tileH: 900 });
  assert.equal(gridFor(2, 1600, 900).cols, 2);
  assert.equal(gridFor(2, 400, 900).cols, 1); // phone portrait: stacked
  assert.equal(gridFor(9, 1600, 900).cols, 3);
  assert.equal(gridFor(0, 100, 100).cols, 1);
});

test("stage view geometry: a filmstrip below, the largest 16:9 stage above", () => {
  const g = stageFor(2, 1000, 600);
  assert.equal(g.stripH, 120); // a fifth of the height
  assert.equal(Math.round(g.stripW), 213);
  assert.equal(Math.round(g.stageH), 472); // 600 − 120 − 8
  assert.ok(g.stageW <= 1000);
  // Many tiles narrow the strip to one row.
  const many = stageFor(12, 1000, 600);
  assert.ok(many.stripW * 12 + 11 * 8 <= 1000 + 1e-9);
  // Nobody else: the stage takes the whole area.
  const alone = stageFor(0, 1600, 900);
  assert.deepEqual([alone.stripH, Math.round(alone.stageW), Math.round(alone.stageH)], [0, 1600, 900]);
});
