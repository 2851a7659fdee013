// A mixed call: Firefox (puppeteer-core over WebDriver BiDi), Chromium
// (Playwright) and a `parley bot` in one room. Each browser must decode
// the video of both others (frames decoded increasing in getStats, on the
// tiles the bridge's sources maps assign) and receive their audio; the bot
// must receive video frames and audio from both browsers.
//
// Run by firefox_test.go inside a network namespace (PARLEY_URL is the
// host side of its veth); the bot runs in the Go test, which answers
// PARLEY_BOT_URL/received with what the bot got, by endpoint id.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { BASE, WAIT, launch, participant, screenshot, skipPrejoin } from "../lib/browser.js";
import { firefoxParticipant, launchFirefox } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const BOT = process.env.PARLEY_BOT_URL;
// LATCH: Firefox binds packets of an SSRC it has not been told about yet to the one m-line of their
// payload type (here the offer's feedback m-line, mid 0), and keeps them there after a renegotiation
// signals that SSRC on an m-line of its own; so the first remote audio, forwarded before the sources
// map has added its m-line, can stay unheard. Known, reported in firefox_test.go's notYet.
const LATCH = process.env.PARLEY_FIREFOX_TODO_LATCH;

let chromium, firefox;
before(async () => {
  // Both are kept even if one fails to start, so after() closes the other and node ends.
  const [c, f] = await Promise.allSettled([launch(), launchFirefox()]);
  [chromium, firefox] = [c.value, f.value];
  for (const r of [c, f]) if (r.status === "rejected") throw r.reason;
});
after(async () => {
  await Promise.allSettled([chromium?.close(), firefox?.close()]);
});

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

