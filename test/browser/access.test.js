// Who gets in, in headless Chromium: the lobby (a moderator turns it on,
// one newcomer knocks and is admitted, another is denied), grant moderator,
// mute everyone, end the meeting for all, and on a secure domain
// (PARLEY_SECURE_URL: [auth] mode = "jwt" with guests) a guest who waits
// for the host and enters by itself once a token holder has started the
// room, and a refused token's reason on screen. Screenshots in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { BASE, join, launch, participant, roomName, screenshot, skipPrejoin, WAIT, waitTiles, waitToast } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const T = { timeout: 8 * WAIT };
const SECURE = process.env.PARLEY_SECURE_URL || "";
const HOST_TOKEN = process.env.PARLEY_HOST_TOKEN || "";
const EXPIRED_TOKEN = process.env.PARLEY_EXPIRED_TOKEN || "";
// Server features this file needs that may not be there yet (set by browser_test.go).
const missing = (feature) => process.env[`PARLEY_NO_${feature}`] || false;

/** Opens the moderation menu and picks an item (with a screenshot of the open menu when `shot` names one). */
async function moderate(page, action, shot = "") {
  await page.click("#moderate");
  await page.waitForSelector(`#moderation .tile-menu:not([hidden]) [data-action="${action}"]`);
  if (shot) await screenshot(page, shot);
  await page.click(`#moderation [data-action="${action}"]`);
}

const endpointOf = (page) => page.evaluate(() => window.parley.conference.endpointId);

test("grant moderator and mute everyone", T, async () => {
  const room = roomName("Mods");
  const [ada, bob, cy] = [await participant(browser), await participant(browser), await participant(browser)];
  await join(ada, room, "Ada");
  await join(bob, room, "Bob");
  await join(cy, room, "Cy");
  await waitTiles(ada.page, ["Ada (you)", "Bob", "Cy"]);
  const bobId = await endpointOf(bob.page);
  assert.equal(await bob.page.evaluate(() => window.parley.conference.isModerator), false);
  assert.equal(await bob.page.locator("#moderation").isHidden(), true, "no moderation menu for participants");

  // Ada makes Bob a moderator from his tile's menu.
  await ada.page.click(`#grid .tile[data-id="${bobId}"] .tile-menu-button`);
  await ada.page.waitForSelector(`#grid .tile[data-id="${bobId}"] [data-action="grant"]`);
  await screenshot(ada.page, "grant-menu");
  await ada.page.click(`#grid .tile[data-id="${bobId}"] [data-action="grant"]`);
  await waitToast(ada.page, "Bob is now a moderator");
  await bob.page.waitForFunction(() => window.parley.conference.isModerator);
  await bob.page.waitForSelector("#moderation:not([hidden]) #moderate");
  await cy.page.waitForSelector(`#grid .tile[data-id="${bobId}"] .tile-role`);
  // No "Make moderator" for someone who already is one.
  await ada.page.click(`#grid .tile[data-id="${bobId}"] .tile-menu-button`);
  await ada.page.waitForSelector(`#grid .tile[data-id="${bobId}"] .tile-menu:not([hidden])`);
  assert.equal(await ada.page.locator(`#grid .tile[data-id="${bobId}"] [data-action="grant"]`).count(), 0);
  await ada.page.keyboard.press("Escape");
  await screenshot(bob.page, "bob-moderator");

  // Bob, now a moderator, mutes everyone: Ada and Cy are muted, Bob is not.
  await moderate(bob.page, "mute-all", "moderation-menu");
  for (const p of [ada, cy]) {
    await p.page.waitForFunction(() => window.parley.conference.local.audioMuted);
    await waitToast(p.page, "You were muted by Bob");
  }
  assert.equal(await bob.page.evaluate(() => window.parley.conference.local.audioMuted), false);
  await waitToast(bob.page, "2 people were muted");
  await screenshot(cy.page, "muted-by-everyone");
  for (const p of [ada, bob, cy]) assert.deepEqual(p.errors, []);
  for (const p of [ada, bob, cy]) await p.context.close();
});

