// The conference screen: tile grid or stage view, toolbar, chat and people
// panels, connection banner, invite link, room lock, screen share, tile
// menus (pin, ask to mute), and the keyboard shortcuts M (microphone),
// V (camera), D (share screen), W (grid/stage), C (chat), P (people).
//
// A tile is a participant's camera (key: endpoint ID) or screen share (key:
// its source name, "<endpoint>-v1"). The stage shows, in this order: the
// pinned tile, a screen share (put there when it starts), the active
// speaker (the one before while that is us), someone else; the other tiles
// go to the filmstrip below.
import type { LoggedMessage } from "../chat";
import type { TileView } from "../bridgechannel";
import { guestName, type Conference, type MuteKind, type Participant } from "../conference";
import type { LocalMedia, MediaKind, MediaProblem } from "../media";
import { desktopSourceName, type MediaSession } from "../session";
import { prompt } from "./dialog";
import { clear, h, hueFor, icon, initials, inTextField } from "./dom";
import { describeShareError, kickMessage } from "./wording";
import { gridFor, stageFor } from "./layout";
import { menuButton, type MenuItem } from "./menu";
import { moderationControls } from "./moderation";
import { setToggle } from "./prejoin";
import { toast } from "./toast";

type Panel = "chat" | "people" | null;

/** One tile: a participant's camera or screen share. */
interface TileEntry {
  key: string;
  p: Participant;
  screen: boolean;
}