/** Polls get() until ok(value) holds or the time is up; returns the last value. */
async function until(what, get, ok, timeout = 2 * WAIT) {
  const deadline = Date.now() + timeout;
  let v;
  while (Date.now() < deadline) {
    v = await get();
    if (ok(v)) return v;
    await sleep(250);
  }
  throw new Error(`${what}: ${JSON.stringify(v)}`);
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
  const ff = await firefoxParticipant(firefox);
  ff.page.on("console", (m) => console.log(`[Firefox] ${m.type()}: ${m.text()}`));
  const ch = await participant(chromium, { viewport: { width: 1000, height: 640 } });
  ch.page.on("console", (m) => console.log(`[Chromium] ${m.type()}: ${m.text()}`));

  await ff.page.goto(url + skipPrejoin("Fox"));
  await ff.page.waitForSelector("#meeting");
  await ch.page.goto(url + skipPrejoin("Chrome"));
  await ch.page.waitForSelector("#meeting");

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

test("Firefox: the settings dialog lists the devices, and a new name reaches Chromium's tiles", { timeout: 6 * WAIT, skip: ROOM ? false : "run through go test ./test/browser/firefox" }, async () => {
  const url = `${BASE}/${ROOM}Settings`;
  const ff = await firefoxParticipant(firefox);
  const ch = await participant(chromium, { viewport: { width: 1000, height: 640 } });
  await ff.page.goto(url + skipPrejoin("Fox"));
  await ff.page.waitForSelector("#meeting");
  await ch.page.goto(url + skipPrejoin("Chrome"));
  await ch.page.waitForSelector("#meeting");
  await until("Chromium sees Fox", () => mediaStats(ch.page), (s) => s.names.includes("Fox"));

  await ff.page.click("#settings-toggle");
  await ff.page.waitForSelector("#settings[open]");
  // The camera and microphone in use are listed (Firefox's fake devices), each selected.
  const lists = await until(
    "Firefox lists its camera and microphone",
    () =>
      ff.page.evaluate(() => {
        const opts = (id) => [...document.querySelectorAll(`#${id} option`)].filter((o) => o.value).map((o) => ({ value: o.value, label: o.textContent }));
        return { camera: opts("settings-camera"), mic: opts("settings-mic"), speakers: opts("settings-speaker"), cameraValue: document.querySelector("#settings-camera").value, speaker: !document.querySelector("#settings-speaker-field").hidden };
      }),
    (l) => l.camera.length > 0 && l.mic.length > 0,
  );
  console.log(`Firefox's devices: ${JSON.stringify(lists)}`);
  const sending = await ff.page.evaluate(() => window.parley.session.pc?.getSenders().find((s) => s.track?.kind === "video")?.track.getSettings().deviceId ?? "");
  if (sending) assert.equal(lists.cameraValue, sending, "the camera in use is selected");
  // The speaker choice shows where the browser has setSinkId (Firefox since 116) and lists an output.
  assert.equal(lists.speaker, lists.speakers.length > 0 && (await ff.page.evaluate(() => typeof HTMLMediaElement.prototype.setSinkId === "function")));

  // A new name, applied with Enter.
  await ff.page.$eval("#settings-name", (el) => (el.value = ""));
  await ff.page.type("#settings-name", "Fox Mulder");
  await ff.page.keyboard.press("Enter");
  await until("Chromium shows the new name", () => mediaStats(ch.page), (s) => s.names.includes("Fox Mulder"));
  await screenshot(ff.page, "firefox-settings");
  await ff.page.click("#settings-close");
  await ff.page.waitForSelector("#settings", { hidden: true });
  assert.deepEqual(ff.errors, [], "Firefox console errors");
  assert.deepEqual(ch.errors, [], "Chromium console errors");
  await Promise.allSettled([ff.context.close(), ch.context.close()]);
});

test("Firefox on a phone, in German (?lang=de): one toolbar row, the people count, the More sheet raises the hand", { timeout: 6 * WAIT, skip: ROOM ? false : "run through go test ./test/browser/firefox" }, async () => {
  const url = `${BASE}/${ROOM}Phone`;
  const ff = await firefoxParticipant(firefox, { viewport: { width: 390, height: 844 } });
  const ch = await participant(chromium, { viewport: { width: 1000, height: 640 } });
  await ff.page.goto(`${url}?lang=de${skipPrejoin("Fuchs")}`);
  await ff.page.waitForSelector("#meeting");
  await ch.page.goto(url + skipPrejoin("Chrome"));
  await ch.page.waitForSelector("#meeting");
  await ff.page.waitForFunction(() => document.getElementById("participant-count")?.textContent === "2 Personen");
  assert.equal(await ff.page.evaluate(() => document.documentElement.lang), "de");
  // The buttons in sight: the main ones and More, on one row that fits the screen.
  const row = await ff.page.evaluate(() =>
    [...document.querySelectorAll(".toolbar button")].filter((b) => b.offsetWidth > 0).map((b) => ({ id: b.id, label: b.getAttribute("aria-label"), top: Math.round(b.getBoundingClientRect().top), right: b.getBoundingClientRect().right })),
  );
  assert.deepEqual(
    row.map((b) => b.id),
    ["mic-toggle", "cam-toggle", "chat-toggle", "people-toggle", "more-toggle", "leave"],
  );
  assert.equal(new Set(row.map((b) => b.top)).size, 1, JSON.stringify(row));
  assert.ok(row.every((b) => b.right <= 390), JSON.stringify(row));
  assert.equal(row.find((b) => b.id === "leave").label, "Besprechung verlassen");
  assert.ok(await ff.page.$eval("#participant-count", (e) => e.offsetWidth > 0), "the people count is shown");
  // The More sheet: its raise-hand item raises the hand, which Chromium sees, and closes the sheet.
  await ff.page.click("#more-toggle");
  await ff.page.waitForSelector("#toolbar-more.open #hand-toggle", { visible: true });
  assert.equal(await ff.page.$eval("#hand-toggle", (b) => b.getAttribute("aria-label")), "Hand heben");
  await screenshot(ff.page, "firefox-phone-german-more");
  await ff.page.click("#toolbar-more #hand-toggle");
  await ff.page.waitForSelector("#toolbar-more", { hidden: true });
  await ch.page.waitForSelector("#grid .tile .tile-hand");
  assert.deepEqual(ff.errors, [], "Firefox console errors");
  assert.deepEqual(ch.errors, [], "Chromium console errors");
  await Promise.allSettled([ff.context.close(), ch.context.close()]);
});
