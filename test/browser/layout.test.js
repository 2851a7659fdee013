// The meeting's layout in headless Chromium: a six-person meeting on a
// phone (390×844) has two columns of tiles that fill the width, name tags
// that cover little of a tile, one row of main buttons with a "More" sheet
// whose actions work (raise hand, reactions, settings), the people count in
// the top bar and toasts (a raised hand, a long chat message) that hide
// neither it nor a name tag (on the phone and on a desktop); a screen share that ends gives back the layout the viewer had;
// and the pre-join screen wraps a long room name between its words.
// Screenshots of the phone and desktop meetings land in ARTIFACTS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { assertRoomNameWraps, BASE, join, launch, participant, roomName, screenshot, sendChat, WAIT, waitTiles } from "./lib/browser.js";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const phone = { width: 390, height: 844 };
const endpointOf = (page) => page.evaluate(() => window.parley.conference.endpointId);

/** The boxes of the elements matching sel that are shown, in document order. */
function boxes(page, sel) {
  return page.$$eval(sel, (els) =>
    els
      .map((el) => {
        const r = el.getBoundingClientRect();
        return { id: el.id || el.dataset.id || "", left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
      })
      .filter((r) => r.width > 0 && r.height > 0),
  );
}

const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/**
 * Records, on page, where each toast lands and where the people count and
 * the tiles' name tags are at that moment (a toast is gone after 4 s, maybe
 * before a loaded machine lets the test look): call before the action that
 * shows one.
 */
async function watchToasts(page) {
  await page.evaluate(() => {
    if (window.toastBoxes) return;
    window.toastBoxes = [];
    const plain = (e) => (({ left, top, right, bottom }) => ({ left, top, right, bottom }))(e.getBoundingClientRect());
    const seen = (t) =>
      requestAnimationFrame(() =>
        window.toastBoxes.push({
          text: t.textContent,
          toast: plain(t),
          count: plain(document.getElementById("participant-count")),
          names: [...document.querySelectorAll("#grid .tile .tile-name")].map(plain),
        }),
      );
    new MutationObserver((muts) => {
      for (const m of muts) for (const n of m.addedNodes) if (n instanceof Element) for (const t of n.matches(".toast") ? [n] : n.querySelectorAll(".toast")) seen(t);
    }).observe(document.body, { childList: true, subtree: true });
  });
}

/** Waits for a toast with this text on page (watchToasts) and asserts that it covered neither the people count nor a tile's name tag. */
async function toastCoversNoName(page, text, where) {
  const box = await (await page.waitForFunction((t) => window.toastBoxes.find((b) => b.text.includes(t)), text)).jsonValue();
  assert.ok(box.names.length > 0, `${where}: no name tags measured`);
  assert.ok(box.toast.right > box.toast.left && box.count.right > box.count.left, `${where}: toast ${JSON.stringify(box.toast)}, people count ${JSON.stringify(box.count)}`);
  assert.ok(!overlaps(box.toast, box.count), `${where}: the toast ${JSON.stringify(box.toast)} covers the people count ${JSON.stringify(box.count)}`);
  for (const n of box.names) assert.ok(!overlaps(box.toast, n), `${where}: the toast ${JSON.stringify(box.toast)} covers a name tag ${JSON.stringify(n)}`);
}

test("six people on a phone: two columns, small name tags, one toolbar row with a More sheet, toasts clear of names", { timeout: 20 * WAIT }, async () => {
  const room = roomName("Phone");
  const names = ["Ada", "Grace Hopper", "Linus", "Barbara Liskov", "Ken Thompson", "Margaret Hamilton"];
  const ps = [];
  for (const [i, n] of names.entries()) {
    // Ada on a phone; the others on desktops, the last three without cameras (a lighter load on a shared machine).
    const p = await participant(browser, { viewport: i === 0 ? phone : { width: 1280, height: 800 } });
    p.page.setDefaultTimeout(3 * WAIT);
    await join(p, room, n, { audioMuted: true, videoMuted: i >= 3 });
    ps.push(p);
  }
  for (const [i, p] of ps.entries()) await waitTiles(p.page, names.map((n, j) => (i === j ? `${n} (you)` : n)));
  const [ada, grace] = ps;
  const adaId = await endpointOf(ada.page);

  // Two columns that fill the width: two distinct left edges, margins of a few pixels.
  const tiles = await boxes(ada.page, "#grid .tile");
  assert.equal(tiles.length, 6);
  const lefts = [...new Set(tiles.map((t) => Math.round(t.left)))];
  assert.equal(lefts.length, 2, `tile columns at ${lefts}`);
  const minLeft = Math.min(...tiles.map((t) => t.left));
  const maxRight = Math.max(...tiles.map((t) => t.right));
  assert.ok(minLeft <= 16 && maxRight >= phone.width - 16, `tiles span ${minLeft}–${maxRight} of ${phone.width} px`);
  for (const t of tiles) assert.ok(t.width >= 160 && t.height >= 160, `tile ${t.id} is ${t.width}×${t.height}`);
  // All six in sight, none scrolled away.
  const grid = (await boxes(ada.page, "#grid"))[0];
  for (const t of tiles) assert.ok(t.bottom <= grid.bottom + 1, `tile ${t.id} ends at ${t.bottom}, below the grid's ${grid.bottom}`);

  // Name tags: inside their tile and a small part of it (tile and tag measured together: a render rebuilds the tag).
  const tagged = await ada.page.$$eval("#grid .tile", (els) =>
    els.map((el) => {
      const box = (e) => (({ left, top, right, bottom, width, height }) => ({ left, top, right, bottom, width, height }))(e.getBoundingClientRect());
      const tag = el.querySelector(".tile-name");
      return { id: el.dataset.id, tile: box(el), tag: tag ? box(tag) : null };
    }),
  );
  for (const { id, tile: t, tag } of tagged) {
    assert.ok(tag, `${id} has no name tag`);
    assert.ok(tag.left >= t.left && tag.right <= t.right && tag.bottom <= t.bottom, `${id}'s name tag leaves its tile`);
    assert.ok(tag.width * tag.height < 0.1 * t.width * t.height, `${id}'s name tag ${tag.width}×${tag.height} covers over a tenth of ${t.width}×${t.height}`);
  }

  // One toolbar row: the main buttons and More share a top; the other buttons wait in the closed sheet.
  const main = ["mic-toggle", "cam-toggle", "chat-toggle", "people-toggle", "more-toggle", "leave"];
  const row = await boxes(ada.page, ".toolbar button");
  assert.deepEqual(
    row.map((b) => b.id),
    main,
    "the buttons shown",
  );
  assert.equal(new Set(row.map((b) => Math.round(b.top))).size, 1, `buttons at tops ${row.map((b) => b.top)}`);
  assert.ok(Math.max(...row.map((b) => b.right)) <= phone.width, "the row fits the screen");
  // The people count is in the top bar.
  assert.ok(await ada.page.isVisible("#participant-count"));
  assert.match(await ada.page.textContent("#participant-count"), /6/);
  await screenshot(ada.page, "phone-six");

  // The More sheet: its actions have names; raising the hand from it closes it and raises the hand.
  await ada.page.click("#more-toggle");
  await ada.page.waitForSelector("#toolbar-more.open #hand-toggle", { state: "visible" });
  assert.equal(await ada.page.getAttribute("#more-toggle", "aria-expanded"), "true");
  for (const id of ["share-toggle", "view-toggle", "hand-toggle", "react", "settings-toggle", "invite"]) assert.ok(await ada.page.isVisible(`#toolbar-more #${id}`), `${id} in the sheet`);
  const sheetItems = await boxes(ada.page, "#toolbar-more button");
  for (const b of sheetItems) assert.ok(b.right <= phone.width && b.top >= 0, `sheet item ${b.id} off screen`);
  await screenshot(ada.page, "phone-more-sheet");
  await watchToasts(grace.page);
  await watchToasts(ada.page);
  await ada.page.click("#toolbar-more #hand-toggle");
  await ada.page.waitForSelector("#toolbar-more", { state: "hidden" });
  assert.equal(await ada.page.getAttribute("#more-toggle", "aria-expanded"), "false");
  await ada.page.waitForSelector('#hand-toggle[aria-pressed="true"]', { state: "attached" });
  await grace.page.waitForSelector(`#grid .tile[data-id="${adaId}"] .tile-hand`);
  // Grace (desktop) was told with a toast that covers no name tag.
  await toastCoversNoName(grace.page, "Ada raised", "desktop");

  // Reactions from the sheet: the picker opens inside it, a reaction closes it and reaches the others.
  await ada.page.click("#more-toggle");
  await ada.page.click("#toolbar-more #react");
  await ada.page.waitForSelector("#toolbar-more.open #reactions-menu", { state: "visible" });
  await ada.page.click('#reactions-menu [data-reaction="clap"]');
  await ada.page.waitForSelector("#toolbar-more", { state: "hidden" });
  await grace.page.waitForSelector(`#reactions .reaction-float[data-reaction="clap"][data-from="${adaId}"]`);

  // Settings from the sheet open the dialog.
  await ada.page.click("#more-toggle");
  await ada.page.click("#toolbar-more #settings-toggle");
  await ada.page.waitForSelector("dialog[open]");
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("dialog[open]", { state: "detached" });

  // Escape closes the sheet and gives focus back to More.
  await ada.page.click("#more-toggle");
  await ada.page.waitForSelector("#toolbar-more.open");
  await ada.page.keyboard.press("Escape");
  await ada.page.waitForSelector("#toolbar-more", { state: "hidden" });
  assert.equal(await ada.page.evaluate(() => document.activeElement?.id), "more-toggle");

  // A toast on the phone covers no name tag and not the people count either; nor does a long chat
  // message's (Ada's chat is closed), on the phone or on a desktop (Linus's).
  await grace.page.click("#hand-toggle");
  await toastCoversNoName(ada.page, "Grace Hopper raised", "phone");
  await screenshot(ada.page, "phone-six-toast");
  const linus = ps[2];
  await watchToasts(linus.page);
  await sendChat(grace.page, "Could everyone look at the agenda I shared in the document this morning, before we start?");
  await grace.page.keyboard.press("Escape");
  await grace.page.waitForSelector("#side:not(.open)", { state: "attached" });
  await toastCoversNoName(ada.page, "Grace Hopper: Could everyone", "phone, chat");
  await toastCoversNoName(linus.page, "Grace Hopper: Could everyone", "desktop, chat");
  await screenshot(ada.page, "phone-six-chat-toast");
  await screenshot(linus.page, "desktop-six-chat-toast");
  await screenshot(grace.page, "desktop-six");

  // A screen share takes the stage and, once it ends, Ada's grid comes back; then the same from the stage view.
  await grace.page.click("#share-toggle");
  await ada.page.waitForSelector("#grid.stage-view .tile.on-stage.tile-screen-share");
  // On the upright phone the stage fills the room above the filmstrip's first row.
  const [stage] = await boxes(ada.page, "#grid .tile.on-stage");
  const stageGrid = (await boxes(ada.page, "#grid"))[0];
  assert.ok(stage.height > 0.6 * stageGrid.height && stage.width > 0.9 * stageGrid.width, `stage ${stage.width}×${stage.height} in ${stageGrid.width}×${stageGrid.height}`);
  await screenshot(ada.page, "phone-share-on-stage");
  await grace.page.click("#share-toggle");
  await ada.page.waitForSelector("#grid .tile-screen-share", { state: "detached" });
  await ada.page.waitForSelector("#grid:not(.stage-view)");
  assert.equal(new Set((await boxes(ada.page, "#grid .tile")).map((t) => Math.round(t.left))).size, 2, "two columns again");

  await ada.page.keyboard.press("w"); // the stage view, following the speaker
  await ada.page.waitForSelector("#grid.stage-view");
  await grace.page.click("#share-toggle");
  await ada.page.waitForSelector("#grid.stage-view .tile.on-stage.tile-screen-share");
  await grace.page.click("#share-toggle");
  await ada.page.waitForSelector("#grid .tile-screen-share", { state: "detached" });
  await ada.page.waitForSelector("#grid.stage-view .tile.on-stage");
  assert.equal(await ada.page.$$eval("#grid .tile .tile-pin", (els) => els.length), 0, "nothing left pinned");

  for (const p of ps) assert.deepEqual(p.errors, []);
  for (const p of ps) await p.context.close();
});

test("pre-join on a phone: a long room name wraps between its words", { timeout: 4 * WAIT }, async () => {
  const room = "ThirstyHorsesDanceQuicklyTogether" + roomName("Room");
  const p = await participant(browser, { viewport: phone });
  p.page.setDefaultTimeout(3 * WAIT); // the camera preview's start on a loaded machine
  await p.page.goto(`${BASE}/${room}`);
  await p.page.waitForSelector(".prejoin-room");
  await assertRoomNameWraps(p.page, room);
  await screenshot(p.page, "phone-prejoin-long-name");
  assert.deepEqual(p.errors, []);
  await p.context.close();
});
