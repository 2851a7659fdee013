// A meeting of six, Firefox (puppeteer-core over WebDriver BiDi) and five
// Chromium participants (Playwright), at desktop and phone width, with the
// chat, the participants pane and the settings open in turn, in each
// browser: screenshots for people to look at (a hand up, two chat messages,
// three cameras and three avatars), and the checks that a look at them
// makes (one toolbar row inside the window with Leave in it, on the phone
// two columns of tiles with small name tags, every person in the pane, the
// settings dialog inside the window).
//
// Run by firefox_test.go (TestFirefoxSixPeople) inside the network
// namespace; PARLEY_URL is the host side of its veth.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, WAIT, participant, screenshot, sendChat, skipPrejoin } from "../lib/browser.js";
import { click, firefoxParticipant, until, useBrowsers } from "../lib/firefox.js";

const ROOM = process.env.PARLEY_ROOM;
const skip = ROOM ? false : "run through go test ./test/browser/firefox (it sets PARLEY_ROOM)";
const browsers = useBrowsers();

/** Each visible element's box on a page, for the screenshots' checks: [selector, {x, y, w, h}] of those shown. */
function boxes(page, selectors) {
  return page.evaluate((sels) => {
    const out = {};
    for (const s of sels) {
      const e = document.querySelector(s);
      if (!e || e.offsetWidth === 0) continue;
      const r = e.getBoundingClientRect();
      out[s] = { x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width), h: Math.round(r.height) };
    }
    return out;
  }, selectors);
}

