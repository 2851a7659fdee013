// What a Jitsi client asks the server right after login (jitsi-dialect.md
// §2.4, §2.5): XEP-0199 ping, XEP-0030 disco#info and disco#items on the
// domain, XEP-0215 external services.
import { test } from "node:test";
import assert from "node:assert/strict";

import { connect, env, NS, TEST_TIMEOUT, WAIT, xml } from "./lib/xmpp.js";

test("XEP-0199 ping to the domain gets a result", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = await connect(t);
  const reply = await c.iqCaller.request(xml("iq", { type: "get", to: env.domain }, xml("ping", { xmlns: NS.ping })), WAIT);
  assert.equal(reply.attrs.type, "result");
  assert.equal(reply.attrs.from, env.domain);
});

test("disco on the domain", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = await connect(t);

  await t.test("disco#info: server identity, ping and extdisco features", async (t) => {
    const query = await c.iqCaller.get(xml("query", { xmlns: NS.discoInfo }), env.domain, WAIT);
    const identities = query.getChildren("identity").map((i) => i.attrs);
    const features = query.getChildren("feature").map((f) => f.attrs.var);
    t.diagnostic(`identities ${JSON.stringify(identities)}`);
    t.diagnostic(`features ${features.join(" ")}`);

    assert.ok(
      identities.some((i) => i.category === "server"),
      `no identity with category "server" in ${JSON.stringify(identities)}`,
    );
    for (const want of [NS.discoInfo, NS.ping, NS.extdisco]) {
      assert.ok(features.includes(want), `feature ${want} missing`);
    }
  });

  await t.test("disco#items answers", async (t) => {
    const query = await c.iqCaller.get(xml("query", { xmlns: NS.discoItems }), env.domain, WAIT);
    assert.ok(query, "result without <query/>");
    const items = query.getChildren("item").map((i) => i.attrs);
    for (const item of items) assert.ok(item.jid, `item without jid: ${JSON.stringify(item)}`);
    t.diagnostic(`items ${JSON.stringify(items)}`);
  });

  await t.test("XEP-0215 services request answers", async (t) => {
    const services = await c.iqCaller.get(xml("services", { xmlns: NS.extdisco }), env.domain, WAIT);
    assert.ok(services, "result without <services/>");
    t.diagnostic(`${services.getChildren("service").length} external services`);
  });
});
