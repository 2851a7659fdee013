// Multi-user chat (XEP-0045) as Jitsi's client uses it: create a room,
// protect it with a password through the owner form, see a second client
// refused without the password and admitted with it, chat across the room,
// invite a third client (the invitation carries the password), leave.
import { test } from "node:test";
import assert from "node:assert/strict";

import { configure, join, MUC, mucDomain, say, statusCodes } from "./lib/muc.js";
import { connect, env, nextEvent, randomId, TEST_TIMEOUT, xml } from "./lib/xmpp.js";

test("a password-protected room", { timeout: TEST_TIMEOUT }, async (t) => {
  const room = `interop-${randomId().slice(0, 8)}@${mucDomain(env.domain)}`;
  const alice = await connect(t);
  const bob = await connect(t);
  const carol = await connect(t);

  await t.test("the first joiner creates the room and owns it", async () => {
    const self = await join(alice, room, "alice");
    const codes = statusCodes(self);
    assert.ok(codes.includes("201"), `no 201 (room created) in ${self}`);
    const item = self.getChild("x", MUC.user).getChild("item");
    assert.equal(item.attrs.affiliation, "owner");
    assert.equal(item.attrs.role, "moderator");
    await configure(alice, room, {
      "muc#roomconfig_roomsecret": "open sesame",
      "muc#roomconfig_passwordprotectedroom": 1,
    });
  });

  await t.test("no password, a wrong password: not-authorized", async () => {
    await assert.rejects(join(bob, room, "bob"), (err) => err.condition === "not-authorized");
    await assert.rejects(join(bob, room, "bob", "guess"), (err) => err.condition === "not-authorized");
  });

  await t.test("the right password: admitted, and seen with its real JID", async () => {
    const seen = nextEvent(alice, "stanza", (s) => s.is("presence") && s.attrs.from === `${room}/bob`);
    const self = await join(bob, room, "bob", "open sesame");
    assert.ok(!statusCodes(self).includes("201"));
    const p = await seen;
    assert.equal(p.getChild("x", MUC.user).getChild("item").attrs.jid, bob.jid.toString());
  });

  await t.test("groupchat reaches everyone, the sender included, with one stanza-id", async () => {
    const body = `hello ${randomId()}`;
    await say(alice, room, body, "g1");
    const [atBob, echo] = await Promise.all([bob.inbox.waitForBody(body), alice.inbox.waitForBody(body)]);
    for (const m of [atBob, echo]) {
      assert.equal(m.from, `${room}/alice`);
      assert.equal(m.type, "groupchat");
      assert.equal(m.id, "g1");
      assert.equal(m.stanza.getChildren("stanza-id", MUC.sid).filter((s) => s.attrs.by === room).length, 1);
    }
    const reply = `hi ${randomId()}`;
    await say(bob, room, reply);
    assert.equal((await alice.inbox.waitForBody(reply)).from, `${room}/bob`);
  });

  await t.test("a mediated invitation carries the password", async () => {
    const invited = nextEvent(carol, "stanza", (s) => s.is("message") && s.getChild("x", MUC.user)?.getChild("invite"));
    await alice.send(xml("message", { to: room }, xml("x", { xmlns: MUC.user }, xml("invite", { to: carol.jid.toString() }))));
    const inv = await invited;
    assert.equal(inv.attrs.from, room);
    assert.equal(inv.getChild("x", MUC.user).getChildText("password"), "open sesame");
    await join(carol, room, "carol", "open sesame");
  });

  await t.test("leaving is seen by the others", async () => {
    const gone = nextEvent(alice, "stanza", (s) => s.is("presence") && s.attrs.from === `${room}/bob` && s.attrs.type === "unavailable");
    await bob.send(xml("presence", { to: `${room}/bob`, type: "unavailable" }));
    const p = await gone;
    assert.equal(p.getChild("x", MUC.user).getChild("item").attrs.role, "none");
  });

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
