// The participants pane in headless Chromium, everyone "talking" the same
// speech-like recording: a moderator mutes everyone and makes someone a
// moderator from it, the speaking marker follows the bridge's dominant
// speaker, raised hands are listed first with their place in line, the
// search box appears past eight people, and "End meeting for all" ends
// every page's meeting. Screenshots of a six-person pane (one speaking, two
// hands) at desktop and phone widths land in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join, launch, participant, roomName, screenshot, WAIT, waitTiles, waitToast, writeSpeechWAV } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch({ audioFile: writeSpeechWAV("people-speech.wav") });
});
after(async () => {
  await browser?.close();
});

const endpointOf = (page) => page.evaluate(() => window.parley.conference.endpointId);

/** Joins names in order (the first moderates), waits until everyone sees everyone, and returns the participants and their endpoint IDs. */
async function meeting(room, names, opts = () => ({}), viewport = { width: 1280, height: 800 }) {
  const ps = [];
  for (const [i, n] of names.entries()) {
    const p = await participant(browser, { viewport });
    // Six pages through one bridge on a shared machine: joining can take longer than one WAIT.
    p.page.setDefaultTimeout(3 * WAIT);
    await join(p, room, n, opts(i));
    ps.push(p);
  }
  const ids = [];
  for (const [i, p] of ps.entries()) {
    await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
    ids.push(await endpointOf(p.page));
  }
  return { ps, ids };
}

/** Opens the participants pane of a page. */
async function openPeople(page) {
  await page.click("#people-toggle");
  await page.waitForSelector("#people-panel:not([hidden]) #people li");
}

/** Waits until `page`'s pane marks exactly endpoint `id` as speaking. */
async function waitSpeaking(page, id) {
  await page.waitForSelector(`#people li.speaking[data-id="${id}"] .person-speaking`, { timeout: 4 * WAIT });
  assert.equal(await page.locator("#people li.speaking").count(), 1, "one speaker at a time");
}

test("participants pane: mute everyone, the speaking marker, make moderator, hands and search", { timeout: 16 * WAIT }, async () => {
  const room = roomName("People");
  const names = ["Ada", "Grace", "Linus"];
  const { ps, ids } = await meeting(room, names);
  const [ada, grace, linus] = ps;
  const [adaId, graceId, linusId] = ids;
  for (const p of ps) await openPeople(p.page);

  // Only moderators see the pane's actions.
  await ada.page.waitForSelector("#people-actions:not([hidden]) #people-mute-all");
  assert.equal(await grace.page.locator("#people-actions").isHidden(), true);
  // Everyone's menu on someone else sends a private message; only a moderator's also mutes, promotes and removes.
  await grace.page.click(`#people li[data-id="${linusId}"] .person-menu-button`);
  await grace.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu:not([hidden])`);
  assert.deepEqual(await grace.page.$$eval(`#people li[data-id="${linusId}"] .tile-menu [data-action]`, (bs) => bs.map((b) => b.dataset.action)), ["message"]);
  await grace.page.keyboard.press("Escape");
  await ada.page.click(`#people li[data-id="${linusId}"] .person-menu-button`);
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu:not([hidden])`);
  assert.deepEqual(await ada.page.$$eval(`#people li[data-id="${linusId}"] .tile-menu [data-action]`, (bs) => bs.map((b) => b.dataset.action)), ["message", "mute-audio", "grant", "kick"]);
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu`, { state: "hidden" });
  assert.equal(await ada.page.locator(`#people li[data-id="${adaId}"] .person-menu-button`).count(), 0, "no menu on oneself");

  // 1. Ada mutes everyone: Grace's and Linus's microphones close, and each sees the other's closed.
  for (const p of ps) await p.page.waitForSelector(`#people li[data-id="${linusId}"][data-audio="on"]`);
  await ada.page.click("#people-mute-all");
  await waitToast(ada.page, "2 people were muted");
  for (const p of [grace, linus]) await p.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await linus.page.waitForSelector(`#people li[data-id="${graceId}"][data-audio="off"]`);
  await grace.page.waitForSelector(`#people li[data-id="${linusId}"][data-audio="off"]`);
  await ada.page.waitForSelector(`#people li[data-id="${graceId}"][data-audio="off"]`);
  assert.equal(await ada.page.evaluate(() => window.parley.conference.local.audioMuted), false, "the moderator is not muted");
  await grace.page.waitForSelector(`#people li[data-id="${adaId}"][data-audio="on"]`);

  // 2. Ada alone makes sound: the bridge names her, and the pane marks her speaking.
  for (const p of [grace, linus]) await waitSpeaking(p.page, adaId);
  await screenshot(grace.page, "ada-speaking");
  // Ada mutes, Grace unmutes: the marker moves to Grace.
  await ada.page.click("#mic-toggle");
  await ada.page.waitForSelector("#mic-toggle.btn-off");
  await grace.page.click("#mic-toggle");
  await grace.page.waitForSelector("#mic-toggle:not(.btn-off)");
  for (const p of [ada, linus]) await waitSpeaking(p.page, graceId);
  assert.equal(await grace.page.locator("#people li.speaking").count(), 0, "nobody marks themselves");

  // 3. Ada makes Linus a moderator from his row's menu; he then gets the pane's actions.
  await ada.page.click(`#people li[data-id="${linusId}"] .person-menu-button`);
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu:not([hidden]) [data-action="grant"]`);
  await screenshot(ada.page, "person-menu");
  await ada.page.click(`#people li[data-id="${linusId}"] [data-action="grant"]`);
  await waitToast(ada.page, "Linus is now a moderator");
  await linus.page.waitForFunction(() => window.parley.conference.isModerator);
  await linus.page.waitForSelector("#people-actions:not([hidden]) #people-mute-all");
  await grace.page.waitForSelector(`#people li[data-id="${linusId}"] .person-role`);
  // A moderator's menu offers no "Make moderator".
  await ada.page.click(`#people li[data-id="${linusId}"] .person-menu-button`);
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu:not([hidden])`);
  assert.equal(await ada.page.locator(`#people li[data-id="${linusId}"] [data-action="grant"]`).count(), 0);
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .tile-menu`, { state: "hidden" });

  // 4. Hands: Linus, then Grace; the pane lists them first, in that order.
  await linus.page.click("#hand-toggle");
  await ada.page.waitForSelector(`#people li[data-id="${linusId}"] .person-hand[data-hand="1"]`);
  await grace.page.click("#hand-toggle");
  await ada.page.waitForSelector(`#people li[data-id="${graceId}"] .person-hand[data-hand="2"]`);
  assert.deepEqual(await ada.page.$$eval("#people li", (lis) => lis.map((li) => li.dataset.id)), [linusId, graceId, adaId]);

  // 5. Search: none for three people; past eight (six more in the page's list), it filters by name.
  assert.equal(await ada.page.locator("#people-search").isHidden(), true);
  await ada.page.evaluate(() => {
    const conf = window.parley.conference;
    for (const [i, n] of ["Ken", "Barbara", "Dennis", "Frances", "Edsger", "Margaret"].entries()) {
      const id = `fa${i}e0000`;
      conf.participants.set(id, { id, displayName: n, role: "participant", affiliation: "none", audioMuted: true, videoMuted: true, raisedHand: 0, local: false });
    }
    conf.emit("participants");
  });
  await ada.page.waitForSelector("#people-search:not([hidden])");
  assert.equal(await ada.page.locator("#people li").count(), 9);
  await ada.page.fill("#people-search", "lin");
  await ada.page.waitForFunction(() => document.querySelectorAll("#people li").length === 1);
  assert.equal(await ada.page.locator(`#people li[data-id="${linusId}"]`).count(), 1);
  await ada.page.fill("#people-search", "mar");
  await ada.page.waitForSelector('#people li:has-text("Margaret")');
  assert.equal(await ada.page.locator("#people li").count(), 1);
  await ada.page.fill("#people-search", "zork");
  await ada.page.waitForSelector('#people-empty:not([hidden]):has-text("zork")');
  assert.equal(await ada.page.locator("#people li").count(), 0);
  await ada.page.fill("#people-search", "");
  await ada.page.waitForFunction(() => document.querySelectorAll("#people li").length === 9);
  await screenshot(ada.page, "search");
  // The menu's private message opens the chat addressed to that person.
  await ada.page.click(`#people li[data-id="${graceId}"] .person-menu-button`);
  await ada.page.click(`#people li[data-id="${graceId}"] [data-action="message"]`);
  await ada.page.waitForFunction((id) => document.querySelector("#side.open #chat-to")?.value === id, graceId);

  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});

