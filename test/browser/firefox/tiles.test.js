// What each tile shows and offers, used from Firefox (puppeteer-core over
// WebDriver BiDi) with Chromium (Playwright) in the room, as test/browser
// tests it in Chromium alone (quality.test.js, client.test.js,
// settings.test.js, meeting.test.js):
//   - the connection indicator on every tile, whose details (bitrate, loss,
//     resolution, frame rate, round trip) are numbers from Firefox's own
//     getStats, and Firefox's EndpointStats on Chromium's side;
//   - the preferred video quality: "low" caps what Firefox asks of the
//     bridge (its ReceiverVideoConstraints, and the bridge's own view of
//     Firefox as a receiver, PARLEY_CONTROL_URL/bridge) and what it gets;
//   - the "No audio or video" pill: not for someone alone, not after
//     joining with a password, and for media that failed, with why;
//   - avatar initials from letters only ("Phil (phone)" → "PP");
//   - a moderator's Mute (obeyed at once, so it says "Mute") and Remove
//     (not a ban, and how they can come back; a dangerous-looking button);
//   - toasts (a raised hand, a long chat message) that cover neither the
//     people count nor a tile's name tag, at desktop and phone width.
//
// Run by firefox_test.go (TestFirefoxTiles) inside the network namespace;
// PARLEY_URL is the host side of its veth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, WAIT, participant, screenshot, sendChat, skipPrejoin, waitToast } from "../lib/browser.js";
import { click, firefoxParticipant, joinBoth, until, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const CONTROL = process.env.PARLEY_CONTROL_URL;
const skip = ROOM && CONTROL ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM and PARLEY_CONTROL_URL)";
const browsers = useBrowsers();

const endpointOf = (page) => page.evaluate(() => window.parley.conference.endpointId);

/** Firefox ("Fox" unless told, who moderates) and Chromium ("Chrome" unless told) in room ROOM+suffix; with their endpoint IDs. */
async function meeting(suffix, { fox = "Fox", chrome = "Chrome", foxOpts = { audioMuted: true }, chromeOpts = { audioMuted: true } } = {}) {
  const url = `${BASE}/${ROOM}${suffix}`;
  const pair = await joinBoth(browsers, {
    firefox: { url: url + skipPrejoin(fox, foxOpts) },
    chromium: { url: url + skipPrejoin(chrome, chromeOpts) },
  });
  const { ff, ch } = pair;
  await ff.page.waitForFunction((n) => [...document.querySelectorAll("#grid .tile .tile-name-text")].some((e) => e.textContent === n), {}, chrome);
  await ch.page.waitForFunction((n) => [...document.querySelectorAll("#grid .tile .tile-name-text")].some((e) => e.textContent === n), fox);
  return { ...pair, ffId: await endpointOf(ff.page), chId: await endpointOf(ch.page) };
}

/** Waits until a Firefox page has shown a toast containing text. */
function ffToast(page, text) {
  return page.waitForFunction((t) => (window.parleyToasts ?? []).some((m) => m.includes(t)), {}, text);
}

async function done(...ps) {
  for (const p of ps) assert.deepEqual(p.errors, []);
  await Promise.allSettled(ps.map((p) => p.context.close()));
}

/** The rows of the connection details open on a page's tile of endpoint id: {stat: [value, text]} ({} while closed). */
function detailRows(page, id) {
  return page.evaluate((id) => {
    const out = {};
    for (const dd of document.querySelectorAll(`#grid .tile[data-id="${id}"] .tile-quality-details dd`)) out[dd.dataset.stat] = [Number(dd.dataset.value), dd.textContent];
    return out;
  }, id);
}

/** Opens a Firefox page's connection details on endpoint id's tile. */
async function ffOpenDetails(page, id) {
  await click(page, `#grid .tile[data-id="${id}"] .tile-quality`);
  await page.waitForSelector(`#grid .tile[data-id="${id}"] .tile-quality-details`);
}

async function ffCloseDetails(page) {
  await page.keyboard.press("Escape");
  await page.waitForSelector(".tile-quality-details", { hidden: true });
}

/** The bridge's view of endpoint id as a receiver: its video slots that carry a source. */
async function bridgeSlots(id) {
  const d = await (await fetch(`${CONTROL}/bridge`)).json();
  const ep = d.conferences.flatMap((c) => c.endpoints).find((e) => e.id === id);
  return (ep?.videoSlots ?? []).filter((s) => s.source);
}

