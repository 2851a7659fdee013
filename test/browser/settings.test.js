// The settings dialog in headless Chromium with fake cameras: switching
// the camera keeps video flowing to the others, switching the microphone
// keeps it muted, noise suppression toggles the track's setting, a new
// display name reaches the others' tiles, and the video quality "low" caps
// what the bridge is asked to send (the page's ReceiverVideoConstraints and
// the bridge's own view of this receiver, GET /debug/bridge). Every choice
// is remembered in localStorage. Screenshots at desktop and phone widths.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_FLAGS, join, participant, roomName, screenshot, WAIT, waitTiles } from "./lib/browser.js";

let browser;
before(async () => {
  // Two fake cameras, so that switching has somewhere to go.
  // Three fake cameras: Chromium's second one sends Y16 frames (a depth camera's), which its video
  // encoder does not take (the self view plays, nothing is encoded); the tests switch between the
  // first and the third.
  const flags = CHROMIUM_FLAGS.map((f) => (f === "--use-fake-device-for-media-stream" ? "--use-fake-device-for-media-stream=device-count=3" : f));
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: flags, timeout: WAIT });
});
after(async () => {
  await browser?.close();
});

/** The track a page sends of a kind (its camera or microphone sender's), as { id, enabled, deviceId, noiseSuppression, state }. */
function sent(page, kind) {
  return page.evaluate((kind) => {
    const s = window.parley.session.pc?.getSenders().find((x) => x.track?.kind === kind);
    if (!s) return null;
    const st = s.track.getSettings();
    return { id: s.track.id, enabled: s.track.enabled, deviceId: st.deviceId, noiseSuppression: st.noiseSuppression, state: s.track.readyState };
  }, kind);
}

/**
 * Waits until fn(arg), evaluated in the page, is truthy. fn may be async (getStats is):
 * Playwright's waitForFunction would take the Promise it returns for a truthy answer and return
 * at once, so this asks again every 100 ms.
 */
async function until(page, what, fn, arg) {
  const deadline = Date.now() + 2 * WAIT;
  while (!(await page.evaluate(fn, arg))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${2 * WAIT} ms`);
    await page.waitForTimeout(100);
  }
}

/** Waits until the page's camera sender has encoded `more` frames beyond what it had. */
async function waitEncoding(page, more = 15) {
  const frames = () =>
    page.evaluate(async () => {
      const s = window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "video");
      let n = 0;
      if (s) (await s.getStats()).forEach((r) => r.type === "outbound-rtp" && (n += r.framesEncoded ?? 0));
      return n;
    });
  const start = await frames();
  await until(
    page,
    `${more} more frames encoded`,
    async (want) => {
      const s = window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "video");
      let n = 0;
      if (s) (await s.getStats()).forEach((r) => r.type === "outbound-rtp" && (n += r.framesEncoded ?? 0));
      return n >= want;
    },
    start + more,
  );
}

/** Video frames a page has decoded, from everyone (here: the one other participant). */
function decoded(page) {
  return page.evaluate(async () => {
    let n = 0;
    (await window.parley.session.pc.getStats()).forEach((r) => r.type === "inbound-rtp" && r.kind === "video" && (n += r.framesDecoded ?? 0));
    return n;
  });
}

/** Waits until `page` has decoded `more` new video frames and shows a playing video on endpoint id's tile. */
async function waitShowing(page, id, more = 15) {
  const start = await decoded(page);
  await until(
    page,
    `${more} more frames decoded and ${id}'s video playing`,
    async ([id, want]) => {
      const v = document.querySelector(`#grid .tile[data-id="${id}"] video`);
      let n = 0;
      (await window.parley.session.pc.getStats()).forEach((r) => r.type === "inbound-rtp" && r.kind === "video" && (n += r.framesDecoded ?? 0));
      return n >= want && !!v && v.videoWidth > 0 && !v.paused;
    },
    [id, start + more],
  );
}

/** This page's receiver in the bridge's debug state: its video slots that carry a source. */
async function bridgeSlots(page) {
  const id = await page.evaluate(() => window.parley.conference.endpointId);
  const d = await page.evaluate(async () => (await fetch("/debug/bridge")).json());
  const ep = d.conferences.flatMap((c) => c.endpoints).find((e) => e.id === id);
  return (ep?.videoSlots ?? []).filter((s) => s.source);
}

