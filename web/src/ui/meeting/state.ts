// The meeting screen's one state object and the context its parts share.
// Each part (tiles, stage, toolbar, panels, keys) reads and writes the
// MeetingState and calls the others through Actions, which meeting.ts
// fills in once every part exists; no part keeps meeting state of its own
// beyond the DOM elements it owns.
import { guestName, type Conference, type MuteKind, type Participant } from "../../conference";
import type { LocalMedia, MediaKind } from "../../media";
import type { MediaSession } from "../../session";
import { t } from "../../i18n";

export type Panel = "chat" | "people" | null;

/** One tile: a participant's camera (key: endpoint ID) or screen share (key: its source name, "<endpoint>-v1"). */
export interface TileEntry {
  key: string;
  p: Participant;
  screen: boolean;
}

export interface MeetingState {
  /** The side panel that is open. */
  panel: Panel;
  /** Endpoint ID of the private-chat recipient, "" for everyone. */
  privateTo: string;
  /** The bridge's active speaker, "" in silence. */
  speaker: string;
  /** Who spoke before, most recent first. */
  previousSpeakers: string[];
  stageView: boolean;
  /** A tile key, or "" to let the stage follow shares and the speaker. */
  pinned: string;
  /** The tile on the stage (stage.ts pickStage). */
  stageKey: string;
  /** Our screen share, and whether one is being started. */
  sharing: MediaStreamTrack | null;
  sharingBusy: boolean;
  /** Remote screen shares already seen: a new one goes on the stage. */
  knownShares: Set<string>;
  /**
   * The layout the user had before a remote share took the stage, and the
   * share that took it: when that share ends while still pinned, the
   * layout comes back (stage.ts followNewShares). Null when no share took it.
   */
  beforeShare: { share: string; stageView: boolean; pinned: string } | null;
  /** The tile whose menu is open. */
  menuFor: string;
  /** The tiles as last rendered, in order. */
  tiles: TileEntry[];
  /** Whether the reactions picker is open. */
  reactionsOpen: boolean;
  /** Whether the microphone is open only while Space is held (push to talk, keys.ts). */
  pushToTalk: boolean;
}

export function newMeetingState(): MeetingState {
  return {
    panel: null,
    privateTo: "",
    speaker: "",
    previousSpeakers: [],
    stageView: false,
    pinned: "",
    stageKey: "",
    sharing: null,
    sharingBusy: false,
    knownShares: new Set(),
    beforeShare: null,
    menuFor: "",
    tiles: [],
    reactionsOpen: false,
    pushToTalk: false,
  };
}

/** What the parts ask of each other. */
export interface Actions {
  /** Renders participants everywhere: tiles, toolbar, people list, recipients. */
  render(): void;
  /** Sizes the tiles to the grid and tells the bridge what to send. */
  layout(): void;
  setPanel(p: Panel): void;
  /** Pins a tile to the stage ("" unpins); pinning switches to the stage view. */
  pin(key: string): void;
  setStageView(on: boolean): void;
  toggleMedia(kind: MediaKind): Promise<void>;
  toggleShare(): void;
  toggleHand(): void;
  kick(id: string, name: string): Promise<void>;
  askToMute(id: string, kind: MuteKind, name: string): Promise<void>;
  /** Opens the settings dialog (settings.ts). */
  openSettings(): void;
}

/** Everything a part of the meeting screen needs. */
export interface Meeting {
  conf: Conference;
  media: LocalMedia;
  session: MediaSession;
  state: MeetingState;
  act: Actions;
}

/** How a participant is called on this screen. */
export function nameOf(p: Participant): string {
  return p.local ? p.displayName || t("common.you") : p.displayName || guestName(p.id);
}
