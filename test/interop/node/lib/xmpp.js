// Helpers shared by the interop tests: configuration from the environment,
// a client factory that registers its own cleanup, and small event waiters.
// Everything here waits for events with a deadline; nothing sleeps.
import { client, xml } from "@xmpp/client";

export { xml };

export const NS = {
  sm: "urn:xmpp:sm:3",
  sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
  ping: "urn:xmpp:ping",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  extdisco: "urn:xmpp:extdisco:2",
};

/** How long one wait may take before the test fails (ms). */
export const WAIT = Number(process.env.XMPP_WAIT_MS || 15_000);

/** Per-test timeout for node:test (ms). */
export const TEST_TIMEOUT = 4 * WAIT;

/**
 * The server under test, from the environment (see README.md).
 * Read lazily so a missing variable fails the test that needs it, with the
 * variable's name, rather than the whole file at import time.
 */
export const env = {
  get url() {
    return required("XMPP_WS_URL");
  },
  get domain() {
    return process.env.XMPP_DOMAIN || "localhost";
  },
  /** Domain offering SASL ANONYMOUS; Parley uses its main domain. */
  get anonDomain() {
    return process.env.XMPP_ANON_DOMAIN || this.domain;
  },
  get user() {
    return required("XMPP_USER");
  },
  get password() {
    return required("XMPP_PASSWORD");
  },
  /** Skip the anonymous-resumption test (servers without previd support). */
  get skipAnonResume() {
    return process.env.XMPP_SKIP_ANON_RESUME === "1";
  },
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; see test/interop/node/README.md`);
  }
  return value;
}

// A test server on loopback has a self-signed certificate. Node's WebSocket
// (undici) takes no TLS options, so certificate checks are turned off for
// this test process unless the caller set NODE_TLS_REJECT_UNAUTHORIZED.
process.env.NODE_TLS_REJECT_UNAUTHORIZED ??= "0";

if (typeof globalThis.WebSocket !== "function") {
  throw new Error(
    "no global WebSocket: use Node >= 22, or Node 20 with --experimental-websocket (npm test passes it)",
  );
}

/**
 * Start an @xmpp/client session and register its shutdown with the test.
 *
 * opts.username/password: password login; without them, SASL ANONYMOUS.
 * opts.mechanism: force one SASL mechanism instead of the library's choice.
 * opts.service: WebSocket URL (default XMPP_WS_URL).
 * opts.reconnect: keep @xmpp/client's automatic reconnect (default off).
 * opts.start: false to return the client unstarted.
 *
 * The returned client has extra fields: `errors` (every 'error' it emitted),
 * `inbox` (an Inbox of the messages it received), `mechanism` (the SASL
 * mechanism it used) and `smEnabled` (resolves with <enabled/>).
 */
export async function connect(t, opts = {}) {
  const { username, password, mechanism } = opts;
  const domain = opts.domain ?? (username ? env.domain : env.anonDomain);
  const xmpp = client({
    service: opts.service ?? env.url,
    domain,
    resource: opts.resource,
    ...(mechanism
      ? {
          credentials: (authenticate, offered) => {
            if (!offered.includes(mechanism)) {
              throw new Error(`server does not offer ${mechanism} (offers ${offered})`);
            }
            return authenticate({ username, password }, mechanism);
          },
        }
      : { username, password }),
  });
  if (!opts.reconnect) xmpp.reconnect.stop();

  xmpp.errors = [];
  xmpp.on("error", (err) => xmpp.errors.push(err));
  xmpp.on("send", (el) => {
    if (el.is("auth", NS.sasl)) xmpp.mechanism = el.attrs.mechanism;
  });
  xmpp.inbox = new Inbox(xmpp);
  xmpp.smEnabled = nextNonza(xmpp, (el) => el.is("enabled", NS.sm) || el.is("failed", NS.sm), Infinity).then(
    (el) => {
      if (el.is("failed", NS.sm)) throw new Error(`stream management refused: ${el}`);
      return el;
    },
  );
  xmpp.smEnabled.catch(() => {});

  t.after(() => stop(xmpp));

  if (opts.start !== false) {
    await deadline(xmpp.start(), WAIT, "session start");
  }
  return xmpp;
}

/** Close a client's stream and socket, whatever state it is in. */
export async function stop(xmpp) {
  xmpp.reconnect.stop();
  if (xmpp.status === "offline") return;
  try {
    await deadline(xmpp.stop(), WAIT, "stop");
  } catch {
    // The stream could not be closed politely (socket already gone, or
    // the server did not answer </close>): make sure the socket is.
    xmpp.socket?.socket?.close?.();
  }
}

/** Resolve with the first value `promise` gives, or reject after `ms`. */
export function deadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolve with the next `event` from `emitter` whose args satisfy `pred`. */
export function nextEvent(emitter, event, pred = () => true, ms = WAIT) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => {
      if (pred(...args)) resolve(args[0]);
    };
    emitter.on(event, listener);
  });
  const guarded = ms === Infinity ? p : deadline(p, ms, `'${event}'`);
  return guarded.finally(() => emitter.off(event, listener));
}

/** Resolve with the next nonza (non-stanza element) satisfying `pred`. */
export function nextNonza(xmpp, pred, ms = WAIT) {
  return nextEvent(xmpp, "nonza", pred, ms);
}

/** Send a chat message; returns its id. */
export async function sendChat(xmpp, to, body, id = randomId()) {
  await xmpp.send(xml("message", { to: String(to), type: "chat", id }, xml("body", {}, body)));
  return id;
}

export function randomId() {
  return globalThis.crypto.randomUUID();
}

/** Send initial presence, making the session an available resource. */
export async function available(xmpp) {
  await xmpp.send(xml("presence"));
}

/** Every <message/> with a <body/> a client receives, in order. */
export class Inbox {
  messages = [];
  #waiters = new Set();

  constructor(xmpp) {
    xmpp.on("stanza", (stanza) => {
      if (!stanza.is("message") || stanza.getChild("body") === undefined) return;
      this.messages.push({
        from: stanza.attrs.from,
        to: stanza.attrs.to,
        type: stanza.attrs.type,
        id: stanza.attrs.id,
        body: stanza.getChildText("body"),
        stanza,
      });
      for (const w of this.#waiters) w();
    });
  }

  /** Messages whose body satisfies `pred`. */
  filter(pred) {
    return this.messages.filter((m) => pred(m.body, m));
  }

  /** Resolve once some received message satisfies `pred`; returns it. */
  waitFor(pred, what = "a message", ms = WAIT) {
    const found = () => this.messages.find((m) => pred(m.body, m));
    let check;
    const p = new Promise((resolve) => {
      check = () => {
        const m = found();
        if (m) resolve(m);
      };
      this.#waiters.add(check);
      check();
    });
    return deadline(p, ms, what).finally(() => this.#waiters.delete(check));
  }

  /** Resolve with the message whose body is exactly `body`. */
  waitForBody(body, ms = WAIT) {
    return this.waitFor((b) => b === body, `message "${body}"`, ms);
  }
}
