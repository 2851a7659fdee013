// The meeting's shared features with three participants through the bridge:
// a moderator asking someone to mute (through the focus, dialect §4.7) and
// removing someone from the tile menu, the bridge's active speaker
// highlighted, screen share as a second video source (`<endpoint>-v1`,
// source-add/-remove) played on the others' stage, and the
// ReceiverVideoConstraints that follow the tiles, which the bridge obeys by
// sending each tile the simulcast layer it asks for. Chromium's fake devices
// give every participant the same camera and the same microphone (a
// recording of tone bursts the bridge's speech detection takes for a
// talker; the default beep is too short), and with
// --use-fake-ui-for-media-stream getDisplayMedia returns a fake screen
// without a picker. Every step leaves a screenshot in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join, launch, participant, roomName, screenshot, WAIT, waitTiles, waitToast, writeSpeechWAV } from "./lib/browser.js";

let browser;
before(async () => {
  // Everyone "talks" (the same recording); muting all but one makes that one the speaker.
  browser = await launch({ audioFile: writeSpeechWAV() });
});
after(async () => {
  await browser?.close();
});

/** Frames decoded of the remote track `what` ("video" or "desktop") of endpoint `owner`, or -1 if there is none. */
function framesOf(page, owner, what) {
  return page.evaluate(
    async ([owner, what]) => {
      const s = window.parley.session;
      const track = s.remotes.get(owner)?.[what];
      if (!s.pc || !track) return -1;
      const mid = s.pc.getTransceivers().find((t) => t.receiver.track === track)?.mid;
      let frames = -1;
      (await s.pc.getStats()).forEach((st) => {
        if (st.type === "inbound-rtp" && st.kind === "video" && (st.mid === mid || st.trackIdentifier === track.id)) frames = st.framesDecoded ?? 0;
      });
      return frames;
    },
    [owner, what],
  );
}

/** Waits until fn() resolves to a truthy value; returns it. */
async function until(what, fn, ms = 2 * WAIT) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out: ${what} (last: ${JSON.stringify(last)})`);
}

/** Waits until a page decodes frames of a remote track, and more of them a moment later. */
async function waitDecoding(page, label, owner, what) {
  const first = await until(`${label}: ${what} of ${owner} decoding`, async () => {
    const f = await framesOf(page, owner, what);
    return f > 0 ? f : 0;
  });
  await until(`${label}: ${what} of ${owner} keeps decoding`, async () => (await framesOf(page, owner, what)) > first + 10);
}

/** The height of the frames a page shows in a tile (0 before any). */
function videoHeight(page, id) {
  return page.evaluate((id) => document.querySelector(`#grid .tile[data-id="${id}"] video`)?.videoHeight ?? 0, id);
}

/** Whether a page's remote screen tile for `source` shows a playing video. */
function screenPlaying(page, source) {
  return page.waitForFunction((src) => {
    const v = document.querySelector(`#grid .tile[data-id="${src}"] video`);
    return !!v && v.videoWidth > 0 && !v.paused;
  }, source);
}

