// End-to-end encryption in the meeting: ties the key agent (agent.ts) to
// the connection, the transform worker (transforms.ts) to the media
// session, and keeps what the screen shows (ui/e2ee.ts): on or off, the
// security code, whether the keys match, whether this browser can do it.
//
//   page load ─► X25519 key pair (non-extractable) ─► its public key in our presence
//   stanzas ─► agent ─► receiveKey/sendKey ─► worker
//   worker stats every second ─► "the keys do not match" after 5 s of frames that all fail
//   the room turns encryption on or off ─► a new media session (VP8 only, no RED, transforms)
import type { Element } from "@xmpp/xml";
import type { Conference } from "../conference";
import { Emitter } from "../emitter";
import { t } from "../i18n";
import type { MediaSession } from "../session";
import { KeyAgent } from "./agent";
import { toBase64, type Bytes } from "./bytes";
import * as hpke from "./hpke";
import type { WorkerStats } from "./protocol";
import { isUnsupported, toggleIQ } from "./stanzas";
import { FrameCrypto, transformAPI, type SessionCrypto, type TransformAPI } from "./transforms";

/** Why turning encryption on or off failed, with the focus's condition when it gave one. */
function failedText(on: boolean, condition: string): string {
  if (condition) return on ? t("e2ee.error.failedOnWhy", { condition }) : t("e2ee.error.failedOffWhy", { condition });
  return on ? t("e2ee.error.failedOn") : t("e2ee.error.failedOff");
}

/** How long every arriving frame must fail before the keys are said not to match. */
export const mismatchMs = 5000;

/** What the connection gives the controller (Connection in xmpp.ts). */
export interface E2EETransport {
  on(event: "stanza", fn: (el: Element) => void): () => void;
  on(event: "session", fn: (first: boolean) => void): () => void;
  send(el: Element): Promise<void>;
  iq(el: Element, timeoutMs?: number): Promise<Element>;
}

/**
 * Whether the frames arriving over the last `windowMs` all failed to
 * authenticate: samples are the worker's cumulative counts, oldest first.
 */
export function keysMismatch(samples: { at: number; decrypted: number; failed: number }[], now: number, windowMs = mismatchMs): boolean {
  const last = samples[samples.length - 1];
  let from: (typeof samples)[number] | undefined;
  for (const s of samples) if (now - s.at >= windowMs) from = s;
  if (!last || !from) return false;
  return last.failed > from.failed && last.decrypted === from.decrypted;
}

export class E2EE extends Emitter<{ change: [] }> {
  agent: KeyAgent | null = null;
  crypto: FrameCrypto | null = null;
  /** Whether every frame has failed to decrypt for mismatchMs while frames arrive. */
  mismatch = false;
  /** The focus's word that this client cannot join the encrypted meeting ("" if none). */
  refused = "";
  private samples: { at: number; decrypted: number; failed: number }[] = [];
  /** The last keys the agent gave, for a worker that starts later. */
  private receiveKeys: { epoch: number; base: Bytes }[] = [];
  private sendKey: { epoch: number; index: number; base: Bytes } | null = null;
  private off: (() => void)[] = [];
  private conf: Conference | null = null;
  private session: MediaSession | null = null;
  private conn: E2EETransport | null = null;

  private constructor(
    /** Our key pair, null when this browser cannot encrypt. */
    readonly keys: hpke.KeyPair | null,
    /** The transform API to use, null when there is none. */
    readonly api: TransformAPI | null,
    /** Why this browser cannot encrypt ("" when it can). */
    readonly unsupported: string,
    private passphrase: string,
  ) {
    super();
  }

  /** Checks what the browser has and makes our key pair. The passphrase stays in this object and the agent. */
  static async create(o: { passphrase?: string; transform?: TransformAPI | "" }): Promise<E2EE> {
    const api = transformAPI(o.transform ?? "");
    let keys: hpke.KeyPair | null = null;
    let why = "";
    if (!api) why = t("e2ee.why.noTransforms");
    else if (typeof Worker !== "function") why = t("e2ee.why.noWorkers");
    else {
      try {
        keys = await hpke.generateKeyPair();
      } catch {
        why = t("e2ee.why.noX25519");
      }
    }
    return new E2EE(keys, keys ? api : null, why, o.passphrase ?? "");
  }

  /** Whether we ask the focus to open the room encrypted (a #k= link). */
  get requested(): boolean {
    return this.passphrase !== "";
  }