test("Firefox: every tile's connection indicator, with numbers from Firefox's getStats; the preferred video quality caps what the bridge sends Firefox", { timeout: 12 * WAIT, skip }, async () => {
  const { ff, ch, ffId, chId } = await meeting("Quality");
  // Firefox plays Chromium's camera.
  await ff.page.waitForFunction((id) => document.querySelector(`#grid .tile[data-id="${id}"] video`)?.videoWidth > 0, { timeout: 2 * WAIT }, chId);

  // 1. Both of Firefox's tiles have an indicator with a level once measured.
  await ff.page.waitForFunction(() => {
    const levels = [...document.querySelectorAll("#grid .tile-quality")].map((b) => b.dataset.level);
    return levels.length === 2 && levels.every((l) => ["good", "fair", "poor"].includes(l));
  }, { timeout: 2 * WAIT });

  // 2. Chromium's tile: what reaches Firefox (from its getStats), and Chromium's upload from its EndpointStats.
  await ffOpenDetails(ff.page, chId);
  const theirs = await until(
    "Firefox's details of Chromium's tile",
    () => detailRows(ff.page, chId),
    (d) => ["bitrate", "resolution", "fps", "rtt"].every((s) => d[s]?.[0] > 0) && d.loss?.[0] >= 0 && /their upload/.test(d.bitrate[1]),
  );
  console.log(`Firefox's details of Chromium's tile: ${JSON.stringify(theirs)}`);
  assert.match(theirs.resolution[1], /^\d+×\d+$/);
  assert.match(theirs.rtt[1], /^\d+ ms$/);
  await screenshot(ff.page, "firefox-details-of-chromium");
  await ffCloseDetails(ff.page);

  // 3. Firefox's own tile: what it sends.
  await ffOpenDetails(ff.page, ffId);
  const own = await until("Firefox's details of its own tile", () => detailRows(ff.page, ffId), (d) => ["bitrate", "resolution", "fps"].every((s) => d[s]?.[0] > 0));
  console.log(`Firefox's details of its own tile: ${JSON.stringify(own)}`);
  await ffCloseDetails(ff.page);

  // 4. Chromium's details of Firefox's tile carry Firefox's EndpointStats (its upload).
  await ch.page.click(`#grid .tile[data-id="${ffId}"] .tile-quality`);
  await ch.page.waitForFunction((id) => /\d+ kbit\/s their upload/.test(document.querySelector(`#grid .tile[data-id="${id}"] .tile-quality-details dd[data-stat="bitrate"]`)?.textContent ?? ""), ffId, { timeout: 2 * WAIT });
  await ch.page.keyboard.press("Escape");

  // 5. The preferred video quality. "High" (the default) lets the bridge send Chromium's camera to
  // Firefox taller than a thumbnail; "low" caps every height Firefox asks for, and the bridge's slot, at 180.
  const slotOfChrome = (slots) => slots.find((s) => s.source === `${chId}-v0`);
  await until("the bridge sends Chromium's camera to Firefox taller than 180", () => bridgeSlots(ffId), (slots) => slotOfChrome(slots)?.maxHeight > 180);
  await click(ff.page, "#settings-toggle");
  await ff.page.waitForSelector("#settings[open]");
  assert.equal(await ff.page.$eval("#quality-high", (i) => i.checked), true);
  // Firefox joined muted, so it has not started its microphone: it lists one without an ID or a name
  // until then. The dialog shows a microphone to choose, not "No microphone found".
  const mics = await ff.page.waitForFunction(() => {
    const sel = document.querySelector("#settings-mic");
    return sel.options.length > 0 && [...sel.options].map((o) => o.textContent).join() !== "No microphone found" && { disabled: sel.disabled, options: [...sel.options].map((o) => o.textContent) };
  });
  const micList = await mics.jsonValue();
  console.log(`Firefox's microphones before its first unmute: ${JSON.stringify(micList)}`);
  assert.equal(micList.disabled, false);
  await click(ff.page, 'label[for="quality-low"]');
  await ff.page.waitForFunction(() => {
    const sent = window.parley.session.channel?.sent ?? [];
    const c = sent.map((m) => JSON.parse(m)).filter((m) => m.colibriClass === "ReceiverVideoConstraints").at(-1);
    return !!c && c.defaultConstraints.maxHeight <= 180 && Object.keys(c.constraints).length > 0 && Object.values(c.constraints).every((x) => x.maxHeight <= 180);
  });
  const capped = await until("every slot of Firefox's capped at 180", () => bridgeSlots(ffId), (slots) => slots.length > 0 && slots.every((s) => s.maxHeight <= 180) && slotOfChrome(slots)?.maxHeight > 0);
  console.log(`the bridge's slots for Firefox at "low": ${JSON.stringify(capped)}`);
  // What Firefox then decodes of Chromium's camera is no taller than 180.
  await ff.page.waitForFunction((id) => {
    const v = document.querySelector(`#grid .tile[data-id="${id}"] video`);
    return v && v.videoHeight > 0 && v.videoHeight <= 180;
  }, { timeout: 2 * WAIT }, chId);
  assert.equal(await ff.page.evaluate(() => localStorage.getItem("parley.videoQuality")), "low");
  await screenshot(ff.page, "firefox-quality-low");
  await click(ff.page, 'label[for="quality-high"]');
  await until("Chromium's camera taller than 180 again", () => bridgeSlots(ffId), (slots) => slotOfChrome(slots)?.maxHeight > 180);
  await click(ff.page, "#settings-close");
  await ff.page.waitForSelector("#settings", { hidden: true });
  await done(ff, ch);
});

