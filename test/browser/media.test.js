// Media through the bridge: three participants in one room, each sending the
// fake camera (VP8 simulcast) and microphone. Each must see the other two
// videos playing — frames decoded increasing in getStats, on the tiles the
// bridge's sources maps assign them to — and receive their audio.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { WAIT, join, launch, participant, roomName, screenshot, skipPrejoin, waitTiles } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Inbound counters by kind and track, and which tiles show a playing remote video. */
function mediaStats(page) {
  return page.evaluate(async () => {
    const s = window.parley?.session;
    const out = { connected: !!s?.connected, layers: s?.layers ?? 0, sending: 0, widths: [], frames: {}, audio: {}, tiles: [] };
    if (!s?.pc) return out;
    const byTrack = new Map();
    for (const [owner, r] of s.remotes) {
      if (r.video) byTrack.set(r.video.id, owner);
      if (r.audio) byTrack.set(r.audio.id, owner);
    }
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    const stats = await s.pc.getStats();
    stats.forEach((st) => {
      if (st.type === "outbound-rtp" && st.kind === "video" && st.framesEncoded > 0) {
        out.sending++;
        out.widths.push(st.frameWidth);
      }
      if (st.type !== "inbound-rtp") return;
      const owner = byTrack.get(mids.get(st.mid) ?? st.trackIdentifier);
      if (!owner) return;
      if (st.kind === "video") out.frames[owner] = st.framesDecoded ?? 0;
      if (st.kind === "audio") out.audio[owner] = st.packetsReceived ?? 0;
    });
    for (const v of document.querySelectorAll("#grid .tile video.remote-video")) {
      if (v.videoWidth > 0 && !v.paused) out.tiles.push(v.dataset.id);
    }
    out.tiles.sort();
    return out;
  });
}

/** Polls the bridge's debug state (from the page: same origin, loopback) until fn returns a truthy value. */
async function waitBridge(page, what, fn) {
  const deadline = Date.now() + 2 * WAIT;
  let d;
  while (Date.now() < deadline) {
    d = await page.evaluate(async () => (await fetch("/debug/bridge")).json());
    const v = fn(d);
    if (v) return v;
    await page.waitForTimeout(250);
  }
  throw new Error(`${what}: ${JSON.stringify(d)}`);
}

/** Waits until fn(stats) holds for this page; returns the last stats. */
async function waitStats(page, what, fn) {
  const deadline = Date.now() + 2 * WAIT;
  let st;
  while (Date.now() < deadline) {
    st = await mediaStats(page);
    if (fn(st)) return st;
    await page.waitForTimeout(250);
  }
  throw new Error(`${what}: ${JSON.stringify(st)}`);
}

/**
 * Waits until a page plays exactly these remote participants' videos on
 * their tiles and receives their audio, with frames decoded and audio
 * packets still increasing a moment later; returns the first stats.
 */
async function waitPlaying(page, label, others) {
  others = [...others].sort();
  const first = await waitStats(
    page,
    `${label}: remote videos playing and audio received`,
    (s) => s.connected && JSON.stringify(s.tiles) === JSON.stringify(others) && others.every((o) => s.frames[o] > 0 && s.audio[o] > 0),
  );
  await waitStats(page, `${label}: media keeps flowing`, (s) => others.every((o) => s.frames[o] > first.frames[o] && s.audio[o] > first.audio[o]));
  return first;
}