  /** Our public key for presence (base64), undefined when we cannot encrypt. */
  get presenceKey(): string | undefined {
    return this.keys ? toBase64(this.keys.pub) : undefined;
  }

  get enabled(): boolean {
    return this.agent?.enabled ?? (this.conf !== null && this.requested);
  }

  get code(): string[] | null {
    return this.agent?.current?.code ?? null;
  }

  get verifiedByPassphrase(): boolean {
    return this.requested;
  }

  get stats(): WorkerStats | null {
    return this.crypto?.stats ?? null;
  }

  /** The media session's encryption for a new session: the worker while the room is encrypted, else none. */
  sessionCrypto(): SessionCrypto | null {
    if (!this.agent?.enabled || !this.api) return null;
    this.crypto ??= this.startWorker(this.api);
    return this.crypto;
  }

  private startWorker(api: TransformAPI): FrameCrypto {
    const c = new FrameCrypto(api);
    c.on("stats", (s) => this.onStats(s));
    // Keys the agent gave before the worker started (it starts with the first encrypted session).
    for (const k of this.receiveKeys) c.setReceiveKey(k.epoch, k.base);
    if (this.sendKey) c.setSendKey(this.sendKey.epoch, this.sendKey.index, this.sendKey.base);
    return c;
  }

  /** Starts following the room: our stanzas, the focus's, the media session. */
  attach(conn: E2EETransport, conf: Conference, session: MediaSession): void {
    this.conn = conn;
    this.conf = conf;
    this.session = session;
    this.off.push(
      conn.on("stanza", (el) => {
        if (el.name === "message" && isUnsupported(el)) {
          this.refused = el.getChildText("body") ?? t("e2ee.refused");
          this.emit("change");
        }
        this.agent?.onStanza(el);
      }),
    );
    if (!this.keys) return;
    const agent = new KeyAgent({ roomJid: conf.roomJid, selfNick: () => conf.endpointId, send: (el) => void conn.send(el).catch(() => {}), keys: this.keys, passphrase: this.passphrase });
    this.agent = agent;
    this.off.push(conn.on("session", (first) => first || agent.forgetOccupants()));
    agent.on("receiveKey", (epoch, base) => {
      this.receiveKeys = [...this.receiveKeys, { epoch, base }].slice(-2);
      this.crypto?.setReceiveKey(epoch, base);
    });
    agent.on("sendKey", (epoch, index, base) => {
      this.sendKey = { epoch, index, base };
      this.crypto?.setSendKey(epoch, index, base);
    });
    agent.on("change", () => {
      this.syncSession();
      this.emit("change");
    });
  }

  /** A session made before the room was encrypted (or after it stopped being) is replaced by one that matches. */
  private syncSession() {
    const s = this.session;
    if (!s?.pc || !this.conf || this.conf.phase.phase !== "joined") return;
    const want = !!this.agent?.enabled && !!this.api;
    if (s.encrypting !== want) {
      console.info(`e2ee: the room is ${want ? "now" : "no longer"} encrypted; renewing the media session`);
      void s.restart();
    }
  }

  private onStats(s: WorkerStats) {
    const now = Date.now();
    const failed = s.dropped.auth + s.dropped["unknown-key"];
    this.samples.push({ at: now, decrypted: s.decrypted, failed });
    this.samples = this.samples.filter((x) => now - x.at <= mismatchMs + 2000);
    const mismatch = keysMismatch(this.samples, now);
    if (mismatch !== this.mismatch) {
      this.mismatch = mismatch;
      this.emit("change");
    }
  }

  /** Turns encryption on or off for the room (moderators; the focus refuses others). Throws a readable Error. */
  async setEnabled(on: boolean, focus: string): Promise<void> {
    if (!this.conn || !this.conf) throw new Error(t("e2ee.error.notInMeeting"));
    try {
      await this.conn.iq(toggleIQ(focus, this.conf.roomJid, on), 10_000);
    } catch (err) {
      const c = (err as { condition?: string }).condition;
      const text = (err as { text?: string }).text;
      if (c === "forbidden") throw new Error(t("e2ee.error.onlyModerators"));
      if (c === "not-acceptable") throw new Error(text ? t("e2ee.error.notEveryoneWho", { who: text }) : t("e2ee.error.notEveryone"));
      throw new Error(failedText(on, c ?? ""));
    }
  }

  close(): void {
    for (const f of this.off) f();
    this.off = [];
    this.agent?.close();
    this.crypto?.close();
  }
}
