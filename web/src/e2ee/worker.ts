// The encoded-transform worker: encrypts every outgoing frame and decrypts
// every incoming one (frame.ts), for each sender and receiver of the page's
// PeerConnection. Transforms arrive as `rtctransform` events
// (RTCRtpScriptTransform) or as legacy streams (createEncodedStreams);
// keys come from the page (transforms.ts); counts go back every second.
//
// A frame is never passed on in the clear: without a send key it is
// dropped, and a received frame that does not decrypt is dropped.
import type { Bytes } from "./bytes";
import { FrameDecryptor, FrameEncryptor } from "./frame";
import type { FromWorker, ToWorker, TransformOptions, WorkerStats } from "./protocol";

/** What the worker reads of an RTCEncodedVideoFrame or RTCEncodedAudioFrame. */
interface EncodedFrame {
  data: ArrayBuffer;
  type?: "key" | "delta" | "empty";
}

/** The worker side of an RTCRtpScriptTransform (not in TypeScript's DOM library). */
interface Transformer {
  readable: ReadableStream<EncodedFrame>;
  writable: WritableStream<EncodedFrame>;
  options: TransformOptions;
  generateKeyFrame?: () => Promise<unknown>;
  sendKeyFrameRequest?: () => Promise<unknown>;
}

interface WorkerScope {
  postMessage(m: FromWorker): void;
  addEventListener(type: "message", fn: (ev: MessageEvent<ToWorker>) => void): void;
  addEventListener(type: "rtctransform", fn: (ev: Event & { transformer: Transformer }) => void): void;
}

const scope = self as unknown as WorkerScope;
const encryptor = new FrameEncryptor();
const decryptor = new FrameDecryptor();
const sent = { encrypted: 0, unsent: 0 };
const spent = { encryptMs: 0, decryptMs: 0 };
/** Senders that can make a key frame (Firefox, Safari): asked to when the first sending key comes. */
const keyFrameMakers = new Set<Transformer>();

/** Asks for a key frame at most once a second (docs/e2ee.md, "Epochs"). */
function throttled(fn: (() => Promise<unknown>) | undefined): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (!fn || now - last < 1000) return;
    last = now;
    fn().catch(() => {});
  };
}

function encryptStream(o: TransformOptions): TransformStream<EncodedFrame, EncodedFrame> {
  return new TransformStream({
    async transform(frame, out) {
      const t0 = performance.now();
      const data = await encryptor.encrypt(o.kind, o.context, new Uint8Array(frame.data));
      spent.encryptMs += performance.now() - t0;
      if (!data) {
        sent.unsent++;
        return;
      }
      if (data.length > 0) sent.encrypted++;
      frame.data = data.buffer;
      out.enqueue(frame);
    },
  });
}

/**
 * Decrypts a receiver's frames. After frames were dropped, the decoder
 * needs a key frame: one is asked for (throttled) while decrypted delta
 * frames arrive without one.
 */
function decryptStream(o: TransformOptions, requestKeyFrame: () => void): TransformStream<EncodedFrame, EncodedFrame> {
  let needKeyFrame = o.kind === "video";
  return new TransformStream({
    async transform(frame, out) {
      const t0 = performance.now();
      const r = await decryptor.decrypt(o.kind, new Uint8Array(frame.data));
      spent.decryptMs += performance.now() - t0;
      if (typeof r === "string") {
        if (o.kind === "video") needKeyFrame = true;
        return;
      }
      if (frame.type === "key") needKeyFrame = false;
      else if (needKeyFrame && frame.type === "delta") requestKeyFrame();
      frame.data = r.buffer;
      out.enqueue(frame);
    },
  });
}

function run(o: TransformOptions, readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>, t?: Transformer): void {
  const stream = o.role === "send" ? encryptStream(o) : decryptStream(o, throttled(t?.sendKeyFrameRequest?.bind(t)));
  if (t && o.role === "send" && o.kind === "video" && typeof t.generateKeyFrame === "function") keyFrameMakers.add(t);
  readable
    .pipeThrough(stream)
    .pipeTo(writable)
    .catch(() => {}) // the sender or receiver went away
    .finally(() => keyFrameMakers.delete(t!));
}

scope.addEventListener("rtctransform", (ev) => run(ev.transformer.options, ev.transformer.readable, ev.transformer.writable, ev.transformer));

scope.addEventListener("message", (ev) => {
  const m = ev.data;
  switch (m.type) {
    case "receive-key":
      decryptor.addKey(m.epoch, m.baseKey as Bytes);
      break;
    case "send-key":
      if (encryptor.setSendKey(m.epoch, m.index, m.baseKey as Bytes)) {
        for (const t of keyFrameMakers) t.generateKeyFrame?.().catch(() => {});
      }
      break;
    case "streams":
      run(m.options, m.readable, m.writable);
      break;
  }
});

setInterval(() => {
  const stats: WorkerStats = { ...decryptor.counts, dropped: { ...decryptor.counts.dropped }, ...sent, ...spent, sendingEpoch: encryptor.sendingEpoch };
  scope.postMessage({ type: "stats", stats });
}, 1000);
