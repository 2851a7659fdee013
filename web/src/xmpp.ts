// The XMPP connection: RFC 7395 WebSocket via @xmpp/client, SASL ANONYMOUS,
// XEP-0198 stream management with resumption (previd in the URL as LJM
// sends it, protocol/jitsi-dialect.md §2.3), and XEP-0199 pings to the
// domain every 10 s (§2.4): two missed pings drop the socket so that the
// library reconnects and resumes.
//
// Events: "state" (connecting → online ⇄ reconnecting → offline),
// "session" (a new XMPP session: the first one, and one after a resumption
// failed — the rooms must be joined again), "stanza" (every stanza received).
import { client, type Client } from "@xmpp/client";
import { xml, type Element } from "@xmpp/xml";
import { Emitter } from "./emitter";
import { t } from "./i18n";

export type ConnState = "connecting" | "online" | "reconnecting" | "offline";

export class ConnectionError extends Error {
  constructor(
    readonly kind: "unreachable" | "auth" | "closed",
    message: string,
  ) {
    super(message);
    this.name = "ConnectionError";
  }
}

export interface ConnectionOptions {
  service: string; // wss://host/xmpp-websocket
  domain: string;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

/** A readable reason for a refused login: the server's text, else its SASL condition in words. */
export function loginFailure(condition: string, text: string): string {
  const said = text.replace(/[\s\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 200);
  if (said) return said;
  switch (condition) {
    case "not-authorized":
      return t("login.notAuthorized");
    case "not-allowed":
      return t("login.notAllowed");
    case "credentials-expired":
      return t("login.expired");
    case "account-disabled":
      return t("login.disabled");
    default:
      return condition ? t("login.failedWhy", { condition }) : t("login.failed");
  }
}

/** LJM's endpoint ID: the first 8 characters of the anonymous node when they are hex (§2.2). */
export function endpointIdFor(local: string, random: () => string = randomHex8): string {
  const head = local.slice(0, 8).toLowerCase();
  return /^[0-9a-f]{8}$/.test(head) ? head : random();
}

export function randomHex8(): string {
  const b = new Uint8Array(4);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The service URL with previd set (or removed when id is empty). */
export function withPrevId(service: string, id: string): string {
  const u = new URL(service);
  if (id) u.searchParams.set("previd", id);
  else u.searchParams.delete("previd");
  return u.toString();
}

/**
 * Makes every write of the library fail at once, without touching the
 * socket, while the WebSocket is not open: the library would otherwise
 * write XEP-0198 acks (<a/> answering an <r/>, and the one it sends before
 * closing) into a socket the server or the network already closed, and
 * Chromium logs each such send as an error. A refused write is one that
 * could not have arrived anyway; stanzas stay in the stream-management
 * queue and are resent on resumption.
 */
export function guardWrites(x: { write(s: string): Promise<void>; socket?: { socket?: { readyState?: number } | null } | null }): void {
  const write = x.write.bind(x);
  x.write = (s: string) => {
    if (x.socket?.socket?.readyState !== 1) return Promise.reject(new ConnectionError("closed", "the connection is closed"));
    return write(s);
  };
}

export class Connection extends Emitter<{
  state: [ConnState];
  session: [first: boolean];
  resumed: [];
  stanza: [Element];
  /** A new session after a lost one was refused at login; the reason. */
  refused: [string];
}> {
  private xmpp: Client;
  private sessions = 0;
  private closing = false;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private missedPings = 0;
  state: ConnState = "offline";
  endpointId = "";
  /** How many times a lost connection was resumed (XEP-0198) rather than replaced. */
  resumptions = 0;

  /** IQ handlers, registered again on the client signIn makes. */
  private iqHandlers: [type: "get" | "set", ns: string, name: string, fn: (iq: Element, payload: Element) => Element | object | undefined][] = [];
  private credentials: { username: string; password: string } | null = null;

  constructor(private opts: ConnectionOptions) {
    super();
    this.xmpp = this.makeClient();
  }

  /** The library's client, anonymous or with credentials, its events wired to this connection's. */
  private makeClient(): Client {
    const c = this.credentials;
    const x = client({ service: this.opts.service, domain: this.opts.domain, ...(c ? { username: c.username, password: c.password } : {}) });
    const mine = () => x === this.xmpp; // a replaced client's late events are not ours
    x.reconnect.stop(); // only after the first session: a first failure is reported instead
    guardWrites(x);
    x.streamManagement.timeout = 20_000; // unanswered <r/> → the socket is dead
    x.on("error", (err: { name?: string; condition?: string; text?: string }) => {
      // Socket and stream errors end in "disconnect", handled below. A login
      // refused while reconnecting (a token that expired meanwhile, §10)
      // will not get better by trying again: say so and stop.
      if (mine() && this.sessions > 0 && !this.closing && err?.name === "SASLError") {
        x.reconnect.stop();
        this.emit("refused", loginFailure(err.condition ?? "", err.text ?? ""));
      }
    });
    x.on("stanza", (el: Element) => {
      if (mine()) this.emit("stanza", el);
    });
    for (const [type, ns, name, fn] of this.iqHandlers) x.iqCallee[type](ns, name, ({ stanza, element }) => fn(stanza, element));
    x.on("online", () => {
      if (!mine()) return;
      this.sessions++;
      // A signed-in user's local part is a name, not a UUID: a random endpoint id (§2.2).
      if (this.sessions === 1) this.endpointId = c ? randomHex8() : endpointIdFor(x.jid?.local ?? "");
      x.reconnect.delay = 1000;
      this.setState("online");
      this.emit("session", this.sessions === 1);
    });
    x.streamManagement.on("resumed", () => {
      if (!mine()) return;
      this.resumptions++;
      x.reconnect.delay = 1000;
      this.setState("online");
      this.emit("resumed");
    });
    x.on("disconnect", () => {
      if (!mine() || this.closing || this.sessions === 0) return;
      // Resume as LJM does: previd in the URL, <resume previd h/> in the stream.
      x.options.service = withPrevId(this.opts.service, x.streamManagement.id);
      this.setState("reconnecting");
    });
    x.reconnect.on("reconnecting", () => {
      x.reconnect.delay = Math.min(x.reconnect.delay * 2, 15_000);
    });
    return x;
  }

  /**
   * Replaces the session with one signed in as `username` (SCRAM or PLAIN,
   * as the server offers), or an anonymous one again with null: the
   * secure domain's "I am the host". Rejects with a ConnectionError as
   * connect() does; the connection is then closed.
   */
  async signIn(credentials: { username: string; password: string } | null): Promise<void> {
    await this.stopClient();
    this.credentials = credentials;
    this.sessions = 0;
    this.endpointId = "";
    this.xmpp = this.makeClient();
    await this.connect();
  }

  private async stopClient() {
    this.closing = true;
    clearInterval(this.pingTimer);
    this.xmpp.reconnect.stop();
    await Promise.race([this.xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]).catch(() => this.dropSocket());
    this.closing = false;
  }

  private setState(s: ConnState) {
    if (this.state === s) return;
    this.state = s;
    this.emit("state", s);
  }

  get jid(): string {
    return this.xmpp.jid?.toString() ?? "";
  }

  /** Opens the session; rejects with a ConnectionError when the server cannot be reached. */
  async connect(timeoutMs = 15_000): Promise<void> {
    this.setState("connecting");
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.xmpp.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new ConnectionError("unreachable", "timed out")), timeoutMs);
        }),
      ]);
    } catch (err) {
      this.setState("offline");
      this.xmpp.stop().catch(() => {});
      if (err instanceof ConnectionError) throw err;
      const e = err as { condition?: string; text?: string; name?: string };
      if (e.name === "SASLError" || e.condition === "not-authorized" || e.condition === "not-allowed") {
        // The server's <text> says why (a token expired, for the wrong room …, §2.2, §10).
        throw new ConnectionError("auth", loginFailure(e.condition ?? "", e.text ?? ""));
      }
      throw new ConnectionError("unreachable", String((err as Error)?.message ?? err));
    } finally {
      clearTimeout(timer);
    }
    this.xmpp.reconnect.start();
    this.startPings();
  }

  private startPings() {
    const every = this.opts.pingIntervalMs ?? 10_000;
    const timeout = this.opts.pingTimeoutMs ?? 5_000;
    this.pingTimer = setInterval(async () => {
      if (this.state !== "online") return;
      try {
        await this.iq(xml("iq", { type: "get", to: this.opts.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })), timeout);
        this.missedPings = 0;
      } catch (err) {
        if ((err as { condition?: string }).condition) {
          this.missedPings = 0; // an error reply is still a reply
          return;
        }
        if (++this.missedPings >= 2) {
          this.missedPings = 0;
          this.dropSocket();
        }
      }
    }, every);
  }

  /** Closes the socket without a goodbye so the session can be resumed (also used by tests). */
  dropSocket(): void {
    this.xmpp.socket?.socket?.close?.();
  }

  /**
   * Answers IQs whose payload is <name xmlns=ns> (the media session will
   * register Jingle, urn:xmpp:jingle:1, here); unhandled ones get an error
   * reply from the library.
   */
  handleIQ(type: "get" | "set", ns: string, name: string, fn: (iq: Element, payload: Element) => Element | object | undefined): void {
    this.iqHandlers.push([type, ns, name, fn]);
    this.xmpp.iqCallee[type](ns, name, ({ stanza, element }) => fn(stanza, element));
  }

  async send(el: Element): Promise<void> {
    await this.writable();
    return this.xmpp.send(el);
  }

  /** An IQ round trip; rejects with a StanzaError (condition) or a TimeoutError. */
  async iq(el: Element, timeoutMs = 10_000): Promise<Element> {
    await this.writable();
    return this.xmpp.iqCaller.request(el, timeoutMs);
  }

  /**
   * Resolves at once unless the socket is going away under a session that
   * will be resumed; then once the connection is back, so that nothing is
   * written into a closing WebSocket (the browser logs that as an error).
   * After maxWaitMs the write goes ahead anyway (and fails as it would have).
   */
  private writable(maxWaitMs = 10_000): Promise<void> {
    const open = this.xmpp.socket?.socket?.readyState === 1;
    const waiting = this.state === "reconnecting" || (this.state === "online" && !open && this.sessions > 0);
    if (!waiting) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        off();
        clearTimeout(timer);
        resolve();
      };
      const off = this.on("state", (s) => {
        if (s === "online" || s === "offline") done();
      });
      const timer = setTimeout(done, maxWaitMs);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    this.xmpp.reconnect.stop();
    try {
      await Promise.race([this.xmpp.stop(), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      this.dropSocket();
    }
    this.setState("offline");
  }
}