test("moderated microphones: muted until a moderator allows to speak", { ...T, skip: missing("AV_MODERATION") }, async () => {
  const room = roomName("Quiet");
  const [ada, bob] = [await participant(browser), await participant(browser)];
  await join(ada, room, "Ada");
  await join(bob, room, "Bob");
  await waitTiles(ada.page, ["Ada (you)", "Bob"]);
  const bobId = await endpointOf(bob.page);
  await moderate(ada.page, "av-audio");
  // Bob's open microphone is closed, and he cannot open it himself.
  await bob.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await waitToast(bob.page, "turned on microphone moderation");
  await bob.page.click("#mic-toggle");
  await waitToast(bob.page, "a moderator has to allow you to unmute");
  assert.equal(await bob.page.evaluate(() => window.parley.conference.local.audioMuted), true);
  await screenshot(bob.page, "mic-moderated");
  // Ada allows him from his tile's menu; then he can.
  await ada.page.click(`#grid .tile[data-id="${bobId}"] .tile-menu-button`);
  await ada.page.click(`#grid .tile[data-id="${bobId}"] [data-action="allow-audio"]`);
  await waitToast(bob.page, "allowed you to unmute");
  await bob.page.click("#mic-toggle");
  await bob.page.waitForFunction(() => !window.parley.conference.local.audioMuted);
  await ada.page.waitForFunction((id) => !window.parley.conference.participants.get(id)?.audioMuted, bobId);
  // Moderation off again.
  await moderate(ada.page, "av-audio");
  await waitToast(bob.page, "no longer moderated");
  for (const p of [ada, bob]) assert.deepEqual(p.errors, []);
  for (const p of [ada, bob]) await p.context.close();
});

test("lobby: a moderator turns it on; one knocks and is admitted, another is denied", { ...T, skip: missing("LOBBY") }, async () => {
  const room = roomName("Lobby");
  const mod = await participant(browser);
  await join(mod, room, "Mona");
  await moderate(mod.page, "lobby");
  await waitToast(mod.page, "The lobby is on");
  await mod.page.waitForFunction(() => window.parley.conference.lobbyOn);

  // Ann arrives: the knock screen has her name from the pre-join step.
  const ann = await participant(browser);
  await ann.page.goto(`${BASE}/${room}${skipPrejoin("Ann")}`);
  await ann.page.waitForSelector("#lobby-knock");
  assert.equal(await ann.page.inputValue("#lobby-name"), "Ann");
  await ann.page.fill("#lobby-name", "Ann Arbor");
  await screenshot(ann.page, "knock");
  await ann.page.click("#knock");
  await ann.page.waitForSelector("#lobby-waiting");
  await screenshot(ann.page, "knocking");

  // Mona sees her knock and admits her.
  await mod.page.waitForSelector('#lobby-list:not([hidden]) .knocker:has-text("Ann Arbor")');
  await waitToast(mod.page, "Ann Arbor is asking to join");
  await screenshot(mod.page, "lobby-list");
  await mod.page.click('#lobby-list .knocker:has-text("Ann Arbor") [data-action="admit"]');
  await ann.page.waitForSelector("#meeting");
  await waitTiles(ann.page, ["Ann Arbor (you)", "Mona"]);
  await waitTiles(mod.page, ["Ann Arbor", "Mona (you)"]);
  await mod.page.waitForSelector("#lobby-list", { state: "hidden" });
  // Everyone sees that the lobby is on.
  await ann.page.waitForSelector("#lobby-state:not([hidden])");
  await screenshot(ann.page, "admitted");

  // Dan comes without a name (the room answers 406 displayname-required), types one, knocks and is turned away.
  const dan = await participant(browser);
  await dan.page.goto(`${BASE}/${room}${skipPrejoin("")}`);
  await dan.page.waitForSelector("#lobby-knock");
  assert.equal(await dan.page.inputValue("#lobby-name"), "");
  await dan.page.click("#knock"); // no name: nothing happens
  assert.equal(await dan.page.locator("#lobby-knock").count(), 1);
  await dan.page.fill("#lobby-name", "Dan");
  await dan.page.click("#knock");
  await dan.page.waitForSelector("#lobby-waiting");
  await mod.page.waitForSelector('#lobby-list .knocker:has-text("Dan")');
  await mod.page.click('#lobby-list .knocker:has-text("Dan") [data-action="deny"]');
  await dan.page.waitForSelector("#lobby-denied");
  await dan.page.waitForSelector('h1:has-text("You were not admitted")');
  await screenshot(dan.page, "denied");
  await mod.page.waitForSelector("#lobby-list", { state: "hidden" });
  await waitTiles(mod.page, ["Ann Arbor", "Mona (you)"]);

  // The lobby off again: newcomers walk in.
  await moderate(mod.page, "lobby");
  await waitToast(mod.page, "The lobby is off");
  await ann.page.waitForSelector("#lobby-state", { state: "hidden" });
  const eve = await participant(browser);
  await join(eve, room, "Eve");
  await waitTiles(mod.page, ["Ann Arbor", "Eve", "Mona (you)"]);
  for (const p of [mod, ann, dan, eve]) assert.deepEqual(p.errors, []);
  for (const p of [mod, ann, dan, eve]) await p.context.close();
});

