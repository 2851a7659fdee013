// The settings dialog (the toolbar's gear, S): camera, microphone and
// speaker during the meeting, the display name, noise suppression and the
// preferred quality of the video we receive. Each choice applies at once
// and is remembered (prefs.ts):
//
//   camera ─► a new track from that device, replaceTrack on the sender
//             (while the camera is off, only remembered for the next start)
//   microphone, noise suppression ─► a new microphone track (constraints
//             cannot change the browser's audio processing of a running
//             track), enabled as the old one was, replaceTrack
//   speaker ─► setSinkId on every remote <audio> (hidden where the browser
//             cannot choose, or lists no output)
//   name ─► presence with the new <nick> (conference.setDisplayName)
//   quality ─► a cap on ReceiverVideoConstraints' heights and frame rate (session.setReceiveCap)
import { canChooseSpeaker, listDevices, type MediaProblem } from "../../media";
import { cleanDisplayName } from "../../hashparams";
import { qualityFrameRate, qualityHeight, type Prefs, type VideoQuality } from "../../prefs";
import { h } from "../dom";
import { toast } from "../toast";
import { words, type DeviceKind } from "../wording";
import type { RemoteAudio } from "./audio";
import type { Meeting } from "./state";

export interface Settings {
  /** Opens the dialog (once: a second call while open does nothing). */
  open(): void;
  teardown(): void;
}

const QUALITIES: VideoQuality[] = ["low", "standard", "high"];

/** Applies the remembered choices to the meeting and returns the dialog. */
export function createSettings(m: Meeting, prefs: Prefs, audio: RemoteAudio): Settings {
  // "high" (720) caps nothing the tiles would ask: only a lower choice needs telling the session.
  if (prefs.videoQuality !== "high") m.session.setReceiveCap(qualityHeight[prefs.videoQuality], qualityFrameRate[prefs.videoQuality]);
  if (canChooseSpeaker() && prefs.device("audiooutput")) audio.setSink(prefs.device("audiooutput")).catch(() => {});
  let dialog: HTMLDialogElement | null = null;
  return {
    open() {
      if (dialog?.open) return;
      dialog = settingsDialog(m, prefs, audio);
      document.body.append(dialog);
      dialog.showModal();
    },
    teardown() {
      dialog?.close();
    },
  };
}

