// The meeting's features used from Firefox (puppeteer-core over WebDriver
// BiDi) with Chromium (Playwright) in the room, as test/browser tests them
// in Chromium alone: raised hands in the order they went up and reactions
// (both ways), the participants pane (who speaks, mute everyone, make
// moderator, who raised a hand, end for all), chat notifications (a toast,
// the unread count on the button and in the title), the `?` sheet and push
// to talk, the settings dialog, the phone layout in German, and the stage
// around a screen share. Chromium's microphone "talks" (writeSpeechWAV) when
// on; Firefox's fake one is a steady tone.
//
// Screen capture in headless Firefox: getDisplayMedia finds nothing to
// capture (NotFoundError) whatever the prefs (media.navigator.streams.fake
// and media.navigator.permission.disabled fake cameras and microphones, not
// screens; media.getdisplaymedia.enabled only allows the call). Headless
// Firefox has no display for its screen capturer to list, and unlike
// Chromium's --use-fake-ui-for-media-stream there is no fake screen. So the
// share test checks what Firefox's own getDisplayMedia does (the worded
// "nothing to share" message, not the browser's text), then gives the page
// a stand-in for getDisplayMedia that returns a second track of the fake
// camera: everything after the capture (the second video source through
// Firefox's PeerConnection, the stage on the other side, the "ended" event
// of the browser's own Stop sharing) is Firefox's.
//
// Run by firefox_test.go (TestFirefoxMeeting) inside the network namespace;
// PARLEY_URL is the host side of its veth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertRoomNameWraps, BASE, WAIT, screenshot, sendChat, skipPrejoin, waitToast, writeSpeechWAV } from "../lib/browser.js";
import { click, firefoxParticipant, joinBoth, launchFirefox, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const skip = ROOM ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM)";
const browsers = useBrowsers({ audioFile: writeSpeechWAV("firefox-speech.wav") });

const endpointOf = (page) => page.evaluate(() => window.parley.conference.endpointId);

/** Firefox ("Fox", who moderates) and Chromium ("Chrome") in room ROOM+suffix, both muted unless told; with their endpoint IDs. */
async function meeting(suffix, { foxAudioMuted = true, chromeAudioMuted = true } = {}) {
  const url = `${BASE}/${ROOM}${suffix}`;
  const pair = await joinBoth(browsers, {
    firefox: { url: url + skipPrejoin("Fox", { audioMuted: foxAudioMuted }) },
    chromium: { url: url + skipPrejoin("Chrome", { audioMuted: chromeAudioMuted }) },
  });
  const { ff, ch } = pair;
  // Each sees the other's tile.
  await ff.page.waitForFunction(() => [...document.querySelectorAll("#grid .tile .tile-name-text")].some((n) => n.textContent === "Chrome"));
  await ch.page.waitForFunction(() => [...document.querySelectorAll("#grid .tile .tile-name-text")].some((n) => n.textContent === "Fox"));
  return { ...pair, ffId: await endpointOf(ff.page), chId: await endpointOf(ch.page), room: `${ROOM}${suffix}` };
}

/** Waits until a Firefox page has shown a toast containing text (browser.js's waitToast, in puppeteer's words). */
function ffToast(page, text) {
  return page.waitForFunction((t) => (window.parleyToasts ?? []).some((m) => m.includes(t)), {}, text);
}

/** Waits until a Firefox page shows endpoint id's hand at place (0: down) on its tile. */
function ffTileHand(page, id, place) {
  return page.waitForFunction((id, place) => Number(document.querySelector(`#grid .tile[data-id="${id}"] .tile-hand`)?.dataset.hand ?? 0) === place, {}, id, place);
}

/** The same on a Chromium page. */
function chTileHand(page, id, place) {
  return page.waitForFunction(([id, place]) => Number(document.querySelector(`#grid .tile[data-id="${id}"] .tile-hand`)?.dataset.hand ?? 0) === place, [id, place]);
}