/** Run in a page before its scripts: window.parleyPillShown gathers every text the media pill showed. */
function watchMediaPill() {
  window.parleyPillShown = [];
  new MutationObserver(() => {
    const p = document.getElementById("media-unavailable");
    if (p && !p.hidden && window.parleyPillShown.at(-1) !== p.textContent) window.parleyPillShown.push(p.textContent);
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["hidden"] });
}

/** Waits until a Firefox page's media session is connected (audio and video flow through the bridge). */
function ffMediaConnected(page) {
  return page.waitForFunction(() => window.parley?.session?.pc?.connectionState === "connected", { timeout: 2 * WAIT });
}

/**
 * Run in a page before its scripts: no connectivity check between the
 * browser and the bridge succeeds, as when nothing gets through between them
 * (the browser is given a wrong ICE password for the bridge, so each side
 * drops the other's checks; the bridge checks the browser's candidates too,
 * so dropping only the way there would not do).
 */
function breakICE() {
  const setRemote = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (d, ...rest) {
    if (d?.sdp) d = { type: d.type, sdp: d.sdp.replace(/^a=ice-pwd:(\S+)/gm, (_, pwd) => `a=ice-pwd:${"x".repeat(pwd.length)}`) };
    return setRemote.call(this, d, ...rest);
  };
}