function settingsDialog(m: Meeting, prefs: Prefs, audio: RemoteAudio): HTMLDialogElement {
  const { conf, media, session } = m;
  const dialog = h("dialog", { class: "dialog settings", attrs: { id: "settings", "aria-labelledby": "settings-title" } });
  const camera = h("select", { class: "field-input", attrs: { id: "settings-camera" } });
  const mic = h("select", { class: "field-input", attrs: { id: "settings-mic" } });
  const speaker = h("select", { class: "field-input", attrs: { id: "settings-speaker" } });
  const speakerField = h("div", { attrs: { id: "settings-speaker-field" } }, h("label", { class: "field-label", attrs: { for: "settings-speaker" }, text: words.device("speaker") }), speaker);
  speakerField.hidden = true; // until outputs are listed
  const name = h("input", { class: "field-input", attrs: { id: "settings-name", type: "text", maxlength: "64", autocomplete: "name" } });
  name.value = conf.local.displayName;
  const noise = h("input", { attrs: { id: "settings-noise", type: "checkbox" } });
  noise.checked = media.noiseSuppression;
  const quality = h("div", { class: "segmented", attrs: { role: "radiogroup", id: "settings-quality", "aria-labelledby": "settings-quality-label" } });
  for (const q of QUALITIES) {
    const input = h("input", { attrs: { type: "radio", name: "settings-quality", id: `quality-${q}`, value: q } });
    input.checked = prefs.videoQuality === q;
    input.addEventListener("change", () => {
      if (!input.checked) return;
      prefs.videoQuality = q;
      session.setReceiveCap(qualityHeight[q], qualityFrameRate[q]);
    });
    quality.append(input, h("label", { attrs: { for: `quality-${q}` } }, h("span", { text: words.qualityName(q) }), h("span", { class: "segmented-sub", text: qualityFrameRate[q] > 0 ? `${qualityHeight[q]}p · ${qualityFrameRate[q]} fps` : `${qualityHeight[q]}p` })));
  }

  const fill = async () => {
    const d = await listDevices().catch(() => null);
    if (!d) return;
    fillSelect(camera, d.videoinput, media.videoDevice || prefs.device("videoinput"), "camera");
    fillSelect(mic, d.audioinput, media.audioDevice || prefs.device("audioinput"), "microphone");
    fillSelect(speaker, d.audiooutput, prefs.device("audiooutput") || "default", "speaker");
    // No output listed (Firefox lists none until asked, headless browsers may have none): the system's default plays.
    speakerField.hidden = !canChooseSpeaker() || d.audiooutput.length === 0;
  };
  camera.addEventListener("change", () => void switchCamera(m, prefs, camera.value));
  mic.addEventListener("change", () => void restartMic(m, prefs, mic.value));
  speaker.addEventListener("change", async () => {
    try {
      await audio.setSink(speaker.value);
      prefs.setDevice("audiooutput", speaker.value);
    } catch (err) {
      console.warn("choosing the speaker failed:", err);
      toast(words.deviceFailed("speaker"), "error", 6000);
    }
  });
  name.addEventListener("change", () => {
    const v = cleanDisplayName(name.value);
    name.value = v;
    if (!v || v === conf.local.displayName) return;
    conf.setDisplayName(v);
    prefs.displayName = v;
  });
  noise.addEventListener("change", () => {
    media.noiseSuppression = noise.checked;
    prefs.noiseSuppression = noise.checked;
    void restartMic(m, prefs, media.audioDevice);
  });
  const onDeviceChange = () => void fill();
  navigator.mediaDevices?.addEventListener?.("devicechange", onDeviceChange);

  const close = h("button", { class: "btn btn-primary", attrs: { type: "button", id: "settings-close" }, text: words.close, on: { click: () => dialog.close() } });
  const form = h(
    "form",
    { attrs: { method: "dialog" }, on: { submit: (ev) => ev.preventDefault() } },
    h("h2", { attrs: { id: "settings-title" }, text: words.settings }),
    h("label", { class: "field-label", attrs: { for: "settings-camera" }, text: words.device("camera") }),
    camera,
    h("label", { class: "field-label", attrs: { for: "settings-mic" }, text: words.device("microphone") }),
    mic,
    h("label", { class: "check", attrs: { for: "settings-noise" } }, noise, h("span", {}, h("span", { text: words.noiseSuppression }), h("span", { class: "check-hint", text: words.noiseSuppressionHint }))),
    speakerField,
    h("label", { class: "field-label", attrs: { for: "settings-name" }, text: words.yourName }),
    name,
    h("p", { class: "field-hint", text: words.nameHint }),
    h("p", { class: "field-label", attrs: { id: "settings-quality-label" }, text: words.videoQuality }),
    quality,
    h("p", { class: "field-hint", text: words.videoQualityHint }),
    h("div", { class: "dialog-actions" }, close),
  );
  // Enter in the name field applies it (change) without closing the dialog.
  name.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") name.dispatchEvent(new Event("change"));
  });
  dialog.append(form);
  dialog.addEventListener("close", () => {
    name.dispatchEvent(new Event("change")); // a name typed and then Esc or Close still applies
    navigator.mediaDevices?.removeEventListener?.("devicechange", onDeviceChange);
    dialog.remove();
  });
  void fill();
  return dialog;
}

/** Sends video from another camera (remembered; while the camera is off, used when it is turned on). */
async function switchCamera(m: Meeting, prefs: Prefs, deviceId: string): Promise<void> {
  const { conf, media, session } = m;
  media.videoDevice = deviceId;
  prefs.setDevice("videoinput", deviceId);
  if (conf.local.videoMuted || !media.video) return;
  try {
    await media.start("video", deviceId);
  } catch (p) {
    toast((p as MediaProblem).message ?? words.deviceFailed("camera"), "error", 6000);
    return;
  }
  await session.updateTracks();
  m.act.render();
}

/**
 * A new microphone track from deviceId with the current noise suppression,
 * muted or not as the old one was; nothing to do while no microphone has
 * been started (the next unmute starts it with these choices).
 */
async function restartMic(m: Meeting, prefs: Prefs, deviceId: string): Promise<void> {
  const { conf, media, session } = m;
  media.audioDevice = deviceId;
  prefs.setDevice("audioinput", deviceId);
  if (!media.audio) return;
  try {
    const track = await media.start("audio", deviceId);
    track.enabled = !conf.local.audioMuted;
  } catch (p) {
    toast((p as MediaProblem).message ?? words.deviceFailed("microphone"), "error", 6000);
    return;
  }
  await session.updateTracks();
}

function fillSelect(sel: HTMLSelectElement, devices: MediaDeviceInfo[], current: string, what: DeviceKind): void {
  sel.replaceChildren();
  devices.forEach((d, i) => {
    const o = h("option", { text: d.label || words.deviceNumbered(what, i + 1) });
    o.value = d.deviceId;
    sel.append(o);
  });
  if (devices.length === 0) sel.append(h("option", { text: words.noDevice(what), attrs: { value: "" } }));
  sel.disabled = devices.length === 0;
  if (current && devices.some((d) => d.deviceId === current)) sel.value = current;
}