/** Clicks a Firefox page's grid near its corner: the page has a user gesture and focus, and no button is focused. */
async function focusGrid(page) {
  await click(page, "#grid", { x: 2, y: 2 });
}

/** The endpoint IDs of a Firefox page's participants pane, in its order. */
const ffPeople = (page) => page.$$eval("#people li", (lis) => lis.map((li) => li.dataset.id));

async function done(...ps) {
  for (const p of ps) assert.deepEqual(p.errors, []);
  await Promise.allSettled(ps.map((p) => p.context.close()));
}

test("Firefox: raised hands in order, reactions, chat notifications, the shortcuts sheet and push to talk", { timeout: 12 * WAIT, skip }, async () => {
  const { ff, ch, ffId, chId, room } = await meeting("Hands");
  assert.equal(await ff.page.evaluate(() => window.parley.conference.isModerator), true, "Firefox joined first and moderates");

  // 1. Chrome raises a hand with the button, then Fox with R: both see them in that order.
  await ch.page.click("#hand-toggle");
  await ffTileHand(ff.page, chId, 1);
  await ffToast(ff.page, "Chrome raised a hand");
  await focusGrid(ff.page);
  await ff.page.keyboard.press("r");
  await ff.page.waitForSelector('#hand-toggle[aria-pressed="true"]');
  await chTileHand(ch.page, ffId, 2);
  await waitToast(ch.page, "Fox raised a hand");
  await ffTileHand(ff.page, ffId, 2);
  assert.equal(await ch.page.evaluate((id) => window.parley.conference.participants.get(id).raisedHand > 0, ffId), true);
  // Firefox's participants pane (P) lists raised hands first, in the order they went up.
  await ff.page.keyboard.press("p");
  await ff.page.waitForSelector(`#people li[data-id="${ffId}"] .person-hand[data-hand="2"]`);
  assert.deepEqual(await ffPeople(ff.page), [chId, ffId]);
  await screenshot(ff.page, "hands-in-order");
  await ff.page.keyboard.press("Escape");
  await ff.page.waitForSelector("#side:not(.open)");

  // 2. Fox moderates: a click on Chrome's hand lowers it, and Chrome is told; Fox moves up to first.
  // The request goes through the room (a private json-message, as LJM sends one); the reactions below
  // go through the bridge channel, once both are open.
  await ff.page.waitForFunction(() => window.parley.session.channel?.open === true, { timeout: 3 * WAIT });
  await ch.page.waitForFunction(() => window.parley.session.channel?.open === true, null, { timeout: 3 * WAIT });
  await click(ff.page, `#grid .tile[data-id="${chId}"] button.tile-hand`);
  await ch.page.waitForSelector('#hand-toggle[aria-pressed="false"]').catch(async (e) => {
    throw new Error(`${e.message}; Fox's toasts: ${await ff.page.evaluate(() => JSON.stringify(window.parleyToasts))}`);
  });
  await waitToast(ch.page, "Fox lowered your hand");
  await ffTileHand(ff.page, chId, 0);
  await chTileHand(ch.page, ffId, 1);
  // Chrome is no moderator: Fox's hand on Chrome's screen is a badge, not a button. R again lowers it.
  assert.equal(await ch.page.locator(`#grid .tile[data-id="${ffId}"] button.tile-hand`).count(), 0);
  await focusGrid(ff.page);
  await ff.page.keyboard.press("r");
  await ff.page.waitForSelector('#hand-toggle[aria-pressed="false"]');
  await chTileHand(ch.page, ffId, 0);

  // 3. Reactions both ways, through the bridge channel, as Jitsi Meet sends them.
  await ff.page.evaluate(() => {
    window.endpointMessages = [];
    window.parley.session.on("endpointMessage", (from, payload) => window.endpointMessages.push({ from, payload }));
  });
  await click(ff.page, "#react");
  await ff.page.waitForSelector("#reactions-menu:not([hidden])");
  await click(ff.page, '#reactions-menu [data-reaction="like"]');
  await ff.page.waitForSelector(`#reactions .reaction-float[data-reaction="like"][data-from="${ffId}"]`);
  await ch.page.waitForSelector(`#reactions .reaction-float[data-reaction="like"][data-from="${ffId}"]`);
  await ff.page.keyboard.press("Escape");
  await ff.page.waitForSelector("#reactions-menu", { hidden: true });
  await ch.page.click("#react");
  await ch.page.click('#reactions-menu [data-reaction="clap"]');
  await ff.page.waitForSelector(`#reactions .reaction-float[data-reaction="clap"][data-from="${chId}"]`);
  await screenshot(ff.page, "reaction-from-chromium");
  const msgs = await ff.page.evaluate(() => window.endpointMessages);
  const clap = msgs.find((m) => m.payload?.name === "endpoint-reaction" && m.from === chId);
  assert.ok(clap, JSON.stringify(msgs));
  assert.deepEqual(clap.payload.reactions, ["clap"]);
  await ch.page.keyboard.press("Escape");
  // The reaction goes away by itself.
  await ff.page.waitForSelector("#reactions .reaction-float", { hidden: true, timeout: 2 * WAIT });

  // 4. Chat notifications: Fox's chat is closed; Chrome writes twice.
  assert.equal(await ff.page.title(), `${room} · Parley`);
  await sendChat(ch.page, "Can everyone see the agenda I shared in the document this morning?", "second");
  await ffToast(ff.page, "Chrome: Can everyone see the agenda");
  await ff.page.waitForFunction((room) => document.title === `(2) ${room} · Parley`, {}, room);
  assert.equal(await ff.page.$eval("#unread", (e) => e.textContent), "2");
  assert.equal(await ff.page.$eval("#chat-toggle", (e) => e.getAttribute("aria-label")), "Chat, 2 unread");
  await screenshot(ff.page, "chat-unread");
  // C opens the chat: the messages are there, and nothing is unread.
  await focusGrid(ff.page);
  await ff.page.keyboard.press("c");
  await ff.page.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes("second")));
  await ff.page.waitForFunction((room) => document.title === `${room} · Parley`, {}, room);
  assert.equal(await ff.page.$eval("#unread", (e) => e.hidden || e.offsetWidth === 0), true);
  await ff.page.keyboard.press("Escape");
  await ff.page.waitForSelector("#side:not(.open)");

  // 5. The shortcuts' sheet with ?, closed with Escape.
  await focusGrid(ff.page);
  await ff.page.keyboard.press("?");
  await ff.page.waitForSelector("dialog#shortcuts[open]");
  const keys = await ff.page.$$eval("#shortcuts dt kbd", (ks) => ks.map((k) => k.textContent));
  for (const k of ["M", "V", "C", "R", "D", "P", "Space", "?"]) assert.ok(keys.includes(k), `${k} in ${keys}`);
  await screenshot(ff.page, "shortcuts");
  await ff.page.keyboard.press("Escape");
  await ff.page.waitForSelector("#shortcuts", { hidden: true });
  assert.equal(await ff.page.$("#shortcuts"), null, "the sheet is gone");

  // 6. Push to talk: Fox (muted) holds Space; Chrome sees Fox's microphone open, then closed again.
  const foxMuted = `#grid .tile[data-id="${ffId}"] .tile-muted`;
  await ch.page.waitForSelector(foxMuted);
  await focusGrid(ff.page);
  await ff.page.keyboard.down(" ");
  await ff.page.waitForSelector("#push-to-talk:not([hidden])");
  await ff.page.waitForFunction(() => !window.parley.conference.local.audioMuted);
  await ch.page.waitForSelector(foxMuted, { state: "detached" });
  await screenshot(ff.page, "push-to-talk");
  await ff.page.keyboard.up(" ");
  await ff.page.waitForSelector("#push-to-talk", { hidden: true });
  await ff.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await ch.page.waitForSelector(foxMuted);

  await done(ff, ch);
});

