// An encrypted call between Firefox and Chromium: both join with the same
// #k= passphrase, and each decodes the other's video from frames its
// transform worker decrypted (Firefox through RTCRtpScriptTransform), with
// none failing once both send with one epoch, and the same security code.
//
// Run by firefox_e2ee_test.go inside the network namespace (PARLEY_URL is
// the host side of its veth).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { BASE, WAIT, launch, participant, screenshot, skipPrejoin } from "../lib/browser.js";
import { firefoxParticipant, launchFirefox } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;

let chromium, firefox;
before(async () => {
  const [c, f] = await Promise.allSettled([launch(), launchFirefox()]);
  [chromium, firefox] = [c.value, f.value];
  for (const r of [c, f]) if (r.status === "rejected") throw r.reason;
});
after(async () => {
  await Promise.allSettled([chromium?.close(), firefox?.close()]);
});

/** The page's E2EE state and the video frames it decoded per remote owner (works in both browsers). */
function state(page) {
  return page.evaluate(async () => {
    const { session: s, e2ee, conference } = window.parley;
    const out = { me: conference.endpointId, enabled: e2ee.enabled, encrypting: s.encrypting, api: e2ee.api, code: e2ee.code?.join(" ") ?? "", epoch: e2ee.agent?.current?.epoch ?? 0, sending: e2ee.agent?.sendingEpoch ?? 0, stats: e2ee.stats, frames: {} };
    if (!s.pc) return out;
    const owners = new Map();
    for (const [owner, r] of s.remotes) if (r.video) owners.set(r.video.id, owner);
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    (await s.pc.getStats()).forEach((st) => {
      if (st.type !== "inbound-rtp" || st.kind !== "video") return;
      const owner = owners.get(mids.get(st.mid) ?? st.trackIdentifier) ?? owners.get(st.trackIdentifier);
      if (owner) out.frames[owner] = (out.frames[owner] ?? 0) + (st.framesDecoded ?? 0);
    });
    return JSON.parse(JSON.stringify(out));
  });
}

async function until(what, get, ok, timeout = 3 * WAIT) {
  const deadline = Date.now() + timeout;
  let v;
  while (Date.now() < deadline) {
    v = await get();
    if (ok(v)) return v;
    await sleep(250);
  }
  throw new Error(`${what}: ${JSON.stringify(v)}`);
}

const failed = (st) => st.stats.dropped.auth + st.stats.dropped["unknown-key"];

test("Firefox and Chromium decode each other in an encrypted room", { timeout: 10 * WAIT, skip: ROOM ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM)" }, async () => {
  const url = `${BASE}/${ROOM}`;
  const pass = "&k=" + encodeURIComponent("fox and chrome");
  const ff = await firefoxParticipant(firefox);
  const ch = await participant(chromium);
  await ff.page.goto(url + skipPrejoin("Fox") + pass);
  await ff.page.waitForSelector("#meeting", { timeout: 3 * WAIT });
  await ch.page.goto(url + skipPrejoin("Chrome") + pass);
  await ch.page.waitForSelector("#meeting", { timeout: 3 * WAIT });
  const [f0, c0] = [await state(ff.page), await state(ch.page)];
  const keyed = (st, other) => st.enabled && st.encrypting && st.sending > 0 && st.sending === st.epoch && (st.frames[other] ?? 0) > 0 && st.stats?.decrypted > 0;
  const f1 = await until("Firefox decodes Chromium's decrypted video", () => state(ff.page), (st) => keyed(st, c0.me));
  const c1 = await until("Chromium decodes Firefox's decrypted video", () => state(ch.page), (st) => keyed(st, f0.me) && st.epoch === f1.epoch);
  assert.equal(f1.api, "script", "Firefox uses RTCRtpScriptTransform");
  await sleep(5000);
  const [f2, c2] = [await state(ff.page), await state(ch.page)];
  assert.equal(failed(f2) - failed(f1), 0, `Firefox: frames failed in 5 s: ${JSON.stringify(f2.stats)}`);
  assert.equal(failed(c2) - failed(c1), 0, `Chromium: frames failed in 5 s: ${JSON.stringify(c2.stats)}`);
  assert.ok(f2.frames[c0.me] > f1.frames[c0.me] && c2.frames[f0.me] > c1.frames[f0.me], "video keeps decoding both ways");
  assert.ok(/^(\d{5} ){5}\d{5}$/.test(f2.code) && f2.code === c2.code, `codes ${f2.code} / ${c2.code}`);
  await screenshot(ff.page, "firefox-encrypted");
  for (const p of [ff, ch]) assert.deepEqual(p.errors, []);
});
