// The conference screen, composed of its parts (ui/meeting/): the top bar,
// the tile grid and stage, the side panel (chat, participants), the
// toolbar, raised hands, reactions, remote audio, the settings dialog and
// the keyboard shortcuts. They share one
// MeetingState and call each other through Actions (meeting/state.ts);
// this file wires them to the conference's and media session's events.
import type { Conference } from "../conference";
import type { LocalMedia } from "../media";
import { Prefs } from "../prefs";
import type { MediaSession } from "../session";
import { clear, h } from "./dom";
import { moderationControls } from "./moderation";
import { toast } from "./toast";
import { words } from "./wording";
import * as actions from "./meeting/actions";
import { createRemoteAudio } from "./meeting/audio";
import { createChatPanel } from "./meeting/chatpanel";
import { toggleHand } from "./meeting/hands";
import { installKeys } from "./meeting/keys";
import { createPeoplePanel } from "./meeting/peoplepanel";
import { createReactions } from "./meeting/reactions";
import { createSettings } from "./meeting/settings";
import { createSide } from "./meeting/side";
import { pin, setStageView } from "./meeting/stage";
import { newMeetingState, type Actions, type Meeting, type Panel } from "./meeting/state";
import { createTiles } from "./meeting/tiles";
import { createPausedVideos } from "./meeting/paused";
import { createQuality } from "./meeting/quality";
import { createToolbar } from "./meeting/toolbar";
import { createTopBar } from "./meeting/topbar";
import { t } from "../i18n";

export function renderMeeting(root: HTMLElement, conf: Conference, media: LocalMedia, session: MediaSession, inviteUrl: string, onLeave: () => void): () => void {
  clear(root);
  document.title = words.title(conf.roomName, 0);
  const m: Meeting = { conf, media, session, state: newMeetingState(), act: {} as Actions };
  const { state } = m;

  const moderation = moderationControls(conf); // lobby, mute everyone, end for all, make moderator (ui/moderation.ts)
  const topbar = createTopBar(m, moderation);
  // Per tile: the avatar over a video the bridge does not forward, the connection indicator.
  const paused = createPausedVideos(m);
  const quality = createQuality(m);
  const tiles = createTiles(m, moderation, [paused, quality]);
  const chat = createChatPanel(m);
  const people = createPeoplePanel(m);
  const side = createSide(m, chat, people);
  const reactions = createReactions(m);
  const toolbar = createToolbar(m, moderation, reactions.picker, inviteUrl, onLeave);
  const audio = createRemoteAudio(session);
  const settings = createSettings(m, new Prefs(), audio);
  const stageArea = h("div", { class: "stage-area" }, tiles.grid, side.element, reactions.overlay);
  const main = h("main", { class: "meeting", attrs: { id: "meeting" } }, topbar.element, topbar.banner, stageArea, toolbar.element, audio.element, moderation.knockCard);
  root.append(main);

  const render = () => {
    const list = tiles.render();
    toolbar.renderView();
    topbar.renderCount(list.length);
    people.render(list);
    chat.renderRecipients(list);
  };
  const renderRoom = () => {
    topbar.renderRoom();
    toolbar.renderRoom();
  };
  const setPanel = (p: Panel) => {
    side.show(p);
    main.classList.toggle("with-side", p !== null);
    toolbar.renderPanel();
    if (p === "chat") {
      conf.chat.markRead();
      toolbar.renderUnread();
      chat.opened();
    }
    requestAnimationFrame(tiles.layout);
  };
  m.act = {
    render,
    layout: tiles.layout,
    setPanel,
    pin: (key) => pin(m, key),
    setStageView: (on) => setStageView(m, on),
    toggleMedia: (kind) => actions.toggleMedia(m, kind),
    toggleShare: () => void (state.sharing ? actions.stopShare(m) : actions.startShare(m)),
    toggleHand: () => toggleHand(m),
    kick: (id, name) => actions.kick(m, id, name),
    askToMute: (id, kind, name) => actions.askToMute(m, id, kind, name),
    openSettings: settings.open,
  };
  const removeKeys = installKeys(m, {
    canShare: () => toolbar.canShare,
    closeReactions: reactions.close,
    pushToTalk: topbar.renderPushToTalk,
  });

  const offs = [
    conf.on("participants", render),
    conf.on("local", () => {
      toolbar.renderLocal();
      renderRoom();
    }),
    conf.on("room", renderRoom),
    session.on("remotes", () => {
      audio.sync();
      render();
    }),
    session.on("dominant", (id, previous) => {
      if (id === state.speaker && previous.join() === state.previousSpeakers.join()) return;
      state.speaker = id;
      state.previousSpeakers = previous;
      render();
    }),
    session.on("desktop", (err) => actions.shareLost(m, err)),
    conf.on("mutedBy", async (kind, actor) => {
      const muted = kind === "audio" ? conf.local.audioMuted : conf.local.videoMuted;
      if (!muted) await m.act.toggleMedia(kind);
      toast(kind === "audio" ? t("actions.mutedBy", { actor }) : t("actions.camOffBy", { actor }), "info", 6000);
    }),
    conf.on("chat", (msg) => {
      chat.add(msg);
      toolbar.renderUnread();
    }),
    conf.on("notice", (text) => toast(text, "error")),
    conf.on("hand", (id, raised) => {
      if (raised) toast(words.handRaisedBy(conf.displayNameOf(id)));
    }),
    conf.on("handLowered", (actor) => toast(words.handLoweredBy(actor), "info", 6000)),
    conf.on("reaction", (from, ids) => reactions.show(from, ids)),
    conf.on("phase", (p) => {
      topbar.banner.hidden = p.phase !== "reconnecting";
      if (p.phase === "joined") main.classList.remove("offline");
      if (p.phase === "reconnecting") main.classList.add("offline");
    }),
  ];

  setPanel(null);
  toolbar.renderLocal();
  renderRoom();
  render();
  toolbar.renderUnread();
  for (const msg of conf.chat.messages) chat.add(msg);

  return () => {
    for (const f of offs) f();
    removeKeys();
    tiles.teardown();
    toolbar.teardown();
    paused.teardown();
    quality.teardown();
    reactions.teardown();
    moderation.teardown();
    settings.teardown();
    state.sharing?.stop();
    state.sharing = null;
  };
}
