// The pre-join screen: camera preview, microphone level, device pickers,
// display name (remembered) and whether to join muted.
import { cleanDisplayName } from "../hashparams";
import { roomWords } from "../roomname";
import { LevelMeter, listDevices, type LocalMedia, type MediaKind, type MediaProblem } from "../media";
import type { Prefs } from "../prefs";
import { clear, h, icon, initials } from "./dom";
import { t } from "../i18n";

export interface JoinChoice {
  displayName: string;
  audioMuted: boolean;
  videoMuted: boolean;
}

export function renderPrejoin(
  root: HTMLElement,
  room: string,
  media: LocalMedia,
  prefs: Prefs,
  initial: JoinChoice,
): Promise<JoinChoice> {
  clear(root);
  document.title = t("title.room", { room });
  const state = { ...initial };
  const problems = new Map<MediaKind, MediaProblem>();

  const video = h("video", { class: "preview-video", attrs: { id: "preview", muted: true, playsinline: true, autoplay: true } });
  video.muted = true;
  const avatar = h("div", { class: "avatar avatar-large", attrs: { "aria-hidden": "true" } });
  const camOffLabel = h("p", { class: "preview-off muted", text: t("prejoin.cameraOff") });
  const stage = h("div", { class: "preview-stage" }, video, avatar, camOffLabel);
  const meterFill = h("div", { class: "meter-fill" });
  const meter = h("div", { class: "meter", attrs: { id: "mic-meter", role: "meter", "aria-label": t("prejoin.level"), "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" } }, meterFill);
  const levels = new LevelMeter((level) => {
    meterFill.style.transform = `scaleX(${level.toFixed(3)})`;
    meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
  });
  const errors = h("div", { class: "media-errors", attrs: { id: "media-errors", role: "alert" } });

  const micBtn = toggleButton("mic-toggle");
  const camBtn = toggleButton("cam-toggle");

  const name = h("input", { class: "field-input", attrs: { id: "display-name", type: "text", autocomplete: "nickname", maxlength: "64", placeholder: t("prejoin.yourName") } });
  name.value = state.displayName;
  const camSelect = h("select", { class: "field-input", attrs: { id: "camera-select" } });
  const micSelect = h("select", { class: "field-input", attrs: { id: "mic-select" } });
  const joinBtn = h("button", { class: "btn btn-primary btn-wide", attrs: { type: "submit", id: "join" }, text: t("prejoin.join") });

  const render = () => {
    const camOn = !state.videoMuted && !!media.video;
    video.hidden = !camOn;
    avatar.hidden = camOn;
    camOffLabel.hidden = camOn;
    avatar.textContent = initials(name.value || "?");
    setToggle(micBtn, !state.audioMuted, "mic", "micOff");
    setToggle(camBtn, !state.videoMuted, "cam", "camOff");
    meter.hidden = state.audioMuted || !media.audio;
    clear(errors);
    for (const p of problems.values()) errors.append(h("p", { class: "media-error" }, icon("warn"), h("span", { text: p.message })));
  };

  const startKind = async (kind: MediaKind, deviceId?: string) => {
    try {
      const track = await media.start(kind, deviceId);
      problems.delete(kind);
      if (kind === "video") {
        video.srcObject = new MediaStream([track]);
        video.play().catch(() => {});
      } else {
        levels.attach(track);
      }
      prefs.setDevice(kind === "audio" ? "audioinput" : "videoinput", kind === "audio" ? media.audioDevice : media.videoDevice);
    } catch (p) {
      problems.set(kind, p as MediaProblem);
      if (kind === "audio") state.audioMuted = true;
      else state.videoMuted = true;
    }
    render();
    await fillDevices();
  };

  const stopKind = (kind: MediaKind) => {
    media.stop(kind);
    if (kind === "audio") levels.stop();
    else video.srcObject = null;
    render();
  };

  const fillDevices = async () => {
    const d = await listDevices().catch(() => null);
    if (!d) return;
    fillSelect(camSelect, d.videoinput, media.videoDevice, t("prejoin.camera"), t("prejoin.noCamera"));
    fillSelect(micSelect, d.audioinput, media.audioDevice, t("prejoin.microphone"), t("prejoin.noMicrophone"));
  };

  micBtn.addEventListener("click", () => {
    state.audioMuted = !state.audioMuted;
    if (state.audioMuted) stopKind("audio");
    else startKind("audio");
  });
  camBtn.addEventListener("click", () => {
    state.videoMuted = !state.videoMuted;
    if (state.videoMuted) stopKind("video");
    else startKind("video");
  });
  camSelect.addEventListener("change", () => {
    media.videoDevice = camSelect.value;
    if (!state.videoMuted) startKind("video", camSelect.value);
  });
  micSelect.addEventListener("change", () => {
    media.audioDevice = micSelect.value;
    if (!state.audioMuted) startKind("audio", micSelect.value);
  });
  name.addEventListener("input", render);

  const form = h(
    "form",
    { class: "prejoin-form", attrs: { id: "prejoin-form" } },
    h("p", { class: "eyebrow", text: t("prejoin.joining") }),
    h("h1", { class: "prejoin-room" }, ...wordBreaks(room)),
    h("label", { class: "field-label", attrs: { for: "display-name" }, text: t("prejoin.yourName") }),
    name,
    h("label", { class: "field-label", attrs: { for: "camera-select" }, text: t("prejoin.camera") }),
    camSelect,
    h("label", { class: "field-label", attrs: { for: "mic-select" }, text: t("prejoin.microphone") }),
    micSelect,
    joinBtn,
  );

  root.append(
    h(
      "main",
      { class: "prejoin", attrs: { id: "prejoin" } },
      h("section", { class: "preview", attrs: { "aria-label": t("prejoin.preview") } }, stage, h("div", { class: "preview-bar" }, micBtn, camBtn, meter), errors),
      form,
    ),
  );

  media.audioDevice = prefs.device("audioinput");
  media.videoDevice = prefs.device("videoinput");
  render();
  if (!state.videoMuted) startKind("video");
  if (!state.audioMuted) startKind("audio");
  if (state.videoMuted && state.audioMuted) fillDevices();
  (state.displayName ? joinBtn : name).focus();

  return new Promise((resolve) => {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.displayName = cleanDisplayName(name.value);
      prefs.displayName = state.displayName;
      levels.stop();
      video.srcObject = null;
      resolve({ ...state, audioMuted: state.audioMuted || !media.audio, videoMuted: state.videoMuted || !media.video });
    });
  });
}