test("Firefox: the participants pane shows who speaks and who raised a hand; mute everyone, make moderator, end for all", { timeout: 12 * WAIT, skip }, async () => {
  const { ff, ch, ffId, chId } = await meeting("People", { chromeAudioMuted: false });
  await click(ff.page, "#people-toggle");
  await ff.page.waitForSelector("#people-panel:not([hidden]) #people li");
  await ch.page.click("#people-toggle");
  await ch.page.waitForSelector("#people-panel:not([hidden]) #people li");
  // Only the moderator (Fox) has the pane's actions.
  await ff.page.waitForSelector("#people-actions:not([hidden]) #people-mute-all");
  assert.equal(await ch.page.locator("#people-actions").isHidden(), true);

  // 1. Chrome talks, Fox is muted: Fox's pane marks Chrome speaking (the bridge's dominant speaker).
  await ff.page.waitForSelector(`#people li.speaking[data-id="${chId}"] .person-speaking`, { timeout: 4 * WAIT });
  assert.equal((await ff.page.$$("#people li.speaking")).length, 1, "one speaker at a time");
  await screenshot(ff.page, "chrome-speaking");

  // 2. Fox mutes everyone: Chrome's microphone closes; Fox's stays as it was.
  await ff.page.waitForSelector(`#people li[data-id="${chId}"][data-audio="on"]`);
  await click(ff.page, "#people-mute-all");
  await ffToast(ff.page, "1 person was muted");
  await ch.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await ff.page.waitForSelector(`#people li[data-id="${chId}"][data-audio="off"]`);

  // 3. Fox makes Chrome a moderator from the row's menu; Chrome then has the pane's actions.
  await click(ff.page, `#people li[data-id="${chId}"] .person-menu-button`);
  await ff.page.waitForSelector(`#people li[data-id="${chId}"] .tile-menu:not([hidden]) [data-action="grant"]`);
  const actions = await ff.page.$$eval(`#people li[data-id="${chId}"] .tile-menu [data-action]`, (bs) => bs.map((b) => b.dataset.action));
  assert.deepEqual(actions, ["message", "grant", "kick"], "Chrome is muted: no Mute");
  await screenshot(ff.page, "person-menu");
  await click(ff.page, `#people li[data-id="${chId}"] [data-action="grant"]`);
  await ffToast(ff.page, "Chrome is now a moderator");
  await ch.page.waitForFunction(() => window.parley.conference.isModerator);
  await ch.page.waitForSelector("#people-actions:not([hidden]) #people-mute-all");
  await ff.page.waitForSelector(`#people li[data-id="${chId}"] .person-role`);

  // 4. Who raised a hand: Chrome, then Fox; the pane lists them first, in that order, with their place.
  assert.deepEqual(await ffPeople(ff.page), [ffId, chId], "without hands, oneself first");
  await ch.page.click("#hand-toggle");
  await ff.page.waitForSelector(`#people li[data-id="${chId}"] .person-hand[data-hand="1"]`);
  assert.deepEqual(await ffPeople(ff.page), [chId, ffId]);
  await click(ff.page, "#hand-toggle");
  await ff.page.waitForSelector(`#people li[data-id="${ffId}"] .person-hand[data-hand="2"]`);
  assert.deepEqual(await ffPeople(ff.page), [chId, ffId]);
  await screenshot(ff.page, "people-hands");

  // 5. Fox ends the meeting for all: both pages say so.
  await ff.page.waitForFunction(() => window.parley.conference.canEndForAll);
  await ff.page.waitForSelector("#people-end-all:not([hidden])");
  await click(ff.page, "#people-end-all");
  await ff.page.waitForSelector("#end-dialog[open]");
  await click(ff.page, "#end-dialog #dialog-confirm");
  await ff.page.waitForFunction(() => document.querySelector("#ended h1")?.textContent === "The meeting was ended");
  await ch.page.waitForSelector('#ended h1:has-text("The meeting was ended")');
  await screenshot(ff.page, "ended-for-all");
  await done(ff, ch);
});

