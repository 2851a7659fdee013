// A browser's media comes back after its bridge stops, without a reload:
// two participants on a cluster (a signal node and two bridge nodes,
// failover_test.go); POST to PARLEY_FAILOVER_CONTROL stops the bridge that
// holds the room; the focus moves both to the other bridge (session-terminate,
// then a fresh session-initiate, docs/architecture.md "Failure and drain") and
// each plays the other's video and receives its audio again, in the same
// document. Skipped where no cluster runs (the other suites' server).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { WAIT, launch, participant, roomName, screenshot, skipPrejoin } from "./lib/browser.js";

const base = process.env.PARLEY_FAILOVER_URL;
const control = process.env.PARLEY_FAILOVER_CONTROL;

let browser;
before(async () => {
  if (control) browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Frames decoded and audio packets received from the other participant, by its endpoint id. */
function received(page, other) {
  return page.evaluate(async (other) => {
    const s = window.parley?.session;
    const out = { frames: 0, audio: 0, pc: !!s?.pc };
    const r = s?.remotes.get(other);
    if (!s?.pc || !r) return out;
    const ids = new Set([r.video?.id, r.audio?.id].filter(Boolean));
    const mids = new Map(s.pc.getTransceivers().map((t) => [t.mid, t.receiver.track.id]));
    (await s.pc.getStats()).forEach((st) => {
      if (st.type !== "inbound-rtp" || !ids.has(mids.get(st.mid) ?? st.trackIdentifier)) return;
      if (st.kind === "video") out.frames = st.framesDecoded ?? 0;
      if (st.kind === "audio") out.audio = st.packetsReceived ?? 0;
    });
    return out;
  }, other);
}

/** Waits until the page's current session decodes frames and receives audio from other, more than `since` had. */
async function waitMedia(page, what, other, since = { frames: 0, audio: 0 }) {
  const deadline = Date.now() + 2 * WAIT;
  let got;
  while (Date.now() < deadline) {
    got = await received(page, other);
    if (got.frames > since.frames + 5 && got.audio > since.audio + 10) return got;
    await page.waitForTimeout(100);
  }
  throw new Error(`${what}: ${JSON.stringify(got)}`);
}

test("media comes back after the bridge stops, without a reload", { skip: !control && "no cluster (PARLEY_FAILOVER_CONTROL)", timeout: 8 * WAIT }, async () => {
  const room = roomName("Failover");
  const names = ["Ada", "Grace"];
  // The stopped bridge's channel closes under the page.
  const allow = [/WebSocket/i, /net::ERR_/];
  const ps = [];
  for (const n of names) {
    const p = await participant(browser, { viewport: { width: 900, height: 600 }, allow });
    p.page.on("console", (m) => console.log(`[${n}] ${m.type()}: ${m.text()}`));
    await p.page.goto(`${base}/${room}${skipPrejoin(n)}`);
    await p.page.waitForSelector("#meeting");
    ps.push(p);
  }
  const ids = [];
  for (const p of ps) ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  for (const [i, p] of ps.entries()) await waitMedia(p.page, `${names[i]} before`, ids[1 - i]);
  for (const p of ps) {
    await p.page.evaluate(() => {
      window.oldPC = window.parley.session.pc;
      window.sameDocument = true; // gone with a reload
    });
  }

  const t0 = Date.now();
  const res = await fetch(control, { method: "POST" });
  assert.equal(res.status, 200, await res.text());
  for (const [i, p] of ps.entries()) {
    // A new PeerConnection (the new session), whose counters start from zero.
    await p.page.waitForFunction(() => window.parley.session.pc && window.parley.session.pc !== window.oldPC, null, { timeout: 2 * WAIT });
    await waitMedia(p.page, `${names[i]} after the bridge stopped`, ids[1 - i]);
  }
  const took = Date.now() - t0;
  console.log(`media back on both pages ${took} ms after the bridge stopped`);
  // The focus moved them (bridge-gone comes at once from a bridge that stops): a browser left to
  // notice by itself restarts its session only once ICE failed, some 20 s later.
  assert.ok(took < 10_000, `media back ${took} ms after the bridge stopped: not moved by the focus`);
  for (const p of ps) {
    assert.equal(await p.page.evaluate(() => window.sameDocument), true, "no reload: the same document");
    assert.equal(await p.page.evaluate(() => window.parley.session.state), "connected");
  }
  await screenshot(ps[0].page, "bridge-stopped-media-back");
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});
