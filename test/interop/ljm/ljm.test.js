// Stock lib-jitsi-meet (LJM) in a call with Parley's web client and a bot,
// run by ljm_test.go: two LJM participants (Ada with the bridge channel over
// SCTP, Bea over WebSocket) on a page served from another origin, the Parley
// web client (Cleo) at PARLEY_URL/ROOM, and the bot, which joins and leaves
// when this file asks ljm_test.go. Each LJM page's console goes to
// ARTIFACTS/ljm-NAME.log, its errors and warnings to the test log too.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, appendFileSync, writeFileSync } from "node:fs";
import { join as joinPath } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this test through go test ./test/interop/ljm`);
  return v;
};
const PARLEY = env("PARLEY_URL");
const DOMAIN = env("PARLEY_DOMAIN");
const PAGE = env("PARLEY_LJM_PAGE");
const ROOM = env("PARLEY_LJM_ROOM");
const ARTIFACTS = env("PARLEY_ARTIFACTS");
const WAIT = Number(process.env.PARLEY_WAIT_MS || 20_000);
// LJM options a developer wants to try, merged over the page's (JSON; see README.md).
const EXTRA = process.env.PARLEY_LJM_EXTRA_CONFIG || "";
// A test waiting for a server change reads PARLEY_LJM_TODO_<KEY> (set by
// ljm_test.go's notYet) as its todo option; none waits today.
mkdirSync(ARTIFACTS, { recursive: true });

// As test/browser/lib/browser.js: Debian's Chromium, fake devices, loopback ICE.
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--ignore-certificate-errors",
  "--allow-loopback-in-peer-connection",
  "--autoplay-policy=no-user-gesture-required",
];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_FLAGS, timeout: WAIT });
});
after(async () => {
  await browser?.close();
});

/** A browser context and page whose console is logged to ARTIFACTS/ljm-NAME.log. */
async function openPage(name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, permissions: ["camera", "microphone"] });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const file = joinPath(ARTIFACTS, `ljm-${name}.log`);
  writeFileSync(file, "");
  const errors = new Map(); // error or warning, without its time stamps → how often
  const report = (line) => {
    const key = line.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z /g, "");
    const n = (errors.get(key) ?? 0) + 1;
    errors.set(key, n);
    if (n === 1) console.log(`[${name}] ${line}`); // repeats are counted in the log's summary
  };
  page.on("console", (m) => {
    const line = `${new Date().toISOString().slice(11, 23)} ${m.type()} ${m.text()}`;
    appendFileSync(file, line + "\n");
    // A failed load names no URL in its text: add it.
    const where = /^Failed to load resource/.test(m.text()) ? ` (${m.location().url})` : "";
    if (m.type() === "error" || m.type() === "warning") report(`${m.type()} ${m.text()}${where}`);
  });
  page.on("pageerror", (e) => {
    appendFileSync(file, `pageerror ${e.stack || e.message}\n`);
    report(`pageerror ${e.message}`);
  });
  const p = { name, context, page, errors };
  opened.push(p);
  return p;
}

const opened = [];
after(() => {
  for (const p of opened) {
    for (const [line, n] of p.errors) if (n > 1) console.log(`[${p.name}] ${n}× ${line.slice(0, 300)}`);
  }
});

/** Opens an LJM participant; sctp picks the bridge channel's transport. */
async function openLJM(name, sctp) {
  const p = await openPage(name);
  const q = new URLSearchParams({ parley: PARLEY, domain: DOMAIN, room: ROOM, name, sctp: sctp ? "1" : "0" });
  if (EXTRA) q.set("extra", EXTRA);
  await p.page.goto(`${PAGE}/?${q}`);
  return p;
}

/** window.ljm.state of an LJM page, without the config it was given. */
const ljmState = (p) => p.page.evaluate(() => ({ ...window.ljm.state, config: undefined }));

/** Waits until fn(value of get()) holds; on timeout throws with the last value. */
async function waitFor(what, get, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let v;
  for (;;) {
    v = await get();
    if (fn(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(v, null, 1).slice(0, 6000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function shot(p, label) {
  await p.page.screenshot({ path: joinPath(ARTIFACTS, `${p.name}-${label}.png`) }).catch(() => {});
}

async function bot(action) {
  const r = await fetch(`${PAGE}/bot/${action}`, { method: action === "received" ? "GET" : "POST" });
  if (!r.ok) throw new Error(`bot ${action}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

