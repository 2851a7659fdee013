// What the client asks of the bridge and shows of the network (issue 15's
// browser client, issue 18's connection indicator), with four participants
// through the bridge:
//   - lastN follows the layout: a window too small for every tile scrolls
//     the grid, and the ReceiverVideoConstraints the page sends (its bridge
//     channel's log) count only the videos in sight, with height 0 for the
//     tiles scrolled away;
//   - a source the bridge stops forwarding (ForwardedSources) shows its
//     owner's avatar with a hint, and its video comes back with new frames
//     once forwarded again (driven by the layout, and by a lower lastN);
//   - each tile has a connection indicator whose details open on click with
//     numbers from getStats, and the others' EndpointStats;
//   - a participant sending malformed EndpointStats breaks nobody: its
//     values are clamped.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { basename, join as joinPath } from "node:path";
import { WAIT, join, launch, participant, roomName, screenshot as artifact, waitTiles } from "./lib/browser.js";

/** A screenshot in the artifacts, and a copy in PARLEY_KEEP_SHOTS when set (the artifacts are wiped by every run of the suite). */
async function screenshot(page, name) {
  const file = await artifact(page, name);
  if (process.env.PARLEY_KEEP_SHOTS) copyFileSync(file, joinPath(process.env.PARLEY_KEEP_SHOTS, basename(file)));
  return file;
}

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The last ReceiverVideoConstraints a page sent on its bridge channel, or null. */
function lastConstraints(page) {
  return page.evaluate(() => {
    const sent = window.parley?.session?.channel?.sent ?? [];
    for (let i = sent.length - 1; i >= 0; i--) {
      const m = JSON.parse(sent[i]);
      if (m.colibriClass === "ReceiverVideoConstraints") return m;
    }
    return null;
  });
}