test("Firefox: the media pill stays away when alone and after a password, and says why when media fails", { timeout: 12 * WAIT, skip }, async () => {
  // 1. Alone: media connects, and no pill is shown on the way.
  const fox = await firefoxParticipant(browsers.firefox);
  await fox.page.evaluateOnNewDocument(watchMediaPill);
  await fox.page.goto(`${BASE}/${ROOM}Alone${skipPrejoin("Fox", { audioMuted: true })}`);
  await fox.page.waitForSelector("#meeting");
  await ffMediaConnected(fox.page);
  assert.deepEqual(await fox.page.evaluate(() => window.parleyPillShown), [], "alone, media connecting then connected: no pill");
  await screenshot(fox.page, "firefox-alone-no-pill");
  await done(fox);

  // 2. In with a password: Chromium locks its room, Firefox is asked for the password and joins; no pill.
  const ch = await participant(browsers.chromium, { viewport: { width: 1000, height: 640 } });
  await ch.page.goto(`${BASE}/${ROOM}Locked${skipPrejoin("Chrome", { audioMuted: true })}`);
  await ch.page.waitForSelector("#meeting");
  await ch.page.click("#lock-toggle");
  await ch.page.fill("#lock-dialog input", "sesame");
  await ch.page.click('#lock-dialog button[type="submit"]');
  await ch.page.waitForSelector("#lock-state:not([hidden])");
  const guest = await firefoxParticipant(browsers.firefox);
  await guest.page.evaluateOnNewDocument(watchMediaPill);
  await guest.page.goto(`${BASE}/${ROOM}Locked${skipPrejoin("Fox", { audioMuted: true })}`);
  await guest.page.waitForSelector("#password-dialog input");
  await guest.page.type("#password-dialog input", "sesame");
  await click(guest.page, '#password-dialog button[type="submit"]');
  await guest.page.waitForSelector("#meeting");
  await ffMediaConnected(guest.page);
  await guest.page.waitForFunction(() => [...document.querySelectorAll("#grid .tile video")].some((v) => !v.closest(".tile")?.textContent.includes("(you)") && v.videoWidth > 0), { timeout: 2 * WAIT });
  assert.deepEqual(await guest.page.evaluate(() => window.parleyPillShown), [], "in with the password, media connecting then connected: no pill");
  await screenshot(guest.page, "firefox-in-with-password-no-pill");
  await done(guest);

  // 3. The browser cannot set media up (its setRemoteDescription fails): the pill says so, and the browser's reason in its title.
  const broken = await firefoxParticipant(browsers.firefox);
  await broken.page.evaluateOnNewDocument(() => {
    RTCPeerConnection.prototype.setRemoteDescription = () => Promise.reject(new DOMException("No codec in common with the server", "OperationError"));
  });
  await broken.page.evaluateOnNewDocument(watchMediaPill);
  await broken.page.goto(`${BASE}/${ROOM}Alone${skipPrejoin("Broken", { audioMuted: true })}`);
  await broken.page.waitForSelector("#meeting");
  await broken.page.waitForSelector("#media-unavailable:not([hidden])", { timeout: 2 * WAIT });
  const failed = await broken.page.$eval("#media-unavailable", (p) => ({ text: p.textContent, title: p.title, cls: p.className }));
  console.log(`setup failed: ${JSON.stringify(failed)}`);
  assert.equal(failed.text, "No audio or video: setup failed");
  assert.match(failed.title, /^This browser could not set up audio and video: No codec in common with the server\. Chat and the participant list work\.$/);
  assert.match(failed.cls, /\bpill-warn\b/);
  await screenshot(broken.page, "firefox-pill-setup-failed");
  await done(broken);

  // 4. The bridge cannot be reached (no connectivity check gets through): once the first session is overdue, the pill says so.
  const blocked = await firefoxParticipant(browsers.firefox, { allow: [/^WebRTC: ICE failed/] }); // Firefox says so itself, as a page error
  await blocked.page.evaluateOnNewDocument(breakICE);
  await blocked.page.evaluateOnNewDocument(watchMediaPill);
  await blocked.page.goto(`${BASE}/${ROOM}Blocked${skipPrejoin("Walled", { audioMuted: true })}`);
  await blocked.page.waitForSelector("#meeting");
  await blocked.page.waitForSelector("#media-unavailable:not([hidden])", { timeout: 2 * WAIT }).catch(async (e) => {
    const state = await blocked.page.evaluate(() => {
      const c = window.parley.conference;
      return { pill: c.mediaPill, state: c.mediaState, overdue: c.mediaOverdue, connected: c.mediaConnected, failure: c.mediaFailure, pc: window.parley.session.pc?.connectionState, ice: window.parley.session.pc?.iceConnectionState, remote: window.parley.session.pc?.remoteDescription?.sdp.split("\r\n").filter((l) => l.startsWith("a=candidate")) };
    });
    throw new Error(`${e.message}: ${JSON.stringify(state)}`);
  });
  const unreachable = await blocked.page.$eval("#media-unavailable", (p) => ({ text: p.textContent, title: p.title }));
  const shown = await blocked.page.evaluate(() => window.parleyPillShown);
  console.log(`unreachable: ${JSON.stringify(unreachable)}, shown: ${JSON.stringify(shown)}`);
  assert.equal(unreachable.text, "No audio or video: media server unreachable");
  assert.match(unreachable.title, /firewall or VPN/);
  assert.ok(!shown.some((s) => /Reconnecting/.test(s)), `a session that never connected is not "reconnecting": ${JSON.stringify(shown)}`);
  await screenshot(blocked.page, "firefox-pill-unreachable");
  await done(blocked, ch);
});

/** The initials on the avatars of a page (tiles and participants pane) for a display name. */
function avatarsOf(page, name) {
  return page.evaluate((name) => {
    const out = [];
    for (const t of document.querySelectorAll("#grid .tile")) {
      const n = t.querySelector(".tile-name-text")?.textContent ?? "";
      if (n.replace(/ \(you\)$/, "") === name && t.querySelector(".avatar")) out.push(t.querySelector(".avatar").textContent);
    }
    return out;
  }, name);
}

