// Parley SFrame v1 (docs/e2ee.md "Frame format"): each encoded frame is
//   [clear prefix][SFrame header][AES-128-GCM ciphertext][16-byte tag]
// with the clear prefix (VP8: 10 bytes on a key frame, else 1; Opus: none)
// authenticated as SFrame metadata, and KID = context << 13 | index << 4 |
// epoch mod 16 (RFC 9605 §5.2 with E = 4, S = 9). FrameEncryptor keeps one
// counter per KID and epoch; FrameDecryptor holds the keys of the epochs
// still in use, an anti-replay window of 128 counters per KID, and counts
// what it drops by reason. Both run in the transform worker (worker.ts) and
// in the unit tests; neither touches the DOM.
import { concat, type Bytes } from "./bytes";
import { decodeHeader, deriveKeySalt, importFrameKey, Nt, open, seal, type FrameKey, type Header } from "./sframe";

export type MediaKind = "audio" | "video";

/** The KID's context bits: which of a member's streams a frame is from. */
export const Context = { audio: 0, camera: 1, screen: 2 } as const;
export type Context = (typeof Context)[keyof typeof Context];

/** Members are indexed 0…511 (S = 9 bits). */
export const maxIndex = 511;

export function makeKid(context: number, index: number, epoch: number): number {
  if (!(index >= 0 && index <= maxIndex) || !(context >= 0 && context <= 7)) throw new RangeError(`KID out of range: context ${context}, index ${index}`);
  return (context << 13) | (index << 4) | (epoch & 15);
}

export function kidParts(kid: number): { context: number; index: number; epochBits: number } {
  return { context: kid >> 13, index: (kid >> 4) & maxIndex, epochBits: kid & 15 };
}

/** How many leading bytes of a frame stay clear for the bridge: VP8 10 on a key frame (P bit 0), else 1; Opus 0. */
export function prefixLength(kind: MediaKind, data: Uint8Array): number {
  if (kind === "audio" || data.length === 0) return 0;
  return (data[0]! & 1) === 0 ? 10 : 1;
}

/** One epoch's base key and the per-KID keys derived from it on first use. */
class EpochKeys {
  private keys = new Map<number, Promise<FrameKey>>();
  constructor(
    readonly epoch: number,
    private baseKey: Bytes,
    private use: "encrypt" | "decrypt",
  ) {}

  key(kid: number): Promise<FrameKey> {
    let k = this.keys.get(kid);
    if (!k) {
      k = deriveKeySalt(this.baseKey, BigInt(kid)).then((raw) => importFrameKey(raw, this.use));
      this.keys.set(kid, k);
    }
    return k;
  }
}

/** Encrypts one member's outgoing frames with the epoch it sends with. */
export class FrameEncryptor {
  private send: { keys: EpochKeys; index: number } | null = null;
  /** Next counter per KID, for the sending epoch only (a new epoch starts every KID at 0). */
  private counters = new Map<number, bigint>();

  /**
   * Starts sending with this epoch's base key as member `index`. Reports
   * whether it is the first key: the frames before it were dropped, so
   * receivers need a key frame to start decoding. At a later switch they go
   * on decoding the same stream with keys they hold 2 s before it is used,
   * and need none (a key frame from every sender at once froze most of a
   * room's video: docs/performance.md, "Media at a key change").
   */
  setSendKey(epoch: number, index: number, baseKey: Bytes): boolean {
    const first = this.send === null;
    this.send = { keys: new EpochKeys(epoch, baseKey, "encrypt"), index };
    this.counters.clear();
    return first;
  }

  get sendingEpoch(): number {
    return this.send?.keys.epoch ?? 0;
  }

  /**
   * The frame to send, or null when there is no key yet (the frame is
   * dropped, never sent in the clear). Empty frames come back as they are.
   */
  async encrypt(kind: MediaKind, context: number, data: Uint8Array): Promise<Bytes | null> {
    if (data.length === 0) return data as Bytes;
    const s = this.send;
    if (!s) return null;
    const kid = makeKid(context, s.index, s.keys.epoch);
    const ctr = this.counters.get(kid) ?? 0n;
    this.counters.set(kid, ctr + 1n); // taken before any await: never reused
    const p = Math.min(prefixLength(kind, data), data.length);
    const prefix = data.subarray(0, p);
    const body = await seal(await s.keys.key(kid), BigInt(kid), ctr, prefix, data.subarray(p));
    return concat(prefix, body);
  }
}

/** Why a received frame was dropped. */
export type DropReason = "auth" | "unknown-key" | "replay" | "malformed";

export interface DecryptCounts {
  decrypted: number;
  dropped: Record<DropReason, number>;
}

export function emptyCounts(): DecryptCounts {
  return { decrypted: 0, dropped: { auth: 0, "unknown-key": 0, replay: 0, malformed: 0 } };
}

/** Counters seen within the last `size` below the highest, per KID (RFC 9605 §9.3's suggestion, SRTP-style). */
export class ReplayWindow {
  private highest = -1;
  private slots: Float64Array;
  constructor(private size = 128) {
    this.slots = new Float64Array(size).fill(-1);
  }

  /** Whether ctr may be accepted (not seen, not older than the window). */
  check(ctr: number): boolean {
    if (ctr > this.highest) return true;
    if (ctr <= this.highest - this.size) return false;
    return this.slots[ctr % this.size] !== ctr;
  }