/** Waits until fn(value of get()) holds; returns the value. */
async function until(what, get, fn, ms = 2 * WAIT) {
  const deadline = Date.now() + ms;
  let v;
  while (Date.now() < deadline) {
    v = await get();
    if (fn(v)) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out: ${what} (last: ${JSON.stringify(v)})`);
}

/** The remote tiles' state on a page: in sight, avatar over the video, the video's size and frames drawn. */
function tileStates(page) {
  return page.evaluate(() => {
    const out = {};
    for (const t of document.querySelectorAll("#grid .tile:not(.tile-screen-share)")) {
      const v = t.querySelector("video.remote-video");
      if (!v) continue;
      out[t.dataset.id] = {
        inSight: !t.classList.contains("out-of-sight"),
        paused: !!t.querySelector(".tile-paused"),
        hint: t.querySelector(".tile-paused")?.title ?? "",
        width: v.videoWidth,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
      };
    }
    return out;
  });
}

/** What the page and the bridge's debug state say is forwarded to this page, and the bridge's estimate of its link. */
function forwarding(page) {
  return page.evaluate(async () => {
    const id = window.parley.conference.endpointId;
    const e = (await (await fetch("/debug/bridge")).json()).conferences.flatMap((c) => c.endpoints).find((e) => e.id === id);
    const slots = (e?.videoSlots ?? []).filter((s) => s.source).map((s) => `${s.source} h${s.maxHeight} max${s.maxLayer} at${s.layer}`);
    return { page: [...(window.parley.session.forwarded ?? [])], bridge: e?.forwardedSources, estimateKbps: Math.round((e?.bwe?.estimate_bps ?? 0) / 1000), slots };
  });
}

/** Waits until every remote tile of a page plays its video (frames drawn, no avatar over it). */
async function waitAllPlaying(page, label, ids) {
  try {
    return await until(`${label}: every remote video playing`, () => tileStates(page), (s) => ids.every((id) => s[id] && s[id].width > 0 && s[id].frames > 0 && !s[id].paused));
  } catch (err) {
    err.message += `; forwarded: ${JSON.stringify(await forwarding(page))}`;
    throw err;
  }
}

/** Opens a tile's connection details and returns {stat: [value, text]}; closes them again. */
async function details(page, id) {
  await page.click(`#grid .tile[data-id="${id}"] .tile-quality`);
  await page.waitForSelector(`#grid .tile[data-id="${id}"] .tile-quality-details`);
  const rows = await page.evaluate((id) => {
    const out = {};
    for (const dd of document.querySelectorAll(`#grid .tile[data-id="${id}"] .tile-quality-details dd`)) out[dd.dataset.stat] = [Number(dd.dataset.value), dd.textContent];
    return out;
  }, id);
  return rows;
}

async function closeDetails(page) {
  await page.keyboard.press("Escape");
  await page.waitForSelector(".tile-quality-details", { state: "detached" });
}

test("lastN from the layout, avatars for videos not forwarded, connection indicators, malformed EndpointStats", { timeout: 20 * WAIT }, async () => {
  const room = roomName("Quality");
  const names = ["Ada", "Grace", "Linus", "Margaret"];
  const ps = [];
  for (const [i, n] of names.entries()) {
    const p = await participant(browser, { viewport: i === 0 ? { width: 1280, height: 800 } : { width: 800, height: 500 } });
    p.page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") console.log(`[${n}] ${m.type()}: ${m.text()}`);
    });
    await join(p, room, n);
    ps.push(p);
  }
  const ids = [];
  for (const [i, p] of ps.entries()) {
    await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
    ids.push(await p.page.evaluate(() => window.parley.conference.endpointId));
  }
  const [ada, grace, linus] = ps;
  const others = ids.slice(1);
  await waitAllPlaying(ada.page, "Ada", others);

  // A big window shows all three remote videos: lastN 3, each at its tile's height.
  let c = await until("Ada asks for three videos", () => lastConstraints(ada.page), (c) => c?.lastN === 3);
  for (const id of others) assert.ok(c.constraints[`${id}-v0`].maxHeight > 0, JSON.stringify(c));

  // A small window: tiles keep their minimum size, the grid scrolls, and only the videos in sight are asked for.
  // (Low enough that the second row is mostly out of sight under the one-row toolbar of a narrow window.)
  await ada.page.setViewportSize({ width: 520, height: 280 });
  c = await until("Ada asks for fewer videos", () => lastConstraints(ada.page), (c) => c && c.lastN >= 0 && c.lastN < 3);
  const small = await tileStates(ada.page);
  const inSight = others.filter((id) => small[id].inSight);
  const away = others.filter((id) => !small[id].inSight);
  console.log(`small window: lastN ${c.lastN}, in sight ${inSight.length}, scrolled away ${away.length}`);
  assert.equal(c.lastN, inSight.length, "lastN counts the videos in sight");
  assert.ok(away.length > 0, "some tiles are scrolled away");
  for (const id of away) assert.equal(c.constraints[`${id}-v0`].maxHeight, 0, `${id} scrolled away: height 0`);
  assert.equal(await ada.page.evaluate(() => getComputedStyle(document.getElementById("grid")).overflowY), "auto");
  // The bridge stops forwarding the videos scrolled away: their tiles show the avatar with the hint.
  const hidden = await until("avatars on the tiles scrolled away", () => tileStates(ada.page), (s) => away.every((id) => s[id].paused));
  for (const id of away) assert.match(hidden[id].hint, /paused/i);
  // The ones in sight play on.
  await until("the videos in sight play", () => tileStates(ada.page), (s) => inSight.every((id) => !s[id].paused && s[id].width > 0));
  await ada.page.waitForFunction((away) => away.every((id) => !window.parley.session.forwarded?.has(`${id}-v0`)), away);
  await screenshot(ada.page, "small-window");

  // Scrolling brings a tile into sight: it is asked for again.
  await ada.page.evaluate(() => document.getElementById("grid").scrollTo(0, 10_000));
  await until("the tiles scrolled to are asked for", () => lastConstraints(ada.page), (c) => c && away.some((id) => c.constraints[`${id}-v0`]?.maxHeight > 0));

  // Back to a big window: all three asked for again, and their videos come back with new frames.
  const before = await tileStates(ada.page);
  await ada.page.setViewportSize({ width: 1280, height: 800 });
  await until("Ada asks for three videos again", () => lastConstraints(ada.page), (c) => c?.lastN === 3);
  await until("videos back with new frames", () => tileStates(ada.page), (s) => others.every((id) => !s[id].paused && s[id].frames > before[id].frames));

  // Stage view: the stage and the filmstrip's thumbnails in sight, the stage's source on stage.
  await ada.page.keyboard.press("w");
  c = await until("Ada's stage view asks for a stage", () => lastConstraints(ada.page), (c) => c?.onStageSources.length === 1);
  assert.equal(c.lastN, 3, JSON.stringify(c));
  await ada.page.keyboard.press("w");
  await until("Ada's grid again", () => lastConstraints(ada.page), (c) => c?.onStageSources.length === 0 && c.lastN === 3);

  // A lower lastN (the session's cap, as a user saving bandwidth would set it): the bridge forwards two, the third tile shows the avatar.
  await ada.page.evaluate(() => window.parley.session.setLastNLimit(2));
  await until("Ada asks for two videos", () => lastConstraints(ada.page), (c) => c?.lastN === 2);
  const capped = await until("one avatar", () => tileStates(ada.page), (s) => others.filter((id) => s[id].paused).length === 1);
  const pausedId = others.find((id) => capped[id].paused);

  // Every tile has its indicator, with a level once measured.
  await until("indicators measured on every tile", () => ada.page.evaluate(() => [...document.querySelectorAll("#grid .tile-quality")].map((b) => b.dataset.level)), (levels) => levels.length === 4 && levels.every((l) => ["good", "fair", "poor"].includes(l)));
  // Grace's details: what reaches us from her, and her own upload from her EndpointStats.
  const graceId = ids[1];
  const playing = others.find((id) => id !== pausedId);
  let d = await until("Grace's upload in her tile's details", async () => {
    const d = await details(ada.page, graceId);
    await closeDetails(ada.page);
    return d;
  }, (d) => d.bitrate?.[1].includes("their upload"));
  d = await details(ada.page, playing);
  console.log(`Ada's details of a remote tile: ${JSON.stringify(d)}`);
  for (const stat of ["bitrate", "resolution", "fps", "rtt"]) assert.ok(d[stat]?.[0] > 0, `${stat}: ${JSON.stringify(d[stat])}`);
  assert.ok(d.loss?.[0] >= 0);
  await screenshot(ada.page, "four-indicators-one-avatar");
  await closeDetails(ada.page);
  // The same in the stage view (the avatar may be on the stage or in the filmstrip).
  await ada.page.keyboard.press("w");
  await ada.page.waitForSelector("#grid.stage-view .tile.on-stage");
  await until("the avatar after the stage view's layout", () => tileStates(ada.page), (s) => others.some((id) => s[id].paused));
  await screenshot(ada.page, "stage-one-avatar");
  await ada.page.keyboard.press("w");
  await ada.page.waitForSelector("#grid:not(.stage-view)");
  // Our own tile: what we send.
  d = await details(ada.page, ids[0]);
  console.log(`Ada's details of her own tile: ${JSON.stringify(d)}`);
  for (const stat of ["bitrate", "resolution", "fps"]) assert.ok(d[stat]?.[0] > 0, `own ${stat}: ${JSON.stringify(d[stat])}`);
  await closeDetails(ada.page);

  // No cap: the third video comes back.
  const frames = (await tileStates(ada.page))[pausedId].frames;
  await ada.page.evaluate(() => window.parley.session.setLastNLimit(-1));
  await until("the paused video back with new frames", () => tileStates(ada.page), (s) => !s[pausedId].paused && s[pausedId].frames > frames);

  // Linus sends malformed EndpointStats: huge, negative and nonsense values, wrong types, junk; the last
  // one again every 300 ms until it has been seen, so his own stats (every 10 s) do not hide it.
  const linusId = ids[2];
  await details(ada.page, linusId);
  await linus.page.evaluate(() => {
    const ws = window.parley.session.channel.ws;
    const send = (o) => ws.send(typeof o === "string" ? o : JSON.stringify(o));
    send({ colibriClass: "EndpointStats", bitrate: "fast", packetLoss: [1, 2, 3], connectionQuality: null });
    send({ colibriClass: "EndpointStats", bitrate: { upload: { deep: [1] } }, from: "someone-else" });
    // (Under the bridge's 64 KiB message limit: a larger one closes the sender's own channel.)
    send({ colibriClass: "EndpointStats", junk: "x".repeat(30_000), bitrate: { upload: -1e308 } });
    send('{"colibriClass":"EndpointStats","bitrate":');
    const hostile = { colibriClass: "EndpointStats", bitrate: { upload: 1e300, download: -7 }, packetLoss: { upload: 1e9 }, connectionQuality: -50, jvbRTT: 1e12, maxEnabledResolution: { width: 1e9, height: "tall" } };
    send(hostile);
    window.hostile = setInterval(() => send(hostile), 300);
  });
  // Clamped: his upload reads as at most 1,000,000 kbit/s with 100% loss, and quality 0 makes his tile poor.
  const sel = `#grid .tile[data-id="${linusId}"] .tile-quality-details`;
  await ada.page.waitForFunction((sel) => /1000000 kbit\/s their upload/.test(document.querySelector(`${sel} dd[data-stat="bitrate"]`)?.textContent ?? ""), sel, { timeout: 2 * WAIT });
  d = await ada.page.evaluate((sel) => Object.fromEntries([...document.querySelectorAll(`${sel} dd`)].map((dd) => [dd.dataset.stat, dd.textContent])), sel);
  await linus.page.evaluate(() => clearInterval(window.hostile));
  await closeDetails(ada.page);
  assert.match(d.loss, /100% their upload/);
  assert.equal(d.level, "Poor");
  // Everyone still works: video keeps arriving (how much of it the bridge forwards is its estimate's
  // business), every tile keeps its indicator, and no page logged an error.
  for (const [i, p] of ps.entries()) {
    const mine = ids.filter((_, j) => j !== i);
    const total = (s) => mine.reduce((a, id) => a + (s[id]?.frames ?? 0), 0);
    const first = total(await tileStates(p.page));
    await until(`${names[i]}: video still arriving after the malformed stats`, () => tileStates(p.page), (s) => total(s) > first + 10);
    assert.equal(await p.page.locator("#grid .tile-quality[data-level]").count(), 4);
  }
  await grace.page.waitForSelector(`#grid .tile[data-id="${linusId}"] .tile-quality[data-level]`);
  await screenshot(grace.page, "after-malformed-stats");
  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});