test("Firefox: avatar initials from letters only; a moderator's Mute and the Remove dialog", { timeout: 10 * WAIT, skip }, async () => {
  const { ff, ch, chId } = await meeting("Avatars", {
    fox: "Phil (phone)",
    chrome: "Ünal (desk)",
    foxOpts: { audioMuted: true, videoMuted: true },
    chromeOpts: { audioMuted: false, videoMuted: true },
  });
  assert.equal(await ff.page.evaluate(() => window.parley.conference.isModerator), true);

  // 1. Initials without punctuation, on both sides, in the tiles and the participants pane.
  await ff.page.waitForFunction(() => document.querySelectorAll("#grid .tile .avatar").length === 2);
  assert.deepEqual(await avatarsOf(ff.page, "Phil (phone)"), ["PP"]);
  assert.deepEqual(await avatarsOf(ff.page, "Ünal (desk)"), ["ÜD"]);
  await ch.page.waitForFunction(() => document.querySelectorAll("#grid .tile .avatar").length === 2);
  assert.deepEqual(await avatarsOf(ch.page, "Phil (phone)"), ["PP"]);
  await click(ff.page, "#people-toggle");
  await ff.page.waitForSelector(`#people li[data-id="${chId}"] .avatar`);
  assert.deepEqual(await ff.page.$$eval("#people li .avatar", (as) => as.map((a) => a.textContent).sort()), ["PP", "ÜD"]);
  await screenshot(ff.page, "firefox-initials");
  await ff.page.keyboard.press("Escape");
  await ff.page.waitForSelector("#side:not(.open)");

  // 2. Phil mutes Ünal from the tile's menu: the focus mutes at once, so the item says "Mute", not "Ask to mute".
  await ff.page.waitForSelector(`#grid .tile[data-id="${chId}"]:not(:has(.tile-muted))`);
  await click(ff.page, `#grid .tile[data-id="${chId}"] .tile-menu-button`);
  await ff.page.waitForSelector(`#grid .tile[data-id="${chId}"] .tile-menu:not([hidden]) [data-action="mute-audio"]`);
  const items = await ff.page.$$eval(`#grid .tile[data-id="${chId}"] .tile-menu [data-action]`, (bs) => bs.map((b) => [b.dataset.action, b.textContent.trim()]));
  console.log(`Firefox's menu on Ünal's tile: ${JSON.stringify(items)}`);
  assert.deepEqual(Object.fromEntries(items)["mute-audio"], "Mute");
  assert.ok(!items.some(([, text]) => /ask/i.test(text)), JSON.stringify(items));
  await screenshot(ff.page, "firefox-tile-menu");
  await click(ff.page, `#grid .tile[data-id="${chId}"] .tile-menu [data-action="mute-audio"]`);
  await ffToast(ff.page, "You muted Ünal (desk)");
  await ch.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await waitToast(ch.page, "You were muted by Phil (phone)");
  await ff.page.waitForSelector(`#grid .tile[data-id="${chId}"] .tile-muted`);

  // 3. Phil locks the meeting, then removes Ünal: the dialog says it is no ban and that the password lets
  // them back; its confirm button is as red as Leave.
  await click(ff.page, "#lock-toggle");
  await ff.page.waitForSelector("#lock-dialog input");
  await ff.page.type("#lock-dialog input", "sesame");
  await click(ff.page, '#lock-dialog button[type="submit"]');
  await ff.page.waitForSelector("#lock-state:not([hidden])");
  await click(ff.page, `#grid .tile[data-id="${chId}"] .tile-menu-button`);
  await click(ff.page, `#grid .tile[data-id="${chId}"] .tile-menu [data-action="kick"]`);
  await ff.page.waitForSelector("#kick-dialog input");
  const dialog = await ff.page.$eval("#kick-dialog", (d) => d.textContent);
  assert.match(dialog, /This is not a ban: they can join again if they know the meeting password\./);
  assert.doesNotMatch(dialog, /unless the meeting is locked/);
  const colours = await ff.page.evaluate(() => {
    const bg = (sel) => getComputedStyle(document.querySelector(sel)).backgroundColor;
    return { confirm: bg('#kick-dialog button[type="submit"]'), cls: document.querySelector('#kick-dialog button[type="submit"]').className, leave: bg("#leave"), cancel: bg('#kick-dialog button:not([type="submit"])') };
  });
  console.log(`the remove dialog's buttons in Firefox: ${JSON.stringify(colours)}`);
  assert.match(colours.cls, /\bbtn-danger\b/);
  assert.equal(colours.confirm, colours.leave, "the confirm button has Leave's red");
  assert.notEqual(colours.confirm, colours.cancel);
  await ff.page.type("#kick-dialog input", "wrong room");
  await screenshot(ff.page, "firefox-remove-dialog");
  await click(ff.page, '#kick-dialog button[type="submit"]');
  await ch.page.waitForSelector('#kicked:has-text("wrong room")');
  await ff.page.waitForSelector(`#grid .tile[data-id="${chId}"]`, { hidden: true });
  await done(ff, ch);
});

