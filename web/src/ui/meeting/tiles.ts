// The tile grid: one tile per camera and per screen share, their videos
// (kept across re-renders), names, badges and menus (pin, and for
// moderators ask to mute, make moderator, remove), and the grid's geometry,
// which also tells the bridge how tall each remote video is shown.
import type { TileView } from "../../bridgechannel";
import type { Participant } from "../../conference";
import { desktopSourceName } from "../../session";
import { clear, h, hueFor, icon, initials } from "../dom";
import { fillGridFor, gridFor, scrollGridFor, shownFraction, stageFor } from "../layout";
import { menuButton, type MenuItem } from "../menu";
import type { ModerationControls } from "../moderation";
import { words } from "../wording";
import { handBadge, handPlaces } from "./hands";
import { followNewShares, pickStage } from "./stage";
import { nameOf, type Meeting, type TileEntry } from "./state";
import { t as msg } from "../../i18n";

/**
 * Something more on every tile (the connection indicator, the paused
 * video's avatar): called after each tile is rebuilt, with the picture
 * tileMedia chose; forget(key) when a tile goes away.
 */
export interface TileExtra {
  decorate(tile: HTMLElement, e: TileEntry, picture: HTMLElement): void;
  forget?(key: string): void;
}

/** Below these widths the tiles stop shrinking and the grid scrolls (tile view; the stage's filmstrip). */
export const MIN_TILE_W = 180;
export const MIN_THUMB_W = 112;

export interface Tiles {
  grid: HTMLElement;
  /** Rebuilds the tiles from the participants; returns them in display order. */
  render(): Participant[];
  layout(): void;
  teardown(): void;
}

/** The participants in display order: us first, then by name. */
export function ordered(m: Meeting): Participant[] {
  const all = [...m.conf.participants.values()];
  return all.sort((a, b) => (a.local === b.local ? m.conf.displayNameOf(a.id).localeCompare(m.conf.displayNameOf(b.id)) : a.local ? -1 : 1));
}

/** The tiles in order: each participant's camera, then its screen share. */
function entries(m: Meeting, list: Participant[]): TileEntry[] {
  const out: TileEntry[] = [];
  for (const p of list) {
    out.push({ key: p.id, p, screen: false });
    if (p.local ? !!m.state.sharing : !!p.desktop) out.push({ key: p.local ? desktopSourceName(p.id) : p.desktop, p, screen: true });
  }
  return out;
}