test("three participants see and hear each other through the bridge", { timeout: 8 * WAIT }, async () => {
  const room = roomName("Media");
  const names = ["Ada", "Grace", "Linus"];
  const ps = [];
  for (const n of names) {
    const p = await participant(browser, { viewport: { width: 1000, height: 640 } });
    p.page.on("console", (m) => console.log(`[${n}] ${m.type()}: ${m.text()}`));
    await join(p, room, n);
    ps.push(p);
  }
  const ids = [];
  for (const [i, p] of ps.entries()) {
    await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
    ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  }
  for (const [i, p] of ps.entries()) {
    const others = ids.filter((_, j) => j !== i).sort();
    const first = await waitPlaying(p.page, names[i], others);
    assert.equal(await p.page.locator("#media-unavailable").isVisible(), false);
    assert.equal(first.layers, 3, "a SIM group of three SSRCs in session-accept");
    console.log(`${names[i]}: ${first.layers} layers in session-accept, ${first.sending} encoding (widths ${first.widths.sort((a, b) => a - b)}); frames ${JSON.stringify(first.frames)}, audio packets ${JSON.stringify(first.audio)}`);
  }
  for (const [i, p] of ps.entries()) await screenshot(p.page, names[i].toLowerCase());

  // Each browser accepted transport-cc (the client announces http://jitsi.org/tcc) and sends feedback
  // about what the bridge sends it, from which the bridge estimates its bandwidth (/debug/bridge).
  const estimates = await waitBridge(ps[0].page, "transport-cc feedback from every browser", (d) => {
    const conf = d.conferences.find((c) => c.endpoints.some((e) => e.id === ids[0]));
    const eps = conf?.endpoints.filter((e) => ids.includes(e.id)) ?? [];
    return eps.length === 3 && eps.every((e) => e.transportCCFeedback > 5 && e.bwe?.estimate_bps > 0) && eps;
  });
  // Chromium decodes RED, so it announces opus-red and gets its audio as RED (still heard: audio
  // packets counted above on every page).
  assert.ok(estimates.every((e) => e.red), `RED accepted by every Chromium: ${JSON.stringify(estimates.map((e) => e.red))}`);
  console.log(`bridge estimates: ${estimates.map((e) => `${e.id} ${Math.round(e.bwe.estimate_bps / 1000)} kbit/s`).join(", ")}`);

  // Ada turns her camera off: her sender has no track, the others show her avatar.
  const [ada, grace] = ps;
  await ada.page.keyboard.press("v");
  await ada.page.waitForFunction(() => window.parley.session.pc.getSenders().every((s) => s.track?.kind !== "video"));
  await grace.page.waitForSelector(`#grid .tile[data-id="${ids[0]}"] .avatar`);
  await screenshot(grace.page, "camera-off");
  // And on again: her video plays on Grace's page again, with new frames.
  const before = (await mediaStats(grace.page)).frames[ids[0]];
  await ada.page.keyboard.press("v");
  await waitStats(grace.page, "Ada's video after her camera came back", (s) => s.tiles.includes(ids[0]) && s.frames[ids[0]] > before + 10);

  // Linus asks for a new session (as after an ICE failure): the focus
  // re-invites him, the new session-initiate replaces his PeerConnection,
  // and everyone sees everyone again.
  const linus = ps[2];
  await linus.page.evaluate(() => {
    window.oldPC = window.parley.session.pc;
    return window.parley.session.restart();
  });
  await linus.page.waitForFunction(() => window.parley.session.pc && window.parley.session.pc !== window.oldPC && window.oldPC.connectionState === "closed");
  for (const [i, p] of ps.entries()) await waitPlaying(p.page, `${names[i]} after Linus's restart`, ids.filter((_, j) => j !== i));
  await screenshot(linus.page, "after-restart");
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});

test("a camera turned on after joining muted reaches the others", { timeout: 6 * WAIT }, async () => {
  const room = roomName("Late");
  const a = await participant(browser, { viewport: { width: 1000, height: 640 } });
  const b = await participant(browser, { viewport: { width: 1000, height: 640 } });
  await join(a, room, "Ada");
  await join(b, room, "Bob", { audioMuted: true, videoMuted: true });
  await waitTiles(a.page, ["Ada (you)", "Bob"]);
  const bob = await b.page.evaluate(() => window.parley.conference.endpointId);
  // Bob's session is up without a camera or microphone; his tile shows his avatar.
  await waitStats(b.page, "Bob connected", (s) => s.connected);
  await a.page.waitForSelector(`#grid .tile[data-id="${bob}"] .avatar`);
  await b.page.keyboard.press("v");
  await b.page.keyboard.press("m");
  await waitStats(a.page, "Bob's camera and microphone at Ada's", (s) => s.tiles.includes(bob) && s.frames[bob] > 10 && s.audio[bob] > 10);
  await screenshot(a.page, "late-camera");
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.context.close();
  await b.context.close();
});