test("ask to mute, the active speaker, screen share on stage, constraints", { timeout: 20 * WAIT }, async () => {
  const room = roomName("Share");
  const names = ["Ada", "Grace", "Linus"];
  const ps = [];
  for (const n of names) {
    const p = await participant(browser, { viewport: { width: 1000, height: 640 } });
    p.page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") console.log(`[${n}] ${m.type()}: ${m.text()}`);
    });
    await join(p, room, n);
    ps.push(p);
  }
  const [ada, grace, linus] = ps;
  const ids = [];
  for (const [i, p] of ps.entries()) {
    await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
    ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  }
  const [adaId, graceId, linusId] = ids;
  // Everyone's media flows; the audio we send keeps the audio-level header extension (id 1) the bridge reads.
  for (const [i, p] of ps.entries()) {
    for (const [j, other] of ids.entries()) if (j !== i) await waitDecoding(p.page, names[i], other, "video");
    const sdp = await p.page.evaluate(() => window.parley.session.pc.localDescription.sdp);
    const audio = sdp.split("m=").find((m) => m.startsWith("audio") && /a=(sendrecv|sendonly)/.test(m));
    assert.match(audio, /a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level/, `${names[i]}'s answer`);
  }
  assert.equal(await ada.page.evaluate(() => window.parley.conference.isModerator), true, "the first to join moderates");

  // 1. Ada (moderator) asks Grace to mute through her tile's menu, with the keyboard.
  await ada.page.focus(`#grid .tile[data-id="${graceId}"] .tile-menu-button`);
  await ada.page.keyboard.press("Enter");
  await ada.page.waitForSelector(`#grid .tile[data-id="${graceId}"] .tile-menu:not([hidden])`);
  await ada.page.waitForFunction(() => document.activeElement?.dataset.action === "pin");
  await ada.page.keyboard.press("ArrowDown");
  await ada.page.waitForFunction(() => document.activeElement?.dataset.action === "mute-audio");
  // The focus's mute is obeyed at once: the item says "Mute", not "Ask to mute".
  assert.equal((await ada.page.locator(`#grid .tile[data-id="${graceId}"] .tile-menu [data-action="mute-audio"]`).textContent()).trim(), "Mute");
  assert.equal(await ada.page.locator(`#grid .tile[data-id="${graceId}"] .tile-menu [data-action="kick"]`).count(), 1);
  await screenshot(ada.page, "tile-menu");
  await ada.page.keyboard.press("Enter");
  await waitToast(ada.page, "You muted Grace");
  await grace.page.waitForFunction(() => window.parley.conference.local.audioMuted);
  await waitToast(grace.page, "You were muted by Ada");
  await grace.page.waitForSelector("#mic-toggle.btn-off");
  await screenshot(grace.page, "muted-by-ada");
  for (const p of [ada, linus]) await p.page.waitForSelector(`#grid .tile[data-id="${graceId}"] .tile-muted`);
  await screenshot(linus.page, "grace-muted");
  // Linus is no moderator: the menu offers no mute and no removal, and the focus refuses him.
  await linus.page.click(`#grid .tile[data-id="${adaId}"] .tile-menu-button`);
  await linus.page.waitForSelector(`#grid .tile[data-id="${adaId}"] .tile-menu:not([hidden])`);
  assert.equal(await linus.page.locator(`#grid .tile[data-id="${adaId}"] [data-action="mute-audio"]`).count(), 0);
  assert.equal(await linus.page.locator(`#grid .tile[data-id="${adaId}"] [data-action="kick"]`).count(), 0);
  await linus.page.keyboard.press("Escape");
  await linus.page.waitForSelector(`#grid .tile[data-id="${adaId}"] .tile-menu`, { state: "hidden" });
  await linus.page.waitForFunction((id) => document.activeElement?.matches(`.tile[data-id="${id}"] .tile-menu-button`), adaId);
  const refused = await linus.page.evaluate((id) => window.parley.conference.askToMute(id, "audio").then(() => "", (e) => e.message), adaId);
  assert.match(refused, /^(Could not mute Ada: .+|Only moderators can mute others)\.$/);
  assert.equal(await ada.page.evaluate(() => window.parley.conference.local.audioMuted), false);

  // 2. Linus mutes himself too: Ada alone makes sound, and the bridge names her the speaker.
  await linus.page.keyboard.press("m");
  await linus.page.waitForSelector("#mic-toggle.btn-off");
  for (const p of [grace, linus]) await p.page.waitForSelector(`#grid .tile.speaking[data-id="${adaId}"]`, { timeout: 3 * WAIT });
  assert.equal(await grace.page.locator("#grid .tile.speaking").count(), 1);
  await screenshot(grace.page, "ada-speaking");
  // The stage view puts the speaker on the big tile.
  await grace.page.keyboard.press("w");
  await grace.page.waitForSelector(`#grid.stage-view .tile.on-stage[data-id="${adaId}"]`);
  await screenshot(grace.page, "stage-speaker");
  // The bridge sends each receiver the simulcast layer its tiles ask for: Ada's camera on the stage
  // comes in a taller layer than the thumbnails' 180 (Chromium sends 180/360/720 of its 720p camera,
  // as many as its bandwidth and CPU allow).
  await until("Grace gets a stage-sized layer of Ada's camera", async () => {
    const h = await videoHeight(grace.page, adaId);
    return h > 180 ? h : 0;
  }, 4 * WAIT);
  await grace.page.keyboard.press("w");
  await grace.page.waitForSelector("#grid:not(.stage-view)");

  // 3. Ada shares her screen from the toolbar: a second video source, on the others' stage.
  const adaScreen = `${adaId}-v1`;
  await ada.page.click("#share-toggle");
  await ada.page.waitForSelector('#share-toggle[aria-pressed="true"]');
  await ada.page.waitForSelector(`#grid .tile[data-id="${adaScreen}"] video`);
  for (const [i, p] of [[1, grace], [2, linus]]) {
    await p.page.waitForSelector(`#grid.stage-view .tile.on-stage[data-id="${adaScreen}"]`);
    await screenPlaying(p.page, adaScreen);
    await waitDecoding(p.page, names[i], adaId, "desktop");
    await waitDecoding(p.page, names[i], adaId, "video"); // her camera goes on beside it
    assert.equal(await p.page.locator(`#grid .tile[data-id="${adaScreen}"] .tile-name-text`).textContent(), "Ada's screen");
  }
  await screenshot(grace.page, "ada-screen-on-stage");
  await screenshot(ada.page, "ada-sharing");
  // The bridge is asked for the stage's screen at 720 and for the filmstrip's thumbnails.
  const c = await until("Grace's constraints name the stage", () =>
    grace.page.evaluate((src) => {
      const v = window.parley.session.videoConstraints;
      return v.onStageSources.includes(src) ? v : null;
    }, adaScreen),
  );
  assert.equal(c.constraints[adaScreen].maxHeight, 720);
  assert.ok(c.constraints[`${adaId}-v0`].maxHeight <= 360, JSON.stringify(c));
  assert.equal(c.defaultConstraints.maxHeight, 180);
  // Ada's camera, now a thumbnail, drops to a layer within its constraint.
  const thumbMax = c.constraints[`${adaId}-v0`].maxHeight;
  await until(`Grace gets Ada's camera in a layer no taller than ${thumbMax}`, async () => {
    const h = await videoHeight(grace.page, adaId);
    return h > 0 && h <= thumbMax && h;
  });
  // Nobody has her camera on stage now, so the bridge tells her (SenderSourceConstraints) and her
  // browser stops encoding the 720p layer; the lower ones go on.
  await until("Ada stops encoding her camera's top layer", () =>
    ada.page.evaluate(() => {
      const active = window.parley.session.senders.video.getParameters().encodings.map((e) => e.active);
      return active.length === 3 && active[0] && !active[2];
    }),
  );

  // Ada stops from the toolbar: the screen tile goes away everywhere.
  await ada.page.click("#share-toggle");
  for (const p of ps) await p.page.waitForSelector(`#grid .tile[data-id="${adaScreen}"]`, { state: "detached" });
  await screenshot(grace.page, "ada-stopped");

  // 4. Grace shares with the keyboard (D); the browser's own "Stop sharing" ends it.
  const graceScreen = `${graceId}-v1`;
  await grace.page.locator("#grid").click({ position: { x: 2, y: 2 } }); // a user gesture on the page, focus off the toolbar
  await grace.page.keyboard.press("d");
  await grace.page.waitForSelector('#share-toggle[aria-pressed="true"]');
  for (const [i, p] of [[0, ada], [2, linus]]) {
    await p.page.waitForSelector(`#grid .tile.on-stage[data-id="${graceScreen}"]`);
    await waitDecoding(p.page, names[i], graceId, "desktop");
  }
  await screenshot(ada.page, "grace-screen-on-stage");
  await grace.page.evaluate(() => {
    const track = document.querySelector("#grid video.tile-screen").srcObject.getVideoTracks()[0];
    track.stop(); // what the browser does, then it says so with "ended"
    track.dispatchEvent(new Event("ended"));
  });
  await grace.page.waitForSelector('#share-toggle[aria-pressed="false"]');
  for (const p of ps) await p.page.waitForSelector(`#grid .tile[data-id="${graceScreen}"]`, { state: "detached" });
  await screenshot(ada.page, "grace-stopped");

  // A second share reuses the m-line: frames flow again.
  await ada.page.click("#share-toggle");
  await linus.page.waitForSelector(`#grid .tile.on-stage[data-id="${adaScreen}"]`);
  await waitDecoding(linus.page, "Linus", adaId, "desktop");
  await screenshot(linus.page, "ada-shares-again");
  await ada.page.click("#share-toggle");
  await linus.page.waitForSelector(`#grid .tile[data-id="${adaScreen}"]`, { state: "detached" });

  // 5. Ada removes Linus from his tile's menu: he is told why, and his tile goes away.
  await ada.page.click(`#grid .tile[data-id="${linusId}"] .tile-menu-button`);
  await ada.page.click(`#grid .tile[data-id="${linusId}"] .tile-menu [data-action="kick"]`);
  await ada.page.fill("#kick-dialog input", "wrong room");
  // Removing is not a ban: the dialog says how they can come back; its button looks dangerous, as Leave does.
  assert.match(await ada.page.locator("#kick-dialog").textContent(), /not a ban: they can join again with the meeting link/);
  assert.match(await ada.page.locator('#kick-dialog button[type="submit"]').getAttribute("class"), /\bbtn-danger\b/);
  await screenshot(ada.page, "remove-dialog");
  await ada.page.click('#kick-dialog button[type="submit"]');
  await linus.page.waitForSelector('#kicked:has-text("wrong room")');
  await screenshot(linus.page, "removed-from-tile-menu");
  for (const p of [ada, grace]) await p.page.waitForSelector(`#grid .tile[data-id="${linusId}"]`, { state: "detached" });

  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});
