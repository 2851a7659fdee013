// Login over WebSocket (RFC 7395): SASL ANONYMOUS, password mechanisms,
// resource binding (RFC 6120 §6, §7).
import { test } from "node:test";
import assert from "node:assert/strict";
import { jid as parseJID } from "@xmpp/client";

import { connect, deadline, env, TEST_TIMEOUT, WAIT } from "./lib/xmpp.js";

test("anonymous login gets a server-chosen JID on the domain", { timeout: TEST_TIMEOUT }, async (t) => {
  const a = await connect(t);
  const b = await connect(t);

  assert.equal(a.mechanism, "ANONYMOUS");
  for (const c of [a, b]) {
    const j = parseJID(String(c.jid));
    assert.equal(j.domain, env.anonDomain, `${c.jid} is not on ${env.anonDomain}`);
    assert.ok(j.local, `${c.jid} has no local part`);
    assert.ok(j.resource, `${c.jid} has no resource`);
  }
  assert.notEqual(a.jid.local, b.jid.local, "two anonymous sessions got the same local part");
  t.diagnostic(`anonymous JIDs: ${a.jid}, ${b.jid}`);
});

test("password login as XMPP_USER", { timeout: TEST_TIMEOUT }, async (t) => {
  await t.test("with the mechanism @xmpp/client picks", async (t) => {
    const c = await connect(t, { username: env.user, password: env.password });
    assert.equal(c.jid.bare().toString(), `${env.user}@${env.domain}`);
    assert.ok(c.jid.resource, "no resource bound");
    assert.notEqual(c.mechanism, "ANONYMOUS");
    t.diagnostic(`mechanism ${c.mechanism}, JID ${c.jid}`);
  });

  for (const mechanism of ["SCRAM-SHA-1", "PLAIN"]) {
    await t.test(`with ${mechanism}`, async (t) => {
      const c = await connect(t, { username: env.user, password: env.password, mechanism });
      assert.equal(c.mechanism, mechanism);
      assert.equal(c.jid.bare().toString(), `${env.user}@${env.domain}`);
    });
  }

  await t.test("two resources of the same account get distinct full JIDs", async (t) => {
    const c1 = await connect(t, { username: env.user, password: env.password });
    const c2 = await connect(t, { username: env.user, password: env.password });
    assert.equal(c1.jid.bare().toString(), c2.jid.bare().toString());
    assert.notEqual(c1.jid.toString(), c2.jid.toString());
  });
});

// Three failed logins from one address in all: a server with a per-address
// lockout must allow that many before locking.
test("a wrong password is refused", { timeout: TEST_TIMEOUT }, async (t) => {
  for (const mechanism of [undefined, "PLAIN"]) {
    await t.test(mechanism ?? "mechanism @xmpp/client picks", async (t) => {
      const c = await connect(t, {
        username: env.user,
        password: `${env.password}-wrong`,
        mechanism,
        start: false,
      });
      await assert.rejects(deadline(c.start(), WAIT, "SASL failure"), (err) => {
        assert.equal(err.name, "SASLError", `expected a SASL failure, got ${err}`);
        assert.equal(err.condition, "not-authorized");
        return true;
      });
      assert.notEqual(c.status, "online");
      assert.ok(!c.jid?.resource, "a resource was bound after a failed login");
    });
  }

  await t.test("an unknown user", async (t) => {
    const c = await connect(t, {
      username: `nobody-${Date.now()}`,
      password: env.password,
      start: false,
    });
    await assert.rejects(deadline(c.start(), WAIT, "SASL failure"), (err) => err.name === "SASLError" && err.condition === "not-authorized");
  });
});
