/**
 * What the meeting's media pill says (ui/meeting.ts), from what the
 * conference knows of media. The pill shows only when media really failed
 * (with why) or is coming back after a loss; a first session that is still
 * connecting (someone alone, or just in after a password) shows nothing,
 * until it has taken longer than a session should.
 */
import type { MediaState } from "./session";
import { t } from "./i18n";

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
  /**
   * Whether audio and video have flowed in this meeting before: only then is
   * a session in "reconnecting" coming back. One that never connected (its
   * ICE failed, and the session restarts) is still the first one connecting.
   */
  everConnected: boolean;
}

export type MediaPill =
  | { kind: "hidden" }
  /** A lost session being restored: calm, not a warning. */
  | { kind: "reconnecting"; text: string; title: string }
  /** Media failed: text says why in a few words, title in a sentence. */
  | { kind: "failed"; text: string; title: string };


export function mediaPill(f: MediaFacts): MediaPill {
  if (f.connected) return { kind: "hidden" };
  const rest = t("pill.rest");
  const failed = (why: string, title: string): MediaPill => ({ kind: "failed", text: t("pill.failed", { why }), title: `${title} ${rest}` });
  if (!f.available) {
    const c = f.unavailableCondition ? ` (${f.unavailableCondition})` : "";
    return failed(t("pill.unavailable"), t("pill.unavailableTitle", { condition: c }));
  }
  if (f.state === "reconnecting" && f.everConnected) {
    return { kind: "reconnecting", text: t("pill.reconnecting"), title: `${t("pill.reconnectingTitle")} ${rest}` };
  }
  if (f.failure) return failed(t("pill.setupFailed"), t("pill.setupFailedTitle", { failure: f.failure.replace(/\.$/, "") }));
  if (!f.overdue) return { kind: "hidden" };
  if (f.state === "connecting" || f.state === "reconnecting") {
    return failed(t("pill.unreachable"), t("pill.unreachableTitle"));
  }
  return failed(t("pill.notAnswering"), t("pill.notAnsweringTitle"));
}
