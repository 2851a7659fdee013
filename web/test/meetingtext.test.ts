// What the meeting says: the media pill, avatar initials, the remove dialog, a failed screen share.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mediaPill, type MediaFacts } from "../src/mediastatus";
import { initials } from "../src/ui/dom";
import { describeShareError, kickMessage, preview, words } from "../src/ui/wording";

const ok: MediaFacts = { available: true, unavailableCondition: "", connected: false, state: "idle", failure: "", overdue: false, everConnected: false };

test("media pill: nothing while a first session connects (alone, after a password), nor once connected", () => {
  assert.deepEqual(mediaPill(ok), { kind: "hidden" });
  assert.deepEqual(mediaPill({ ...ok, state: "connecting" }), { kind: "hidden" });
  assert.deepEqual(mediaPill({ ...ok, state: "connected", connected: true }), { kind: "hidden" });
  assert.deepEqual(mediaPill({ ...ok, connected: true, overdue: true, failure: "x" }), { kind: "hidden" });
});

test("media pill: a real failure says why", () => {
  const none = mediaPill({ ...ok, available: false, unavailableCondition: "service-unavailable" });
  assert.ok(none.kind === "failed" && /media server unavailable/.test(none.text) && /service-unavailable/.test(none.title));
  const setup = mediaPill({ ...ok, failure: "setRemoteDescription refused the offer" });
  assert.ok(setup.kind === "failed" && /setup failed/.test(setup.text) && /setRemoteDescription refused the offer\./.test(setup.title));
  const noOffer = mediaPill({ ...ok, overdue: true });
  assert.ok(noOffer.kind === "failed" && /not answering/.test(noOffer.text));
  const noICE = mediaPill({ ...ok, overdue: true, state: "connecting" });
  assert.ok(noICE.kind === "failed" && /unreachable/.test(noICE.text) && /firewall/.test(noICE.title));
});

test("media pill: a lost session coming back is calm; without a focus it is a failure", () => {
  const back = mediaPill({ ...ok, state: "reconnecting", overdue: true, everConnected: true });
  assert.ok(back.kind === "reconnecting" && back.text === "Reconnecting media…");
  assert.equal(mediaPill({ ...ok, state: "reconnecting", available: false, everConnected: true }).kind, "failed");
});

test("media pill: a first session whose ICE failed (restarting, never connected) is no reconnection: nothing until overdue, then unreachable", () => {
  assert.deepEqual(mediaPill({ ...ok, state: "reconnecting" }), { kind: "hidden" });
  const never = mediaPill({ ...ok, state: "reconnecting", overdue: true });
  assert.ok(never.kind === "failed" && /unreachable/.test(never.text) && /firewall/.test(never.title), JSON.stringify(never));
});

test("initials from letters and digits only", () => {
  assert.equal(initials("Ada Lovelace"), "AL");
  assert.equal(initials("Phil (phone)"), "PP");
  assert.equal(initials("  \"Grace\"   Hopper! "), "GH");
  assert.equal(initials("(ada)"), "A");
  assert.equal(initials("Jean-Luc"), "J");
  assert.equal(initials("élodie ørsted"), "ÉØ");
  assert.equal(initials("R2 D2"), "RD");
  assert.equal(initials("2 (two)"), "2T");
  assert.equal(initials("-- ?? 🙂"), "?");
  assert.equal(initials(""), "?");
});

test("the remove dialog says how they can come back", () => {
  assert.match(kickMessage(false, false), /not a ban.*meeting link/);
  assert.match(kickMessage(true, false), /if they know the meeting password/);
  assert.match(kickMessage(false, true), /lets them in from the lobby/);
  assert.match(kickMessage(true, true), /password or a moderator lets them in/);
  for (const m of [kickMessage(true, true), kickMessage(false, false)]) assert.doesNotMatch(m, /unless the meeting is locked/);
});

test("a failed screen share is described, not echoed", () => {
  const raw = "Permission denied by system";
  const blocked = describeShareError(Object.assign(new Error(raw), { name: "NotAllowedError" }));
  assert.equal(blocked, "Screen sharing was blocked or cancelled.");
  const odd = describeShareError(Object.assign(new Error("Could not start video source"), { name: "WeirdError" }));
  assert.equal(odd, "Screen sharing could not start.");
  assert.match(describeShareError(Object.assign(new Error("x"), { name: "NotReadableError" })), /could not be captured/);
  assert.match(describeShareError(new TypeError("getDisplayMedia is not a function")), /cannot share/);
  assert.equal(describeShareError(null), "Screen sharing could not start.");
});

test("chat notifications: the tab's title counts unread messages; a toast shows the start of one line", () => {
  assert.equal(words.title("Standup", 0), "Standup · Parley");
  assert.equal(words.title("Standup", 2), "(2) Standup · Parley");
  assert.equal(words.title("Standup", 150), "(99+) Standup · Parley");
  assert.equal(words.chatToast("Ada", "hello\n  there"), "Ada: hello there");
  const long = preview("x".repeat(200));
  assert.equal(long.length, 80);
  assert.ok(long.endsWith("…"));
  assert.equal(preview("short"), "short");
});

test("raised hands say their place in line", () => {
  assert.equal(words.handOrder("Ada", 1), "Ada's hand is up, 1st in line");
  assert.equal(words.handOrder("Ada", 2), "Ada's hand is up, 2nd in line");
  assert.equal(words.handOrder("Ada", 3), "Ada's hand is up, 3rd in line");
  assert.equal(words.handOrder("Ada", 11), "Ada's hand is up, 11th in line");
  assert.equal(words.handOrder("Ada", 22), "Ada's hand is up, 22nd in line");
});
