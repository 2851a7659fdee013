// An encrypted call of Firefox, Chromium and a `parley bot`: all three use
// the same passphrase (the browsers by #k=), and each decodes the others'
// video from frames it decrypted (Firefox through RTCRtpScriptTransform),
// with none failing once everyone sends with one epoch, and the same
// security code everywhere. The bot opened the room: it leads the keys. Then
// a hostile bridge alters, injects and replays the bot's frames, and
// neither browser decodes any of them.
//
// Run by firefox_e2ee_test.go inside the network namespace (PARLEY_URL is
// the host side of its veth; PARLEY_BOT_URL tells what the bot got).
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { BASE, WAIT, screenshot, skipPrejoin } from "../lib/browser.js";
import { joinBoth, until as poll, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const BOT = process.env.PARLEY_BOT_URL;
const PASSPHRASE = process.env.PARLEY_PASSPHRASE;

/** The bot's endpoint, what it received by sender, and its E2EE report. */
async function botState() {
  return (await fetch(BOT)).json();
}

const browsers = useBrowsers();

/** The page's E2EE state and the video frames it decoded per remote owner (works in both browsers). */
function state(page) {
  return page.evaluate(async () => {
    const { session: s, e2ee, conference } = window.parley;
    const out = { me: conference.endpointId, enabled: e2ee.enabled, encrypting: s.encrypting, api: e2ee.api, code: e2ee.code?.join(" ") ?? "", epoch: e2ee.agent?.current?.epoch ?? 0, sending: e2ee.agent?.sendingEpoch ?? 0, stats: e2ee.stats, frames: {}, received: {} };
    if (!s.pc) return out;
    const owners = new Map();
    for (const [owner, r] of s.remotes) if (r.video) owners.set(r.video.id, owner);
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    (await s.pc.getStats()).forEach((st) => {
      if (st.type !== "inbound-rtp" || st.kind !== "video") return;
      const owner = owners.get(mids.get(st.mid) ?? st.trackIdentifier) ?? owners.get(st.trackIdentifier);
      if (!owner) return;
      out.frames[owner] = (out.frames[owner] ?? 0) + (st.framesDecoded ?? 0);
      out.received[owner] = `${st.packetsReceived ?? 0} packets, ${st.framesReceived ?? "?"} frames received, ${st.keyFramesDecoded ?? "?"} key frames decoded, PLI ${st.pliCount ?? "?"}, FIR ${st.firCount ?? "?"}`;
    });
    return JSON.parse(JSON.stringify(out));
  });
}

/** Every participant's state, for a failure's message. */
let everyone = async () => ({});

/** lib/firefox.js's until, with longer to wait and everyone's state in its error. */
const until = (what, get, ok) => poll(what, get, ok, { timeout: 3 * WAIT, explain: () => everyone() });

const failed = (st) => st.stats.dropped.auth + st.stats.dropped["unknown-key"];

test("Firefox, Chromium and a bot decode each other in an encrypted room", { timeout: 10 * WAIT, skip: ROOM && BOT ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM and PARLEY_BOT_URL)" }, async () => {
  const url = `${BASE}/${ROOM}`;
  const pass = "&k=" + encodeURIComponent(PASSPHRASE);
  const bot0 = await botState();
  const { ff, ch } = await joinBoth(browsers, {
    firefox: { url: url + skipPrejoin("Fox") + pass },
    chromium: { url: url + skipPrejoin("Chrome") + pass, viewport: { width: 1280, height: 800 } },
    timeout: 3 * WAIT,
  });
  const [f0, c0] = [await state(ff.page), await state(ch.page)];
  const bot = bot0.endpoint;
  everyone = async () => ({ bot, firefox: await state(ff.page), chromium: await state(ch.page), botState: await botState() });
  const keyed = (st, others) => st.enabled && st.encrypting && st.sending > 0 && st.sending === st.epoch && others.every((o) => (st.frames[o] ?? 0) > 0) && st.stats?.decrypted > 0;
  const f1 = await until("Firefox decodes Chromium's and the bot's decrypted video", () => state(ff.page), (st) => keyed(st, [c0.me, bot]));
  const c1 = await until("Chromium decodes Firefox's and the bot's decrypted video", () => state(ch.page), (st) => keyed(st, [f0.me, bot]) && st.epoch === f1.epoch);
  const b1 = await until("the bot decrypts both browsers' video", botState, (s) => s.e2ee.send_epoch === f1.epoch && [f0.me, c0.me].every((o) => s.received[o]?.videoFrames > 0) && s.e2ee.decrypted > 0);
  assert.equal(f1.api, "script", "Firefox uses RTCRtpScriptTransform");
  await sleep(5000);
  const [f2, c2, b2] = [await state(ff.page), await state(ch.page), await botState()];
  assert.equal(failed(f2) - failed(f1), 0, `Firefox: frames failed in 5 s: ${JSON.stringify(f2.stats)}`);
  assert.equal(failed(c2) - failed(c1), 0, `Chromium: frames failed in 5 s: ${JSON.stringify(c2.stats)}`);
  const botFailed = (s) => Object.values(s.e2ee.failed ?? {}).reduce((a, n) => a + (typeof n === "number" ? n : 0), 0);
  assert.equal(botFailed(b2) - botFailed(b1), 0, `bot: frames failed in 5 s: ${JSON.stringify(b2.e2ee)}`);
  // Video keeps coming in every direction. (Awaited rather than asserted over the 5 s: on a loaded
  // machine a sender may pause one stream for a few seconds, which says nothing of the keys; a frame
  // that failed would, and none may have.)
  await until("video keeps decoding between the browsers", async () => [await state(ff.page), await state(ch.page)],
    ([f, c]) => f.frames[c0.me] > f1.frames[c0.me] && c.frames[f0.me] > c1.frames[f0.me]);
  await until("the bot's video keeps decoding in both browsers", async () => [await state(ff.page), await state(ch.page)],
    ([f, c]) => f.frames[bot] > f1.frames[bot] && c.frames[bot] > c1.frames[bot]);
  const b3 = await until("the bot keeps decrypting both", botState,
    (s) => s.e2ee.decrypted > b1.e2ee.decrypted && [f0.me, c0.me].every((o) => s.received[o].videoFrames > b1.received[o].videoFrames));
  const [f3, c3] = [await state(ff.page), await state(ch.page)];
  assert.equal(failed(f3) - failed(f1), 0, `Firefox: frames failed: ${JSON.stringify(f3.stats)}`);
  assert.equal(failed(c3) - failed(c1), 0, `Chromium: frames failed: ${JSON.stringify(c3.stats)}`);
  assert.equal(botFailed(b3) - botFailed(b1), 0, `bot: frames failed: ${JSON.stringify(b3.e2ee)}`);
  assert.equal(b2.e2ee.key_mismatch, false);
  // The transform's wall time per frame in each browser's worker (docs/performance.md, "The browser's
  // transform cost").
  const per = (ms, n) => (n > 0 ? (ms / n).toFixed(3) : "-");
  const cost = (s) => `encrypt ${per(s.encryptMs, s.encrypted)} ms/frame (${s.encrypted} frames), decrypt ${per(s.decryptMs, s.decrypted)} ms/frame (${s.decrypted} frames)`;
  console.log(`transform cost: Firefox (${f3.api}) ${cost(f3.stats)}; Chromium (${c3.api}) ${cost(c3.stats)}`);
  assert.ok(/^(\d{5} ){5}\d{5}$/.test(f2.code) && f2.code === c2.code && c2.code === b2.e2ee.security_code, `codes ${f2.code} / ${c2.code} / ${b2.e2ee.security_code}`);
  await screenshot(ff.page, "firefox-encrypted");

  // A hostile bridge (test/internal/hostile) learns the bot's audio, then alters all of the bot's
  // media: a flipped bit of the authenticated clear prefix, plaintext, replayed audio frames. Both
  // browsers drop every such frame and decode no video of the bot's while it lasts.
  await hostile("watch", bot);
  await until("the hostile bridge learns the bot's audio", () => hostile(""), (c) => c.audioLearnt >= 10);
  const [fh0, ch0] = [await state(ff.page), await state(ch.page)];
  await hostile("start", bot);
  const dropped = (st, st0, why) => st.stats.dropped[why] - st0.stats.dropped[why];
  const total = (st, st0) => ["auth", "unknown-key", "replay", "malformed"].reduce((n, why) => n + dropped(st, st0, why), 0);
  const eachKind = (st0) => (st) => dropped(st, st0, "auth") >= 10 && dropped(st, st0, "replay") >= 3 && total(st, st0) >= 50;
  const fh1 = await until("Firefox drops the bot's altered frames, each kind", () => state(ff.page), eachKind(fh0));
  const ch1 = await until("Chromium drops the bot's altered frames, each kind", () => state(ch.page), eachKind(ch0));
  const fh2 = await until("Firefox drops 150 more", () => state(ff.page), (st) => total(st, fh1) >= 150);
  const ch2 = await until("Chromium drops 150 more", () => state(ch.page), (st) => total(st, ch1) >= 150);
  const during = await hostile("stop", bot);
  assert.equal(fh2.frames[bot], fh1.frames[bot], `Firefox decoded video of the bot's while the bridge altered every frame (${JSON.stringify(during)})`);
  assert.equal(ch2.frames[bot], ch1.frames[bot], `Chromium decoded video of the bot's while the bridge altered every frame (${JSON.stringify(during)})`);
  assert.ok(during.prefixFlipped > 0 && during.plaintext > 0 && during.audioReplayed > 0, `hostile counts ${JSON.stringify(during)}`);
  console.log(`hostile bridge: ${JSON.stringify(during)}; Firefox dropped ${JSON.stringify(fh2.stats.dropped)}, Chromium ${JSON.stringify(ch2.stats.dropped)} (from ${JSON.stringify(fh0.stats.dropped)}, ${JSON.stringify(ch0.stats.dropped)})`);
  await until("both decode the bot again", async () => [await state(ff.page), await state(ch.page)], ([f, c]) => f.frames[bot] > fh2.frames[bot] && c.frames[bot] > ch2.frames[bot]);
  for (const p of [ff, ch]) assert.deepEqual(p.errors, []);
});

/** Drives the hostile bridge: "watch", "start" or "stop" (POST) the given endpoint's media; "" reads its counts. */
async function hostile(action, endpoint = "") {
  const res = await fetch(`${BOT}/hostile/${action}?endpoint=${encodeURIComponent(endpoint)}`, { method: action ? "POST" : "GET" });
  assert.ok(res.ok, `hostile ${action}: ${res.status}`);
  return res.json();
}
