// Helpers for the browser tests: Debian's Chromium (never a downloaded
// one) with fake camera and microphone, one browser context per
// participant, screenshots kept as artefacts, and console errors collected
// so a test can insist on none.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join as joinPath } from "node:path";
import { chromium } from "playwright-core";

export const BASE = required("PARLEY_URL"); // https://127.0.0.1:PORT
export const ARTIFACTS = process.env.PARLEY_ARTIFACTS || new URL("../artifacts", import.meta.url).pathname;
export const WAIT = Number(process.env.PARLEY_WAIT_MS || 15_000);
mkdirSync(ARTIFACTS, { recursive: true });

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./test/browser`);
  return v;
}

export const CHROMIUM_FLAGS = [
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
  // The test server's bridge listens on 127.0.0.1 only; Chromium leaves
  // loopback out of ICE unless told.
  "--allow-loopback-in-peer-connection",
  // Remote audio elements play without a click.
  "--autoplay-policy=no-user-gesture-required",
];

/**
 * Starts Chromium. `audioFile` replaces the fake microphone's beep (20 ms
 * every half second: too short for any speech detection) with a WAV file,
 * played in a loop by every participant of this browser.
 */
export async function launch({ audioFile } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: audioFile ? [...CHROMIUM_FLAGS, `--use-file-for-fake-audio-capture=${audioFile}`] : CHROMIUM_FLAGS,
    timeout: WAIT,
  });
}

/**
 * Writes a mono 16-bit 48 kHz WAV that a speech detector takes for someone
 * talking: in every second, 700 ms of a loud warbling tone and 300 ms of the
 * same tone 50 dB quieter (a pause that is not digital silence, so the
 * detector's noise floor stays low). Returns its path.
 */
export function writeSpeechWAV(name = "speech.wav", seconds = 4) {
  const rate = 48000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write("WAVEfmt ", 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(2 * rate, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36);
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const loud = t % 1 < 0.7;
    const f = 220 + 60 * Math.sin(2 * Math.PI * 3 * t); // a voice-like pitch that moves
    const v = (loud ? 0.5 : 0.0016) * (0.7 * Math.sin(2 * Math.PI * f * t) + 0.3 * Math.sin(2 * Math.PI * 3.1 * f * t));
    buf.writeInt16LE(Math.round(v * 32767), 44 + 2 * i);
  }
  const file = joinPath(ARTIFACTS, name);
  writeFileSync(file, buf);
  return file;
}

/**
 * A participant: a fresh context (own storage) and page. `errors` gathers
 * console errors and uncaught exceptions; `allow` lists patterns a test
 * expects (a refused request, say); `locale` ("de-DE") is the browser's
 * language (navigator.languages).
 */
export async function participant(browser, { viewport = { width: 1280, height: 800 }, allow = [], locale } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport, locale, permissions: ["camera", "microphone", "clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  return { context, page, errors: collectErrors(page, allow) };
}

/**
 * The console errors and uncaught exceptions of a page (Playwright's or
 * puppeteer's), gathered from now on into the returned array; messages
 * matching a pattern in `allow` are left out.
 */
export function collectErrors(page, allow = []) {
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !allow.some((re) => re.test(m.text()))) errors.push(`console: ${m.text()}`);
  });
  // (Firefox reports some of its own WebRTC errors, "ICE failed", as page errors.)
  page.on("pageerror", (e) => {
    if (!allow.some((re) => re.test(e.message))) errors.push(`pageerror: ${e.message}`);
  });
  return errors;
}

let shot = 0;
// node --test runs each file in its own process: the file's name keeps the numbering apart.
const suite = basename(process.argv[1] ?? "", ".test.js").replace(/[^a-z0-9]+/gi, "-");
/**
 * Saves a numbered screenshot under ARTIFACTS and returns its path, or null
 * when the page could not be painted in time. Screenshots are for people to
 * look at, so a slow paint is reported, not failed: the assertions around
 * them decide the test.
 */
export async function screenshot(page, name) {
  const file = joinPath(ARTIFACTS, `${suite ? suite + "-" : ""}${String(++shot).padStart(2, "0")}-${name}.png`);
  try {
    await page.screenshot({ path: file, timeout: 2 * WAIT });
    return file;
  } catch (err) {
    console.log(`# screenshot ${name} not taken: ${err.message.split("\n")[0]}`);
    return null;
  }
}