export function createTiles(m: Meeting, moderation: ModerationControls, extras: TileExtra[] = []): Tiles {
  const { conf, media, session, state } = m;
  const grid = h("section", { class: "grid", attrs: { id: "grid", "aria-label": msg("tiles.label") } });
  const tiles = new Map<string, HTMLElement>();
  const localVideo = h("video", { class: "tile-video mirror", attrs: { muted: true, playsinline: true, autoplay: true } });
  localVideo.muted = true;
  const localScreen = h("video", { class: "tile-video tile-screen", attrs: { muted: true, playsinline: true, autoplay: true } });
  localScreen.muted = true;
  // One <video> per remote tile, kept across re-renders; its track comes from the media session.
  const remoteVideos = new Map<string, HTMLVideoElement>();

  const remoteVideo = (key: string, track: MediaStreamTrack): HTMLVideoElement => {
    let v = remoteVideos.get(key);
    if (!v) {
      v = h("video", { class: "tile-video remote-video", attrs: { muted: true, playsinline: true, autoplay: true, "data-id": key } });
      v.muted = true;
      remoteVideos.set(key, v);
    }
    if ((v.srcObject as MediaStream | null)?.getVideoTracks()[0] !== track) v.srcObject = new MediaStream([track]);
    return v;
  };

  /** The tile menu: pin, and for moderators, asking someone to mute and removing them. */
  const tileMenu = (e: TileEntry, name: string): HTMLElement[] => {
    const items: MenuItem[] = [];
    const isPinned = state.pinned === e.key && state.stageView;
    items.push({ label: isPinned ? msg("tiles.unpin") : msg("tiles.pin"), action: "pin", run: () => m.act.pin(isPinned ? "" : e.key) });
    if (!e.p.local && !e.screen && conf.isModerator) {
      // The focus's mute is obeyed at once (§4.7): the items say so; they can unmute themselves afterwards.
      if (!e.p.audioMuted) items.push({ label: msg("tiles.mute"), action: "mute-audio", run: () => m.act.askToMute(e.p.id, "audio", name) });
      if (!e.p.videoMuted) items.push({ label: msg("tiles.camOff"), action: "mute-video", run: () => m.act.askToMute(e.p.id, "video", name) });
      items.push(...moderation.tileItems(e.p, name));
      items.push({ label: msg("tiles.remove"), action: "kick", run: () => void m.act.kick(e.p.id, name) });
    }
    return menuButton({
      label: words.optionsFor(name),
      items,
      open: state.menuFor === e.key,
      onOpen: () => openMenu(e.key),
      onClose: (refocus) => {
        const key = state.menuFor;
        closeMenu();
        if (refocus) tiles.get(key)?.querySelector<HTMLButtonElement>(".tile-menu-button")?.focus();
      },
    });
  };
  const openMenu = (key: string) => {
    state.menuFor = key;
    m.act.render();
    tiles.get(key)?.querySelector<HTMLButtonElement>(".tile-menu button")?.focus();
  };
  const closeMenu = () => {
    if (!state.menuFor) return;
    state.menuFor = "";
    m.act.render();
  };

  /** The tile's picture: the local or remote video, a screen share, or the avatar. */
  const tileMedia = (e: TileEntry, name: string): HTMLElement => {
    const { p, key } = e;
    if (e.screen) {
      const track = p.local ? state.sharing : (session.remotes.get(p.id)?.desktop ?? null);
      if (p.local && track) {
        if ((localScreen.srcObject as MediaStream | null)?.getVideoTracks()[0] !== track) localScreen.srcObject = new MediaStream([track]);
        return localScreen;
      }
      if (track) {
        const v = remoteVideo(key, track);
        v.classList.add("tile-screen");
        return v;
      }
      return h("div", { class: "tile-placeholder", attrs: { "aria-hidden": "true" } }, icon("screen"));
    }
    const showVideo = p.local && !conf.local.videoMuted && !!media.video;
    const remoteTrack = p.local || p.videoMuted ? null : (session.remotes.get(p.id)?.video ?? null);
    if (showVideo) {
      if (localVideo.srcObject !== null && (localVideo.srcObject as MediaStream).getVideoTracks()[0] !== media.video) localVideo.srcObject = null;
      if (!localVideo.srcObject) localVideo.srcObject = new MediaStream([media.video!]);
      return localVideo;
    }
    if (remoteTrack) {
      const v = remoteVideo(key, remoteTrack);
      return v;
    }
    const av = h("div", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(p.id)));
    return av;
  };

  const tileFor = (e: TileEntry, hands: Map<string, number>): HTMLElement => {
    const { p, key } = e;
    let t = tiles.get(key);
    if (!t) {
      const tile = h("article", { class: "tile", attrs: { "data-id": key, tabindex: "0" } });
      if (e.screen) tile.dataset.screen = p.id;
      tile.addEventListener("click", () => {
        if (state.stageView && state.stageKey !== key) m.act.pin(key);
      });
      tile.addEventListener("keydown", (ev) => {
        if (ev.target === tile && ev.key === "Enter" && state.stageView) m.act.pin(state.pinned === key ? "" : key);
      });
      tiles.set(key, tile);
      t = tile;
    }
    clear(t);
    const name = nameOf(p);
    t.classList.toggle("tile-screen-share", e.screen);
    t.classList.toggle("speaking", !e.screen && !p.local && p.id === state.speaker);
    t.classList.toggle("on-stage", state.stageView && key === state.stageKey);
    const picture = tileMedia(e, name);
    t.append(picture);
    if (picture instanceof HTMLVideoElement) picture.play().catch(() => {});
    const label = e.screen ? (p.local ? msg("tiles.yourScreen") : msg("tiles.screenOf", { name })) : p.local ? msg("tiles.you", { name }) : name;
    const muted = !e.screen && p.audioMuted;
    t.append(h("div", { class: "tile-name" }, e.screen ? h("span", { class: "tile-kind" }, icon("screen")) : null, muted ? h("span", { class: "tile-muted", attrs: { title: msg("tiles.micOff") } }, icon("micOff")) : null, h("span", { class: "tile-name-text", text: label })));
    if (!e.screen) {
      // Top left: the raised hand with its place in line, then the role.
      const hand = handBadge(m, p, hands.get(p.id), "tile-hand");
      const role = p.role === "moderator" ? h("span", { class: "tile-role", text: words.moderator }) : null;
      t.classList.toggle("hand-up", !!hand);
      if (hand || role) t.append(h("div", { class: "tile-badges" }, hand, role));
    }
    if (state.stageView && state.pinned === key) t.append(h("span", { class: "tile-pin", attrs: { title: msg("tiles.pinned") } }, icon("pin")));
    t.append(...tileMenu(e, name));
    for (const x of extras) x.decorate(t, e, picture);
    t.setAttribute(
      "aria-label",
      e.screen ? label : name + (p.local ? msg("tiles.aria.you") : "") + (hands.has(p.id) ? msg("tiles.aria.hand") : "") + (p.audioMuted ? msg("tiles.aria.micOff") : "") + (p.videoMuted ? msg("tiles.aria.camOff") : "") + (p.id === state.speaker && !p.local ? msg("tiles.aria.speaking") : ""),
    );
    return t;
  };

  const layout = () => {
    const n = grid.childElementCount;
    const r = grid.getBoundingClientRect();
    // Room for a scroll bar once the grid scrolls.
    const bar = 16;
    grid.classList.toggle("stage-view", state.stageView);
    let scrolls = false;
    if (state.stageView) {
      // Upright phone: the stage fills the room above the filmstrip (layout.ts stageFor).
      const fill = r.height > r.width;
      let g = stageFor(Math.max(0, n - 1), r.width - 16, r.height - 16, 16 / 9, 8, fill);
      if (n > 1 && g.stripW < MIN_THUMB_W) {
        // Thumbnails too small to see anyone: they keep MIN_THUMB_W and wrap; the filmstrip's rows scroll.
        scrolls = true;
        g = { ...stageFor(0, r.width - 16 - bar, r.height - 16 - (MIN_THUMB_W * 9) / 16 - 8, 16 / 9, 8, fill), stripW: MIN_THUMB_W, stripH: (MIN_THUMB_W * 9) / 16 };
      }
      grid.style.setProperty("--stage-w", `${Math.floor(g.stageW)}px`);
      grid.style.setProperty("--stage-h", `${Math.floor(g.stageH)}px`);
      grid.style.setProperty("--tile-w", `${Math.floor(g.stripW)}px`);
      grid.style.setProperty("--tile-h", `${Math.floor(g.stripH)}px`);
    } else {
      // A portrait area (a phone held upright) fills itself with tiles of any shape between 9:16 and 16:9.
      const portrait = r.height > r.width;
      let g = portrait ? fillGridFor(n, r.width - 16, r.height - 16) : gridFor(n, r.width - 16, r.height - 16);
      // On a phone the scrolling grid keeps two columns of square tiles.
      const minW = portrait ? Math.min(MIN_TILE_W, (r.width - 16 - bar - 8) / 2) : MIN_TILE_W;
      if (n > 1 && g.tileW < minW) {
        scrolls = true;
        g = scrollGridFor(n, r.width - 16 - bar, minW, portrait ? 1 : 16 / 9);
      }
      grid.style.setProperty("--cols", String(g.cols));
      grid.style.setProperty("--tile-w", `${Math.floor(g.tileW)}px`);
      grid.style.setProperty("--tile-h", `${Math.floor(g.tileH)}px`);
    }
    grid.classList.toggle("scrolls", scrolls);
    tellBridge();
  };
  /**
   * What the bridge should send: each remote video in sight (at least half
   * of its tile in the grid's box) at its tile's height, none of the tiles
   * scrolled away; lastN counts the ones in sight (bridgechannel.ts).
   */
  const tellBridge = () => {
    const view = grid.getBoundingClientRect();
    const views: TileView[] = [];
    for (const e of state.tiles) {
      if (e.p.local) continue;
      const t = tiles.get(e.key);
      if (!t) continue;
      const source = e.screen ? e.p.desktop : `${e.p.id}-v0`;
      const rect = t.getBoundingClientRect();
      const visible = shownFraction(rect, view) >= 0.5;
      t.classList.toggle("out-of-sight", !visible);
      views.push({ source, height: rect.height, onStage: state.stageView && e.key === state.stageKey, desktop: e.screen, visible });
    }
    session.setTiles(views, devicePixelRatio || 1);
  };
  const resize = new ResizeObserver(layout);
  resize.observe(grid);
  grid.addEventListener("scroll", tellBridge, { passive: true });

  /** Where focus is inside a tile, to put it back after the tile is rebuilt. */
  const focusInTile = (): (() => void) => {
    const f = document.activeElement as HTMLElement | null;
    const tile = f?.closest<HTMLElement>("#grid .tile");
    if (!f || !tile || f === tile) return () => {};
    const key = tile.dataset.id ?? "";
    const sel = f.dataset.action ? `[data-action="${f.dataset.action}"]` : f.classList.contains("tile-menu-button") ? ".tile-menu-button" : "";
    return () => {
      if (document.activeElement && document.activeElement !== document.body) return;
      const t = tiles.get(key);
      let target = (sel ? t?.querySelector<HTMLElement>(sel) : null) ?? t;
      if (target?.closest("[hidden]")) target = t?.querySelector<HTMLElement>(".tile-menu-button") ?? t; // the menu closed
      target?.focus();
    };
  };

  const render = (): Participant[] => {
    const restoreFocus = focusInTile();
    const list = ordered(m);
    state.tiles = entries(m, list);
    followNewShares(m, state.tiles);
    state.stageKey = pickStage(m, state.tiles);
    const keys = new Set(state.tiles.map((e) => e.key));
    if (state.menuFor && !keys.has(state.menuFor)) state.menuFor = "";
    for (const [key, t] of tiles) {
      if (!keys.has(key)) {
        t.remove();
        tiles.delete(key);
        remoteVideos.delete(key);
        for (const x of extras) x.forget?.(key);
      }
    }
    const hands = handPlaces(m);
    state.tiles.forEach((e, i) => {
      const t = tileFor(e, hands);
      if (grid.children[i] !== t) grid.insertBefore(t, grid.children[i] ?? null);
    });
    layout();
    restoreFocus();
    return list;
  };

  const onDocClick = (ev: MouseEvent) => {
    if (state.menuFor && !(ev.target as Element | null)?.closest?.(".tile-menu, .tile-menu-button")) closeMenu();
  };
  document.addEventListener("click", onDocClick);

  return {
    grid,
    render,
    layout,
    teardown() {
      document.removeEventListener("click", onDocClick);
      resize.disconnect();
    },
  };
}
