// The avatar over a remote video the bridge does not forward: when a
// source is missing from the bridge's ForwardedSources (suspended because
// our link cannot carry it, or beyond the lastN our layout asks for), its
// <video> would freeze on the last frame, or stay black when it never had
// one. The tile shows its owner's initials instead, with a hint, until the
// source is forwarded again and a new frame has been drawn.
//
//   ForwardedSources without the source ─► "paused": avatar + hint
//   forwarded again ─► "resuming": avatar until the next frame ─► video
//   a video that has had no frame yet ─► "starting": avatar, no hint
import { h, hueFor, initials } from "../dom";
import { qualityWords } from "../wording";
import { nameOf, type Meeting, type TileEntry } from "./state";
import type { TileExtra } from "./tiles";

type Phase = "paused" | "resuming" | "starting";

interface Shown {
  tile: HTMLElement;
  e: TileEntry;
  picture: HTMLElement;
}

export interface PausedVideos extends TileExtra {
  teardown(): void;
}

/** The source name of a tile's video: the camera is "<endpoint>-v0", a screen share's tile is keyed by its source. */
export function sourceOf(e: TileEntry): string {
  return e.screen ? e.key : `${e.p.id}-v0`;
}

/**
 * Calls done once the video draws a frame after now (requestVideoFrameCallback
 * where there is one, else the element's decoded-frame count rising);
 * returns a function that cancels the wait.
 */
export function onNextFrame(v: HTMLVideoElement, done: () => void): () => void {
  let over = false;
  const frames = () => v.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
  const start = frames();
  let handle = 0;
  const stop = () => {
    over = true;
    clearInterval(timer);
    if (handle) v.cancelVideoFrameCallback?.(handle);
  };
  const finish = () => {
    if (over) return;
    stop();
    done();
  };
  if (typeof v.requestVideoFrameCallback === "function") handle = v.requestVideoFrameCallback(finish);
  const timer = setInterval(() => {
    if (frames() > start) finish();
  }, 250);
  return stop;
}

export function createPausedVideos(m: Meeting): PausedVideos {
  const { session } = m;
  const phases = new Map<string, Phase>();
  const waits = new Map<string, () => void>();
  const overlays = new Map<string, HTMLElement>();
  const shown = new Map<string, Shown>();

  const cancelWait = (key: string) => {
    waits.get(key)?.();
    waits.delete(key);
  };

  /** Waits for the next frame of the tile's video, then lets the video show. */
  const waitFrame = (key: string, v: HTMLVideoElement) => {
    if (waits.has(key)) return;
    waits.set(
      key,
      onNextFrame(v, () => {
        waits.delete(key);
        phases.delete(key);
        apply(key);
      }),
    );
  };

  const overlayFor = (key: string, e: TileEntry, phase: Phase): HTMLElement => {
    let o = overlays.get(key);
    if (!o) {
      o = h("div", { class: "tile-paused" });
      overlays.set(key, o);
    }
    const name = nameOf(e.p);
    const av = h("div", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(e.p.id)));
    const hint = phase === "starting" ? null : h("span", { class: "tile-paused-hint", text: qualityWords.videoPausedShort });
    o.replaceChildren(av, ...(hint ? [hint] : []));
    o.dataset.phase = phase;
    if (hint) {
      o.title = qualityWords.videoPaused;
      o.setAttribute("role", "img");
      o.setAttribute("aria-label", `${name}: ${qualityWords.videoPaused}`);
    } else {
      o.removeAttribute("title");
      o.removeAttribute("role");
      o.removeAttribute("aria-label");
    }
    return o;
  };

  /** Decides the tile's phase from ForwardedSources and its video, and shows or removes the avatar. */
  const apply = (key: string) => {
    const s = shown.get(key);
    if (!s) return;
    const { tile, e, picture } = s;
    const video = picture instanceof HTMLVideoElement ? picture : null;
    const fwd = session.forwarded;
    const notForwarded = !e.p.local && !(e.p.videoMuted && !e.screen) && fwd !== null && !fwd.has(sourceOf(e));
    let phase = phases.get(key);
    if (notForwarded) {
      cancelWait(key);
      phase = "paused";
    } else if (phase === "paused") {
      phase = video ? "resuming" : undefined;
    } else if (!phase && video && !e.p.local && video.videoWidth === 0) {
      phase = "starting";
    }
    if (phase && phase !== "paused" && !video) phase = undefined;
    if (phase) phases.set(key, phase);
    else phases.delete(key);
    if (phase && phase !== "paused" && video) waitFrame(key, video);
    if (!phase) cancelWait(key);

    tile.classList.toggle("video-paused", phase === "paused" || phase === "resuming");
    const o = phase ? overlayFor(key, e, phase) : overlays.get(key);
    if (phase && o) {
      // After the picture, before the name tag: the name, badges and menu stay on top.
      if (o.parentElement !== tile || o.previousElementSibling !== picture) picture.after(o);
    } else {
      o?.remove();
      overlays.delete(key);
    }
  };

  const off = session.on("forwarded", () => {
    for (const key of shown.keys()) apply(key);
  });

  return {
    decorate(tile, e, picture) {
      if (e.p.local) {
        shown.delete(e.key);
        return;
      }
      shown.set(e.key, { tile, e, picture });
      // A new <video> (a new track) starts over.
      if (phases.get(e.key) === "starting" && !(picture instanceof HTMLVideoElement)) phases.delete(e.key);
      apply(e.key);
    },
    forget(key) {
      cancelWait(key);
      phases.delete(key);
      overlays.get(key)?.remove();
      overlays.delete(key);
      shown.delete(key);
    },
    teardown() {
      off();
      for (const key of [...waits.keys()]) cancelWait(key);
    },
  };
}