test("Firefox: the settings dialog lists the devices, turns noise suppression off and on, and a new name reaches Chromium's tiles", { timeout: 6 * WAIT, skip }, async () => {
  const { ff, ch } = await meeting("Settings", { foxAudioMuted: false });

  await click(ff.page, "#settings-toggle");
  await ff.page.waitForSelector("#settings[open]");
  // The camera and microphone in use are listed (Firefox's fake devices), each selected.
  const listed = await ff.page.waitForFunction(() => {
    const opts = (id) => [...document.querySelectorAll(`#${id} option`)].filter((o) => o.value).map((o) => ({ value: o.value, label: o.textContent }));
    const l = { camera: opts("settings-camera"), mic: opts("settings-mic"), speakers: opts("settings-speaker"), cameraValue: document.querySelector("#settings-camera").value, speaker: !document.querySelector("#settings-speaker-field").hidden };
    return l.camera.length > 0 && l.mic.length > 0 && l;
  });
  const lists = await listed.jsonValue();
  console.log(`Firefox's devices: ${JSON.stringify(lists)}`);
  const sending = await ff.page.evaluate(() => window.parley.session.pc?.getSenders().find((s) => s.track?.kind === "video")?.track.getSettings().deviceId ?? "");
  if (sending) assert.equal(lists.cameraValue, sending, "the camera in use is selected");
  // The speaker choice shows where the browser has setSinkId (Firefox since 116) and lists an output.
  assert.equal(lists.speaker, lists.speakers.length > 0 && (await ff.page.evaluate(() => typeof HTMLMediaElement.prototype.setSinkId === "function")));

  // Noise suppression off, then on: each time a new microphone track opened with that constraint.
  // (Firefox's fake microphone does no audio processing: its getSettings() says false throughout, so
  // this reads what the track was opened with, getConstraints().)
  const mic = () =>
    ff.page.evaluate(() => {
      const t = window.parley.session.pc?.getSenders().find((s) => s.track?.kind === "audio")?.track;
      return t && { id: t.id, asked: t.getConstraints().noiseSuppression, settings: t.getSettings().noiseSuppression, state: t.readyState };
    });
  const micNow = await mic();
  console.log(`Firefox's microphone: ${JSON.stringify(micNow)}`);
  assert.equal(micNow.asked, true, "on by default");
  const reopened = (old, on) =>
    ff.page
      .waitForFunction(
        (old, on) => {
          const t = window.parley.session.pc?.getSenders().find((s) => s.track?.kind === "audio")?.track;
          return !!t && t.id !== old && t.readyState === "live" && t.getConstraints().noiseSuppression === on;
        },
        {},
        old,
        on,
      )
      .catch(async (e) => {
        const state = await ff.page.evaluate(() => {
          const t = window.parley.session.pc?.getSenders().find((s) => s.track?.kind === "audio")?.track;
          return { checked: document.querySelector("#settings-noise")?.checked, toasts: window.parleyToasts, track: t && { id: t.id, state: t.readyState, constraints: t.getConstraints(), settings: t.getSettings() } };
        });
        throw new Error(`${e.message}: ${JSON.stringify(state)}`);
      });
  await click(ff.page, "#settings-noise");
  await reopened(micNow.id, false);
  assert.equal(await ff.page.evaluate(() => localStorage.getItem("parley.noiseSuppression")), "off");
  const micOff = await mic();
  await click(ff.page, "#settings-noise");
  await reopened(micOff.id, true);
  assert.equal(await ff.page.evaluate(() => localStorage.getItem("parley.noiseSuppression")), null);

  // A new name, applied with Enter.
  await ff.page.$eval("#settings-name", (el) => (el.value = ""));
  await ff.page.type("#settings-name", "Fox Mulder");
  await ff.page.keyboard.press("Enter");
  await ch.page.waitForFunction(() => [...document.querySelectorAll("#grid .tile .tile-name-text")].some((n) => n.textContent === "Fox Mulder"));
  await screenshot(ff.page, "firefox-settings");
  await click(ff.page, "#settings-close");
  await ff.page.waitForSelector("#settings", { hidden: true });
  await done(ff, ch);
});

