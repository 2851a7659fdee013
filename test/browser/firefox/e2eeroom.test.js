// A load run (TestFirefoxEncryptedRoomLoad, not a part of make test): an
// encrypted room of PARLEY_E2EE_ROOM members, Firefox and Chromium among
// bots. Bots leave and join in turn; for each change it prints how long
// after it each browser and each bot could decrypt with the next epoch,
// and when each browser began to send with it. The bots ask for no video;
// the browsers for two bots' video (lastN 2), whose frames they time as
// they are shown, to tell how long the video stopped around each change.
import { test } from "node:test";
import { BASE, WAIT, skipPrejoin } from "../lib/browser.js";
import { joinBoth, until, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const CONTROL = process.env.PARLEY_CONTROL_URL;
const PASSPHRASE = process.env.PARLEY_PASSPHRASE;
const MEMBERS = Number(process.env.PARLEY_E2EE_ROOM);

const browsers = useBrowsers();

async function control(path, method = "POST") {
  const r = await fetch(CONTROL + path, { method });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** The page's epochs, and when (page clock, ms) it first held and first sent with one after `after`. */
function epochs(page) {
  return page.evaluate(() => {
    const { e2ee } = window.parley;
    const w = window.__rekey ?? {};
    return { epoch: e2ee.agent?.current?.epoch ?? 0, sending: e2ee.agent?.sendingEpoch ?? 0, held: w.held ?? 0, sent: w.sent ?? 0, decrypted: e2ee.stats?.decrypted ?? 0 };
  });
}

/** Notes in the page, every 5 ms, when it first holds and first sends with an epoch after `after`. */
function watch(page, after) {
  return page.evaluate((after) => {
    clearInterval(window.__rekeyTimer);
    const w = (window.__rekey = { held: 0, sent: 0 });
    window.__rekeyTimer = setInterval(() => {
      const a = window.parley.e2ee.agent;
      if (!w.held && (a?.current?.epoch ?? 0) > after) w.held = Date.now();
      if (!w.sent && (a?.sendingEpoch ?? 0) > after) w.sent = Date.now();
    }, 5);
  }, after);
}

const median = (xs) => xs[Math.floor((xs.length - 1) / 2)];
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
const s = (ms) => (ms / 1000).toFixed(2) + " s";

test(`re-keying in an encrypted room of ${MEMBERS}, Firefox and Chromium among bots`, { timeout: 40 * WAIT }, async () => {
  const url = `${BASE}/${ROOM}`;
  await control(`/bots?n=${MEMBERS - 3}&url=${encodeURIComponent(url)}`);
  const pass = "&k=" + encodeURIComponent(PASSPHRASE);
  const { ff, ch } = await joinBoth(browsers, {
    firefox: { url: url + skipPrejoin("Fox", { videoMuted: true }) + pass },
    chromium: { url: url + skipPrejoin("Chrome", { videoMuted: true }) + pass },
    timeout: 3 * WAIT,
  });
  for (const p of [ff.page, ch.page]) {
    await p.evaluate(() => {
      window.parley.session.setLastNLimit(2);
      // When each remote video showed each frame (requestVideoFrameCallback), by track.
      const frames = (window.__frames = new Map());
      const hook = (v) => {
        if (v.__timed) return;
        v.__timed = true;
        const shown = () => {
          const id = v.srcObject?.getVideoTracks?.()[0]?.id;
          if (id) (frames.get(id) ?? frames.set(id, []).get(id)).push(Date.now());
          v.requestVideoFrameCallback(shown);
        };
        v.requestVideoFrameCallback(shown);
      };
      setInterval(() => document.querySelectorAll("video").forEach(hook), 200);
    });
  }
  const pages = { firefox: ff.page, chromium: ch.page };
  const settled = async () => {
    const [f, c, bots] = [await epochs(ff.page), await epochs(ch.page), await control("/epochs?after=0", "GET")];
    return { f, c, bots, ok: f.epoch > 0 && f.sending === f.epoch && c.epoch === f.epoch && c.sending === c.epoch && bots.every((b) => b.epoch === f.epoch) };
  };
  let st = await until("every member holds and sends with one epoch", settled, (v) => v.ok, { timeout: 6 * WAIT });
  console.log(`# ${MEMBERS} members (${st.bots.length} bots and two browsers) hold epoch ${st.f.epoch}`);

  for (const change of ["leave", "join", "leave", "join"]) {
    const before = st.f.epoch;
    for (const p of Object.values(pages)) await watch(p, before);
    const { at } = await control("/" + change);
    const got = await until(`every member holds an epoch after ${before} (${change})`,
      async () => ({ f: await epochs(ff.page), c: await epochs(ch.page), bots: await control(`/epochs?after=${before}`, "GET") }),
      (v) => v.f.held && v.c.held && v.f.sent && v.c.sent && v.bots.every((b) => b.installed), { timeout: 6 * WAIT });
    const bots = got.bots.map((b) => b.installed - at).sort((a, b) => a - b);
    console.log(`# ${change}: Firefox holds the next epoch after ${s(got.f.held - at)}, sends with it after ${s(got.f.sent - at)}; ` +
      `Chromium ${s(got.c.held - at)}, ${s(got.c.sent - at)}; ${bots.length} bots: median ${s(median(bots))}, 90th percentile ${s(pct(bots, 0.9))}, last ${s(bots[bots.length - 1])}`);
    st = await until("every member sends with one epoch again", settled, (v) => v.ok, { timeout: 6 * WAIT });
    // The video across the change: each shown video's longest pause from the change to now (everyone
    // sends with the new epoch by then) beside the same in the 5 s before the change.
    const pauses = async (page) => {
      const frames = await page.evaluate(() => [...window.__frames.values()]);
      const longest = (ts, from, to) => ts.filter((x) => x >= from && x <= to).reduce((m, x, i, a) => (i ? Math.max(m, x - a[i - 1]) : m), 0);
      const now = Date.now();
      const videos = frames.filter((ts) => ts.filter((x) => x >= at - 5000).length >= 20);
      const shown = frames.map((ts) => ts.filter((x) => x >= at - 5000).length);
      return { n: videos.length, shown, before: Math.max(0, ...videos.map((ts) => longest(ts, at - 5000, at))), across: Math.max(0, ...videos.map((ts) => longest(ts, at - 500, now))), over: ((now - at) / 1000).toFixed(1) };
    };
    const [pf, pc] = [await pauses(ff.page), await pauses(ch.page)];
    const ids = { [await ff.page.evaluate(() => window.parley.conference.endpointId)]: "Firefox", [await ch.page.evaluate(() => window.parley.conference.endpointId)]: "Chromium" };
    const bridge = await control("/bridge", "GET");
    const toward = [];
    for (const c of bridge.conferences ?? []) {
      for (const e of c.endpoints ?? []) {
        if (ids[e.id]) toward.push(`${ids[e.id]} ${Math.round((e.bwe?.estimate_bps ?? 0) / 1000)} kbit/s (loss ${(100 * (e.bwe?.loss_fraction ?? 0)).toFixed(0)}%, ${e.transportCCFeedback} feedback packets, ${e.bwe?.not_set_up ?? 0} packets lost before their slot was set up, start rule cut: ${!!e.bwe?.start_cut}, RTT ${Math.round(e.rttMs ?? 0)} ms, ${e.forwardedSources?.length ?? 0} videos forwarded)`);
      }
    }
    // What each browser's session holds and got, by getStats.
    const session = async (page) => page.evaluate(async () => {
      const pc = window.parley.session.pc;
      const n = { state: pc?.connectionState, transceivers: pc?.getTransceivers().length ?? 0, packets: 0, frames: 0 };
      if (pc) (await pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp") { n.packets += r.packetsReceived ?? 0; n.frames += r.framesDecoded ?? 0; } });
      return `${n.state}, ${n.transceivers} transceivers, ${n.packets} packets and ${n.frames} video frames decoded in all`;
    });
    console.log(`# ${change}, sessions: Firefox ${await session(ff.page)}; Chromium ${await session(ch.page)}`);
    console.log(`# ${change}, video: Firefox's longest pause over ${pf.n} videos ${pf.across} ms in the ${pf.over} s from the change (the 5 s before: ${pf.before} ms); Chromium's over ${pc.n}: ${pc.across} ms (before: ${pc.before} ms); frames shown since 5 s before the change, per video: Firefox ${pf.shown.join(", ") || "none"}, Chromium ${pc.shown.join(", ") || "none"}; the bridge's estimate toward ${toward.join(", ")}`);
  }
});