/** The Parley web client's tile names. */
async function tileNames(page) {
  return (await page.locator("#grid .tile .tile-name-text").allTextContents()).sort();
}

/** What the Parley web client receives, by owner endpoint (as test/browser/media.test.js reads it). */
function parleyMedia(page) {
  return page.evaluate(async () => {
    const s = window.parley?.session;
    const out = { connected: !!s?.connected, frames: {}, audio: {} };
    if (!s?.pc) return out;
    const byTrack = new Map();
    for (const [owner, r] of s.remotes) {
      if (r.video) byTrack.set(r.video.id, owner);
      if (r.audio) byTrack.set(r.audio.id, owner);
    }
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    (await s.pc.getStats()).forEach((st) => {
      if (st.type !== "inbound-rtp") return;
      const owner = byTrack.get(mids.get(st.mid) ?? st.trackIdentifier);
      if (!owner) return;
      if (st.kind === "video") out.frames[owner] = st.framesDecoded ?? 0;
      if (st.kind === "audio") out.audio[owner] = st.packetsReceived ?? 0;
    });
    return out;
  });
}

const T = { timeout: 6 * WAIT };
let ada, bea, cleo;
const ids = {}; // name → endpoint id

test("LJM logs in over XMPP WebSocket and joins the conference", T, async () => {
  ada = await openLJM("Ada", true);
  bea = await openLJM("Bea", false);
  for (const p of [ada, bea]) {
    const st = await waitFor(`${p.name} joins`, () => ljmState(p), (s) => s.phase === "joined" || s.phase === "failed");
    assert.equal(st.phase, "joined", `${p.name}: ${st.failure}\n${st.log.join("\n")}`);
    ids[p.name] = st.myId;
    console.log(`${p.name}: config from ${st.configSource}; endpoint ${st.myId}`);
  }
});

test("the Parley web client and the bot join; everyone sees everyone", T, async () => {
  cleo = await openPage("Cleo");
  const hash =
    "#config.prejoinConfig.enabled=false&config.startWithAudioMuted=false&config.startWithVideoMuted=false" +
    `&userInfo.displayName=${encodeURIComponent(JSON.stringify("Cleo"))}`;
  await cleo.page.goto(`${PARLEY}/${ROOM}${hash}`);
  await cleo.page.waitForSelector("#meeting");
  ids.Cleo = await cleo.page.waitForFunction(() => window.parley?.conference?.endpointId).then((h) => h.jsonValue());
  ids.Bot = (await bot("join")).endpoint;
  console.log(`endpoints: ${JSON.stringify(ids)}`);

  for (const [p, others] of [
    [ada, ["Bea", "Cleo", "Bot"]],
    [bea, ["Ada", "Cleo", "Bot"]],
  ]) {
    await waitFor(
      `${p.name} sees ${others.join(", ")} join`,
      () => ljmState(p),
      (s) => others.every((o) => s.seen[ids[o]]?.joined && !s.seen[ids[o]].left && s.seen[ids[o]].name === o),
    );
  }
  await waitFor("Cleo's tiles", () => tileNames(cleo.page), (n) => JSON.stringify(n) === JSON.stringify(["Ada", "Bea", "Bot", "Cleo (you)"]));
  await shot(cleo, "everyone");
});

test("chat flows between LJM and the Parley web client", T, async () => {
  await ada.page.evaluate(() => window.ljm.sendChat("hello from LJM"));
  await cleo.page.click("#chat-toggle");
  await cleo.page.waitForSelector('#messages li:has-text("hello from LJM")');
  await waitFor("Bea gets Ada's message", () => ljmState(bea), (s) => s.messages.some((m) => m.from === ids.Ada && m.text === "hello from LJM"));

  await cleo.page.fill("#chat-input", "hello from Parley");
  await cleo.page.keyboard.press("Enter");
  for (const p of [ada, bea]) {
    await waitFor(`${p.name} gets Cleo's message`, () => ljmState(p), (s) => s.messages.some((m) => m.from === ids.Cleo && m.text === "hello from Parley"));
  }
  await shot(cleo, "chat");
});

