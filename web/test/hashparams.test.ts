import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanDisplayName, parseHash, readOverrides } from "../src/hashparams";

test("Jitsi hash syntax", () => {
  const o = readOverrides('#config.prejoinConfig.enabled=false&config.startWithAudioMuted=true&config.startWithVideoMuted=true&userInfo.displayName="Ada%20Lovelace"');
  assert.deepEqual(o, { prejoin: false, startAudioMuted: true, startVideoMuted: true, displayName: "Ada Lovelace" });
});

test("values: JSON, bare words, encoded", () => {
  const p = parseHash("#a=1&b=%22x%26y%22&c=plain&d=&=nokey&e");
  assert.equal(p.get("a"), 1);
  assert.equal(p.get("b"), "x&y");
  assert.equal(p.get("c"), "plain");
  assert.equal(p.get("d"), "");
  assert.equal(p.has(""), false);
  assert.equal(p.has("e"), false);
});

test("prototype keys are ignored", () => {
  const p = parseHash("#__proto__.x=1&config.constructor=2&config.ok=3");
  assert.deepEqual([...p.keys()], ["config.ok"]);
});

test("absent or malformed overrides leave defaults", () => {
  assert.deepEqual(readOverrides(""), {});
  assert.deepEqual(readOverrides("#config.startWithAudioMuted=maybe&userInfo.displayName=%E0%A4%A"), { displayName: "%E0%A4%A" });
  assert.deepEqual(readOverrides("#config.prejoinPageEnabled=false"), { prejoin: false });
  assert.deepEqual(readOverrides("#userInfo.displayName=%22%20%20%22"), {});
});

test("display names are cleaned", () => {
  assert.equal(cleanDisplayName("  Bob\u0000\n "), "Bob");
  assert.equal(cleanDisplayName("x".repeat(100)).length, 64);
});

test("config.iceTransportPolicy takes relay or all only", () => {
  assert.equal(readOverrides('#config.iceTransportPolicy="relay"').iceTransportPolicy, "relay");
  assert.equal(readOverrides("#config.iceTransportPolicy=all").iceTransportPolicy, "all");
  assert.equal(readOverrides('#config.iceTransportPolicy="none"').iceTransportPolicy, undefined);
});
