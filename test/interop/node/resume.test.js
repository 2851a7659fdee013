// XEP-0198 stream management: a client whose connection dies without a
// goodbye resumes its session on a new connection, and nothing is lost or
// duplicated in either direction.
//
// The "mobile" client talks to the server through a TCP relay (lib/proxy.js)
// that the test cuts; a "peer" client talks to it directly. Flow:
//
//   peer → mobile   "before i"     received and counted before the cut
//   mobile → peer   "handled i"    received by the peer, not yet acked to
//                                  mobile: <resumed h/> must count them
//   mobile → peer   "last-words i" sent just before the cut (may or may not
//                                  reach the server; unacked ones are resent)
//   ---- cut: no </close>; new connections are held ----
//   peer → mobile   "while-down i" the server acks them to peer (so it owns
//                                  them) while mobile is away
//   ---- release: @xmpp/client reconnects by itself, authenticates and sends
//        <resume previd h/>; the server answers <resumed h/> ----
//   peer → mobile   "after-resume" and mobile → peer "back": barriers, sent
//                                  after everything above, so once they
//                                  arrive the earlier messages must have too
import { test } from "node:test";
import assert from "node:assert/strict";

import { startProxy } from "./lib/proxy.js";
import {
  connect,
  deadline,
  env,
  nextEvent,
  nextNonza,
  NS,
  randomId,
  sendChat,
  TEST_TIMEOUT,
  WAIT,
  xml,
} from "./lib/xmpp.js";

const BEFORE = 3;
const HANDLED = 3;
const LAST_WORDS = 5;
const WHILE_DOWN = 10;

test("XEP-0198 resumption after a dropped connection", { timeout: 3 * TEST_TIMEOUT }, async (t) => {
  const password = () => ({ username: env.user, password: env.password });

  await t.test("password session, connection reset", (t) => scenario(t, { login: password(), drop: "reset" }));

  await t.test("password session, connection silently lost (server not told)", (t) =>
    scenario(t, { login: password(), drop: "silent" }),
  );

  await t.test(
    "anonymous session, previd in the URL as lib-jitsi-meet does",
    {
      skip: env.skipAnonResume && "XMPP_SKIP_ANON_RESUME=1 (server without previd support)",
    },
    (t) => scenario(t, { login: {}, drop: "reset", previd: true }),
  );
});

