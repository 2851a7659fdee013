import { test } from "node:test";
import assert from "node:assert/strict";
import { clientFeatures, discoInfoResult, featureRED } from "../src/caps";

// The focus offers transport-cc, RTX and SSRC rewriting only to a client that announces them.
test("disco#info answer announces what the offer depends on", () => {
  const q = discoInfoResult(false);
  assert.equal(q.attrs.xmlns, "http://jabber.org/protocol/disco#info");
  const vars = q.getChildren("feature").map((f) => f.attrs.var);
  assert.deepEqual(vars, [...clientFeatures]);
  for (const f of ["http://jitsi.org/tcc", "urn:ietf:rfc:4588", "http://jitsi.org/ssrc-rewriting-1", "urn:xmpp:jingle:apps:rtp:video"]) {
    assert.ok(vars.includes(f), f);
  }
  assert.ok(!vars.includes("urn:xmpp:jingle:transports:dtls-sctp:1"), "the bridge channel is the WebSocket");
});

test("opus-red is announced only where the browser decodes RED", () => {
  const vars = (red: boolean) => discoInfoResult(red).getChildren("feature").map((f) => f.attrs.var);
  assert.ok(vars(true).includes(featureRED));
  assert.ok(!vars(false).includes(featureRED));
});