/** Waits until fn(this page's bridge slots) holds; polls the debug state (a server's view, no event to wait on). */
async function waitSlots(page, what, fn) {
  const deadline = Date.now() + 2 * WAIT;
  let slots;
  while (Date.now() < deadline) {
    slots = await bridgeSlots(page);
    if (fn(slots)) return slots;
    await page.waitForTimeout(200);
  }
  throw new Error(`${what}: ${JSON.stringify(slots)}`);
}

/** Frames the page's camera has encoded in the outbound stream `id` (getStats), or, without id, the id of its smallest layer. */
function encoded(page, id) {
  return page.evaluate(async (id) => {
    const stats = await window.parley.session.pc.getStats();
    if (id) return stats.get(id)?.framesEncoded ?? 0;
    let best = null;
    stats.forEach((r) => r.type === "outbound-rtp" && r.kind === "video" && r.frameHeight > 0 && (!best || r.frameHeight < best.frameHeight) && (best = r));
    return best?.id ?? null;
  }, id);
}

/**
 * The share of the frames `sender` encodes in its smallest layer that
 * `receiver` decodes while the sender encodes `n` more (the receiver gets
 * that layer, here, at "low").
 */
async function decodedShare(receiver, sender, n = 60) {
  const id = await encoded(sender, null);
  assert.ok(id, "the sender encodes no layer");
  const [d0, e0] = [await decoded(receiver), await encoded(sender, id)];
  await until(sender, `${n} more frames encoded in ${id}`, async ([id, want]) => ((await window.parley.session.pc.getStats()).get(id)?.framesEncoded ?? 0) >= want, [id, e0 + n]);
  const [d1, e1] = [await decoded(receiver), await encoded(sender, id)];
  return (d1 - d0) / (e1 - e0);
}

const pref = (page, key) => page.evaluate((k) => localStorage.getItem(`parley.${k}`), key);