async function scenario(t, { login, drop, previd = false }) {
  const proxy = await startProxy(env.url);
  t.after(() => proxy.close());
  const tag = randomId().slice(0, 8);
  const bodies = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix} ${tag} ${i}`);

  const peer = await connect(t);
  const mobile = await connect(t, { ...login, service: proxy.url, reconnect: true });

  // Stream management with resumption, as @xmpp/client asks for it:
  // <enable xmlns='urn:xmpp:sm:3' resume='true'/> after binding.
  const [enabled] = await deadline(Promise.all([mobile.smEnabled, peer.smEnabled]), WAIT, "<enabled/>");
  assert.ok(["true", "1"].includes(enabled.attrs.resume), `<enabled/> without resume: ${enabled}`);
  assert.ok(enabled.attrs.id, `<enabled/> without id: ${enabled}`);
  assert.equal(mobile.streamManagement.id, enabled.attrs.id);
  const fullJID = mobile.jid.toString();
  t.diagnostic(`mobile ${fullJID}, SM id ${enabled.attrs.id}, max ${enabled.attrs.max ?? "-"}`);

  // Traffic before the cut.
  for (const body of bodies("before", BEFORE)) await sendChat(peer, fullJID, body);
  await mobile.inbox.waitForBody(bodies("before", BEFORE).at(-1));

  // Watch for how the client comes back: `resumed` means the server took the
  // old session back; `online` would mean it bound a new one.
  let onlineAgain = 0;
  mobile.on("online", () => onlineAgain++);
  const smFailed = nextNonza(mobile, (el) => el.is("failed", NS.sm), Infinity);
  const comeback = Promise.race([
    nextEvent(mobile.streamManagement, "resumed", () => true, Infinity).then(() => "resumed"),
    nextEvent(mobile, "online", () => true, Infinity).then(async () => `a new session (server said ${await smFailed})`),
  ]);
  const disconnected = nextEvent(mobile, "disconnect");
  disconnected.catch(() => {});

  // Messages the server has handled (the peer got them) but not yet
  // acknowledged: the client asks for acks only 250 ms after a burst, so
  // stop it asking. On resumption the server's <resumed h/> must count them,
  // or the client sends them again and the peer gets duplicates.
  mobile.streamManagement.requestAckDebounce = 10 * WAIT;
  for (const body of bodies("handled", HANDLED)) await sendChat(mobile, peer.jid, body);
  await peer.inbox.waitForBody(bodies("handled", HANDLED).at(-1));

  // Last words, then the cut at once: these are still in flight, and the
  // client resends whatever <resumed h/> does not cover.
  for (const body of bodies("last-words", LAST_WORDS)) await sendChat(mobile, peer.jid, body);
  proxy.hold();
  await proxy.drop(drop);
  await disconnected;
  assert.equal(mobile.streamManagement.enabled, false);

  // While the mobile is away, the peer sends; wait until the server has
  // acknowledged every one of them to the peer (XEP-0198 <a h/>), so they
  // are in the server's hands, not in flight.
  const downIds = new Set();
  const acked = nextEvent(
    peer.streamManagement,
    "ack",
    (stanza) => downIds.delete(stanza.attrs.id) && downIds.size === 0,
  );
  acked.catch(() => {});
  const down = bodies("while-down", WHILE_DOWN);
  for (const body of down) {
    const id = randomId();
    downIds.add(id);
    await sendChat(peer, fullJID, body, id);
  }
  await acked;

  // Let the client back in; lib-jitsi-meet also names the old session in the
  // URL (?previd=ID) so a server can give an anonymous user its old name back.
  if (previd) {
    const url = new URL(proxy.url);
    url.searchParams.set("previd", mobile.streamManagement.id);
    mobile.options.service = url.toString();
  }
  proxy.release();
  assert.equal(await deadline(comeback, 3 * WAIT, "resumption"), "resumed");

  assert.equal(onlineAgain, 0, "the client bound a new session instead of resuming");
  assert.equal(mobile.jid.toString(), fullJID, "resumed under another JID");
  assert.equal(mobile.status, "online");
  assert.equal(proxy.accepted, 2);

  // Barriers: once these arrive, everything sent before them has arrived.
  await sendChat(peer, fullJID, `after-resume ${tag}`);
  await mobile.inbox.waitForBody(`after-resume ${tag}`);
  await sendChat(mobile, peer.jid, `back ${tag}`);
  await peer.inbox.waitForBody(`back ${tag}`);

  const got = (inbox, prefix) => inbox.filter((b) => b.startsWith(`${prefix} ${tag} `)).map((m) => m.body);
  assert.deepEqual(got(mobile.inbox, "before"), bodies("before", BEFORE), "messages before the cut");
  assert.deepEqual(got(mobile.inbox, "while-down"), down, "messages sent while the client was away");
  assert.deepEqual(got(peer.inbox, "handled"), bodies("handled", HANDLED), "messages handled but not acked before the cut");
  assert.deepEqual(got(peer.inbox, "last-words"), bodies("last-words", LAST_WORDS), "messages sent just before the cut");
  const resent = peer.inbox.filter((b, m) => b.startsWith(`last-words ${tag} `) && m.stanza.getChild("delay", "urn:xmpp:delay"));
  t.diagnostic(`${resent.length} of ${LAST_WORDS} last words were resent by the client after resuming`);
  const resentHandled = peer.inbox.filter((b, m) => b.startsWith(`handled ${tag} `) && m.stanza.getChild("delay", "urn:xmpp:delay"));
  assert.equal(resentHandled.length, 0, "<resumed h/> did not count messages the server had handled");
  for (const m of mobile.inbox.filter((b) => b.startsWith(`while-down ${tag} `))) {
    assert.equal(m.to, fullJID);
    assert.equal(m.from, peer.jid.toString());
  }

  // The resumed session is a working session.
  const pong = await mobile.iqCaller.request(xml("iq", { type: "get", to: env.domain }, xml("ping", { xmlns: NS.ping })), WAIT);
  assert.equal(pong.attrs.type, "result");
  assert.equal(mobile.streamManagement.enabled, true);
  assert.deepEqual(peer.errors, []);
}