// issue 7: a participant whose network lets nothing but TURN through
// (config.iceTransportPolicy="relay") still holds the call, through the
// server's own TURN relay.
test("a relay-only participant sees and hears the others through TURN", { timeout: 6 * WAIT }, async () => {
  const room = roomName("Relay");
  const a = await participant(browser, { viewport: { width: 1000, height: 640 } });
  const r = await participant(browser, { viewport: { width: 1000, height: 640 } });
  await join(a, room, "Ada");
  await join(r, room, "Rita", { relay: true });
  const ids = await Promise.all([a, r].map((p) => p.page.evaluate(() => window.parley.conference.endpointId)));
  await waitPlaying(r.page, "Rita (relay only)", [ids[0]]);
  await waitPlaying(a.page, "Ada", [ids[1]]);
  const local = await r.page.evaluate(async () => {
    const stats = await window.parley.session.pc.getStats();
    let pair;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    return pair ? stats.get(pair.localCandidateId)?.candidateType : "none";
  });
  assert.equal(local, "relay");
  await screenshot(r.page, "relay-only");
  assert.deepEqual(a.errors, []);
  assert.deepEqual(r.errors, []);
  await a.context.close();
  await r.context.close();
});

// issue 14 item 3: the server restarts during a three-person call (every
// XMPP session, conference and media session is gone). Each client gets a
// new XMPP session, asks the focus again, joins, is invited and plays the
// others' media again, with no reload; meanwhile the meeting says
// "Reconnecting media…".
test("a call survives a restart of the server without a reload", { timeout: 10 * WAIT }, async () => {
  const base = process.env.PARLEY_RESTART_URL;
  const control = process.env.PARLEY_RESTART_CONTROL;
  assert.ok(base && control, "PARLEY_RESTART_URL and PARLEY_RESTART_CONTROL (browser_test.go)");
  const room = roomName("Restart");
  const names = ["Ada", "Grace", "Linus"];
  // While the server is down the browser logs the refused WebSocket and the bridge channel closing.
  const allow = [/WebSocket/i, /net::ERR_/, /Failed to load resource/];
  const ps = [];
  for (const n of names) {
    const p = await participant(browser, { viewport: { width: 1000, height: 640 }, allow });
    p.page.on("console", (m) => console.log(`[${n}] ${m.type()}: ${m.text()}`));
    await p.page.goto(`${base}/${room}${skipPrejoin(n)}`);
    await p.page.waitForSelector("#meeting");
    ps.push(p);
  }
  const ids = [];
  for (const p of ps) ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  for (const [i, p] of ps.entries()) await waitPlaying(p.page, names[i], ids.filter((_, j) => j !== i));
  for (const p of ps) {
    await p.page.evaluate(() => {
      window.oldPC = window.parley.session.pc;
      window.sameDocument = true; // gone with a reload
      window.mediaStates = [];
      window.parley.session.on("state", (s) => window.mediaStates.push(s));
    });
  }

  const t0 = Date.now();
  const res = await fetch(control, { method: "POST" });
  assert.equal(res.status, 200, await res.text());
  // The meeting says what is happening, calmly.
  await ps[0].page.waitForFunction(() => window.mediaStates.includes("reconnecting"), null, { timeout: 2 * WAIT });
  await screenshot(ps[0].page, "server-restart-reconnecting");
  for (const [i, p] of ps.entries()) {
    await p.page.waitForFunction(() => window.parley.session.pc && window.parley.session.pc !== window.oldPC, null, { timeout: 2 * WAIT });
    await waitPlaying(p.page, `${names[i]} after the server's restart`, ids.filter((_, j) => j !== i));
  }
  const took = Date.now() - t0;
  console.log(`media back on all three pages ${took} ms after the restart`);
  for (const p of ps) {
    const states = await p.page.evaluate(() => window.mediaStates);
    assert.ok(states.includes("reconnecting") && states.at(-1) === "connected", `media states ${JSON.stringify(states)}`);
    assert.equal(await p.page.locator("#media-unavailable").isVisible(), false);
    assert.equal(await p.page.evaluate(() => window.sameDocument), true, "no reload: the same document");
  }
  await screenshot(ps[2].page, "server-restart-back");
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});
