// A load run (TestFirefoxEncryptedRoomLoad, not a part of make test): an
// encrypted room of PARLEY_E2EE_ROOM members, Firefox and Chromium among
// bots. Bots leave and join in turn; for each change it prints how long
// after it each browser and each bot could decrypt with the next epoch,
// and when each browser began to send with it. The browsers ask the bridge
// for no video (lastN 0), as the bots do: the run measures the keys.
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
  for (const p of [ff.page, ch.page]) await p.evaluate(() => window.parley.session.setLastNLimit(0));
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
  }
});