test("settings: camera, microphone, noise suppression, name and video quality during the meeting", { timeout: 16 * WAIT }, async (t) => {
  const room = roomName("Settings");
  const [ada, bob] = [await participant(browser), await participant(browser)];
  await join(ada, room, "Ada");
  await join(bob, room, "Bob");
  await waitTiles(ada.page, ["Ada (you)", "Bob"]);
  await waitTiles(bob.page, ["Ada", "Bob (you)"]);
  const adaId = await ada.page.evaluate(() => window.parley.conference.endpointId);
  const bobId = await bob.page.evaluate(() => window.parley.conference.endpointId);
  await waitShowing(bob.page, adaId);

  // S opens the dialog; it lists the devices by their labels.
  await ada.page.locator("#grid").click({ position: { x: 2, y: 2 } });
  await ada.page.keyboard.press("s");
  await ada.page.waitForSelector("#settings[open]");
  await ada.page.waitForFunction(() => document.querySelectorAll("#settings-camera option[value]:not([value=''])").length > 0);
  const cameras = await ada.page.$$eval("#settings-camera option", (os) => os.map((o) => ({ value: o.value, label: o.textContent })));
  const mics = await ada.page.$$eval("#settings-mic option", (os) => os.map((o) => ({ value: o.value, label: o.textContent })));
  assert.ok(cameras.length >= 1 && cameras.every((c) => c.value && c.label), `cameras ${JSON.stringify(cameras)}`);
  assert.ok(mics.length >= 1 && mics.every((c) => c.value && c.label), `microphones ${JSON.stringify(mics)}`);
  t.diagnostic(`${cameras.length} cameras, ${mics.length} microphones`);
  const before = await sent(ada.page, "video");
  assert.equal(await ada.page.inputValue("#settings-camera"), before.deviceId, "the camera in use is selected");
  // Chromium has setSinkId and lists its fake outputs (a default and two more): the speaker choice is there, and Bob's audio plays on the output chosen.
  const outputs = await ada.page.$$eval("#settings-speaker option", (os) => os.map((o) => o.value).filter((v) => v));
  assert.ok(outputs.length > 1, `Chromium's fake outputs: ${JSON.stringify(outputs)}`);
  assert.equal(await ada.page.locator("#settings-speaker-field").isVisible(), true);
  await screenshot(ada.page, "dialog");
  const out = outputs.find((v) => v !== "default");
  await ada.page.waitForSelector(`#remote-audio audio[data-id="${bobId}"]`, { state: "attached" });
  await ada.page.selectOption("#settings-speaker", out);
  await ada.page.waitForFunction((out) => [...document.querySelectorAll("#remote-audio audio")].every((a) => a.sinkId === out), out);
  assert.equal(await pref(ada.page, "device.audiooutput"), out);

  // 1. Another camera (the other one when there are two; else the same one chosen again): video keeps flowing.
  const other = cameras.find((c, i) => i !== 1 && c.value !== before.deviceId) ?? cameras[0];
  await ada.page.selectOption("#settings-camera", other.value);
  await ada.page.waitForFunction(
    ([dev, old]) => {
      const t = window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "video")?.track;
      return !!t && t.id !== old && t.readyState === "live" && t.getSettings().deviceId === dev;
    },
    [other.value, before.id],
  );
  await waitEncoding(ada.page);
  await waitShowing(bob.page, adaId);
  assert.equal(await pref(ada.page, "device.videoinput"), other.value);
  // The self view shows the new camera.
  await ada.page.waitForFunction(([id, dev]) => document.querySelector(`#grid .tile[data-id="${id}"] video.mirror`)?.srcObject?.getVideoTracks()[0]?.getSettings().deviceId === dev, [adaId, other.value]);

  // 1b. With the camera off, a choice is only remembered, and used when the camera comes back on.
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("#settings", { state: "detached" });
  if (cameras.length > 1) {
    await ada.page.keyboard.press("v");
    await ada.page.waitForSelector("#cam-toggle.btn-off");
    await ada.page.click("#settings-toggle");
    await ada.page.waitForSelector("#settings[open]");
    await ada.page.selectOption("#settings-camera", before.deviceId);
    assert.equal(await pref(ada.page, "device.videoinput"), before.deviceId);
    assert.equal((await sent(ada.page, "video")), null, "no camera while it is off");
    await ada.page.keyboard.press("Escape");
    await ada.page.waitForSelector("#settings", { state: "detached" });
    await ada.page.keyboard.press("v");
    await ada.page.waitForFunction((dev) => window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "video")?.track.getSettings().deviceId === dev, before.deviceId);
    await waitShowing(bob.page, adaId);
  }

  // 2. Muted, another microphone: the new track goes out still muted.
  await ada.page.keyboard.press("m");
  await ada.page.waitForSelector("#mic-toggle.btn-off");
  await ada.page.click("#settings-toggle");
  await ada.page.waitForSelector("#settings[open]");
  const micBefore = await sent(ada.page, "audio");
  assert.equal(micBefore.enabled, false);
  const otherMic = mics.find((c) => c.value !== micBefore.deviceId) ?? mics[0];
  await ada.page.selectOption("#settings-mic", otherMic.value);
  await ada.page.waitForFunction((old) => {
    const t = window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "audio")?.track;
    return !!t && t.id !== old && t.readyState === "live";
  }, micBefore.id);
  const micAfter = await sent(ada.page, "audio");
  assert.equal(micAfter.enabled, false, "still muted");
  assert.equal(await ada.page.evaluate(() => window.parley.conference.local.audioMuted), true);
  await bob.page.waitForFunction((id) => window.parley.conference.participants.get(id)?.audioMuted === true, adaId);

  // 3. Noise suppression off, then on: each time a new microphone track with that setting.
  assert.equal(micAfter.noiseSuppression, true, "on by default");
  await ada.page.uncheck("#settings-noise");
  await ada.page.waitForFunction(() => window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "audio")?.track.getSettings().noiseSuppression === false);
  assert.equal(await pref(ada.page, "noiseSuppression"), "off");
  assert.equal((await sent(ada.page, "audio")).enabled, false, "still muted");
  await ada.page.check("#settings-noise");
  await ada.page.waitForFunction(() => window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "audio")?.track.getSettings().noiseSuppression === true);
  assert.equal(await pref(ada.page, "noiseSuppression"), null);

  // 4. A new name: Bob's tile shows it.
  await ada.page.fill("#settings-name", "Ada Byron");
  await ada.page.press("#settings-name", "Enter");
  await waitTiles(bob.page, ["Ada Byron", "Bob (you)"]);
  await waitTiles(ada.page, ["Ada Byron (you)", "Bob"]);
  assert.equal(await pref(ada.page, "displayName"), "Ada Byron");
  assert.equal(await ada.page.locator("#settings[open]").count(), 1, "Enter does not close the dialog");

  // 5. Video quality: "high" asks Bob's camera taller than a thumbnail; "low" caps every ask at 180 and 15 fps, here and at the bridge.
  const slotOfBob = (slots) => slots.find((s) => s.source === `${bobId}-v0`);
  await waitSlots(ada.page, "the bridge has Bob's camera on one of Ada's slots, taller than 180", (slots) => slotOfBob(slots)?.maxHeight > 180);
  await ada.page.click('label[for="quality-low"]');
  await ada.page.waitForFunction(() => {
    const c = window.parley.session.videoConstraints;
    return c.defaultConstraints.maxHeight <= 180 && Object.values(c.constraints).every((x) => x.maxHeight <= 180) && Object.keys(c.constraints).length > 0;
  });
  await waitSlots(ada.page, "every slot of Ada's capped at 180", (slots) => slots.length > 0 && slots.every((s) => s.maxHeight <= 180) && slotOfBob(slots)?.maxHeight > 0);
  // "low" is also 15 frames a second: the bridge leaves out the top temporal layer of Bob's encodings
  // (Chromium sends three), and Ada decodes about half the frames Bob encodes.
  await waitSlots(ada.page, "Bob's 180p at 15 fps at most for Ada", (slots) => slotOfBob(slots)?.fpsTemporal === 1 && slotOfBob(slots)?.layer === 0);
  await waitShowing(ada.page, bobId); // the switch to that layer waited for its key frame: Ada decodes it now
  const low = await decodedShare(ada.page, bob.page);
  assert.ok(low > 0.3 && low < 0.7, `at "low" Ada decoded ${(100 * low).toFixed(0)}% of the 60 frames Bob's smallest layer encoded, want about half`);
  t.diagnostic(`at "low" Ada decoded ${(100 * low).toFixed(0)}% of the 60 frames Bob's smallest layer encoded`);
  assert.equal(await pref(ada.page, "videoQuality"), "low");
  await screenshot(ada.page, "quality-low");
  await ada.page.click('label[for="quality-high"]');
  await waitSlots(ada.page, "Bob's camera taller than 180 again", (slots) => slotOfBob(slots)?.maxHeight > 180 && slotOfBob(slots)?.fpsTemporal === 2);
  assert.equal(await pref(ada.page, "videoQuality"), null);

  await ada.page.click("#settings-close");
  await ada.page.waitForSelector("#settings", { state: "detached" });
  for (const p of [ada, bob]) assert.deepEqual(p.errors, []);
  for (const p of [ada, bob]) await p.context.close();
});

