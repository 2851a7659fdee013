// The meeting's words, read from the catalogues (i18n/) in the current
// language, and the sentences that depend on state or on a browser error,
// kept apart from the DOM so the unit tests can read them.
import { t } from "../i18n";
import type { ReactionId } from "../reactions";

/**
 * What the remove dialog says: removing is not a ban (conf.kick sets role
 * none), so they can come back by the way everyone else comes in: the
 * link, the password when the meeting is locked, the lobby when it is on.
 */
export function kickMessage(locked: boolean, lobbyOn: boolean): string {
  const back = locked && lobbyOn ? "kick.back.both" : locked ? "kick.back.password" : lobbyOn ? "kick.back.lobby" : "kick.back.link";
  return t("kick.message", { back: t(back) });
}

/**
 * What a screen share that could not start tells the user, from the
 * error of getDisplayMedia (its raw text goes to the console, not the page).
 */
export function describeShareError(err: unknown): string {
  switch ((err as { name?: string } | null)?.name ?? "") {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return t("share.blocked");
    case "NotFoundError":
      return t("share.nothing");
    case "NotReadableError":
    case "AbortError":
      return t("share.notReadable");
    case "NotSupportedError":
    case "TypeError":
      return t("share.unsupported");
    default:
      return t("share.couldNotStart");
  }
}

/** A device kind the settings dialog names. */
export type DeviceKind = "camera" | "microphone" | "speaker";

/**
 * The meeting's words for raised hands, reactions, chat notifications,
 * the keyboard shortcuts, the participants panel and the settings, read
 * from the current language's catalogue (i18n/) each time they are used.
 */
export const words = {
  get raiseHand() {
    return t("hand.raise");
  },
  get lowerHand() {
    return t("hand.lower");
  },
  handRaisedBy: (name: string) => t("hand.raisedBy", { name }),
  handLoweredBy: (name: string) => t("hand.loweredBy", { name }),
  lowerHandOf: (name: string) => t("hand.lowerOf", { name }),
  handOrder: (name: string, place: number) => t("hand.order", { name, place: ordinal(place) }),
  yourHandOrder: (place: number) => t("hand.yourOrder", { place: ordinal(place) }),
  get reactions() {
    return t("reactions.send");
  },
  reactionName: (id: ReactionId) => t(`reaction.${id}`),
  reactedBy: (name: string, reaction: string) => t("reaction.by", { name, reaction }),
  chatToast: (from: string, body: string) => t("chat.toast", { from, text: preview(body) }),
  chatUnread: (n: number) => (n ? t("chat.unread", { count: n }) : t("toolbar.chat")),
  /** The tab's title, "(2) room · Parley" while messages are unread (the other screens' titles use "·" too). */
  title: (room: string, unread: number) => (unread ? t("title.roomUnread", { room, unread: unread > 99 ? "99+" : unread }) : t("title.room", { room })),
  get shortcutsTitle() {
    return t("keys.title");
  },
  get shortcuts(): [string, string][] {
    return [
      ["M", t("keys.mic")],
      [t("keys.space.name"), t("keys.space")],
      ["V", t("keys.cam")],
      ["D", t("keys.share")],
      ["R", t("keys.hand")],
      ["C", t("keys.chat")],
      ["P", t("keys.people")],
      ["S", t("keys.settings")],
      ["W", t("keys.view")],
      ["?", t("keys.help")],
      [t("keys.esc.name"), t("keys.close")],
    ];
  },
  get pushToTalk() {
    return t("keys.pushToTalk");
  },
  // The participants panel (ui/meeting/peoplepanel.ts).
  get muteEveryone() {
    return t("people.muteEveryone");
  },
  get endForAll() {
    return t("people.endForAll");
  },
  makeModerator: (name: string) => t("people.makeModerator", { name }),
  muteOf: (name: string) => t("people.muteOf", { name }),
  removeOf: (name: string) => t("people.removeOf", { name }),
  get messagePrivately() {
    return t("people.message");
  },
  optionsFor: (name: string) => t("people.optionsFor", { name }),
  get moderator() {
    return t("people.moderator");
  },
  get speaking() {
    return t("people.speaking");
  },
  speakingNow: (name: string) => t("people.speakingNow", { name }),
  get searchPeople() {
    return t("people.search");
  },
  nobodyMatches: (q: string) => t("people.nobody", { query: q }),
  // The settings dialog (ui/meeting/settings.ts).
  get settings() {
    return t("settings.title");
  },
  device: (kind: DeviceKind) => t(`settings.${kind}`),
  noDevice: (kind: DeviceKind) => t(`settings.no${kind === "camera" ? "Camera" : kind === "microphone" ? "Microphone" : "Speaker"}`),
  deviceNumbered: (kind: DeviceKind, n: number) => t("prejoin.deviceNumbered", { device: t(`settings.${kind}`), n }),
  deviceFailed: (kind: DeviceKind) => t(`settings.${kind}Failed`),
  get yourName() {
    return t("settings.yourName");
  },
  get nameHint() {
    return t("settings.nameHint");
  },
  get noiseSuppression() {
    return t("settings.noise");
  },
  get noiseSuppressionHint() {
    return t("settings.noiseHint");
  },
  get videoQuality() {
    return t("settings.quality");
  },
  get videoQualityHint() {
    return t("settings.qualityHint");
  },
  qualityName: (q: "low" | "standard" | "high") => t(`settings.quality.${q}`),
  get close() {
    return t("common.close");
  },
};

/** The start of a chat message for a notification: one line, at most 80 characters. */
export function preview(body: string, max = 80): string {
  const line = body.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

/** 1st, 2nd… in English; 1., 2.… in German (the ordinal plural rules). */
function ordinal(n: number): string {
  return t("common.ordinal", { count: n });
}

/** The connection indicator's and the paused video's words (ui/meeting/quality.ts, paused.ts). */
export const qualityWords = {
  level: (level: "good" | "fair" | "poor") => t(`quality.${level}`),
  get measuring() {
    return t("quality.measuring");
  },
  /** The indicator button's label. */
  indicator: (level: string) => t("quality.indicator", { level }),
  get title() {
    return t("quality.title");
  },
  get bitrate() {
    return t("quality.bitrate");
  },
  get loss() {
    return t("quality.loss");
  },
  get resolution() {
    return t("quality.resolution");
  },
  get frameRate() {
    return t("quality.frameRate");
  },
  get rtt() {
    return t("quality.rtt");
  },
  get freezes() {
    return t("quality.freezes");
  },
  get limited() {
    return t("quality.limited");
  },
  limitedBy: (why: string) => t(why === "bandwidth" || why === "cpu" ? `quality.limitedBy.${why}` : "quality.limitedBy.other"),
  /** Where a number comes from: what reaches us, and what they (or we) send. */
  get down() {
    return t("quality.down");
  },
  get up() {
    return t("quality.up");
  },
  get theirUpload() {
    return t("quality.theirUpload");
  },
  kbps: (v: number) => t("quality.kbps", { value: Math.round(v) }),
  percent: (v: number) => t("quality.percent", { value: v < 10 ? v.toFixed(1) : Math.round(v) }),
  ms: (v: number) => t("quality.ms", { value: Math.max(1, Math.round(v)) }),
  fps: (v: number) => t("quality.fps", { value: Math.round(v) }),
  size: (w: number, h: number) => `${w}×${h}`,
  none: "—",
  get videoPaused() {
    return t("quality.videoPaused");
  },
  get videoPausedShort() {
    return t("quality.videoPausedShort");
  },
};
