// Local camera and microphone: acquiring tracks, the devices to pick from,
// a level meter, and the message to show for each way getUserMedia fails.
// The conference hands these tracks to the media session once the focus
// offers one; until then they feed the self view.
import { t } from "./i18n";

export type MediaKind = "audio" | "video";

export interface MediaProblem {
  kind: MediaKind | "both";
  reason: "denied" | "missing" | "busy" | "unsupported" | "other";
  message: string;
}

/** The user-facing explanation of a getUserMedia failure. */
export function describeMediaError(err: unknown, kind: MediaKind | "both"): MediaProblem {
  const name = (err as { name?: string })?.name ?? "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return { kind, reason: "denied", message: t(`media.denied.${kind}`) };
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return { kind, reason: "missing", message: t(`media.missing.${kind}`) };
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return { kind, reason: "busy", message: t(`media.busy.${kind}`) };
    case "TypeError":
      return { kind, reason: "unsupported", message: t(`media.unsupported.${kind}`) };
    default:
      return { kind, reason: "other", message: t(`media.other.${kind}`) };
  }
}

export interface Devices {
  audioinput: MediaDeviceInfo[];
  videoinput: MediaDeviceInfo[];
  audiooutput: MediaDeviceInfo[];
}

/** The cameras, microphones and speakers the browser lists, by kind. */
export async function listDevices(): Promise<Devices> {
  const out: Devices = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) return out;
  const unnamed = new Set<"audioinput" | "videoinput">();
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    if (!(d.kind in out)) continue;
    if (d.deviceId) out[d.kind as keyof Devices].push(d);
    else if (d.kind !== "audiooutput") unnamed.add(d.kind);
  }
  // Until a page has used a kind of device, the browser may list it as one entry without an ID or
  // a name (Firefox, for the microphone of someone who joined muted): there is one, and the
  // browser's default is the one used. (An output listed so is left out: the system's default plays.)
  for (const kind of unnamed) {
    if (out[kind].length === 0) out[kind].push({ deviceId: "", groupId: "", kind, label: "", toJSON: () => ({}) } as MediaDeviceInfo);
  }
  return out;
}

/** The local camera and microphone tracks, each optional. */
export class LocalMedia {
  audio: MediaStreamTrack | null = null;
  video: MediaStreamTrack | null = null;
  audioDevice = "";
  videoDevice = "";
  /** Whether the microphone is asked for the browser's noise suppression (the settings dialog; a change needs a new track). */
  noiseSuppression = true;

  /** Starts (or restarts on another device) one kind; throws a MediaProblem. */
  async start(kind: MediaKind, deviceId = kind === "audio" ? this.audioDevice : this.videoDevice): Promise<MediaStreamTrack> {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw describeMediaError({ name: "TypeError" }, kind);
    }
    const constraints: MediaStreamConstraints =
      kind === "audio"
        ? { audio: { ...(deviceId ? { deviceId: { exact: deviceId } } : {}), noiseSuppression: this.noiseSuppression } }
        : {
            video: {
              ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
              width: { ideal: 1280 },
              height: { ideal: 720 },
              frameRate: { ideal: 30 },
            },
          };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      throw describeMediaError(err, kind);
    }
    const track = kind === "audio" ? stream.getAudioTracks()[0]! : stream.getVideoTracks()[0]!;
    this.stop(kind);
    this[kind] = track;
    const id = track.getSettings().deviceId ?? deviceId;
    if (kind === "audio") this.audioDevice = id;
    else this.videoDevice = id;
    return track;
  }

  stop(kind: MediaKind): void {
    this[kind]?.stop();
    this[kind] = null;
  }

  stopAll(): void {
    this.stop("audio");
    this.stop("video");
  }
}

/**
 * Whether this browser can choose where remote audio plays
 * (HTMLMediaElement.setSinkId: Chromium, Firefox 116+; not Safari).
 */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && typeof (HTMLMediaElement.prototype as { setSinkId?: unknown }).setSinkId === "function";
}

/**
 * Measures a microphone track's level (0…1) with an AnalyserNode and
 * calls `onLevel` on each animation frame until stopped.
 */
export class LevelMeter {
  private ctx: AudioContext | null = null;
  private raf = 0;

  constructor(private onLevel: (level: number) => void) {}

  attach(track: MediaStreamTrack | null): void {
    this.stop();
    if (!track || typeof AudioContext === "undefined") return;
    const ctx = new AudioContext();
    this.ctx = ctx;
    const src = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    src.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(buf);
      this.onLevel(levelOf(buf));
      this.raf = requestAnimationFrame(tick);
    };
    // Without a user gesture the context may start suspended: resume it on the first one.
    const resume = () => ctx.resume().catch(() => {});
    resume();
    if (ctx.state !== "running") {
      for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, resume, { once: true, capture: true });
    }
    tick();
  }

  stop(): void {
    cancelAnimationFrame(this.raf);
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    this.onLevel(0);
  }
}

/** RMS of samples mapped to 0…1 on a dB scale (-60 dBFS → 0, 0 dBFS → 1). */
export function levelOf(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.max(0, Math.min(1, (db + 60) / 60));
}