export function renderMeeting(root: HTMLElement, conf: Conference, media: LocalMedia, session: MediaSession, inviteUrl: string, onLeave: () => void): () => void {
  clear(root);
  document.title = `${conf.roomName} · Parley`;
  let panel: Panel = null;
  let privateTo = ""; // endpoint ID of the private-chat recipient, "" for everyone

  // Top bar.
  const lockBadge = h("span", { class: "badge badge-lock", attrs: { id: "lock-state", title: "This meeting has a password" } }, icon("lock"), h("span", { text: "Locked" }));
  const count = h("span", { class: "muted", attrs: { id: "participant-count" } });
  const mediaPill = h("span", { class: "pill pill-warn", attrs: { id: "media-unavailable", role: "status", "aria-live": "polite", hidden: true } });
  const moderation = moderationControls(conf); // lobby, mute everyone, end for all, make moderator (ui/moderation.ts)
  const topbar = h("header", { class: "topbar" }, h("span", { class: "brand-mark brand-small", attrs: { "aria-hidden": "true" } }), h("h1", { class: "topbar-room", text: conf.roomName }), lockBadge, moderation.lobbyBadge, count, h("span", { class: "spacer" }), mediaPill);

  const banner = h("div", { class: "banner", attrs: { id: "connection-banner", role: "status", "aria-live": "polite" }, text: "Connection lost. Reconnecting…" });
  banner.hidden = true;

  // Grid.
  const grid = h("section", { class: "grid", attrs: { id: "grid", "aria-label": "Participants" } });
  const tiles = new Map<string, HTMLElement>();

  // Toolbar.
  const micBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "mic-toggle", "aria-keyshortcuts": "M" } });
  const camBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "cam-toggle", "aria-keyshortcuts": "V" } });
  const chatBadge = h("span", { class: "count-badge", attrs: { id: "unread", "aria-hidden": "true" } });
  const chatBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "chat-toggle", "aria-label": "Chat", title: "Chat (C)", "aria-keyshortcuts": "C", "aria-expanded": "false", "aria-controls": "side" } }, icon("chat"), chatBadge);
  const peopleBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "people-toggle", "aria-label": "Participants", title: "Participants (P)", "aria-keyshortcuts": "P", "aria-expanded": "false", "aria-controls": "side" } }, icon("people"));
  const inviteBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "invite", "aria-label": "Copy invite link", title: "Copy invite link" } }, icon("link"));
  const lockBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "lock-toggle" } });
  const leaveBtn = h("button", { class: "btn btn-round btn-danger", attrs: { type: "button", id: "leave", "aria-label": "Leave meeting", title: "Leave meeting" } }, icon("leave"));
  const shareBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "share-toggle", "aria-keyshortcuts": "D", "aria-pressed": "false" } }, icon("screen"));
  shareBtn.hidden = typeof navigator.mediaDevices?.getDisplayMedia !== "function";
  const viewBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "view-toggle", "aria-keyshortcuts": "W", "aria-pressed": "false" } });
  const toolbar = h("nav", { class: "toolbar", attrs: { "aria-label": "Meeting controls" } }, micBtn, camBtn, shareBtn, viewBtn, chatBtn, peopleBtn, inviteBtn, lockBtn, moderation.button, leaveBtn);

  // Side panel: chat and people.
  const messages = h("ol", { class: "messages", attrs: { id: "messages", "aria-live": "polite", "aria-label": "Messages" } });
  const recipient = h("select", { class: "field-input field-small", attrs: { id: "chat-to", "aria-label": "Send to" } });
  const chatInput = h("textarea", { class: "field-input chat-input", attrs: { id: "chat-input", rows: "2", maxlength: "4000", placeholder: "Write a message", "aria-label": "Message" } });
  const chatForm = h(
    "form",
    { class: "chat-form", attrs: { id: "chat-form" } },
    recipient,
    h("div", { class: "chat-row" }, chatInput, h("button", { class: "btn btn-icon btn-primary", attrs: { type: "submit", "aria-label": "Send", title: "Send" } }, icon("send"))),
  );
  const chatSection = h("section", { class: "chat", attrs: { id: "chat-panel", "aria-label": "Chat" } }, messages, chatForm);
  const peopleList = h("ul", { class: "people", attrs: { id: "people" } });
  const peopleSection = h("section", { class: "people-panel", attrs: { id: "people-panel", "aria-label": "Participants" } }, peopleList);
  const sideTitle = h("h2", { class: "side-title" });
  const side = h(
    "aside",
    { class: "side", attrs: { id: "side" } },
    h("div", { class: "side-head" }, sideTitle, h("button", { class: "btn btn-icon", attrs: { type: "button", "aria-label": "Close panel", title: "Close (Esc)" }, on: { click: () => setPanel(null) } }, icon("close"))),
    chatSection,
    peopleSection,
  );

  const stageArea = h("div", { class: "stage-area" }, grid, side);
  // Remote audio plays from elements outside the tiles, so re-rendering a tile never interrupts it.
  const audios = h("div", { attrs: { id: "remote-audio", hidden: "" } });
  const main = h("main", { class: "meeting", attrs: { id: "meeting" } }, topbar, banner, stageArea, toolbar, audios, moderation.knockCard);
  root.append(main);

  // Tiles.
  const localVideo = h("video", { class: "tile-video mirror", attrs: { muted: true, playsinline: true, autoplay: true } });
  localVideo.muted = true;
  const localScreen = h("video", { class: "tile-video tile-screen", attrs: { muted: true, playsinline: true, autoplay: true } });
  localScreen.muted = true;
  // One <video> per remote tile, kept across re-renders; its track comes from the media session.
  const remoteVideos = new Map<string, HTMLVideoElement>();
  const remoteAudios = new Map<string, HTMLAudioElement>();
  let speaker = ""; // the bridge's active speaker, "" in silence
  let previousSpeakers: string[] = []; // most recent first
  let stageView = false;
  let pinned = ""; // a tile key, or "" to let the stage follow shares and the speaker
  let stageKey = "";
  let sharing: MediaStreamTrack | null = null; // our screen share
  let sharingBusy = false;
  let knownShares = new Set<string>();
  let menuFor = ""; // the tile whose menu is open
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
  const syncAudio = () => {
    for (const [id, a] of remoteAudios) {
      const track = session.remotes.get(id)?.audio;
      if (!track || (a.srcObject as MediaStream | null)?.getAudioTracks()[0] !== track) {
        a.srcObject = null;
        a.remove();
        remoteAudios.delete(id);
      }
    }
    for (const [id, r] of session.remotes) {
      if (!r.audio || remoteAudios.has(id)) continue;
      const a = h("audio", { attrs: { autoplay: true, "data-id": id } });
      a.srcObject = new MediaStream([r.audio]);
      remoteAudios.set(id, a);
      audios.append(a);
      // Without a click on the page first (the pre-join screen skipped), the
      // browser may refuse to play sound: try again on the first click or key.
      a.play().catch(() => {
        const retry = () => a.play().catch(() => {});
        addEventListener("pointerdown", retry, { once: true });
        addEventListener("keydown", retry, { once: true });
      });
    }
  };

  const nameOf = (p: Participant) => (p.local ? p.displayName || "You" : p.displayName || guestName(p.id));

  /** The tile menu: pin, and for moderators, asking someone to mute and removing them. */
  const tileMenu = (e: TileEntry, name: string): HTMLElement[] => {
    const items: MenuItem[] = [];
    const isPinned = pinned === e.key && stageView;
    items.push({ label: isPinned ? "Unpin" : "Pin to stage", action: "pin", run: () => pin(isPinned ? "" : e.key) });
    if (!e.p.local && !e.screen && conf.isModerator) {
      // The focus's mute is obeyed at once (§4.7): the items say so; they can unmute themselves afterwards.
      if (!e.p.audioMuted) items.push({ label: "Mute", action: "mute-audio", run: () => askToMute(e.p.id, "audio", name) });
      if (!e.p.videoMuted) items.push({ label: "Turn off camera", action: "mute-video", run: () => askToMute(e.p.id, "video", name) });
      items.push(...moderation.tileItems(e.p, name));
      items.push({ label: "Remove from the meeting", action: "kick", run: () => void kick(e.p.id, name) });
    }
    return menuButton({
      label: `Options for ${name}`,
      items,
      open: menuFor === e.key,
      onOpen: () => openMenu(e.key),
      onClose: (refocus) => {
        const key = menuFor;
        closeMenu();
        if (refocus) tiles.get(key)?.querySelector<HTMLButtonElement>(".tile-menu-button")?.focus();
      },
    });
  };
  const openMenu = (key: string) => {
    menuFor = key;
    renderParticipants();
    tiles.get(key)?.querySelector<HTMLButtonElement>(".tile-menu button")?.focus();
  };
  const closeMenu = () => {
    if (!menuFor) return;
    menuFor = "";
    renderParticipants();
  };

  const tileFor = (e: TileEntry): HTMLElement => {
    const { p, key } = e;
    let t = tiles.get(key);
    if (!t) {
      t = h("article", { class: "tile", attrs: { "data-id": key, tabindex: "0" } });
      if (e.screen) t.dataset.screen = p.id;
      t.addEventListener("click", () => {
        if (stageView && stageKey !== key) pin(key);
      });
      t.addEventListener("keydown", (ev) => {
        if (ev.target === t && ev.key === "Enter" && stageView) pin(pinned === key ? "" : key);
      });
      tiles.set(key, t);
    }
    clear(t);
    const name = nameOf(p);
    const av = h("div", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(p.id)));
    t.classList.toggle("tile-screen-share", e.screen);
    t.classList.toggle("speaking", !e.screen && !p.local && p.id === speaker);
    t.classList.toggle("on-stage", stageView && key === stageKey);
    let label: string;
    if (e.screen) {
      label = p.local ? "Your screen" : `${name}'s screen`;
      const track = p.local ? sharing : (session.remotes.get(p.id)?.desktop ?? null);
      if (p.local && track) {
        if ((localScreen.srcObject as MediaStream | null)?.getVideoTracks()[0] !== track) localScreen.srcObject = new MediaStream([track]);
        t.append(localScreen);
        localScreen.play().catch(() => {});
      } else if (track) {
        const v = remoteVideo(key, track);
        v.classList.add("tile-screen");
        t.append(v);
        v.play().catch(() => {});
      } else {
        t.append(h("div", { class: "tile-placeholder", attrs: { "aria-hidden": "true" } }, icon("screen")));
      }
    } else {
      label = name + (p.local ? " (you)" : "");
      const showVideo = p.local && !conf.local.videoMuted && !!media.video;
      const remoteTrack = p.local || p.videoMuted ? null : (session.remotes.get(p.id)?.video ?? null);
      if (showVideo) {
        if (localVideo.srcObject !== null && (localVideo.srcObject as MediaStream).getVideoTracks()[0] !== media.video) localVideo.srcObject = null;
        if (!localVideo.srcObject) localVideo.srcObject = new MediaStream([media.video!]);
        t.append(localVideo);
        localVideo.play().catch(() => {});
      } else if (remoteTrack) {
        const v = remoteVideo(key, remoteTrack);
        t.append(v);
        v.play().catch(() => {});
      } else {
        t.append(av);
      }
    }
    const muted = !e.screen && p.audioMuted;
    t.append(h("div", { class: "tile-name" }, e.screen ? h("span", { class: "tile-kind" }, icon("screen")) : null, muted ? h("span", { class: "tile-muted", attrs: { title: "Microphone off" } }, icon("micOff")) : null, h("span", { class: "tile-name-text", text: label })));
    if (!e.screen && p.role === "moderator") t.append(h("span", { class: "tile-role", text: "Moderator" }));
    if (stageView && pinned === key) t.append(h("span", { class: "tile-pin", attrs: { title: "Pinned" } }, icon("pin")));
    t.append(...tileMenu(e, name));
    t.setAttribute(
      "aria-label",
      e.screen ? label : `${name}${p.local ? ", you" : ""}${p.audioMuted ? ", microphone off" : ""}${p.videoMuted ? ", camera off" : ""}${p.id === speaker && !p.local ? ", speaking" : ""}`,
    );
    return t;
  };

  /** Which tile takes the stage (see the top of this file). */
  const pickStage = (list: TileEntry[]): string => {
    const has = (k: string) => list.some((e) => e.key === k);
    if (pinned && has(pinned)) return pinned;
    const share = [...list].reverse().find((e) => e.screen && !e.p.local);
    if (share) return share.key;
    // The active speaker; while that is us, whoever spoke before (as Jitsi's stage does).
    for (const id of [speaker, ...previousSpeakers]) if (id && has(id) && !conf.participants.get(id)?.local) return id;
    return list.find((e) => !e.p.local && !e.screen)?.key ?? list[0]?.key ?? "";
  };

  let pixelRatio = devicePixelRatio || 1;
  const layout = () => {
    const n = grid.childElementCount;
    const r = grid.getBoundingClientRect();
    grid.classList.toggle("stage-view", stageView);
    if (stageView) {
      const g = stageFor(Math.max(0, n - 1), r.width - 16, r.height - 16);
      grid.style.setProperty("--stage-w", `${Math.floor(g.stageW)}px`);
      grid.style.setProperty("--stage-h", `${Math.floor(g.stageH)}px`);
      grid.style.setProperty("--tile-w", `${Math.floor(g.stripW)}px`);
      grid.style.setProperty("--tile-h", `${Math.floor(g.stripH)}px`);
    } else {
      const g = gridFor(n, r.width - 16, r.height - 16);
      grid.style.setProperty("--cols", String(g.cols));
      grid.style.setProperty("--tile-w", `${Math.floor(g.tileW)}px`);
      grid.style.setProperty("--tile-h", `${Math.floor(g.tileH)}px`);
    }
    // What the bridge should send: each remote video at its tile's height.
    const views: TileView[] = [];
    for (const e of current) {
      if (e.p.local) continue;
      const t = tiles.get(e.key);
      if (!t) continue;
      const source = e.screen ? e.p.desktop : `${e.p.id}-v0`;
      views.push({ source, height: t.getBoundingClientRect().height, onStage: stageView && e.key === stageKey, desktop: e.screen });
    }
    pixelRatio = devicePixelRatio || 1;
    session.setTiles(views, pixelRatio);
  };
  const resize = new ResizeObserver(layout);
  resize.observe(grid);

  /** The tiles in order: each participant's camera, then its screen share. */
  const entries = (): TileEntry[] => {
    const out: TileEntry[] = [];
    for (const p of ordered()) {
      out.push({ key: p.id, p, screen: false });
      if (p.local ? !!sharing : !!p.desktop) out.push({ key: p.local ? desktopSourceName(p.id) : p.desktop, p, screen: true });
    }
    return out;
  };
  let current: TileEntry[] = [];

  const ordered = (): Participant[] => {
    const all = [...conf.participants.values()];
    return all.sort((a, b) => (a.local === b.local ? conf.displayNameOf(a.id).localeCompare(conf.displayNameOf(b.id)) : a.local ? -1 : 1));
  };

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

  const renderParticipants = () => {
    const restoreFocus = focusInTile();
    const list = ordered();
    const ids = new Set(list.map((p) => p.id));
    current = entries();
    // A remote screen share that just started goes on the stage.
    const shares = new Set(current.filter((e) => e.screen && !e.p.local).map((e) => e.key));
    for (const k of shares) {
      if (!knownShares.has(k)) {
        stageView = true;
        pinned = k;
      }
    }
    knownShares = shares;
    stageKey = pickStage(current);
    const keys = new Set(current.map((e) => e.key));
    if (menuFor && !keys.has(menuFor)) menuFor = "";
    for (const [key, t] of tiles) {
      if (!keys.has(key)) {
        t.remove();
        tiles.delete(key);
        remoteVideos.delete(key);
      }
    }
    current.forEach((e, i) => {
      const t = tileFor(e);
      if (grid.children[i] !== t) grid.insertBefore(t, grid.children[i] ?? null);
    });
    renderView();
    layout();
    restoreFocus();
    count.textContent = `${list.length} ${list.length === 1 ? "person" : "people"}`;

    clear(peopleList);
    for (const p of list) {
      const name = p.local ? p.displayName || "You" : conf.displayNameOf(p.id);
      const av = h("span", { class: "avatar avatar-small", attrs: { "aria-hidden": "true" }, text: initials(name) });
      av.style.setProperty("--hue", String(hueFor(p.id)));
      peopleList.append(
        h(
          "li",
          { class: "person", attrs: { "data-id": p.id } },
          av,
          h("span", { class: "person-name", text: name + (p.local ? " (you)" : "") }),
          p.role === "moderator" ? h("span", { class: "tag", text: "Moderator" }) : null,
          h("span", { class: "person-icons" }, icon(p.audioMuted ? "micOff" : "mic"), icon(p.videoMuted ? "camOff" : "cam")),
          p.local || !conf.isModerator
            ? null
            : h(
                "button",
                {
                  class: "btn btn-icon btn-small btn-kick",
                  attrs: { type: "button", "aria-label": `Remove ${name} from the meeting`, title: "Remove from the meeting" },
                  on: { click: () => kick(p.id, name) },
                },
                icon("close"),
              ),
          p.local
            ? null
            : h(
                "button",
                {
                  class: "btn btn-icon btn-small",
                  attrs: { type: "button", "aria-label": `Message ${name} privately`, title: "Private message" },
                  on: {
                    click: () => {
                      privateTo = p.id;
                      setPanel("chat");
                    },
                  },
                },
                icon("chat"),
              ),
        ),
      );
    }

    // Recipients: everyone, or one participant.
    const prev = privateTo;
    clear(recipient);
    const all = h("option", { text: "Everyone" });
    all.value = "";
    recipient.append(all);
    for (const p of list) {
      if (p.local) continue;
      const o = h("option", { text: `${conf.displayNameOf(p.id)} (private)` });
      o.value = p.id;
      recipient.append(o);
    }
    privateTo = ids.has(prev) ? prev : "";
    recipient.value = privateTo;
    recipient.classList.toggle("private", !!privateTo);
  };

  const renderView = () => {
    clear(viewBtn);
    viewBtn.append(icon(stageView ? "grid" : "stage"));
    const label = stageView ? "Show everyone in a grid" : "Show the speaker on stage";
    viewBtn.setAttribute("aria-label", label);
    viewBtn.setAttribute("aria-pressed", String(stageView));
    viewBtn.title = `${label} (W)`;
    viewBtn.classList.toggle("btn-active", stageView);
    shareBtn.setAttribute("aria-pressed", String(!!sharing));
    shareBtn.classList.toggle("btn-active", !!sharing);
    const shareLabel = sharing ? "Stop sharing your screen" : "Share your screen";
    shareBtn.setAttribute("aria-label", shareLabel);
    shareBtn.title = `${shareLabel} (D)`;
  };

  const setStageView = (on: boolean) => {
    stageView = on;
    if (!on) pinned = "";
    renderParticipants();
  };

  /** Pins a tile to the stage ("" unpins); pinning switches to the stage view. */
  const pin = (key: string) => {
    pinned = key;
    if (key) stageView = true;
    renderParticipants();
  };

  const askToMute = async (id: string, kind: MuteKind, name: string) => {
    try {
      await conf.askToMute(id, kind);
      toast(kind === "audio" ? `You muted ${name}` : `You turned off ${name}'s camera`);
    } catch (err) {
      toast((err as Error).message, "error", 6000);
    }
  };

  // Screen share: getDisplayMedia, then source-add (session.ts), then presence.
  const stopShare = async () => {
    const track = sharing;
    if (!track) return;
    sharing = null;
    track.stop();
    conf.setSharing(false);
    renderParticipants();
    await session.shareDesktop(null).catch(() => {});
  };
  const startShare = async () => {
    if (sharing || sharingBusy) return;
    sharingBusy = true;
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      track = stream.getVideoTracks()[0];
    } catch (err) {
      sharingBusy = false;
      console.warn("getDisplayMedia failed:", err);
      // Blocked or cancelled (the picker's Cancel, a policy, the system) is said calmly; anything else is an error.
      const calm = (err as Error | null)?.name === "NotAllowedError";
      toast(describeShareError(err), calm ? "info" : "error", 6000);
      return;
    }
    if (!track) {
      sharingBusy = false;
      return;
    }
    track.contentHint = "detail";
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener("ended", () => {
      if (sharing === track) stopShare();
    });
    try {
      await session.shareDesktop(track);
    } catch (err) {
      track.stop();
      sharingBusy = false;
      toast((err as Error).message, "error", 8000);
      return;
    }
    sharingBusy = false;
    if (track.readyState === "ended") {
      await session.shareDesktop(null).catch(() => {});
      return;
    }
    sharing = track;
    conf.setSharing(true);
    renderParticipants();
  };
  const toggleShare = () => (sharing ? stopShare() : startShare());

  const renderLocal = () => {
    setToggle(micBtn, !conf.local.audioMuted, "mic", "micOff", "microphone");
    setToggle(camBtn, !conf.local.videoMuted, "cam", "camOff", "camera");
    micBtn.title += " (M)";
    camBtn.title += " (V)";
  };

  const renderRoom = () => {
    lockBadge.hidden = !conf.locked;
    // Only a real failure (with why) or a lost session coming back (calm, not a warning); see mediastatus.ts.
    const pill = conf.mediaPill;
    mediaPill.hidden = pill.kind === "hidden";
    if (pill.kind !== "hidden") {
      mediaPill.className = pill.kind === "reconnecting" ? "pill pill-info" : "pill pill-warn";
      mediaPill.textContent = pill.text;
      mediaPill.title = pill.title;
    }
    lockBtn.hidden = !conf.isModerator;
    clear(lockBtn);
    lockBtn.append(icon(conf.locked ? "unlock" : "lock"));
    const label = conf.locked ? "Remove the meeting password" : "Lock the meeting with a password";
    lockBtn.setAttribute("aria-label", label);
    lockBtn.title = label;
  };

  const renderUnread = () => {
    chatBadge.textContent = conf.chat.unread > 99 ? "99+" : String(conf.chat.unread);
    chatBadge.hidden = conf.chat.unread === 0;
    chatBtn.setAttribute("aria-label", conf.chat.unread ? `Chat, ${conf.chat.unread} unread` : "Chat");
  };

  const addMessage = (m: LoggedMessage) => {
    const who = m.mine ? "You" : conf.displayNameOf(m.from);
    const target = m.private ? (m.mine ? `to ${conf.displayNameOf(m.to ?? "")}` : "to you") : "";
    const time = m.at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    const li = h(
      "li",
      { class: `message${m.mine ? " mine" : ""}${m.private ? " private" : ""}${m.history ? " history" : ""}` },
      h("div", { class: "message-meta" }, h("span", { class: "message-from", text: who }), target ? h("span", { class: "message-private", text: `Private ${target}` }) : null, h("time", { text: time, attrs: { datetime: m.at.toISOString() } })),
      h("p", { class: "message-body", text: m.body }),
    );
    if (!m.mine && m.private) {
      li.append(
        h("button", {
          class: "btn btn-link",
          attrs: { type: "button" },
          text: "Reply privately",
          on: {
            click: () => {
              privateTo = m.from;
              recipient.value = m.from;
              recipient.classList.add("private");
              chatInput.focus();
            },
          },
        }),
      );
    }
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    messages.append(li);
    if (atBottom || m.mine) messages.scrollTop = messages.scrollHeight;
    if (!m.mine && !m.history && panel !== "chat") toast(`${who}: ${m.body.slice(0, 80)}`);
    renderUnread();
  };

  const setPanel = (p: Panel) => {
    panel = p;
    conf.chatOpen = p === "chat";
    side.classList.toggle("open", p !== null);
    main.classList.toggle("with-side", p !== null);
    chatSection.hidden = p !== "chat";
    peopleSection.hidden = p !== "people";
    sideTitle.textContent = p === "chat" ? "Chat" : "Participants";
    chatBtn.setAttribute("aria-expanded", String(p === "chat"));
    peopleBtn.setAttribute("aria-expanded", String(p === "people"));
    chatBtn.classList.toggle("btn-active", p === "chat");
    peopleBtn.classList.toggle("btn-active", p === "people");
    if (p === "chat") {
      conf.chat.markRead();
      renderUnread();
      recipient.value = privateTo;
      recipient.classList.toggle("private", !!privateTo);
      messages.scrollTop = messages.scrollHeight;
      chatInput.focus();
    }
    requestAnimationFrame(layout);
  };

  const kick = async (id: string, name: string) => {
    const reason = await prompt({
      id: "kick-dialog",
      title: `Remove ${name}?`,
      message: kickMessage(conf.locked, conf.lobbyOn),
      label: "Reason (optional)",
      confirm: "Remove",
      cancel: "Cancel",
      allowEmpty: true,
      danger: true,
    });
    if (reason === null) return;
    try {
      await conf.kick(id, reason.trim());
    } catch (err) {
      toast((err as Error).message, "error");
    }
  };

  // Local media toggles.
  const toggle = async (kind: MediaKind) => {
    const muted = kind === "audio" ? conf.local.audioMuted : conf.local.videoMuted;
    if (muted) {
      if (kind === "audio" && !conf.mayUnmuteMic) return void toast("Microphones are moderated: a moderator has to allow you to unmute.", "error", 5000);
      if (!media[kind]) {
        try {
          await media.start(kind);
        } catch (p) {
          toast((p as MediaProblem).message ?? "The device could not be started.", "error", 6000);
          return;
        }
      }
      media[kind]!.enabled = true;
    } else if (kind === "video") {
      media.stop("video"); // release the camera (its light goes off)
    } else if (media.audio) {
      media.audio.enabled = false;
    }
    if (kind === "audio") conf.setAudioMuted(!muted);
    else conf.setVideoMuted(!muted);
    await session.updateTracks();
  };

  micBtn.addEventListener("click", () => toggle("audio"));
  shareBtn.addEventListener("click", () => toggleShare());
  viewBtn.addEventListener("click", () => setStageView(!stageView));
  const onDocClick = (ev: MouseEvent) => {
    if (menuFor && !(ev.target as Element | null)?.closest?.(".tile-menu, .tile-menu-button")) closeMenu();
  };
  document.addEventListener("click", onDocClick);
  camBtn.addEventListener("click", () => toggle("video"));
  chatBtn.addEventListener("click", () => setPanel(panel === "chat" ? null : "chat"));
  peopleBtn.addEventListener("click", () => setPanel(panel === "people" ? null : "people"));
  inviteBtn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(inviteUrl);
      toast("Invite link copied");
    } catch {
      await prompt({ title: "Invite people", message: "Copy this link and send it to the people you want to invite.", label: "Meeting link", value: inviteUrl, confirm: "Done", allowEmpty: true });
    }
  });
  lockBtn.addEventListener("click", async () => {
    if (conf.locked) {
      try {
        await conf.setPassword("");
        toast("The meeting password was removed");
      } catch (err) {
        toast((err as Error).message, "error");
      }
      return;
    }
    const pw = await prompt({ id: "lock-dialog", title: "Lock the meeting", message: "People who join from now on need this password. Share it separately from the link.", label: "Password", type: "password", confirm: "Lock", cancel: "Cancel" });
    if (!pw) return;
    try {
      await conf.setPassword(pw);
      toast("The meeting is locked");
    } catch (err) {
      toast((err as Error).message, "error");
    }
  });
  leaveBtn.addEventListener("click", onLeave);
  recipient.addEventListener("change", () => {
    privateTo = recipient.value;
    recipient.classList.toggle("private", !!privateTo);
  });
  chatForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = chatInput.value.trim();
    if (!body) return;
    if (conf.phase.phase !== "joined") {
      toast("Not connected; the message was not sent.", "error");
      return;
    }
    conf.sendChat(body, privateTo || undefined);
    chatInput.value = "";
  });
  chatInput.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      chatForm.requestSubmit();
    }
  });

  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === "Escape" && panel && !document.querySelector("dialog[open]")) {
      setPanel(null);
      return;
    }
    if (inTextField(ev) || ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]")) return;
    switch (ev.key.toLowerCase()) {
      case "m":
        toggle("audio");
        break;
      case "v":
        toggle("video");
        break;
      case "c":
        setPanel(panel === "chat" ? null : "chat");
        break;
      case "p":
        setPanel(panel === "people" ? null : "people");
        break;
      case "d":
        if (!shareBtn.hidden) toggleShare();
        break;
      case "w":
        setStageView(!stageView);
        break;
      default:
        return;
    }
    ev.preventDefault();
  };
  document.addEventListener("keydown", onKey);

  const offs = [
    conf.on("participants", renderParticipants),
    conf.on("local", () => {
      renderLocal();
      renderRoom();
    }),
    conf.on("room", renderRoom),
    session.on("remotes", () => {
      syncAudio();
      renderParticipants();
    }),
    session.on("dominant", (id, previous) => {
      if (id === speaker && previous.join() === previousSpeakers.join()) return;
      speaker = id;
      previousSpeakers = previous;
      renderParticipants();
    }),
    session.on("desktop", (err) => {
      // A running share the session could not carry on (after a restart); a
      // share that fails to start is reported by startShare.
      if (!sharing || session.desktop) return;
      if (err) toast(err.message, "error", 8000);
      sharing.stop();
      sharing = null;
      conf.setSharing(false);
      renderParticipants();
    }),
    conf.on("mutedBy", async (kind, actor) => {
      const muted = kind === "audio" ? conf.local.audioMuted : conf.local.videoMuted;
      if (!muted) await toggle(kind);
      toast(kind === "audio" ? `You were muted by ${actor}` : `Your camera was turned off by ${actor}`, "info", 6000);
    }),
    conf.on("chat", addMessage),
    conf.on("notice", (m) => toast(m, "error")),
    conf.on("phase", (p) => {
      banner.hidden = p.phase !== "reconnecting";
      if (p.phase === "joined") main.classList.remove("offline");
      if (p.phase === "reconnecting") main.classList.add("offline");
    }),
  ];

  setPanel(null);
  renderLocal();
  renderRoom();
  renderParticipants();
  renderUnread();
  for (const m of conf.chat.messages) addMessage(m);

  return () => {
    for (const f of offs) f();
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("click", onDocClick);
    resize.disconnect();
    moderation.teardown();
    sharing?.stop();
    sharing = null;
  };
}
