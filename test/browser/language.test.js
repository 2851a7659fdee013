// Translations in headless Chromium: a browser whose language is German
// gets the German pre-join screen and meeting (toolbar, top bar, the More
// sheet on a phone) while an English one in the same meeting stays
// English, and ?lang=de in the address picks German in an English browser.
// Screenshots of the German pre-join and meeting (desktop and phone).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { BASE, join, launch, participant, roomName, screenshot, WAIT, waitTiles } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const label = (page, sel) => page.getAttribute(sel, "aria-label");

test("a German browser gets German words, an English one in the same meeting English ones", { timeout: 8 * WAIT }, async () => {
  const room = roomName("Sprache");
  const de = await participant(browser, { locale: "de-DE" });
  await de.page.goto(`${BASE}/${room}`);
  await de.page.waitForSelector("#prejoin");
  assert.equal(await de.page.evaluate(() => document.documentElement.lang), "de");
  assert.equal(await de.page.textContent("#join"), "Besprechung beitreten");
  assert.equal(await de.page.textContent('label[for="display-name"]'), "Ihr Name");
  assert.equal(await label(de.page, "#mic-toggle"), "Mikrofon ausschalten");
  assert.equal(await de.page.textContent(".prejoin .eyebrow"), "Beitritt zu");
  await de.page.fill("#display-name", "Grete");
  await screenshot(de.page, "german-prejoin");
  await de.page.click("#join");
  await de.page.waitForSelector("#meeting");
  await waitTiles(de.page, ["Grete (Sie)"]);
  assert.equal(await label(de.page, "#leave"), "Besprechung verlassen");
  assert.equal(await label(de.page, "#chat-toggle"), "Chat");
  assert.equal(await label(de.page, "#people-toggle"), "Teilnehmende");
  assert.equal(await label(de.page, "#hand-toggle"), "Hand heben");
  assert.equal(await label(de.page, "#share-toggle"), "Bildschirm freigeben");
  assert.equal(await de.page.textContent("#participant-count"), "1 Person");
  assert.equal(await de.page.title(), `${room} · Parley`);

  // An English browser in the same meeting: English words; the German one counts two people in German.
  const en = await participant(browser);
  await join(en, room, "Ada", { audioMuted: true, videoMuted: true });
  await waitTiles(en.page, ["Ada (you)", "Grete"]);
  await waitTiles(de.page, ["Grete (Sie)", "Ada"]);
  assert.equal(await en.page.evaluate(() => document.documentElement.lang), "en");
  assert.equal(await label(en.page, "#leave"), "Leave meeting");
  assert.equal(await en.page.textContent("#participant-count"), "2 people");
  await de.page.waitForFunction(() => document.getElementById("participant-count")?.textContent === "2 Personen");

  // Ada raises her hand: Grete's toast and tile badge speak German.
  await en.page.click("#hand-toggle");
  await de.page.waitForFunction(() => (window.parleyToasts ?? []).includes("Ada hat die Hand gehoben"));
  const adaId = await en.page.evaluate(() => window.parley.conference.endpointId);
  await de.page.waitForSelector(`#grid .tile[data-id="${adaId}"] .tile-hand`);
  assert.match(await de.page.getAttribute(`#grid .tile[data-id="${adaId}"]`, "aria-label"), /Hand gehoben/);
  await screenshot(de.page, "german-meeting");

  // On a phone the More sheet names its actions in German, and they fit.
  await de.page.setViewportSize({ width: 390, height: 844 });
  await de.page.click("#more-toggle");
  await de.page.waitForSelector("#toolbar-more.open #hand-toggle", { state: "visible" });
  assert.equal(await label(de.page, "#more-toggle"), "Weitere Aktionen");
  const items = await de.page.$$eval("#toolbar-more button", (bs) => bs.filter((b) => b.offsetWidth > 0).map((b) => ({ label: b.getAttribute("aria-label"), right: b.getBoundingClientRect().right })));
  assert.ok(items.some((i) => i.label === "Reaktion senden"), JSON.stringify(items));
  for (const i of items) assert.ok(i.right <= 390, `${i.label} runs off the screen`);
  await screenshot(de.page, "german-phone-more-sheet");

  assert.deepEqual(de.errors, []);
  assert.deepEqual(en.errors, []);
  await de.context.close();
  await en.context.close();
});

test("?lang=de picks German in an English browser; ?lang=en English in a German one", { timeout: 4 * WAIT }, async () => {
  const room = roomName("Lang");
  const en = await participant(browser);
  await en.page.goto(`${BASE}/${room}?lang=de`);
  await en.page.waitForSelector("#prejoin");
  assert.equal(await en.page.textContent("#join"), "Besprechung beitreten");
  const de = await participant(browser, { locale: "de-DE" });
  await de.page.goto(`${BASE}/${room}?lang=en`);
  await de.page.waitForSelector("#prejoin");
  assert.equal(await de.page.textContent("#join"), "Join meeting");
  // The home page too.
  await en.page.goto(`${BASE}/?lang=de`);
  await en.page.waitForSelector("#start");
  assert.equal(await en.page.textContent("#start"), "Besprechung starten");
  assert.deepEqual(en.errors, []);
  assert.deepEqual(de.errors, []);
  await en.context.close();
  await de.context.close();
});