test("Firefox on a phone, in German (?lang=de): one toolbar row, the people count, the More sheet raises the hand", { timeout: 6 * WAIT, skip }, async () => {
  const url = `${BASE}/${ROOM}Phone`;
  const { ff, ch } = await joinBoth(browsers, {
    firefox: { url: `${url}?lang=de${skipPrejoin("Fuchs")}`, viewport: { width: 390, height: 844 } },
    chromium: { url: url + skipPrejoin("Chrome", { audioMuted: true }) },
  });
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
  await click(ff.page, "#more-toggle");
  await ff.page.waitForSelector("#toolbar-more.open #hand-toggle", { visible: true });
  assert.equal(await ff.page.$eval("#hand-toggle", (b) => b.getAttribute("aria-label")), "Hand heben");
  await screenshot(ff.page, "firefox-phone-german-more");
  await click(ff.page, "#toolbar-more #hand-toggle");
  await ff.page.waitForSelector("#toolbar-more", { hidden: true });
  await ch.page.waitForSelector("#grid .tile .tile-hand");
  await done(ff, ch);
});

test("Firefox whose language is German (intl.accept_languages) gets German words; a long room name wraps between its words on a phone", { timeout: 6 * WAIT, skip }, async () => {
  // A Firefox of its own: navigator.languages comes from a preference, read at start.
  const german = await launchFirefox({ "intl.accept_languages": "de-DE, de" });
  try {
    const p = await firefoxParticipant(german, { viewport: { width: 390, height: 844 } });
    const room = `ThirstyHorsesDanceQuicklyTogether${ROOM}`;
    await p.page.goto(`${BASE}/${room}`);
    await p.page.waitForSelector("#prejoin");
    assert.deepEqual(await p.page.evaluate(() => navigator.languages), ["de-DE", "de"]);
    assert.equal(await p.page.evaluate(() => document.documentElement.lang), "de");
    assert.equal(await p.page.$eval("#join", (b) => b.textContent), "Besprechung beitreten");
    assert.equal(await p.page.$eval('label[for="display-name"]', (l) => l.textContent), "Ihr Name");
    // The room name wraps between its words.
    await assertRoomNameWraps(p.page, room);
    await screenshot(p.page, "firefox-german-phone-prejoin");
    // In the meeting too.
    await p.page.$eval("#display-name", (el) => (el.value = ""));
    await p.page.type("#display-name", "Grete");
    await click(p.page, "#join");
    await p.page.waitForFunction(() => document.getElementById("participant-count")?.textContent === "1 Person");
    assert.equal(await p.page.$eval("#leave", (b) => b.getAttribute("aria-label")), "Besprechung verlassen");
    await done(p);
  } finally {
    await german.close();
  }
});