test("a meeting of six at desktop and phone width, with chat, participants and settings open, in Firefox and Chromium", { timeout: 14 * WAIT, skip }, async () => {
  const url = `${BASE}/${ROOM}`;
  const fox = await firefoxParticipant(browsers.firefox, { viewport: { width: 1280, height: 800 } });
  // Six browsers start on two cores: each join gets the time of a cold start.
  await fox.page.goto(url + skipPrejoin("Fox Mulder", { audioMuted: true }), { timeout: 3 * WAIT });
  await fox.page.waitForSelector("#meeting", { timeout: 3 * WAIT });
  const people = [
    ["Ada Lovelace", { audioMuted: true }],
    ["Grace Hopper", { audioMuted: true }],
    ["Linus (laptop)", { audioMuted: true, videoMuted: true }],
    ["Margaret Hamilton", { audioMuted: true, videoMuted: true }],
    ["Ken", { audioMuted: true, videoMuted: true }],
  ];
  const chs = [];
  for (const [name, opts] of people) {
    const p = await participant(browsers.chromium, { viewport: { width: 1280, height: 800 } });
    await p.page.goto(url + skipPrejoin(name, opts), { timeout: 3 * WAIT });
    await p.page.waitForSelector("#meeting", { timeout: 3 * WAIT });
    chs.push(p);
  }
  const ada = chs[0];
  // Those not photographed ask the bridge for no video (lastN 0): six decoders fewer on a small machine.
  for (const p of chs.slice(1)) await p.page.evaluate(() => window.parley.session.setLastNLimit(0));
  await fox.page.waitForFunction(() => document.querySelectorAll("#grid .tile:not(.tile-screen-share)").length === 6, { timeout: 2 * WAIT });
  await ada.page.waitForFunction(() => document.querySelectorAll("#grid .tile:not(.tile-screen-share)").length === 6, null, { timeout: 2 * WAIT });
  // The three cameras play on both, the others show their initials.
  const playing = (page) => page.evaluate(() => [...document.querySelectorAll("#grid .tile video.remote-video")].filter((v) => v.videoWidth > 0 && !v.closest(".tile").querySelector(".tile-paused")).length);
  await until("Firefox plays the two Chromium cameras", () => playing(fox.page), (n) => n >= 2);
  await until("Ada plays Grace's and Fox's cameras", () => playing(ada.page), (n) => n >= 2);
  // A hand up and a little chat.
  await chs[2].page.click("#hand-toggle");
  await sendChat(ada.page, "Morning all! Agenda: status, the release, then questions.");
  await sendChat(chs[1].page, "I'll take the release notes.");
  await fox.page.waitForFunction(() => Number(document.getElementById("unread")?.textContent) === 2);
  await ada.page.keyboard.press("Escape");
  await chs[1].page.keyboard.press("Escape");

  const views = [
    ["desktop", { width: 1280, height: 800 }],
    ["phone", { width: 390, height: 844 }],
  ];
  for (const [label, size] of views) {
    await fox.page.setViewport(size);
    await ada.page.setViewportSize(size);
    for (const [engine, page, ff] of [["firefox", fox.page, true], ["chromium", ada.page, false]]) {
      const press = (k) => page.keyboard.press(k);
      const waitFor = (sel, hidden = false) => (ff ? page.waitForSelector(sel, hidden ? { hidden: true } : {}) : page.waitForSelector(sel, hidden ? { state: "hidden" } : {}));
      const tap = (sel) => (ff ? click(page, sel) : page.click(sel));
      await waitFor("#grid .tile");
      await screenshot(page, `six-${engine}-${label}-grid`);
      if (label === "phone") {
        // Two columns that fill the width, and name tags inside their tiles covering a small part of them.
        const tiles = await page.evaluate(() =>
          [...document.querySelectorAll("#grid .tile")].map((el) => {
            const box = (e) => (({ left, right, bottom, width, height }) => ({ left, right, bottom, width, height }))(e.getBoundingClientRect());
            const tag = el.querySelector(".tile-name");
            return { tile: box(el), tag: tag && box(tag) };
          }),
        );
        assert.equal(tiles.length, 6, `${engine}: ${JSON.stringify(tiles)}`);
        const lefts = new Set(tiles.map((t) => Math.round(t.tile.left)));
        assert.equal(lefts.size, 2, `${engine}: tile columns at ${[...lefts]}`);
        assert.ok(Math.min(...tiles.map((t) => t.tile.left)) <= 16 && Math.max(...tiles.map((t) => t.tile.right)) >= size.width - 16, `${engine}: ${JSON.stringify(tiles)}`);
        for (const { tile: t, tag } of tiles) {
          assert.ok(tag && tag.left >= t.left && tag.right <= t.right && tag.bottom <= t.bottom, `${engine}: a name tag leaves its tile`);
          assert.ok(tag.width * tag.height < 0.1 * t.width * t.height, `${engine}: a name tag ${tag.width}×${tag.height} covers over a tenth of ${t.width}×${t.height}`);
        }
      }
      // The toolbar is one row inside the window, with Leave in it.
      const bar = await boxes(page, ["#mic-toggle", "#cam-toggle", "#chat-toggle", "#people-toggle", "#leave"]);
      assert.equal(new Set(Object.values(bar).map((b) => b.y)).size, 1, `${engine} ${label} toolbar: ${JSON.stringify(bar)}`);
      assert.ok(Object.values(bar).every((b) => b.x >= 0 && b.x + b.w <= size.width), `${engine} ${label} toolbar: ${JSON.stringify(bar)}`);
      assert.ok(bar["#leave"], `${engine} ${label}: Leave is shown`);

      await tap("#chat-toggle");
      await waitFor("#messages li");
      await screenshot(page, `six-${engine}-${label}-chat`);
      await press("Escape");
      await waitFor("#side.open", true);

      await tap("#people-toggle");
      await waitFor("#people-panel:not([hidden]) #people li");
      await screenshot(page, `six-${engine}-${label}-people`);
      assert.equal(await page.evaluate(() => document.querySelectorAll("#people li").length), 6);
      await press("Escape");
      await waitFor("#side.open", true);

      if (await page.evaluate(() => document.getElementById("settings-toggle")?.offsetWidth > 0)) {
        await tap("#settings-toggle");
      } else {
        await tap("#more-toggle");
        await tap("#toolbar-more #settings-toggle");
      }
      await waitFor("#settings[open]");
      await screenshot(page, `six-${engine}-${label}-settings`);
      const dlg = await boxes(page, ["#settings"]);
      assert.ok(dlg["#settings"].x >= 0 && dlg["#settings"].x + dlg["#settings"].w <= size.width, `${engine} ${label} settings: ${JSON.stringify(dlg)}`);
      await press("Escape");
      await waitFor("#settings", true);
    }
  }
  await done(fox, ...chs);
});

async function done(...ps) {
  for (const p of ps) assert.deepEqual(p.errors, []);
  await Promise.allSettled(ps.map((p) => p.context.close()));
}