function toggleButton(id: string): HTMLButtonElement {
  return h("button", { class: "btn btn-round", attrs: { type: "button", id } });
}

/** Shows a microphone or camera button's state: its icon, and a label that says what a click does. */
export function setToggle(btn: HTMLButtonElement, on: boolean, onIcon: "mic" | "cam", offIcon: "micOff" | "camOff"): void {
  clear(btn);
  btn.append(icon(on ? onIcon : offIcon));
  btn.classList.toggle("btn-off", !on);
  btn.dataset.on = String(on);
  const label = onIcon === "mic" ? t(on ? "toggle.micOn" : "toggle.micOff") : t(on ? "toggle.camOn" : "toggle.camOff");
  btn.setAttribute("aria-label", label);
  btn.title = label;
}

function fillSelect(sel: HTMLSelectElement, devices: MediaDeviceInfo[], current: string, device: string, none: string) {
  clear(sel);
  devices.forEach((d, i) => {
    const o = h("option", { text: d.label || t("prejoin.deviceNumbered", { device, n: i + 1 }) });
    o.value = d.deviceId;
    sel.append(o);
  });
  if (devices.length === 0) sel.append(h("option", { text: none }));
  sel.disabled = devices.length === 0;
  if (current && devices.some((d) => d.deviceId === current)) sel.value = current;
}

/** A room name with a line-break opportunity (<wbr>) between its words (roomWords). */
function wordBreaks(name: string): (string | HTMLElement)[] {
  return roomWords(name).flatMap((w, i) => (i > 0 ? [h("wbr"), w] : [w]));
}
