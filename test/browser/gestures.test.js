// The meeting people expect, with three participants through the bridge:
// raised hands in the order they went up (Jitsi's
// <jitsi_participant_raisedHand> presence, dialect §9), lowered by their
// owner or by a moderator; reactions floating over the meeting (Jitsi's
// "endpoint-reaction" EndpointMessage through the bridge channel, §6);
// chat notifications while the chat is closed (a toast, the count on the
// chat button and in the tab's title); the keyboard shortcuts' help sheet
// and push to talk. Every step leaves a screenshot in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join, launch, participant, roomName, screenshot, sendChat, WAIT, waitTiles, waitToast } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The hand badge's place in line on `page`'s tile of endpoint `id`, or 0 when its hand is down. */
function tileHand(page, id) {
  return page.evaluate((id) => Number(document.querySelector(`#grid .tile[data-id="${id}"] .tile-hand`)?.dataset.hand ?? 0), id);
}

/** Waits until `page` shows endpoint `id`'s hand at `place` (0: down) on its tile. */
function waitTileHand(page, id, place) {
  return page.waitForFunction(
    ([id, place]) => Number(document.querySelector(`#grid .tile[data-id="${id}"] .tile-hand`)?.dataset.hand ?? 0) === place,
    [id, place],
  );
}

test("raised hands in order, reactions, chat notifications, shortcuts and push to talk", { timeout: 12 * WAIT }, async () => {
  const room = roomName("Hands");
  const names = ["Ada", "Grace", "Linus"];
  const ps = [];
  for (const n of names) {
    const p = await participant(browser, { viewport: { width: 1100, height: 680 } });
    await join(p, room, n, { audioMuted: true });
    ps.push(p);
  }
  const [ada, grace, linus] = ps;
  const ids = [];
  for (const [i, p] of ps.entries()) {
    await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
    ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  }
  const [adaId, graceId, linusId] = ids;
  assert.equal(await ada.page.evaluate(() => window.parley.conference.isModerator), true, "the first to join moderates");

  // 1. Grace raises her hand with R, then Linus with the toolbar button: everyone sees them in that order.
  await grace.page.locator("#grid").click({ position: { x: 2, y: 2 } });
  await grace.page.keyboard.press("r");
  await grace.page.waitForSelector('#hand-toggle[aria-pressed="true"]');
  await waitTileHand(ada.page, graceId, 1);
  await waitToast(ada.page, "Grace raised a hand");
  // What went out is Jitsi Meet's: the time the hand went up, in ms.
  const at = await ada.page.evaluate((id) => window.parley.conference.participants.get(id).raisedHand, graceId);
  assert.ok(Math.abs(at - Date.now()) < 60_000, `raisedHand ${at} is a time in ms`);
  await linus.page.click("#hand-toggle");
  for (const p of ps) {
    await waitTileHand(p.page, linusId, 2);
    assert.equal(await tileHand(p.page, graceId), 1);
    assert.equal(await tileHand(p.page, adaId), 0);
  }
  // The participants list puts raised hands first, in the order they went up.
  await ada.page.click("#people-toggle");
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .person-hand[data-hand="2"]`);
  assert.deepEqual(await ada.page.$$eval("#people li", (lis) => lis.map((li) => li.dataset.id)), [graceId, linusId, adaId]);
  await screenshot(ada.page, "hands-in-order");
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("#side:not(.open)", { state: "attached" });

  // 2. Reactions: once the bridge channel is open, Ada's thumbs up floats on everyone's screen, as Jitsi Meet sends it.
  for (const p of ps) {
    await p.page.waitForFunction(() => window.parley.session.channel?.open === true, null, { timeout: 3 * WAIT });
    await p.page.evaluate(() => {
      window.endpointMessages = [];
      window.parley.session.on("endpointMessage", (from, payload) => window.endpointMessages.push({ from, payload }));
    });
  }
  await ada.page.click("#react");
  await ada.page.waitForSelector("#reactions-menu:not([hidden])");
  await ada.page.click('#reactions-menu [data-reaction="like"]');
  await ada.page.waitForSelector(`#reactions .reaction-float[data-reaction="like"][data-from="${adaId}"]`);
  for (const p of [grace, linus]) await p.page.waitForSelector(`#reactions .reaction-float[data-reaction="like"][data-from="${adaId}"]`);
  await screenshot(grace.page, "three-hands-and-reaction");
  const [msg] = await grace.page.evaluate(() => window.endpointMessages);
  assert.equal(msg.from, adaId);
  assert.equal(msg.payload.name, "endpoint-reaction");
  assert.deepEqual(msg.payload.reactions, ["like"]);
  assert.equal(typeof msg.payload.timestamp, "number");
  // Escape closes the picker; the reaction goes away by itself.
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("#reactions-menu", { state: "hidden" });
  await grace.page.waitForSelector("#reactions .reaction-float", { state: "detached" });

  // 3. Grace lowers her own hand from her tile; Linus moves up to first.
  await grace.page.click(`#grid .tile[data-id="${graceId}"] .tile-hand`);
  await grace.page.waitForSelector('#hand-toggle[aria-pressed="false"]');
  for (const p of ps) {
    await waitTileHand(p.page, graceId, 0);
    await waitTileHand(p.page, linusId, 1);
  }
  // Ada moderates: she lowers Linus's hand from his tile (Jitsi's "lower-hand-message" to him), and he is told.
  await ada.page.click(`#grid .tile[data-id="${linusId}"] .tile-hand`);
  await linus.page.waitForSelector('#hand-toggle[aria-pressed="false"]');
  await waitToast(linus.page, "Ada lowered your hand");
  for (const p of ps) await waitTileHand(p.page, linusId, 0);
  // Linus is no moderator: Ada's hand on his screen is a badge, not a button.
  await ada.page.keyboard.press("r");
  await waitTileHand(linus.page, adaId, 1);
  assert.equal(await linus.page.locator(`#grid .tile[data-id="${adaId}"] button.tile-hand`).count(), 0);
  await ada.page.keyboard.press("r");
  await waitTileHand(linus.page, adaId, 0);

  // 4. Chat notifications: Ada's chat is closed; Grace writes twice.
  const title = await ada.page.title();
  assert.equal(title, `${room} · Parley`);
  await sendChat(grace.page, "Can everyone see the agenda I shared in the document this morning?", "second");
  await waitToast(ada.page, "Grace: Can everyone see the agenda");
  await ada.page.waitForFunction((room) => document.title === `(2) ${room} · Parley`, room);
  assert.equal(await ada.page.textContent("#unread"), "2");
  assert.equal(await ada.page.getAttribute("#chat-toggle", "aria-label"), "Chat, 2 unread");
  await screenshot(ada.page, "chat-unread");
  // Grace, with her chat open, counts nothing.
  assert.equal(await grace.page.title(), `${room} · Parley`);
  await ada.page.keyboard.press("c");
  await ada.page.waitForSelector('#messages li:has-text("second")');
  await ada.page.waitForFunction((room) => document.title === `${room} · Parley`, room);
  assert.equal(await ada.page.locator("#unread").isHidden(), true);
  await ada.page.keyboard.press("Escape");

  // 5. The shortcuts' help sheet with ?, closed with Escape.
  await ada.page.locator("#grid").click({ position: { x: 2, y: 2 } });
  await ada.page.keyboard.press("?");
  await ada.page.waitForSelector("dialog#shortcuts[open]");
  const keys = await ada.page.$$eval("#shortcuts dt kbd", (ks) => ks.map((k) => k.textContent));
  for (const k of ["M", "V", "C", "R", "D", "P", "Space", "?"]) assert.ok(keys.includes(k), `${k} in ${keys}`);
  await screenshot(ada.page, "shortcuts");
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("#shortcuts", { state: "detached" });

  // 6. Push to talk: Linus (muted) holds Space; the others see his microphone open, then closed again.
  const linusMuted = () => ada.page.locator(`#grid .tile[data-id="${linusId}"] .tile-muted`);
  await linusMuted().waitFor();
  await linus.page.locator("#grid").click({ position: { x: 2, y: 2 } });
  await linus.page.keyboard.down("Space");
  await linus.page.waitForSelector("#push-to-talk:not([hidden])");
  await linus.page.waitForFunction(() => !window.parley.conference.local.audioMuted);
  await linusMuted().waitFor({ state: "detached" });
  await screenshot(linus.page, "push-to-talk");
  await linus.page.keyboard.up("Space");
  await linus.page.waitForSelector("#push-to-talk", { state: "hidden" });
  await linus.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await linusMuted().waitFor();

  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});

