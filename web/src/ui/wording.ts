// Sentences the meeting shows that depend on state or on a browser error,
// kept apart from the DOM so the unit tests can read them.

/**
 * What the remove dialog says: removing is not a ban (conf.kick sets role
 * none), so they can come back by the way everyone else comes in: the
 * link, the password when the meeting is locked, the lobby when it is on.
 */
export function kickMessage(locked: boolean, lobbyOn: boolean): string {
  const back = locked && lobbyOn
    ? "if they know the password or a moderator lets them in from the lobby"
    : locked
      ? "if they know the meeting password"
      : lobbyOn
        ? "if a moderator lets them in from the lobby"
        : "with the meeting link";
  return `They leave the meeting at once. This is not a ban: they can join again ${back}.`;
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
      return "Screen sharing was blocked or cancelled.";
    case "NotFoundError":
      return "There is no screen or window to share.";
    case "NotReadableError":
    case "AbortError":
      return "Your screen could not be captured; the system or another application may be blocking it.";
    case "NotSupportedError":
    case "TypeError":
      return "This browser cannot share its screen here.";
    default:
      return "Screen sharing could not start.";
  }
}

/**
 * The meeting's words for raised hands, reactions, chat notifications and
 * the keyboard shortcuts, in one place for a translation to replace.
 */
export const words = {
  raiseHand: "Raise your hand",
  lowerHand: "Lower your hand",
  handRaisedBy: (name: string) => `${name} raised a hand`,
  handLoweredBy: (name: string) => `${name} lowered your hand`,
  lowerHandOf: (name: string) => `Lower ${name}'s hand`,
  handOrder: (name: string, place: number) => `${name}'s hand is up, ${ordinal(place)} in line`,
  yourHandOrder: (place: number) => `Your hand is up, ${ordinal(place)} in line: click to lower it`,
  reactions: "Send a reaction",
  reactionNames: { like: "Thumbs up", clap: "Applause", laugh: "Laughter", surprised: "Surprise", boo: "Disappointment", silence: "Silence" } as Record<string, string>,
  reactedBy: (name: string, reaction: string) => `${name}: ${reaction}`,
  chatToast: (from: string, body: string) => `${from}: ${preview(body)}`,
  chatUnread: (n: number) => (n ? `Chat, ${n} unread` : "Chat"),
  /** The tab's title, "(2) room · Parley" while messages are unread (the other screens' titles use "·" too). */
  title: (room: string, unread: number) => `${unread ? `(${unread > 99 ? "99+" : unread}) ` : ""}${room} · Parley`,
  shortcutsTitle: "Keyboard shortcuts",
  shortcuts: [
    ["M", "Microphone on or off"],
    ["Space", "Hold to talk while muted"],
    ["V", "Camera on or off"],
    ["D", "Share your screen, or stop"],
    ["R", "Raise or lower your hand"],
    ["C", "Chat"],
    ["P", "Participants"],
    ["S", "Settings"],
    ["W", "Grid or stage"],
    ["?", "These shortcuts"],
    ["Esc", "Close the panel"],
  ] as [string, string][],
  pushToTalk: "Talking while you hold Space",
  // The participants panel (ui/meeting/peoplepanel.ts).
  muteEveryone: "Mute everyone",
  endForAll: "End meeting for all",
  makeModerator: (name: string) => `Make ${name} a moderator`,
  muteOf: (name: string) => `Mute ${name}`,
  removeOf: (name: string) => `Remove ${name}`,
  messagePrivately: "Send a private message",
  optionsFor: (name: string) => `Options for ${name}`,
  moderator: "Moderator",
  speaking: "Speaking",
  speakingNow: (name: string) => `${name} is speaking`,
  searchPeople: "Search participants",
  nobodyMatches: (q: string) => `Nobody here is called “${q}”`,
  // The settings dialog (ui/meeting/settings.ts).
  settings: "Settings",
  camera: "Camera",
  microphone: "Microphone",
  speaker: "Speaker",
  noDevice: (what: string) => `No ${what.toLowerCase()} found`,
  deviceNumbered: (what: string, n: number) => `${what} ${n}`,
  yourName: "Your name",
  nameHint: "Everyone in the meeting sees it on your tile.",
  noiseSuppression: "Noise suppression",
  noiseSuppressionHint: "Filters steady background noise from your microphone.",
  videoQuality: "Video quality you receive",
  videoQualityHint: "Lower quality saves bandwidth on a slow connection.",
  qualityNames: { low: "Low", standard: "Standard", high: "High" } as Record<string, string>,
  deviceFailed: (what: string) => `The ${what.toLowerCase()} could not be switched.`,
  close: "Close",
};

/** The start of a chat message for a notification: one line, at most 80 characters. */
export function preview(body: string, max = 80): string {
  const line = body.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${s}`;
}

/** The connection indicator's and the paused video's words (ui/meeting/quality.ts, paused.ts). */
export const qualityWords = {
  levels: { good: "Good", fair: "Fair", poor: "Poor" } as Record<string, string>,
  measuring: "Measuring…",
  /** The indicator button's label. */
  indicator: (level: string) => `Connection: ${level}. Show details`,
  title: "Connection",
  bitrate: "Bitrate",
  loss: "Packet loss",
  resolution: "Resolution",
  frameRate: "Frame rate",
  rtt: "Round trip",
  freezes: "Freezes",
  limited: "Sending less",
  limitedBy: { bandwidth: "not enough bandwidth", cpu: "the computer is busy", other: "the browser's choice" } as Record<string, string>,
  /** Where a number comes from: what reaches us, and what they (or we) send. */
  down: "received",
  up: "sent",
  theirUpload: "their upload",
  kbps: (v: number) => `${Math.round(v)} kbit/s`,
  percent: (v: number) => `${v < 10 ? v.toFixed(1) : Math.round(v)}%`,
  ms: (v: number) => `${Math.max(1, Math.round(v))} ms`,
  fps: (v: number) => `${Math.round(v)} fps`,
  size: (w: number, h: number) => `${w}×${h}`,
  none: "—",
  videoPaused: "Video paused to save bandwidth",
  videoPausedShort: "Video paused",
};