test("LJM opens the bridge channel over SCTP", T, async () => {
  await waitFor("Ada's bridge channel (SCTP)", () => ljmState(ada), (s) => s.bridgeChannel === "open");
});

test("LJM opens the bridge channel over WebSocket from its own origin", T, async () => {
  await waitFor("Bea's bridge channel (WebSocket)", () => ljmState(bea), (s) => s.bridgeChannel === "open");
});

test("media: each LJM participant decodes video and receives audio from every other", T, async () => {
  for (const [p, others] of [
    [ada, ["Bea", "Cleo", "Bot"]],
    [bea, ["Ada", "Cleo", "Bot"]],
  ]) {
    const get = () => p.page.evaluate(() => window.ljm.mediaStats());
    const has = (st) => others.every((o) => st.byOwner[ids[o]]?.frames > 0 && st.byOwner[ids[o]]?.packets > 0);
    let first;
    try {
      first = await waitFor(`${p.name} decodes video and receives audio from ${others.join(", ")} (${JSON.stringify(ids)})`, get, has, 2 * WAIT);
      await waitFor(`${p.name}: media keeps flowing`, get, (st) =>
        others.every((o) => st.byOwner[ids[o]].frames > first.byOwner[ids[o]].frames && st.byOwner[ids[o]].packets > first.byOwner[ids[o]].packets),
      );
    } finally {
      console.log(`${p.name} media: ${JSON.stringify(await get())}`);
      await shot(p, "media");
      const sdp = await p.page.evaluate(() => window.ljm.sessionSDP());
      writeFileSync(joinPath(ARTIFACTS, `ljm-${p.name}-remote.sdp`), sdp.remote);
      writeFileSync(joinPath(ARTIFACTS, `ljm-${p.name}-local.sdp`), sdp.local);
      console.log(`${p.name}: local tracks on m-lines ${JSON.stringify(sdp.localTrackMids)}; SDP in ljm-${p.name}-{remote,local}.sdp`);
    }
  }
});

test("media: the Parley web client and the bot decode the LJM participants", T, async () => {
  const from = ["Ada", "Bea"];
  try {
    await waitFor(
      `Cleo decodes video and receives audio from Ada and Bea (${JSON.stringify(ids)})`,
      () => parleyMedia(cleo.page),
      (st) => from.every((o) => st.frames[ids[o]] > 0 && st.audio[ids[o]] > 0),
      2 * WAIT,
    );
    await waitFor(
      "the bot receives video frames and audio from Ada and Bea",
      () => bot("received"),
      (got) => from.every((o) => got[ids[o]]?.videoFrames > 0 && got[ids[o]]?.audioPackets > 0),
      2 * WAIT,
    );
  } finally {
    console.log(`Cleo media: ${JSON.stringify(await parleyMedia(cleo.page))}`);
    console.log(`bot received: ${JSON.stringify(await bot("received").catch((e) => String(e)))}`);
    await shot(cleo, "media");
  }
});

test("LJM throws nothing: the configuration steers it to the codec the bridge forwards", T, async () => {
  const thrown = [ada, bea].flatMap((p) => [...p.errors.keys()].filter((e) => e.startsWith("pageerror")).map((e) => `${p.name}: ${e}`));
  assert.deepEqual(thrown, []);
});

test("leaves are seen: the bot, an LJM participant, the Parley web client", T, async () => {
  const left = (p, who) => waitFor(`${p.name} sees ${who} leave`, () => ljmState(p), (s) => s.seen[ids[who]]?.left === true);
  const tiles = (want) => waitFor(`Cleo's tiles ${want}`, () => tileNames(cleo.page), (n) => JSON.stringify(n) === JSON.stringify(want));

  await bot("leave");
  await left(ada, "Bot");
  await left(bea, "Bot");
  await tiles(["Ada", "Bea", "Cleo (you)"]);

  await bea.page.evaluate(() => window.ljm.leave());
  await left(ada, "Bea");
  await tiles(["Ada", "Cleo (you)"]);

  await cleo.context.close();
  await left(ada, "Cleo");
  await ada.page.evaluate(() => window.ljm.leave());
});
