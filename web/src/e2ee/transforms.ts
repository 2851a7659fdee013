// The page's side of the transform worker (worker.ts): puts a transform on
// each sender (with its KID context) and receiver, hands the worker the
// keys, and keeps the counts it reports. RTCRtpScriptTransform where the
// browser has it; Chromium's createEncodedStreams otherwise, or when asked
// for (the runtime switch: `#config.e2eeTransform="legacy"`).
import type { Bytes } from "./bytes";
import { Emitter } from "../emitter";
import { emptyCounts, type MediaKind } from "./frame";
import type { FromWorker, ToWorker, TransformOptions, WorkerStats } from "./protocol";

/** The worker's URL, set by build.mjs (the worker is its own content-hashed bundle). */
declare const __E2EE_WORKER_URL__: string;

export type TransformAPI = "script" | "legacy";

interface LegacyStreams {
  createEncodedStreams(): { readable: ReadableStream; writable: WritableStream };
}

/** The encoded-transform API to use: the standard one, unless the legacy one is asked for (and there); null when neither is. */
export function transformAPI(prefer: TransformAPI | "" = ""): TransformAPI | null {
  const script = typeof RTCRtpScriptTransform === "function";
  const legacy = typeof RTCRtpSender !== "undefined" && "createEncodedStreams" in RTCRtpSender.prototype;
  if (prefer === "legacy" && legacy) return "legacy";
  if (script) return "script";
  return legacy ? "legacy" : null;
}

/** The codecs an encrypted room may use: VP8 (and its RTX) for video, Opus without RED for audio (docs/e2ee.md). */
export function encryptedCodecs(kind: "audio" | "video", codecs: RTCRtpCodec[]): RTCRtpCodec[] {
  const ok = kind === "video" ? ["video/vp8", "video/rtx"] : ["audio/opus", "audio/telephone-event", "audio/cn"];
  return codecs.filter((c) => ok.includes(c.mimeType.toLowerCase()));
}

/** Limits a transceiver to encryptedCodecs for the next negotiation (where the browser can). */
export function preferEncryptedCodecs(t: RTCRtpTransceiver): void {
  const kind = t.receiver.track?.kind;
  if ((kind !== "audio" && kind !== "video") || typeof t.setCodecPreferences !== "function") return;
  const caps = RTCRtpReceiver.getCapabilities?.(kind);
  if (!caps) return;
  try {
    t.setCodecPreferences(encryptedCodecs(kind, caps.codecs));
  } catch (err) {
    console.warn(`e2ee: could not limit the ${kind} codecs:`, err);
  }
}

function zeroStats(): WorkerStats {
  return { ...emptyCounts(), encrypted: 0, unsent: 0, sendingEpoch: 0, encryptMs: 0, decryptMs: 0 };
}

/** What the media session (session.ts) asks of frame encryption for one PeerConnection. */
export interface SessionCrypto {
  /** Added to the RTCConfiguration. */
  readonly rtcConfig: Record<string, unknown>;
  /** Limits a transceiver's codecs before the answer. */
  prepare(t: RTCRtpTransceiver): void;
  encryptSender(sender: RTCRtpSender, kind: MediaKind, context: number): void;
  decryptReceiver(receiver: RTCRtpReceiver, kind: MediaKind): void;
}

/** One transform worker for the page, shared by every sender and receiver. */
export class FrameCrypto extends Emitter<{ stats: [WorkerStats] }> implements SessionCrypto {
  stats: WorkerStats = zeroStats();
  private worker: Worker;
  private attached = new WeakSet<RTCRtpSender | RTCRtpReceiver>();

  constructor(
    readonly api: TransformAPI,
    url: string = typeof __E2EE_WORKER_URL__ === "string" ? __E2EE_WORKER_URL__ : "",
  ) {
    super();
    this.worker = new Worker(url, { name: "parley-e2ee" });
    this.worker.addEventListener("message", (ev: MessageEvent<FromWorker>) => {
      if (ev.data?.type !== "stats") return;
      this.stats = ev.data.stats;
      this.emit("stats", this.stats);
    });
  }

  /** What a PeerConnection needs (Chromium before 124 asks for encoded streams at creation). */
  get rtcConfig(): Record<string, unknown> {
    return this.api === "legacy" ? { encodedInsertableStreams: true } : {};
  }

  prepare(t: RTCRtpTransceiver): void {
    preferEncryptedCodecs(t);
  }

  private post(m: ToWorker, transfer: Transferable[] = []) {
    this.worker.postMessage(m, transfer);
  }

  private attach(target: RTCRtpSender | RTCRtpReceiver, options: TransformOptions): void {
    if (this.attached.has(target)) return; // a transform per sender or receiver, once (legacy streams can be made once only)
    this.attached.add(target);
    if (this.api === "script") {
      target.transform = new RTCRtpScriptTransform(this.worker, options);
      return;
    }
    const { readable, writable } = (target as unknown as LegacyStreams).createEncodedStreams();
    this.post({ type: "streams", options, readable, writable }, [readable as unknown as Transferable, writable as unknown as Transferable]);
  }

  /** Encrypts what `sender` sends, with the KID context given (0 audio, 1 camera, 2 screen share). */
  encryptSender(sender: RTCRtpSender, kind: MediaKind, context: number): void {
    this.attach(sender, { role: "send", kind, context });
  }

  /** Decrypts what `receiver` receives; frames that do not decrypt never reach the decoder. */
  decryptReceiver(receiver: RTCRtpReceiver, kind: MediaKind): void {
    this.attach(receiver, { role: "receive", kind, context: 0 });
  }

  setReceiveKey(epoch: number, baseKey: Bytes): void {
    this.post({ type: "receive-key", epoch, baseKey });
  }

  setSendKey(epoch: number, index: number, baseKey: Bytes): void {
    this.post({ type: "send-key", epoch, index, baseKey });
  }

  close(): void {
    this.worker.terminate();
  }
}