/**
 * Run in a page: window.toastBoxes gets, for each toast shown, its box and
 * those of the people count and the tiles' name tags in the frame it is
 * drawn (a toast is gone after 4 s, maybe before the test looks).
 */
function watchToasts() {
  window.toastBoxes = [];
  const plain = (e) => (({ left, top, right, bottom }) => ({ left, top, right, bottom }))(e.getBoundingClientRect());
  const seen = (t) =>
    requestAnimationFrame(() =>
      window.toastBoxes.push({ text: t.textContent, toast: plain(t), count: plain(document.getElementById("participant-count")), names: [...document.querySelectorAll("#grid .tile .tile-name")].map(plain) }),
    );
  new MutationObserver((muts) => {
    for (const m of muts) for (const n of m.addedNodes) if (n instanceof Element) for (const t of n.matches(".toast") ? [n] : n.querySelectorAll(".toast")) seen(t);
  }).observe(document.body, { childList: true, subtree: true });
}

const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/** Waits for a toast with this text on a Firefox page (watchToasts) and asserts it covered neither the people count nor a name tag. */
async function ffToastClear(page, text, where) {
  const box = await (await page.waitForFunction((t) => window.toastBoxes.find((b) => b.text.includes(t)), {}, text)).jsonValue();
  console.log(`${where}: ${JSON.stringify(box)}`);
  assert.equal(box.names.length, 2, `${where}: the name tags measured`);
  assert.ok(box.toast.right > box.toast.left && box.count.right > box.count.left, `${where}: toast or people count not shown`);
  assert.ok(!overlaps(box.toast, box.count), `${where}: the toast ${JSON.stringify(box.toast)} covers the people count ${JSON.stringify(box.count)}`);
  for (const n of box.names) assert.ok(!overlaps(box.toast, n), `${where}: the toast ${JSON.stringify(box.toast)} covers a name tag ${JSON.stringify(n)}`);
}

test("Firefox: toasts cover neither the people count nor a name tag, at desktop and phone width", { timeout: 8 * WAIT, skip }, async () => {
  const { ff, ch } = await meeting("Toasts");
  const long = "Could everyone look at the agenda I shared in the document this morning, before we start?";
  await ff.page.evaluate(watchToasts);
  // Desktop (1000×640): a raised hand and a long chat message (Fox's chat is closed).
  await ch.page.click("#hand-toggle");
  await ffToastClear(ff.page, "Chrome raised a hand", "desktop, hand");
  await sendChat(ch.page, long);
  await ffToastClear(ff.page, "Chrome: Could everyone", "desktop, chat");
  await screenshot(ff.page, "firefox-desktop-chat-toast");
  // A phone (390×844): the same.
  await ff.page.setViewport({ width: 390, height: 844 });
  await ff.page.waitForSelector("#more-toggle", { visible: true });
  await ff.page.evaluate(() => (window.toastBoxes = []));
  await ch.page.click("#hand-toggle");
  await ch.page.waitForSelector('#hand-toggle[aria-pressed="false"]');
  await ch.page.click("#hand-toggle");
  await ffToastClear(ff.page, "Chrome raised a hand", "phone, hand");
  await ch.page.fill("#chat-input", `Once more: ${long}`);
  await ch.page.keyboard.press("Enter");
  await ffToastClear(ff.page, "Chrome: Once more", "phone, chat");
  await screenshot(ff.page, "firefox-phone-chat-toast");
  await done(ff, ch);
});