/**
 * Run in a page before its scripts: the bridge channel's WebSocket
 * (/colibri-ws/) is not opened until window.releaseBridgeChannel() is
 * called, as on a network where it takes its time; until then the page's
 * channel stays CONNECTING and the bridge has no channel for the endpoint.
 */
function holdBridgeChannel() {
  const Real = window.WebSocket;
  const held = [];
  let holding = true;
  class HeldSocket extends EventTarget {
    constructor(url, protocols) {
      super();
      this.url = String(url);
      this.protocols = protocols;
      this.real = null;
      this.closed = false;
    }
    get readyState() {
      return this.real ? this.real.readyState : this.closed ? Real.CLOSED : Real.CONNECTING;
    }
    send(data) {
      if (!this.real) throw new DOMException("still connecting", "InvalidStateError");
      this.real.send(data);
    }
    close(...args) {
      this.closed = true;
      this.real?.close(...args);
    }
    connect() {
      if (this.closed) return;
      const ws = (this.real = new Real(this.url, this.protocols));
      for (const type of ["open", "message", "error", "close"]) ws.addEventListener(type, (e) => this.dispatchEvent(new e.constructor(e.type, e)));
    }
  }
  window.WebSocket = new Proxy(Real, {
    construct(target, args) {
      if (!holding || !String(args[0]).includes("/colibri-ws/")) return Reflect.construct(target, args);
      const s = new HeldSocket(...args);
      held.push(s);
      return s;
    },
  });
  window.releaseBridgeChannel = () => {
    holding = false;
    for (const s of held.splice(0)) s.connect();
  };
}

