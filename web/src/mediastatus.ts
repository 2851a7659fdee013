/**
 * What the meeting's media pill says (ui/meeting.ts), from what the
 * conference knows of media. The pill shows only when media really failed
 * (with why) or is coming back after a loss; a first session that is still
 * connecting (someone alone, or just in after a password) shows nothing,
 * until it has taken longer than a session should.
 */
import type { MediaState } from "./session";

/** What the conference knows of media (Conference.mediaFacts). */
export interface MediaFacts {
  /** Whether the focus answered ready; if not, the condition it failed with (unavailableCondition). */
  available: boolean;
  unavailableCondition: string;
  /** Whether audio and video flow. */
  connected: boolean;
  /** The media session's state (session.ts). */
  state: MediaState;
  /** Why the last session could not be set up ("" if none failed). */
  failure: string;
  /** Whether the first session has taken longer than it should (Conference's mediaWaitMs). */
  overdue: boolean;
}

export type MediaPill =
  | { kind: "hidden" }
  /** A lost session being restored: calm, not a warning. */
  | { kind: "reconnecting"; text: string; title: string }
  /** Media failed: text says why in a few words, title in a sentence. */
  | { kind: "failed"; text: string; title: string };

const rest = "Chat and the participant list work.";

export function mediaPill(f: MediaFacts): MediaPill {
  if (f.connected) return { kind: "hidden" };
  const failed = (why: string, title: string): MediaPill => ({ kind: "failed", text: `No audio or video: ${why}`, title: `${title} ${rest}` });
  if (!f.available) {
    const c = f.unavailableCondition ? ` (${f.unavailableCondition})` : "";
    return failed("media server unavailable", `The server could not start audio and video for this meeting${c}.`);
  }
  if (f.state === "reconnecting") {
    return { kind: "reconnecting", text: "Reconnecting media…", title: `The audio and video connection dropped; Parley is restoring it by itself. ${rest}` };
  }
  if (f.failure) return failed("setup failed", `This browser could not set up audio and video: ${f.failure}.`.replace(/\.\.$/, "."));
  if (!f.overdue) return { kind: "hidden" };
  if (f.state === "connecting") {
    return failed("media server unreachable", "The browser cannot reach the media server; a firewall or VPN may block it (UDP, or the TURN relay).");
  }
  return failed("media server not answering", "The server has not offered audio and video for this meeting yet.");
}
