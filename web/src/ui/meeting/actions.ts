// What the user does to the meeting from anywhere on the screen: turn the
// microphone or camera on and off, share the screen, ask someone to mute,
// remove someone. Failures become toasts.
import type { MuteKind } from "../../conference";
import type { MediaKind, MediaProblem } from "../../media";
import { prompt } from "../dialog";
import { toast } from "../toast";
import { describeShareError, kickMessage } from "../wording";
import type { Meeting } from "./state";
import { t } from "../../i18n";

/** Turns the microphone or camera on or off, starting the device if needed. */
export async function toggleMedia(m: Meeting, kind: MediaKind): Promise<void> {
  const { conf, media, session } = m;
  const muted = kind === "audio" ? conf.local.audioMuted : conf.local.videoMuted;
  if (muted) {
    if (kind === "audio" && !conf.mayUnmuteMic) return void toast(t("mod.micsMustAsk"), "error", 5000);
    if (!media[kind]) {
      try {
        await media.start(kind);
      } catch (p) {
        toast((p as MediaProblem).message ?? t("actions.deviceFailed"), "error", 6000);
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
}

export async function askToMute(m: Meeting, id: string, kind: MuteKind, name: string): Promise<void> {
  try {
    await m.conf.askToMute(id, kind);
    toast(kind === "audio" ? t("actions.youMuted", { name }) : t("actions.youTurnedOffCam", { name }));
  } catch (err) {
    toast((err as Error).message, "error", 6000);
  }
}

/** Removes someone after asking for a reason (optional). */
export async function kick(m: Meeting, id: string, name: string): Promise<void> {
  const reason = await prompt({
    id: "kick-dialog",
    title: t("actions.removeTitle", { name }),
    message: kickMessage(m.conf.locked, m.conf.lobbyOn),
    label: t("actions.reason"),
    confirm: t("actions.remove"),
    cancel: t("common.cancel"),
    allowEmpty: true,
    danger: true,
  });
  if (reason === null) return;
  try {
    await m.conf.kick(id, reason.trim());
  } catch (err) {
    toast((err as Error).message, "error");
  }
}

// Screen share: getDisplayMedia, then source-add (session.ts), then presence.

export async function stopShare(m: Meeting): Promise<void> {
  const track = m.state.sharing;
  if (!track) return;
  m.state.sharing = null;
  track.stop();
  m.conf.setSharing(false);
  m.act.render();
  await m.session.shareDesktop(null).catch(() => {});
}

export async function startShare(m: Meeting): Promise<void> {
  const { state, session } = m;
  if (state.sharing || state.sharingBusy) return;
  state.sharingBusy = true;
  let track: MediaStreamTrack | undefined;
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    track = stream.getVideoTracks()[0];
  } catch (err) {
    state.sharingBusy = false;
    console.warn("getDisplayMedia failed:", err);
    // Blocked or cancelled (the picker's Cancel, a policy, the system) is said calmly; anything else is an error.
    const calm = (err as Error | null)?.name === "NotAllowedError";
    toast(describeShareError(err), calm ? "info" : "error", 6000);
    return;
  }
  if (!track) {
    state.sharingBusy = false;
    return;
  }
  track.contentHint = "detail";
  // The browser's own "Stop sharing" ends the track.
  track.addEventListener("ended", () => {
    if (state.sharing === track) stopShare(m);
  });
  try {
    await session.shareDesktop(track);
  } catch (err) {
    track.stop();
    state.sharingBusy = false;
    toast((err as Error).message, "error", 8000);
    return;
  }
  state.sharingBusy = false;
  if (track.readyState === "ended") {
    await session.shareDesktop(null).catch(() => {});
    return;
  }
  state.sharing = track;
  m.conf.setSharing(true);
  m.act.render();
}

/**
 * A running share the media session could not carry on (after a restart);
 * a share that fails to start is reported by startShare.
 */
export function shareLost(m: Meeting, err: Error | null): void {
  const { state } = m;
  if (!state.sharing || m.session.desktop) return;
  if (err) toast(err.message, "error", 8000);
  state.sharing.stop();
  state.sharing = null;
  m.conf.setSharing(false);
  m.act.render();
}
