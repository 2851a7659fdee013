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
import puppeteer from "puppeteer-core";
import { WAIT } from "./browser.js";

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

/** Starts headless Firefox; the test server's self-signed certificate is accepted. */
export async function launchFirefox() {
  return puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: FIREFOX,
    headless: true,
    acceptInsecureCerts: true,
    extraPrefsFirefox: FIREFOX_PREFS,
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
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !allow.some((re) => re.test(m.text()))) errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  return { context, page, errors };
}
