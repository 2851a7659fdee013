// The web client in headless Chromium against an in-process Parley
// (started by browser_test.go): home page, pre-join, hash overrides, the
// participant list and tiles, chat, mute state, the password lock, leaving,
// reconnection and the failure messages (media through the bridge is in
// media.test.js), the media pill when media fails, avatar initials. Every
// step leaves a screenshot in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { BASE, join, launch, participant, roomName, screenshot, WAIT, waitTiles, waitToast } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const T = { timeout: 6 * WAIT };

// Records each text the media pill showed: it is for media that failed, not
// for a first session still connecting (alone, or just in after a password).
async function watchMediaPill(page) {
  await page.addInitScript(() => {
    window.parleyPillShown = [];
    new MutationObserver(() => {
      const p = document.getElementById("media-unavailable");
      if (p && !p.hidden && window.parleyPillShown.at(-1) !== p.textContent) window.parleyPillShown.push(p.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["hidden"] });
  });
}
const pillShown = (page) => page.evaluate(() => window.parleyPillShown);

test("home page → generated room → pre-join with camera preview → join", T, async () => {
  const a = await participant(browser);
  const { page } = a;
  await watchMediaPill(page);
  await page.goto(BASE + "/");
  await page.waitForSelector("#home");
  const suggested = await page.locator("#room-name").getAttribute("placeholder");
  assert.match(suggested, /^([A-Z][a-z]+){5}$/);
  await screenshot(page, "home");

  await page.click("#start");
  await page.waitForURL(`${BASE}/${suggested}`);
  await page.waitForSelector("#prejoin");
  // The fake camera plays in the preview.
  await page.waitForFunction(() => {
    const v = document.querySelector("#preview");
    return v && !v.hidden && v.videoWidth > 0 && !v.paused;
  });
  // The fake microphone beeps: the level meter moves.
  await page.waitForSelector("#mic-meter", { state: "visible" });
  await page.waitForFunction(() => Number(document.querySelector("#mic-meter")?.getAttribute("aria-valuenow")) > 5);
  assert.ok((await page.locator("#camera-select option").count()) >= 1);
  await page.fill("#display-name", "Ada Lovelace");
  await screenshot(page, "prejoin");

  await page.click("#join");
  await page.waitForSelector("#meeting");
  await waitTiles(page, ["Ada Lovelace (you)"]);
  // The focus starts a media session for a lone participant too: once it
  // connects to the bridge, the "unavailable" pill goes away.
  await page.waitForSelector("#media-unavailable", { state: "hidden" });
  // The first person in the room is its moderator and may lock it.
  await page.waitForSelector("#lock-toggle:not([hidden])");
  await page.waitForFunction(() => document.querySelector("#grid .tile video")?.videoWidth > 0);
  assert.deepEqual(await pillShown(page), [], "alone, with media connecting then connected, no pill");
  await screenshot(page, "meeting-alone");

  // A screen share the browser refuses: a clear sentence, the browser's own text only in the console.
  await page.evaluate(() => {
    navigator.mediaDevices.getDisplayMedia = () => Promise.reject(new DOMException("Permission denied by system", "NotAllowedError"));
  });
  await page.click("#share-toggle");
  await waitToast(page, "Screen sharing was blocked or cancelled.");
  assert.ok(!(await page.evaluate(() => window.parleyToasts)).some((m) => m.includes("Permission denied")), "no raw exception text on the page");
  assert.equal(await page.evaluate(() => window.parley.conference.local.sharing ?? false), false);

  // V turns the camera off (and releases it); the invite link is copied.
  await page.keyboard.press("v");
  await page.waitForSelector("#grid .tile .avatar");
  assert.equal(await page.getAttribute("#cam-toggle", "data-on"), "false");
  await page.click("#invite");
  await waitToast(page, "Invite link copied");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${BASE}/${suggested}`);

  // The name is remembered and the room is in the recent list.
  await page.click("#leave");
  await page.waitForSelector("#left");
  await screenshot(page, "left");
  await page.goto(BASE + "/");
  await page.waitForSelector(`#recent a:text("${suggested}")`);
  await screenshot(page, "home-recent");
  await page.goto(`${BASE}/${suggested}`);
  await page.waitForSelector("#prejoin");
  assert.equal(await page.inputValue("#display-name"), "Ada Lovelace");
  assert.deepEqual(a.errors, []);
  await a.context.close();
});

test("URL hash overrides skip and preset the pre-join screen", T, async () => {
  const b = await participant(browser);
  const room = roomName("Hash");
  await join(b, room, "Bob", { audioMuted: true, videoMuted: true });
  assert.equal(await b.page.locator("#prejoin").count(), 0);
  await waitTiles(b.page, ["Bob (you)"]);
  assert.equal(await b.page.getAttribute("#mic-toggle", "data-on"), "false");
  assert.equal(await b.page.getAttribute("#cam-toggle", "data-on"), "false");
  assert.equal(await b.page.locator("#grid .tile .tile-muted").count(), 1);
  await screenshot(b.page, "hash-skip-prejoin");
  assert.deepEqual(b.errors, []);
  await b.context.close();
});

test("two participants: list, tiles, chat, private chat, mute", T, async () => {
  const room = roomName("Pair");
  const a = await participant(browser);
  const b = await participant(browser);
  await join(a, room, "Alice", { videoMuted: true });
  await join(b, room, "Bob", { videoMuted: true });
  await waitTiles(a.page, ["Alice (you)", "Bob"]);
  await waitTiles(b.page, ["Alice", "Bob (you)"]);

  await a.page.click("#people-toggle");
  await a.page.waitForSelector('#people li:has-text("Bob")');
  assert.equal(await a.page.locator("#people li").count(), 2);
  await screenshot(a.page, "two-people-list");

  // Room chat: Alice writes, Bob gets an unread badge, then reads it.
  await a.page.click("#chat-toggle");
  await a.page.fill("#chat-input", "hello from Alice");
  await a.page.keyboard.press("Enter");
  await a.page.waitForSelector('#messages li.mine:has-text("hello from Alice")');
  await b.page.waitForSelector("#unread:not([hidden])");
  assert.equal(await b.page.textContent("#unread"), "1");
  await screenshot(b.page, "unread-badge");
  await b.page.click("#chat-toggle");
  await b.page.waitForSelector('#messages li:has-text("hello from Alice")');
  assert.equal(await b.page.locator("#unread").isHidden(), true);

  // Private: Bob answers Alice only.
  const aliceId = await a.page.evaluate(() => window.parley.conference.endpointId);
  await b.page.selectOption("#chat-to", aliceId);
  await b.page.fill("#chat-input", "just for you");
  await b.page.keyboard.press("Enter");
  await a.page.waitForSelector('#messages li.private:has-text("just for you")');
  await screenshot(a.page, "chat-private");

  // Mute: Bob presses M (focus outside the text field) and Alice sees it.
  await b.page.click("#grid");
  const bobTile = a.page.locator('#grid .tile:has-text("Bob")');
  assert.equal(await bobTile.locator(".tile-muted").count(), 0);
  await b.page.keyboard.press("m");
  await bobTile.locator(".tile-muted").waitFor();
  await b.page.keyboard.press("m");
  await bobTile.locator(".tile-muted").waitFor({ state: "detached" });
  await screenshot(b.page, "bob-view");

  // Bob leaves: Alice's grid shrinks.
  await b.page.click("#leave");
  await b.page.waitForSelector("#left");
  await waitTiles(a.page, ["Alice (you)"]);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});

test("password: a moderator locks the room, a guest is refused then admitted, then removed", T, async () => {
  const room = roomName("Lock");
  const a = await participant(browser);
  await join(a, room, "Owner", { audioMuted: true, videoMuted: true });
  await a.page.click("#lock-toggle");
  await a.page.waitForSelector("#lock-dialog");
  await a.page.fill("#lock-dialog input", "sesame");
  await screenshot(a.page, "lock-dialog");
  await a.page.click('#lock-dialog button[type="submit"]');
  await a.page.waitForSelector("#lock-state:not([hidden])");

  // Removed from the room, Carol's client closes its XMPP stream: nothing
  // may be written into the closing socket (no console errors).
  const c = await participant(browser);
  await watchMediaPill(c.page);
  await c.page.goto(`${BASE}/${room}#config.prejoinConfig.enabled=false&userInfo.displayName="Carol"&config.startWithVideoMuted=true`);
  await c.page.waitForSelector("#password-dialog");
  await c.page.fill("#password-dialog input", "wrong");
  await c.page.click('#password-dialog button[type="submit"]');
  await c.page.waitForSelector("#password-dialog .form-error");
  await screenshot(c.page, "password-wrong");
  await c.page.fill("#password-dialog input", "sesame");
  await c.page.click('#password-dialog button[type="submit"]');
  await c.page.waitForSelector("#meeting");
  await waitTiles(a.page, ["Carol", "Owner (you)"]);
  await waitTiles(c.page, ["Carol (you)", "Owner"]);
  await c.page.waitForSelector("#lock-state:not([hidden])");
  await c.page.waitForSelector("#media-unavailable", { state: "hidden" });
  assert.deepEqual(await pillShown(c.page), [], "in with the password, no pill while media connects");
  await screenshot(a.page, "locked-room");

  // Unlock again.
  await a.page.click("#lock-toggle");
  await a.page.waitForSelector("#lock-state", { state: "hidden" });

  // The moderator removes Carol, who is told why.
  await a.page.click("#people-toggle");
  await a.page.click('#people li:has-text("Carol") .person-menu-button');
  await a.page.click('#people li:has-text("Carol") [data-action="kick"]');
  await a.page.fill("#kick-dialog input", "time is up");
  await a.page.click('#kick-dialog button[type="submit"]');
  await c.page.waitForSelector('#kicked:has-text("time is up")');
  await screenshot(c.page, "kicked");
  await waitTiles(a.page, ["Owner (you)"]);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(c.errors, []);
  await a.context.close();
  await c.context.close();
});

test("a dropped connection resumes and the meeting goes on", T, async () => {
  const room = roomName("Resume");
  const a = await participant(browser);
  // The test pulls the socket from under the XMPP library, which must not
  // write into it as it closes.
  const b = await participant(browser);
  await join(a, room, "Stable", { audioMuted: true, videoMuted: true });
  await join(b, room, "Mobile", { audioMuted: true, videoMuted: true });
  await waitTiles(a.page, ["Mobile", "Stable (you)"]);
  await b.page.evaluate(() => window.parley.connection.dropSocket());
  await b.page.waitForSelector("#connection-banner:not([hidden])");
  await screenshot(b.page, "reconnecting");
  await b.page.waitForSelector("#connection-banner", { state: "hidden", timeout: 3 * WAIT });
  await b.page.click("#chat-toggle");
  await b.page.fill("#chat-input", "back again");
  await b.page.keyboard.press("Enter");
  await a.page.click("#chat-toggle");
  await a.page.waitForSelector('#messages li:has-text("back again")');
  await waitTiles(a.page, ["Mobile", "Stable (you)"]);
  // Resumed with XEP-0198 (previd in the URL), not a new session.
  assert.equal(await b.page.evaluate(() => window.parley.connection.resumptions), 1);

  // A reload rejoins the same room (the hash keeps the pre-join settings).
  const before = await b.page.evaluate(() => window.parley.conference.endpointId);
  await b.page.reload();
  await b.page.waitForSelector("#meeting");
  await waitTiles(b.page, ["Mobile (you)", "Stable"]);
  await waitTiles(a.page, ["Mobile", "Stable (you)"]);
  assert.notEqual(await b.page.evaluate(() => window.parley.conference.endpointId), before);
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});

test("failures have clear messages", T, async () => {
  // Server unreachable.
  const u = await participant(browser, { allow: [/Failed to load resource/] });
  await u.page.route("**/config.json", (r) => r.abort());
  await u.page.goto(`${BASE}/Anywhere`);
  await u.page.waitForSelector("#unreachable");
  await screenshot(u.page, "unreachable");
  assert.deepEqual(u.errors, []);
  await u.context.close();

  // Camera and microphone blocked.
  const d = await participant(browser);
  await d.page.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("denied", "NotAllowedError"));
  });
  await d.page.goto(`${BASE}/Denied`);
  await d.page.waitForSelector('#media-errors:has-text("camera is blocked")');
  await d.page.waitForSelector('#media-errors:has-text("microphone is blocked")');
  assert.equal(await d.page.getAttribute("#cam-toggle", "data-on"), "false");
  await screenshot(d.page, "devices-denied");
  assert.deepEqual(d.errors, []);
  await d.context.close();

  // A browser without WebRTC.
  const old = await participant(browser);
  await old.page.addInitScript(() => {
    delete window.RTCPeerConnection;
  });
  await old.page.goto(`${BASE}/Anywhere`);
  await old.page.waitForSelector('#unsupported:has-text("WebRTC")');
  await screenshot(old.page, "unsupported");
  await old.context.close();

  // A name that is not a room.
  const n = await participant(browser);
  await n.page.goto(`${BASE}/not%20a%20room`);
  await n.page.waitForSelector("#invalid-room");
  assert.deepEqual(n.errors, []);
  await n.context.close();
});