test("end the meeting for everyone", { ...T, skip: missing("END_CONFERENCE") }, async () => {
  const room = roomName("End");
  const [ada, bob] = [await participant(browser), await participant(browser)];
  await join(ada, room, "Ada");
  await join(bob, room, "Bob");
  await waitTiles(ada.page, ["Ada (you)", "Bob"]);
  await ada.page.waitForFunction(() => window.parley.conference.canEndForAll);
  // A cancelled confirmation changes nothing.
  await moderate(ada.page, "end-all");
  await ada.page.waitForSelector("#end-dialog[open]");
  await screenshot(ada.page, "end-confirm");
  await ada.page.click("#end-dialog #dialog-cancel");
  await ada.page.waitForSelector("#end-dialog", { state: "detached" });
  assert.equal(await ada.page.locator("#meeting").count(), 1);
  // Confirmed: everyone sees that the meeting was ended.
  await moderate(ada.page, "end-all");
  await ada.page.click("#end-dialog #dialog-confirm");
  for (const p of [ada, bob]) {
    await p.page.waitForSelector("#ended");
    await p.page.waitForSelector('h1:has-text("The meeting was ended")');
  }
  await screenshot(bob.page, "ended-for-all");
  for (const p of [ada, bob]) assert.deepEqual(p.errors, []);
  for (const p of [ada, bob]) await p.context.close();
});

test("secure domain: a guest waits for the host and enters by itself; a refused token says why", { ...T, skip: SECURE ? missing("SECURE") : "PARLEY_SECURE_URL is not set" }, async () => {
  const room = roomName("Secure");
  // The guest comes first: the focus answers not-authorized until a token holder starts the room.
  const guest = await participant(browser);
  await guest.page.goto(`${SECURE}/${room}${skipPrejoin("Gus")}`);
  await guest.page.waitForSelector("#waiting-host");
  await guest.page.waitForSelector(`#waiting-host .waiting-room:text("${room}")`);
  await guest.page.waitForSelector('#waiting-next:has-text("Checking again")');
  await screenshot(guest.page, "waiting-for-host");

  // The host, with a token on the meeting URL, starts it; the guest walks in without a click.
  const host = await participant(browser);
  await host.page.goto(`${SECURE}/${room}?jwt=${encodeURIComponent(HOST_TOKEN)}${skipPrejoin("Hilda")}`);
  await host.page.waitForSelector("#meeting");
  await guest.page.waitForSelector("#meeting", { timeout: 20_000 });
  await waitTiles(guest.page, ["Gus (you)", "Hilda"]);
  await waitTiles(host.page, ["Gus", "Hilda (you)"]);
  assert.equal(await host.page.evaluate(() => window.parley.conference.isModerator), true);
  assert.equal(await guest.page.evaluate(() => window.parley.conference.isModerator), false);
  await screenshot(guest.page, "guest-entered");

  // An expired token: the server's reason is on the screen.
  const late = await participant(browser, { allow: [/WebSocket/] });
  await late.page.goto(`${SECURE}/${room}?jwt=${encodeURIComponent(EXPIRED_TOKEN)}${skipPrejoin("Late")}`);
  await late.page.waitForSelector("#login-failed");
  const text = await late.page.locator("#login-failed").textContent();
  assert.match(text, /expired/i);
  await screenshot(late.page, "token-expired");
  for (const p of [guest, host, late]) assert.deepEqual(p.errors, []);
  for (const p of [guest, host, late]) await p.context.close();
});

