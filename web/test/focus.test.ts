import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import { conferenceIQ, NS_FOCUS, requestConference, retryDelay } from "../src/focus";

const req = { focus: "focus.localhost", room: "r@conference.localhost", machineUid: "abc", startAudioMuted: true };

test("conference IQ (§3.1)", () => {
  const iq = conferenceIQ(req);
  assert.equal(iq.attrs.to, "focus.localhost");
  const c = iq.getChild("conference", NS_FOCUS)!;
  assert.equal(c.attrs.room, "r@conference.localhost");
  assert.equal(c.attrs["machine-uid"], "abc");
  const props = Object.fromEntries(c.getChildren("property").map((p) => [p.attrs.name, p.attrs.value]));
  assert.deepEqual(props, { rtcstatsEnabled: "false", "visitors-version": "1", startAudioMuted: "true" });
});

test("ready=false is retried with back-off until ready", async () => {
  const sleeps: number[] = [];
  let n = 0;
  const out = await requestConference(
    req,
    async () => parse(`<iq type="result"><conference xmlns="${NS_FOCUS}" room="r@conference.localhost" focusjid="focus@auth.localhost" ready="${++n >= 3}"><property name="authentication" value="false"/></conference></iq>`),
    async (ms) => void sleeps.push(ms),
  );
  assert.equal(out.kind, "ready");
  assert.ok(out.kind === "ready" && out.reply.focusJid === "focus@auth.localhost");
  assert.deepEqual(sleeps, [1000, 2000]);
  assert.equal(retryDelay(30), 120_000);
});

test("no focus: the client joins without media", async () => {
  const out = await requestConference(req, async () => {
    throw Object.assign(new Error("x"), { condition: "service-unavailable" });
  });
  assert.deepEqual(out, { kind: "unavailable", condition: "service-unavailable" });
  const timeout = await requestConference(req, async () => {
    throw Object.assign(new Error("t"), { name: "TimeoutError" });
  });
  assert.deepEqual(timeout, { kind: "unavailable", condition: "TimeoutError" });
  const auth = await requestConference(req, async () => {
    throw Object.assign(new Error("x"), { condition: "not-authorized" });
  });
  assert.deepEqual(auth, { kind: "auth-required" });
});