test("phone width: pre-join, meeting with chat open", T, async () => {
  const room = roomName("Phone");
  const a = await participant(browser, { viewport: { width: 390, height: 844 } });
  const b = await participant(browser);
  await join(b, room, "Desk", { audioMuted: true, videoMuted: true });
  await a.page.goto(`${BASE}/${room}`);
  await a.page.waitForFunction(() => document.querySelector("#preview")?.videoWidth > 0);
  await a.page.fill("#display-name", "Phone");
  await a.page.click("#cam-toggle"); // join with the camera off
  await screenshot(a.page, "phone-prejoin");
  await a.page.click("#join");
  await a.page.waitForSelector("#meeting");
  await waitTiles(a.page, ["Desk", "Phone (you)"]);
  await screenshot(a.page, "phone-meeting");
  await a.page.click("#chat-toggle");
  await a.page.fill("#chat-input", "typing on a phone");
  await a.page.keyboard.press("Enter");
  await a.page.waitForSelector('#messages li.mine:has-text("typing on a phone")');
  await screenshot(a.page, "phone-chat");
  await a.page.keyboard.press("Escape");
  await a.page.waitForSelector("#side", { state: "hidden" });
  await a.page.goto(BASE + "/");
  await screenshot(a.page, "phone-home");
  assert.deepEqual(a.errors, []);
  await a.context.close();
  await b.context.close();
});

