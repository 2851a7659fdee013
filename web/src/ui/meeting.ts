// The conference screen: tile grid, toolbar, chat and people panels,
// connection banner, invite link, room lock, and the keyboard shortcuts
// M (microphone), V (camera), C (chat), P (people).
import type { LoggedMessage } from "../chat";
import { guestName, type Conference, type Participant } from "../conference";
import { heightFor } from "../bridgechannel";
import type { LocalMedia, MediaKind, MediaProblem } from "../media";
import type { MediaSession } from "../session";
import { prompt } from "./dialog";
import { clear, h, hueFor, icon, initials, inTextField } from "./dom";
import { gridFor } from "./layout";
import { setToggle } from "./prejoin";
import { toast } from "./toast";

type Panel = "chat" | "people" | null;

export function renderMeeting(root: HTMLElement, conf: Conference, media: LocalMedia, session: MediaSession, inviteUrl: string, onLeave: () => void): () => void {
  clear(root);
  document.title = `${conf.roomName} · Parley`;
  let panel: Panel = null;
  let privateTo = ""; // endpoint ID of the private-chat recipient, "" for everyone

  // Top bar.
  const lockBadge = h("span", { class: "badge badge-lock", attrs: { id: "lock-state", title: "This meeting has a password" } }, icon("lock"), h("span", { text: "Locked" }));
  const count = h("span", { class: "muted", attrs: { id: "participant-count" } });
  const mediaPill = h("span", { class: "pill pill-warn", attrs: { id: "media-unavailable" }, text: "Audio and video unavailable" });
  const topbar = h("header", { class: "topbar" }, h("span", { class: "brand-mark brand-small", attrs: { "aria-hidden": "true" } }), h("h1", { class: "topbar-room", text: conf.roomName }), lockBadge, count, h("span", { class: "spacer" }), mediaPill);

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
  const toolbar = h("nav", { class: "toolbar", attrs: { "aria-label": "Meeting controls" } }, micBtn, camBtn, chatBtn, peopleBtn, inviteBtn, lockBtn, leaveBtn);

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
  const main = h("main", { class: "meeting", attrs: { id: "meeting" } }, topbar, banner, stageArea, toolbar, audios);
  root.append(main);

  // Tiles.
  const localVideo = h("video", { class: "tile-video mirror", attrs: { muted: true, playsinline: true, autoplay: true } });
  localVideo.muted = true;
  // One <video> per remote participant, kept across re-renders; its track comes from the media session.
  const remoteVideos = new Map<string, HTMLVideoElement>();
  const remoteAudios = new Map<string, HTMLAudioElement>();
  let speaker = "";
  const remoteVideo = (id: string, track: MediaStreamTrack): HTMLVideoElement => {
    let v = remoteVideos.get(id);
    if (!v) {
      v = h("video", { class: "tile-video remote-video", attrs: { muted: true, playsinline: true, autoplay: true, "data-id": id } });
      v.muted = true;
      remoteVideos.set(id, v);
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

  const tileFor = (p: Participant): HTMLElement => {
    let t = tiles.get(p.id);
    if (!t) {
      t = h("article", { class: "tile", attrs: { "data-id": p.id, tabindex: "0" } });
      tiles.set(p.id, t);
    }
    clear(t);
    const name = p.local ? p.displayName || "You" : p.displayName || guestName(p.id);
    const showVideo = p.local && !conf.local.videoMuted && !!media.video;
    const remoteTrack = p.local || p.videoMuted ? null : (session.remotes.get(p.id)?.video ?? null);
    t.classList.toggle("speaking", !p.local && p.id === speaker);
    const av = h("div", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(p.id)));
    if (showVideo) {
      if (localVideo.srcObject !== null && (localVideo.srcObject as MediaStream).getVideoTracks()[0] !== media.video) localVideo.srcObject = null;
      if (!localVideo.srcObject) localVideo.srcObject = new MediaStream([media.video!]);
      t.append(localVideo);
      localVideo.play().catch(() => {});
    } else if (remoteTrack) {
      const v = remoteVideo(p.id, remoteTrack);
      t.append(v);
      v.play().catch(() => {});
    } else {
      t.append(av);
    }
    const label = h("div", { class: "tile-name" }, p.audioMuted ? h("span", { class: "tile-muted", attrs: { title: "Microphone off" } }, icon("micOff")) : null, h("span", { class: "tile-name-text", text: name + (p.local ? " (you)" : "") }));
    t.append(label);
    if (p.role === "moderator") t.append(h("span", { class: "tile-role", text: "Moderator" }));
    t.setAttribute("aria-label", `${name}${p.local ? ", you" : ""}${p.audioMuted ? ", microphone off" : ""}${p.videoMuted ? ", camera off" : ""}`);
    return t;
  };

  const layout = () => {
    const n = grid.childElementCount;
    const r = grid.getBoundingClientRect();
    const g = gridFor(n, r.width - 16, r.height - 16);
    grid.style.setProperty("--cols", String(g.cols));
    grid.style.setProperty("--tile-w", `${Math.floor(g.tileW)}px`);
    grid.style.setProperty("--tile-h", `${Math.floor(g.tileH)}px`);
    if (g.tileH > 0) session.setMaxHeight(heightFor(g.tileH, devicePixelRatio || 1));
  };
  const resize = new ResizeObserver(layout);
  resize.observe(grid);

  const ordered = (): Participant[] => {
    const all = [...conf.participants.values()];
    return all.sort((a, b) => (a.local === b.local ? conf.displayNameOf(a.id).localeCompare(conf.displayNameOf(b.id)) : a.local ? -1 : 1));
  };

  const renderParticipants = () => {
    const list = ordered();
    const ids = new Set(list.map((p) => p.id));
    for (const [id, t] of tiles) {
      if (!ids.has(id)) {
        t.remove();
        tiles.delete(id);
        remoteVideos.delete(id);
      }
    }
    list.forEach((p, i) => {
      const t = tileFor(p);
      if (grid.children[i] !== t) grid.insertBefore(t, grid.children[i] ?? null);
    });
    layout();
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

  const renderLocal = () => {
    setToggle(micBtn, !conf.local.audioMuted, "mic", "micOff", "microphone");
    setToggle(camBtn, !conf.local.videoMuted, "cam", "camOff", "camera");
    micBtn.title += " (M)";
    camBtn.title += " (V)";
  };

  const renderRoom = () => {
    lockBadge.hidden = !conf.locked;
    mediaPill.hidden = conf.mediaConnected;
    mediaPill.title = conf.mediaAvailable
      ? "Others cannot see or hear you yet; chat and the participant list work."
      : "The media server is not available; chat and the participant list work.";
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
      message: "They leave the meeting at once. They can join again unless the meeting is locked.",
      label: "Reason (optional)",
      confirm: "Remove",
      cancel: "Cancel",
      allowEmpty: true,
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
    session.on("dominant", (id) => {
      speaker = id;
      for (const [pid, t] of tiles) t.classList.toggle("speaking", pid === id && !conf.participants.get(pid)?.local);
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
    resize.disconnect();
  };
}