test("settings: remembered on the next visit, and the dialog at phone width", { timeout: 8 * WAIT }, async () => {
  const room = roomName("Again");
  const p = await participant(browser, { viewport: { width: 390, height: 844 } });
  await p.page.goto(`${process.env.PARLEY_URL}/`);
  await p.page.evaluate(() => {
    localStorage.setItem("parley.videoQuality", "standard");
    localStorage.setItem("parley.noiseSuppression", "off");
  });
  await join(p, room, "Phil (phone)");
  await p.page.waitForFunction(() => window.parley.session.pc?.getSenders().find((x) => x.track?.kind === "audio")?.track.getSettings().noiseSuppression === false);
  // On a phone the settings are in the toolbar's More sheet.
  await p.page.click("#more-toggle");
  await p.page.click("#toolbar-more #settings-toggle");
  await p.page.waitForSelector("#settings[open]");
  assert.equal(await p.page.isChecked("#quality-standard"), true);
  assert.equal(await p.page.isChecked("#settings-noise"), false);
  assert.equal(await p.page.inputValue("#settings-name"), "Phil (phone)");
  await p.page.waitForFunction(() => document.querySelectorAll("#settings-camera option").length > 0 && !document.querySelector("#settings-camera").disabled);
  await screenshot(p.page, "dialog-phone");
  // The dialog fits the phone's width.
  const box = await p.page.locator("#settings").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `dialog ${JSON.stringify(box)}`);
  assert.deepEqual(p.errors, []);
  await p.context.close();
});
