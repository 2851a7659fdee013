// A mixed call: Firefox (puppeteer-core over WebDriver BiDi), Chromium
// (Playwright) and a `parley bot` in one room. Each browser must decode
// the video of both others (frames decoded increasing in getStats, on the
// tiles the bridge's sources maps assign) and receive their audio; the bot
// must receive video frames and audio from both browsers.
//
// Run by firefox_test.go inside a network namespace (PARLEY_URL is the
// host side of its veth); the bot runs in the Go test, which answers
// PARLEY_BOT_URL/received with what the bot got, by endpoint id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, WAIT, screenshot, skipPrejoin } from "../lib/browser.js";
import { joinBoth, until, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const BOT = process.env.PARLEY_BOT_URL;
// LATCH: Firefox binds packets of an SSRC it has not been told about yet to the one m-line of their
// payload type (here the offer's feedback m-line, mid 0), and keeps them there after a renegotiation
// signals that SSRC on an m-line of its own; so the first remote audio, forwarded before the sources
// map has added its m-line, can stay unheard. Known, reported in firefox_test.go's notYet.
const LATCH = process.env.PARLEY_FIREFOX_TODO_LATCH;

const browsers = useBrowsers();

/** What a page receives from whom, by the page's own state and getStats (works in both browsers). */
function mediaStats(page) {
  return page.evaluate(async () => {
    const s = window.parley?.session;
    const out = { connected: !!s?.connected, frames: {}, audio: {}, tiles: [], names: [], latched: [] };
    for (const n of document.querySelectorAll("#grid .tile .tile-name-text")) out.names.push(n.textContent);
    out.names.sort();
    if (!s?.pc) return out;
    const byTrack = new Map();
    for (const [owner, r] of s.remotes) {
      if (r.video) byTrack.set(r.video.id, owner);
      if (r.audio) byTrack.set(r.audio.id, owner);
    }
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    // The m-line the remote description signals each SSRC on.
    const signalled = new Map();
    for (const section of (s.pc.remoteDescription?.sdp ?? "").split(/\r\nm=/).slice(1)) {
      const mid = section.match(/^a=mid:(\S+)/m)?.[1];
      for (const m of section.matchAll(/^a=ssrc:(\d+) /gm)) signalled.set(Number(m[1]), mid);
    }
    const stats = await s.pc.getStats();
    stats.forEach((st) => {
      if (st.type !== "inbound-rtp") return;
      const on = signalled.get(st.ssrc);
      if (on !== undefined && st.mid !== undefined && on !== st.mid) {
        out.latched.push({ owner: byTrack.get(mids.get(on)), kind: st.kind, ssrc: st.ssrc, signalled: on, received: st.mid });
      }
      const owner = byTrack.get(mids.get(st.mid) ?? st.trackIdentifier) ?? byTrack.get(st.trackIdentifier);
      if (!owner) return;
      if (st.kind === "video") out.frames[owner] = st.framesDecoded ?? 0;
      if (st.kind === "audio") out.audio[owner] = st.packetsReceived ?? 0;
    });
    for (const v of document.querySelectorAll("#grid .tile video.remote-video")) {
      if (v.videoWidth > 0 && !v.paused) out.tiles.push(v.dataset.id);
    }
    out.tiles.sort();
    return out;
  });
}

/** Waits until a page plays these participants' videos on their tiles and receives their audio, still flowing a moment later. */
async function waitPlaying(page, label, others, latched) {
  others = [...others].sort();
  // A source whose packets a browser bound to another m-line than the one signalled for it (see
  // LATCH below) is reported, and its audio not waited for, while PARLEY_FIREFOX_TODO_LATCH is set.
  const excused = (s, o, kind) => LATCH && s.latched.some((l) => l.owner === o && l.kind === kind);
  try {
    const first = await until(
      `${label}: remote videos playing and audio received`,
      () => mediaStats(page),
      (s) => s.connected && JSON.stringify(s.tiles) === JSON.stringify(others) && others.every((o) => s.frames[o] > 0 && (s.audio[o] > 0 || excused(s, o, "audio"))),
    );
    await until(`${label}: media keeps flowing`, () => mediaStats(page), (s) => others.every((o) => s.frames[o] > first.frames[o] && (s.audio[o] > first.audio[o] || excused(s, o, "audio"))));
    if (first.latched.length > 0) {
      const msg = `${label} received ${JSON.stringify(first.latched)} on another m-line than signalled: ${LATCH}`;
      console.log(msg);
      latched.push(msg);
    }
    return first;
  } catch (e) {
    console.log(`${label} when it failed: ${JSON.stringify(await debugState(page).catch((err) => err.message))}`);
    throw e;
  }
}

/** A page's PeerConnection as it stands: logged when a wait fails. */
function debugState(page) {
  return page.evaluate(async () => {
    const s = window.parley.session;
    const out = { state: s.pc.connectionState, remotes: [...s.remotes].map(([o, r]) => [o, r.video?.id, r.audio?.id]) };
    out.tx = s.pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection, t.receiver.track.kind, t.receiver.track.id]);
    out.stats = [];
    (await s.pc.getStats()).forEach((st) => {
      if (st.type === "inbound-rtp" || st.type === "outbound-rtp") out.stats.push([st.type, st.kind, st.mid, st.ssrc, st.trackIdentifier, st.packetsReceived ?? st.packetsSent, st.framesDecoded]);
    });
    out.remoteSDP = s.pc.remoteDescription?.sdp;
    out.localSDP = s.pc.localDescription?.sdp;
    return out;
  });
}