test("a moderator lowers the hand of someone whose bridge channel is not open yet", { timeout: 6 * WAIT }, async () => {
  const room = roomName("SlowChannel");
  const ada = await participant(browser, { viewport: { width: 1000, height: 640 } });
  await join(ada, room, "Ada", { audioMuted: true });
  const grace = await participant(browser, { viewport: { width: 1000, height: 640 } });
  await grace.page.addInitScript(holdBridgeChannel);
  await join(grace, room, "Grace", { audioMuted: true });
  await waitTiles(ada.page, ["Ada (you)", "Grace"]);
  const graceId = await grace.page.evaluate(() => window.parley.conference.endpointId);
  assert.equal(await ada.page.evaluate(() => window.parley.conference.isModerator), true);
  // Ada's channel is open, Grace's is not: the bridge has nowhere to send Grace an EndpointMessage.
  await ada.page.waitForFunction(() => window.parley.session.channel?.open === true, null, { timeout: 3 * WAIT });
  await grace.page.waitForFunction(() => window.parley.session.channel !== null);
  assert.equal(await grace.page.evaluate(() => window.parley.session.channel.open), false);

  await grace.page.click("#hand-toggle");
  await waitTileHand(ada.page, graceId, 1);
  await ada.page.click(`#grid .tile[data-id="${graceId}"] button.tile-hand`);
  await grace.page.waitForSelector('#hand-toggle[aria-pressed="false"]');
  await waitToast(grace.page, "Ada lowered your hand");
  await waitTileHand(ada.page, graceId, 0);
  assert.equal(await grace.page.evaluate(() => window.parley.session.channel.open), false, "lowered while Grace's channel was still closed");
  await screenshot(grace.page, "hand-lowered-before-channel");

  // Once the channel opens, it works as before (a reaction from Ada reaches Grace).
  await grace.page.evaluate(() => window.releaseBridgeChannel());
  await grace.page.waitForFunction(() => window.parley.session.channel?.open === true, null, { timeout: 2 * WAIT });
  await ada.page.click("#react");
  await ada.page.click('#reactions-menu [data-reaction="like"]');
  await grace.page.waitForSelector(`#reactions .reaction-float[data-reaction="like"]`);
  for (const p of [ada, grace]) assert.deepEqual(p.errors, []);
  for (const p of [ada, grace]) await p.context.close();
});