// A share starts with getDisplayMedia, a local renegotiation and the focus's answer to the
// source-add, and then the first frames: the waits for it get twice the usual time.

/** Waits until a Firefox page's stage shows the playing video of screen source src. */
function ffStagePlays(page, src) {
  return page.waitForFunction((src) => {
    const v = document.querySelector(`#grid.stage-view .tile.on-stage[data-id="${src}"] video`);
    return !!v && v.videoWidth > 0 && !v.paused;
  }, { timeout: 2 * WAIT }, src);
}

test("Firefox: a screen share takes the stage and, once it ends, the layout the user had comes back; Firefox shares (a stand-in capture, see above)", { timeout: 10 * WAIT, skip }, async () => {
  const { ff, ch, ffId, chId } = await meeting("Share");
  const chScreen = `${chId}-v1`;
  await ff.page.waitForSelector("#grid:not(.stage-view)");

  // 1. Chrome shares (Chromium's fake screen): Firefox's grid becomes the stage with the share playing on it; when it ends, the grid comes back.
  await ch.page.click("#share-toggle");
  await ch.page.waitForSelector('#share-toggle[aria-pressed="true"]', { timeout: 2 * WAIT });
  await ffStagePlays(ff.page, chScreen);
  assert.equal(await ff.page.$eval(`#grid .tile[data-id="${chScreen}"] .tile-name-text`, (e) => e.textContent), "Chrome's screen");
  await screenshot(ff.page, "chromium-screen-on-stage");
  await ch.page.click("#share-toggle");
  await ff.page.waitForSelector(`#grid .tile[data-id="${chScreen}"]`, { hidden: true });
  await ff.page.waitForSelector("#grid:not(.stage-view)");

  // 2. The same from the stage view (W): the stage view stays, with nothing pinned.
  await focusGrid(ff.page);
  await ff.page.keyboard.press("w");
  await ff.page.waitForSelector("#grid.stage-view");
  await ch.page.click("#share-toggle");
  await ffStagePlays(ff.page, chScreen);
  await ch.page.click("#share-toggle");
  await ff.page.waitForSelector(`#grid .tile[data-id="${chScreen}"]`, { hidden: true });
  await ff.page.waitForSelector(`#grid.stage-view .tile.on-stage[data-id="${chId}"]`);
  assert.equal((await ff.page.$$("#grid .tile .tile-pin")).length, 0, "nothing left pinned");
  await ff.page.keyboard.press("w");
  await ff.page.waitForSelector("#grid:not(.stage-view)");

  // 3. Firefox's own getDisplayMedia, headless: nothing to capture, said in the client's words, not the browser's.
  await focusGrid(ff.page);
  await ff.page.keyboard.press("d");
  await ffToast(ff.page, "There is no screen or window to share.");
  assert.equal(await ff.page.$eval("#share-toggle", (b) => b.getAttribute("aria-pressed")), "false");
  const said = await ff.page.evaluate(() => window.parleyToasts.join(" | "));
  assert.doesNotMatch(said, /can not be found|NotFoundError/, "the browser's own text stays in the console");

  // 4. A stand-in for the capture: Firefox's fake camera, played in a video element and captured from
  // it (mozCaptureStream). Chrome's grid becomes the stage with Fox's screen playing. Then the
  // browser's own "Stop sharing": the camera stops, so the captured track ends and Firefox fires
  // "ended" on it itself (an "ended" a page dispatches reaches no listener Firefox's MediaStreamTrack
  // got from addEventListener: it delivers untrusted events to its on* handlers only). Chrome's grid
  // comes back.
  await ff.page.evaluate(() => {
    navigator.mediaDevices.getDisplayMedia = async () => {
      const camera = await navigator.mediaDevices.getUserMedia({ video: true });
      const v = document.createElement("video");
      v.muted = true;
      v.srcObject = camera;
      await v.play();
      window.stopCapture = () => camera.getTracks().forEach((t) => t.stop());
      return (v.captureStream ?? v.mozCaptureStream).call(v);
    };
  });
  const ffScreen = `${ffId}-v1`;
  await focusGrid(ff.page);
  await ff.page.keyboard.press("d");
  await ff.page.waitForSelector('#share-toggle[aria-pressed="true"]', { timeout: 2 * WAIT });
  await ch.page.waitForFunction((src) => {
    const v = document.querySelector(`#grid.stage-view .tile.on-stage[data-id="${src}"] video`);
    return !!v && v.videoWidth > 0 && !v.paused;
  }, ffScreen, { timeout: 2 * WAIT });
  assert.equal(await ch.page.locator(`#grid .tile[data-id="${ffScreen}"] .tile-name-text`).textContent(), "Fox's screen");
  await screenshot(ch.page, "firefox-screen-on-stage");
  await ff.page.evaluate(() => window.stopCapture());
  await ff.page.waitForSelector('#share-toggle[aria-pressed="false"]');
  await ch.page.waitForSelector(`#grid .tile[data-id="${ffScreen}"]`, { state: "detached" });
  await ch.page.waitForSelector("#grid:not(.stage-view)");
  await done(ff, ch);
});
