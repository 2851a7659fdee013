// Firefox for the browser tests: Debian's firefox-esr (never a downloaded
// one) driven by puppeteer-core over WebDriver BiDi, with a fake camera and
// microphone and no permission prompts. Playwright drives only its own
// patched Firefox builds, so Firefox gets puppeteer; a page here has
// puppeteer's API (evaluate, waitForSelector, waitForFunction(fn, options,
// ...args), screenshot), not Playwright's locators.
//
// Firefox gathers no ICE candidates in a network namespace without a
// default route, and on a host it would gather on the machine's outward
// interface too: test/browser/firefox runs it in a namespace of its own
// (see netns_test.go there).
import { after, before } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import puppeteer from "puppeteer-core";
import { WAIT, collectErrors, launch, participant } from "./browser.js";

export const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";

/** Preferences for a WebRTC call without devices, prompts or autoplay blocking. */
export const FIREFOX_PREFS = {
  // A fake camera (moving pattern) and microphone (tone), no prompt.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  // Host candidates as addresses, not mDNS names: the bridge resolves no names.
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  // Remote audio and video play without a click.
  "media.autoplay.default": 0,
  "media.autoplay.blocking_policy": 0,
};

/** Starts headless Firefox with FIREFOX_PREFS and `prefs`; the test server's self-signed certificate is accepted. */
export async function launchFirefox(prefs = {}) {
  return puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: FIREFOX,
    headless: true,
    acceptInsecureCerts: true,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
    timeout: 2 * WAIT,
    protocolTimeout: 4 * WAIT,
  });
}

/**
 * A Firefox participant: its own browser context (storage) and page, with
 * console errors and uncaught exceptions gathered in `errors` (patterns in
 * `allow` excepted), as browser.js's participant() does for Chromium.
 */
export async function firefoxParticipant(browser, { viewport = { width: 1000, height: 640 }, allow = [] } = {}) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  page.setDefaultTimeout(WAIT);
  return { context, page, errors: collectErrors(page, allow) };
}

/**
 * Starts Chromium (browser.js's launch, with `chromiumOptions`) and Firefox
 * before a file's tests and closes both after them. The returned object's
 * `chromium` and `firefox` are set once both have started; both are kept
 * even if one fails to start, so that the other is closed and node ends.
 */
export function useBrowsers(chromiumOptions) {
  const browsers = { chromium: null, firefox: null };
  before(async () => {
    const [c, f] = await Promise.allSettled([launch(chromiumOptions), launchFirefox()]);
    [browsers.chromium, browsers.firefox] = [c.value, f.value];
    for (const r of [c, f]) if (r.status === "rejected") throw r.reason;
  });
  after(async () => {
    await Promise.allSettled([browsers.chromium?.close(), browsers.firefox?.close()]);
  });
  return browsers;
}

/**
 * A Firefox and a Chromium participant (browsers from useBrowsers) open
 * their URLs, Firefox first (so it moderates), and wait until each is in the
 * meeting. `firefox` and `chromium` are each `{ url, ...participant options }`;
 * Chromium's window is 1000×640 unless told. With `log`, every console
 * message of both pages is printed, from the start.
 */
export async function joinBoth(browsers, { firefox, chromium, timeout = WAIT, log = false }) {
  const { url: ffURL, ...ffOpts } = firefox;
  const { url: chURL, ...chOpts } = chromium;
  const ff = await firefoxParticipant(browsers.firefox, ffOpts);
  const ch = await participant(browsers.chromium, { viewport: { width: 1000, height: 640 }, ...chOpts });
  for (const [p, url, label] of [[ff, ffURL, "Firefox"], [ch, chURL, "Chromium"]]) {
    if (log) p.page.on("console", (m) => console.log(`[${label}] ${m.type()}: ${m.text()}`));
    await p.page.goto(url);
    await p.page.waitForSelector("#meeting", { timeout });
  }
  return { ff, ch };
}

/**
 * Polls get() until ok(value) holds or `timeout` ms are up, and returns
 * that value; for what neither browser signals (getStats, a server's
 * state). On a timeout the error has the last value and, if given, what
 * explain() resolves to.
 */
export async function until(what, get, ok, { timeout = 2 * WAIT, explain } = {}) {
  const deadline = Date.now() + timeout;
  let v;
  while (Date.now() < deadline) {
    v = await get();
    if (ok(v)) return v;
    await sleep(250);
  }
  const more = explain ? `; ${JSON.stringify(await explain().catch((e) => e.message))}` : "";
  throw new Error(`${what}: ${JSON.stringify(v)}${more}`);
}

/**
 * Clicks the element selector names on a Firefox page once it stands still
 * (the same box over two animation frames), as Playwright's click waits for
 * it to: puppeteer clicks where the element is at once, and the grid lays
 * its tiles out a frame after a panel opens or closes. `offset` is from the
 * element's top left corner (the default is its centre). An element drawn
 * again meanwhile is found again.
 */
export async function click(page, selector, offset) {
  // A part of the page drawn again (a tile's menu after the room's state changed) replaces the element
  // between finding and clicking it: find it again, a few times.
  for (let attempt = 1; ; attempt++) {
    await page.waitForFunction(
      async (sel) => {
        const el = document.querySelector(sel);
        if (!el) return false;
        const a = el.getBoundingClientRect();
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const b = el.getBoundingClientRect();
        return el.isConnected && a.width > 0 && a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
      },
      {},
      selector,
    );
    try {
      await (await page.$(selector)).click(offset ? { offset } : {});
      return;
    } catch (err) {
      if (attempt >= 5 || !/detached/i.test(String(err?.message))) throw err;
    }
  }
}