/** The hash that skips the pre-join screen (DESIGN.md, room URLs). */
export function skipPrejoin(name, { audioMuted = false, videoMuted = false, relay = false } = {}) {
  return (
    `#config.prejoinConfig.enabled=false&config.startWithAudioMuted=${audioMuted}` +
    `&config.startWithVideoMuted=${videoMuted}&userInfo.displayName=${encodeURIComponent(JSON.stringify(name))}` +
    (relay ? `&config.iceTransportPolicy=%22relay%22` : "")
  );
}

// The first join of a test process also pays for Chromium's cold start
// (its caches on a fresh machine): it may take longer than later ones.
let firstJoin = true;

/**
 * Opens a room with the pre-join screen skipped and waits until joined. On
 * a timeout the error says where the page stood (the conference's phase and
 * the screen's text) and a screenshot is kept.
 */
export async function join(p, room, name, opts) {
  const timeout = firstJoin ? 3 * WAIT : WAIT;
  firstJoin = false;
  await p.page.goto(`${BASE}/${room}${skipPrejoin(name, opts)}`);
  try {
    await p.page.waitForSelector("#meeting", { timeout });
  } catch (err) {
    const where = await p.page
      .evaluate(() => JSON.stringify({ phase: window.parley?.conference?.phase, screen: document.body.innerText.slice(0, 300) }))
      .catch((e) => `page unreadable: ${e.message}`);
    await screenshot(p.page, `join-timeout-${name}`).catch(() => {});
    throw new Error(`${name} did not reach the meeting of ${room} in ${timeout} ms: ${where}`, { cause: err });
  }
}

/** Opens a Chromium page's chat and sends each of texts as a message of its own (Enter). */
export async function sendChat(page, ...texts) {
  await page.click("#chat-toggle");
  for (const text of texts) {
    await page.fill("#chat-input", text);
    await page.keyboard.press("Enter");
  }
}

/** Waits until the page has shown a toast containing text (toasts vanish after 4 s, so this reads the page's log of them). */
export async function waitToast(page, text) {
  await page.waitForFunction((t) => (window.parleyToasts ?? []).some((m) => m.includes(t)), text, { timeout: WAIT });
}

/** The names on a page's tiles, sorted. */
export async function tileNames(page) {
  const names = await page.locator("#grid .tile .tile-name-text").allTextContents();
  return names.sort();
}

/** Waits until a page's tiles show exactly these names. */
export async function waitTiles(page, want) {
  want = [...want].sort();
  const deadline = Date.now() + WAIT;
  let have;
  while (Date.now() < deadline) {
    have = await tileNames(page);
    if (JSON.stringify(have) === JSON.stringify(want)) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`tiles ${JSON.stringify(have)}, want ${JSON.stringify(want)}`);
}

export function roomName(prefix) {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Asserts that the pre-join screen's room name (`room`) wraps between its
 * words on page (Playwright's or puppeteer's): it takes more than one line,
 * and each word, its own text node (a <wbr> between them), has one box.
 */
export async function assertRoomNameWraps(page, room) {
  const lines = await page.$eval(".prejoin-room", (h1) => {
    const words = [];
    for (const n of h1.childNodes) {
      if (n.nodeType !== Node.TEXT_NODE) continue;
      const r = document.createRange();
      r.selectNodeContents(n);
      words.push({ word: n.textContent, boxes: r.getClientRects().length });
    }
    return { words, height: h1.getBoundingClientRect().height, lineHeight: parseFloat(getComputedStyle(h1).lineHeight), text: h1.textContent };
  });
  assert.equal(lines.text, room);
  assert.ok(lines.height > 1.5 * lines.lineHeight, `the name wraps (${lines.height} px at ${lines.lineHeight} px a line)`);
  for (const w of lines.words) assert.equal(w.boxes, 1, `"${w.word}" is broken across lines`);
}
