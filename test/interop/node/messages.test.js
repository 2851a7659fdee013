// Message routing between two clients (RFC 6121 §5, §8.5): to full JIDs
// both ways, and to the bare JID of an account with an available resource.
// The server stamps `from` with the sender's full JID.
import { test } from "node:test";
import assert from "node:assert/strict";

import { available, connect, env, randomId, sendChat, TEST_TIMEOUT } from "./lib/xmpp.js";

test("two clients exchange chat messages", { timeout: TEST_TIMEOUT }, async (t) => {
  const guest = await connect(t);
  const user = await connect(t, { username: env.user, password: env.password });
  // A bare-JID message goes to an available resource: send initial presence.
  await available(user);
  await available(guest);
  const tag = randomId();

  await t.test("anonymous → password user's full JID", async () => {
    const body = `to-full ${tag}`;
    const id = await sendChat(guest, user.jid, body);
    const m = await user.inbox.waitForBody(body);
    assert.equal(m.from, guest.jid.toString(), "from is not the sender's full JID");
    assert.equal(m.to, user.jid.toString());
    assert.equal(m.type, "chat");
    assert.equal(m.id, id, "the server changed the message id");
  });

  await t.test("password user → anonymous full JID", async () => {
    const body = `reply ${tag}`;
    await sendChat(user, guest.jid, body);
    const m = await guest.inbox.waitForBody(body);
    assert.equal(m.from, user.jid.toString());
    assert.equal(m.to, guest.jid.toString());
  });

  await t.test("anonymous → password user's bare JID", async () => {
    const body = `to-bare ${tag}`;
    await sendChat(guest, user.jid.bare(), body);
    const m = await user.inbox.waitForBody(body);
    assert.equal(m.from, guest.jid.toString());
    // RFC 6121 §8.5.2.1.1: delivered to the resource, addressed to the bare JID.
    assert.ok(
      [user.jid.bare().toString(), user.jid.toString()].includes(m.to),
      `unexpected to=${m.to}`,
    );
  });

  await t.test("a burst of messages arrives complete and in order, both ways", async () => {
    const n = 50;
    const send = async (from, to, prefix) => {
      for (let i = 0; i < n; i++) await sendChat(from, to.jid, `${prefix} ${tag} ${i}`);
    };
    await Promise.all([send(guest, user, "g2u"), send(user, guest, "u2g")]);
    await user.inbox.waitForBody(`g2u ${tag} ${n - 1}`);
    await guest.inbox.waitForBody(`u2g ${tag} ${n - 1}`);
    const seq = (inbox, prefix) => inbox.filter((b) => b.startsWith(`${prefix} ${tag} `)).map((m) => m.body);
    const want = (prefix) => Array.from({ length: n }, (_, i) => `${prefix} ${tag} ${i}`);
    assert.deepEqual(seq(user.inbox, "g2u"), want("g2u"));
    assert.deepEqual(seq(guest.inbox, "u2g"), want("u2g"));
  });

  assert.deepEqual(guest.errors, []);
  assert.deepEqual(user.errors, []);
});