test("participants pane: end the meeting for all", { timeout: 8 * WAIT }, async () => {
  const room = roomName("Ending");
  const { ps } = await meeting(room, ["Ada", "Bob", "Cy"], () => ({ audioMuted: true }));
  const [ada] = ps;
  await openPeople(ada.page);
  await ada.page.waitForFunction(() => window.parley.conference.canEndForAll);
  await ada.page.waitForSelector("#people-end-all:not([hidden])");
  await ada.page.click("#people-end-all");
  await ada.page.waitForSelector("#end-dialog[open]");
  await ada.page.click("#end-dialog #dialog-confirm");
  for (const p of ps) await p.page.waitForSelector('#ended h1:has-text("The meeting was ended")');
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});

test("participants pane of six, one speaking and two hands up, at desktop and phone widths", { timeout: 16 * WAIT }, async () => {
  const room = roomName("Six");
  const names = ["Ada Lovelace", "Grace Hopper", "Linus", "Barbara Liskov", "Ken Thompson", "Margaret Hamilton"];
  // Grace alone has her microphone open; the others join muted, and the last three without cameras (a lighter load).
  const { ps, ids } = await meeting(room, names, (i) => ({ audioMuted: i !== 1, videoMuted: i >= 3 }));
  const [ada] = ps;
  await ps[3].page.click("#hand-toggle");
  await ps[3].page.waitForSelector('#hand-toggle[aria-pressed="true"]');
  await ps[4].page.click("#hand-toggle");
  await openPeople(ada.page);
  await ada.page.waitForSelector(`#people li[data-id="${ids[4]}"] .person-hand[data-hand="2"]`);
  await waitSpeaking(ada.page, ids[1]);
  assert.deepEqual((await ada.page.$$eval("#people li", (lis) => lis.map((li) => li.dataset.id))).slice(0, 2), [ids[3], ids[4]]);
  await screenshot(ada.page, "six-desktop");
  await ada.page.setViewportSize({ width: 390, height: 844 });
  await ada.page.waitForFunction(() => document.querySelector("#side").getBoundingClientRect().width <= 390);
  await waitSpeaking(ada.page, ids[1]);
  await screenshot(ada.page, "six-phone");
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});