test("the media pill says why when media fails", T, async () => {
  // The browser cannot set media up (its setRemoteDescription fails): the pill says so, with the browser's reason in its title.
  const p = await participant(browser);
  await p.page.addInitScript(() => {
    RTCPeerConnection.prototype.setRemoteDescription = () => Promise.reject(new DOMException("No codec in common with the server", "OperationError"));
  });
  await join(p, roomName("Broken"), "Broken", { audioMuted: true });
  await p.page.waitForSelector("#media-unavailable:not([hidden])", { timeout: 2 * WAIT });
  const pill = await p.page.$eval("#media-unavailable", (e) => ({ text: e.textContent, title: e.title, cls: e.className }));
  assert.equal(pill.text, "No audio or video: setup failed");
  assert.equal(pill.title, "This browser could not set up audio and video: No codec in common with the server. Chat and the participant list work.");
  assert.match(pill.cls, /\bpill-warn\b/);
  await screenshot(p.page, "pill-setup-failed");
  assert.deepEqual(p.errors, []);
  await p.context.close();
});

test("avatar initials are letters only", T, async () => {
  const p = await participant(browser);
  await join(p, roomName("Initials"), "Phil (phone)", { audioMuted: true, videoMuted: true });
  await p.page.waitForSelector("#grid .tile .avatar");
  assert.equal(await p.page.textContent("#grid .tile .avatar"), "PP");
  await p.page.click("#people-toggle");
  assert.equal(await p.page.textContent("#people li .avatar"), "PP");
  await screenshot(p.page, "initials");
  assert.deepEqual(p.errors, []);
  await p.context.close();
});