async function botReceived() {
  const r = await fetch(`${BOT}/received`);
  if (!r.ok) throw new Error(`bot: ${r.status} ${await r.text()}`);
  return r.json(); // {endpoint, received: {id: {audioPackets, videoFrames}}}
}

test("Firefox, Chromium and a bot see and hear each other", { timeout: 10 * WAIT, skip: ROOM && BOT ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM and PARLEY_BOT_URL)" }, async (t) => {
  const url = `${BASE}/${ROOM}`;
  const { ff, ch } = await joinBoth(browsers, { firefox: { url: url + skipPrejoin("Fox") }, chromium: { url: url + skipPrejoin("Chrome") }, log: true });

  const { endpoint: bot } = await botReceived();
  const ids = {};
  for (const [name, p] of [["Fox", ff], ["Chrome", ch]]) {
    await until(`${name}: three tiles`, () => mediaStats(p.page), (s) => s.names.length === 3);
    ids[name] = await p.page.evaluate(() => window.parley.conference.endpointId);
  }
  console.log(`endpoints: Firefox ${ids.Fox}, Chromium ${ids.Chrome}, bot ${bot}`);

  const latched = [];
  const ffFirst = await waitPlaying(ff.page, "Firefox", [ids.Chrome, bot], latched);
  const chFirst = await waitPlaying(ch.page, "Chromium", [ids.Fox, bot], latched);
  console.log(`Firefox: frames ${JSON.stringify(ffFirst.frames)}, audio packets ${JSON.stringify(ffFirst.audio)}`);
  console.log(`Chromium: frames ${JSON.stringify(chFirst.frames)}, audio packets ${JSON.stringify(chFirst.audio)}`);

  const got = await until(
    "bot: video frames and audio from both browsers",
    async () => (await botReceived()).received,
    (r) => [ids.Fox, ids.Chrome].every((id) => r[id]?.videoFrames > 0 && r[id]?.audioPackets > 0),
  );
  console.log(`bot: ${JSON.stringify(got)}`);

  // Firefox offered nothing its SDP parser refused: the session's answer went through.
  const fp = await ff.page.evaluate(() => window.parley.session.pc.remoteDescription.sdp.match(/^a=fingerprint:\S+ (\S+)/m)?.[1]);
  assert.match(fp, /^([0-9A-F]{2}:)+[0-9A-F]{2}$/, "the bridge's fingerprint in upper case");

  // Firefox and Chromium accepted transport-cc and send feedback about what the bridge sends them, so
  // the bridge estimates their bandwidth; Chromium decodes RED and gets its audio as RED.
  const receivers = await until(
    "transport-cc feedback from Firefox and Chromium",
    async () => (await (await fetch(`${BOT}/bridge`)).json()).conferences.flatMap((c) => c.endpoints),
    (eps) => [ids.Fox, ids.Chrome].every((id) => eps.find((e) => e.id === id)?.transportCCFeedback > 5 && eps.find((e) => e.id === id)?.bwe?.estimate_bps > 0),
  );
  const byId = (id) => receivers.find((e) => e.id === id);
  console.log(`bridge estimates: Firefox ${byId(ids.Fox).bwe.estimate_bps} bit/s, Chromium ${byId(ids.Chrome).bwe.estimate_bps} bit/s; RED: Firefox ${byId(ids.Fox).red}, Chromium ${byId(ids.Chrome).red}`);
  assert.equal(byId(ids.Chrome).red, true, "Chromium gets RED audio");

  // The connection indicator in Firefox: Chromium's tile measured from Firefox's getStats, its details on click.
  const tile = `#grid .tile[data-id="${ids.Chrome}"]`;
  await ff.page.waitForSelector(`${tile} .tile-quality:is([data-level="good"], [data-level="fair"], [data-level="poor"])`);
  await ff.page.click(`${tile} .tile-quality`);
  await ff.page.waitForSelector(`${tile} .tile-quality-details`);
  // Open details follow each new sample: wait for one with a frame rate.
  await ff.page.waitForFunction((sel) => Number(document.querySelector(`${sel} .tile-quality-details dd[data-stat="fps"]`)?.dataset.value) > 0, { timeout: 2 * WAIT }, tile);
  const details = await ff.page.evaluate((sel) => Object.fromEntries([...document.querySelectorAll(`${sel} .tile-quality-details dd`)].map((dd) => [dd.dataset.stat, Number(dd.dataset.value)])), tile);
  console.log(`Firefox's details of Chromium's tile: ${JSON.stringify(details)}`);
  for (const stat of ["bitrate", "resolution", "fps"]) assert.ok(details[stat] > 0, `Firefox's ${stat} of Chromium: ${JSON.stringify(details)}`);

  await screenshot(ff.page, "firefox");
  await screenshot(ch.page, "chromium");
  assert.deepEqual(ff.errors, [], "Firefox console errors");
  assert.deepEqual(ch.errors, [], "Chromium console errors");
  await Promise.allSettled([ff.context.close(), ch.context.close()]);
  // Marked todo only once everything else has passed, so the known fault masks nothing else.
  if (latched.length > 0) t.todo(latched.join("; "));
});