test("secure domain with accounts: the host signs in from the waiting screen and the guest follows", { ...T, skip: process.env.PARLEY_ACCOUNTS_URL ? false : "PARLEY_ACCOUNTS_URL is not set" }, async () => {
  const ACCOUNTS = process.env.PARLEY_ACCOUNTS_URL;
  const [user, password] = (process.env.PARLEY_ACCOUNT || ":").split(":");
  const room = roomName("Hosted");
  const guest = await participant(browser);
  await guest.page.goto(`${ACCOUNTS}/${room}${skipPrejoin("Gus")}`);
  await guest.page.waitForSelector("#waiting-host");
  // The host arrives as a guest too, and signs in: a wrong password first.
  const host = await participant(browser);
  await host.page.goto(`${ACCOUNTS}/${room}${skipPrejoin("Hilda")}`);
  await host.page.waitForSelector("#waiting-host");
  await host.page.click("#host-login");
  await host.page.waitForSelector("#login-dialog[open]");
  await host.page.fill("#login-user", user);
  await host.page.fill("#login-password", "not-the-password");
  await host.page.click('#login-dialog button[type="submit"]');
  await host.page.waitForSelector("#login-error:not([hidden])");
  await screenshot(host.page, "login-refused");
  // Still waiting, as a guest.
  await host.page.waitForSelector("#waiting-host");
  await host.page.fill("#login-password", password);
  await host.page.click('#login-dialog button[type="submit"]');
  await host.page.waitForSelector("#meeting");
  await host.page.waitForSelector("#login-dialog", { state: "detached" });
  await guest.page.waitForSelector("#meeting", { timeout: 20_000 });
  await waitTiles(guest.page, ["Gus (you)", "Hilda"]);
  await waitTiles(host.page, ["Gus", "Hilda (you)"]);
  await screenshot(host.page, "host-signed-in");
  for (const p of [guest, host]) assert.deepEqual(p.errors, []);
  for (const p of [guest, host]) await p.context.close();
});

/** An HS256 token for the secure server (its app id and secret from browser_test.go). */
function sign(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ iss: process.env.PARLEY_JWT_APP, aud: "jitsi", sub: "*", room: "*", ...claims })}`;
  return `${body}.${createHmac("sha256", process.env.PARLEY_JWT_SECRET).update(body).digest("base64url")}`;
}

test("a token that expires during the meeting: a lost connection cannot come back, and the screen says why", { ...T, skip: SECURE && process.env.PARLEY_JWT_SECRET ? missing("SECURE") : "PARLEY_SECURE_URL is not set" }, async () => {
  const room = roomName("Expiring");
  // Already past exp, but within the server's leeway for a few more seconds: enough to join.
  const leeway = Number(process.env.PARLEY_JWT_LEEWAY_S || 0);
  const exp = Math.floor(Date.now() / 1000) - leeway + 12;
  const p = await participant(browser, { allow: [/WebSocket/] });
  await p.page.goto(`${SECURE}/${room}?jwt=${sign({ exp, context: { user: { name: "Brief", moderator: true } } })}${skipPrejoin("Brief")}`);
  await p.page.waitForSelector("#meeting");
  // After the token's expiry, the network drops: resuming needs a login, which the server refuses.
  await p.page.waitForTimeout(Math.max(0, (exp + leeway) * 1000 - Date.now() + 1500));
  await p.page.evaluate(() => window.parley.connection.dropSocket());
  await p.page.waitForSelector("#login-failed", { timeout: 30_000 });
  assert.match(await p.page.locator("#login-failed").textContent(), /expired/i);
  await screenshot(p.page, "token-expired-in-meeting");
  assert.deepEqual(p.errors, []);
  await p.context.close();
});
