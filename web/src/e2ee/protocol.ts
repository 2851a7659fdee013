// The messages between the page (transforms.ts) and the transform worker
// (worker.ts). Keys cross as raw base keys: the worker is ours, on our
// origin, and the base key is all it needs.
import type { Bytes } from "./bytes";
import type { DecryptCounts, MediaKind } from "./frame";

/** What each transform is told when it is made (RTCRtpScriptTransform options, or the legacy stream message). */
export interface TransformOptions {
  role: "send" | "receive";
  kind: MediaKind;
  /** The KID context of a sender: 0 audio, 1 camera, 2 screen share. */
  context: number;
}

export type ToWorker =
  /** An epoch's keys for decrypting (at once, docs/e2ee.md "Epochs"). */
  | { type: "receive-key"; epoch: number; baseKey: Bytes }
  /** The epoch to send with from now on, as member `index`. */
  | { type: "send-key"; epoch: number; index: number; baseKey: Bytes }
  /** Legacy (createEncodedStreams): one sender's or receiver's streams. */
  | { type: "streams"; options: TransformOptions; readable: ReadableStream; writable: WritableStream };

/** What the worker reports every second while frames pass. */
export interface WorkerStats extends DecryptCounts {
  /** Frames encrypted and sent. */
  encrypted: number;
  /** Frames not sent because there was no key yet. */
  unsent: number;
  /** The epoch frames are sent with (0: none yet). */
  sendingEpoch: number;
  /** Time spent encrypting and decrypting (ms, from handing a frame to WebCrypto to its result), to weigh the transform's cost. */
  encryptMs: number;
  decryptMs: number;
}

export type FromWorker = { type: "stats"; stats: WorkerStats };