  /** Marks ctr as seen; only after it authenticated, so forged frames cannot burn counters. */
  accept(ctr: number): void {
    if (ctr > this.highest) this.highest = ctr;
    this.slots[ctr % this.size] = ctr;
  }
}

/** How long an epoch's keys stay after a later one first decrypts a frame (docs/e2ee.md). */
export const previousEpochMs = 10_000;

/**
 * How many epochs a FrameDecryptor holds at most (docs/e2ee.md): one per value of the KID's 4 epoch bits;
 * each goes once a later one has decrypted for previousEpochMs. Senders switch to an epoch 2 s after they
 * learn it (seconds later on a starved machine), so when epochs come quickly (a join storm's, about one a
 * second) some still send with one several epochs old: a bound of 4 dropped epochs still in use.
 */
export const maxHeldEpochs = 16;

/**
 * Where a received frame's SFrame header may start, with the header: after
 * the nominal prefix, or, for a frame that was shorter than its prefix and
 * sent whole as the prefix with an empty ciphertext, wherever a header
 * ends exactly one tag before the end (each such place is tried).
 */
function candidates(kind: MediaKind, data: Uint8Array): { p: number; header: Header }[] {
  const nominal = prefixLength(kind, data);
  const h = decodeHeader(data, nominal);
  if (h && nominal + h.length + Nt <= data.length) return [{ p: nominal, header: h }];
  const out: { p: number; header: Header }[] = [];
  for (let p = Math.min(nominal, data.length) - 1; p >= 0; p--) {
    const s = decodeHeader(data, p);
    if (s && p + s.length + Nt === data.length) out.push({ p, header: s });
  }
  return out;
}

/** Decrypts received frames with the keys of the newest epochs, each until a later one has decrypted for previousEpochMs. */
export class FrameDecryptor {
  counts = emptyCounts();
  private epochs: EpochKeys[] = []; // newest first, at most maxHeldEpochs, no two with the same low 4 bits
  private windows = new Map<string, ReplayWindow>(); // "epoch:kid"
  private firstUsed = new Map<number, number>(); // epoch → when it first decrypted a frame

  constructor(private now: () => number = () => Date.now()) {}

  /** Adds an epoch's keys; the newest maxHeldEpochs are kept, the newer of two with the same low 4 bits. */
  addKey(epoch: number, baseKey: Bytes): void {
    if (this.epochs.some((e) => e.epoch === epoch)) return;
    this.epochs.push(new EpochKeys(epoch, baseKey, "decrypt"));
    this.epochs.sort((a, b) => b.epoch - a.epoch);
    const bits = new Set<number>();
    const kept: EpochKeys[] = [];
    for (const e of this.epochs) {
      if (bits.has(e.epoch & 15) || kept.length >= maxHeldEpochs) {
        this.forget(e.epoch);
        continue;
      }
      bits.add(e.epoch & 15);
      kept.push(e);
    }
    this.epochs = kept;
  }

  /** The epochs whose keys are held, newest first. */
  get held(): number[] {
    return this.epochs.map((e) => e.epoch);
  }

  private forget(epoch: number) {
    for (const k of [...this.windows.keys()]) if (k.startsWith(`${epoch}:`)) this.windows.delete(k);
    this.firstUsed.delete(epoch);
  }

  /** The held epoch a KID's 4 epoch bits name (the newest on a clash; RFC 9605 §5.2 drops the older). */
  private epochFor(bits: number): EpochKeys | undefined {
    const now = this.now();
    const used = this.epochs.findIndex((e) => {
      const t = this.firstUsed.get(e.epoch);
      return t !== undefined && now - t >= previousEpochMs;
    });
    if (used >= 0) for (const old of this.epochs.splice(used + 1)) this.forget(old.epoch);
    return this.epochs.find((e) => (e.epoch & 15) === bits);
  }

  /** The decrypted frame, or why it was dropped (counted). Empty frames pass as they are. */
  async decrypt(kind: MediaKind, data: Uint8Array): Promise<Bytes | DropReason> {
    if (data.length === 0) return data as Bytes;
    let why: DropReason = "malformed";
    for (const at of candidates(kind, data)) {
      const r = await this.decryptAt(data, at.p, at.header);
      if (typeof r !== "string") {
        this.counts.decrypted++;
        return r;
      }
      why = r;
    }
    this.counts.dropped[why]++;
    return why;
  }

  private async decryptAt(data: Uint8Array, p: number, header: Header): Promise<Bytes | DropReason> {
    if (header.kid > 0xffffn || header.ctr > BigInt(Number.MAX_SAFE_INTEGER)) return "malformed";
    const kid = Number(header.kid);
    const keys = this.epochFor(kid & 15);
    if (!keys) return "unknown-key";
    const wkey = `${keys.epoch}:${kid}`;
    const ctr = Number(header.ctr);
    if (!(this.windows.get(wkey)?.check(ctr) ?? true)) return "replay";
    const prefix = data.subarray(0, p);
    const headerEnd = p + header.length;
    let pt: Bytes;
    try {
      pt = await open(await keys.key(kid), data.subarray(p, headerEnd), header.ctr, prefix, data.subarray(headerEnd));
    } catch {
      return "auth";
    }
    let w = this.windows.get(wkey);
    if (!w) this.windows.set(wkey, (w = new ReplayWindow()));
    if (!w.check(ctr)) return "replay"; // the same frame twice in flight
    w.accept(ctr);
    if (!this.firstUsed.has(keys.epoch)) this.firstUsed.set(keys.epoch, this.now());
    return concat(prefix, pt);
  }
}
