// A TCP relay between a test client and the server under test, so a test can
// drop the client's connection the way a network does: no WebSocket close
// frame, no <close/>, just a dead socket. It relays bytes (TLS included)
// without looking at them, so it works for ws:// and wss:// alike.
//
//   const proxy = await startProxy(serverURL);
//   client({ service: proxy.url, ... });
//   proxy.hold();          // new connections wait, unanswered, until release()
//   proxy.drop("reset");   // kill every live connection
//   proxy.release();
//   await proxy.close();
import net from "node:net";

/**
 * @param {string} target  ws:// or wss:// URL of the server
 * @returns {Promise<Proxy>}
 */
export async function startProxy(target) {
  const proxy = new Proxy(new URL(target));
  await proxy.listen();
  return proxy;
}

class Proxy {
  #target;
  #server = net.createServer((socket) => this.#accept(socket));
  /** live relays: { client, upstream } */
  #pairs = new Set();
  /** client sockets accepted while held, waiting for release() */
  #held = [];
  #holding = false;
  /** number of connections accepted so far */
  accepted = 0;

  constructor(target) {
    this.#target = target;
  }

  get #targetPort() {
    if (this.#target.port) return Number(this.#target.port);
    return this.#target.protocol === "wss:" ? 443 : 80;
  }

  // The proxy listens on the target's host name, so a name like "localhost"
  // resolves to the same address for the client as for the listener.
  get #host() {
    return this.#target.hostname.replace(/^\[(.*)\]$/, "$1");
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, this.#host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
  }

  /** The server's URL with the proxy's port: path and query are kept. */
  get url() {
    const url = new URL(this.#target);
    url.port = String(this.#server.address().port);
    return url.toString();
  }

  /** New connections are accepted but not relayed until release(). */
  hold() {
    this.#holding = true;
  }

  release() {
    this.#holding = false;
    for (const socket of this.#held.splice(0)) {
      if (!socket.destroyed) this.#relay(socket);
    }
  }

  /**
   * Kill every live connection.
   * "reset": both sides get a TCP RST at once; the server sees the
   *   connection fail, as when a client's process dies.
   * "silent": the client's side is reset, the server's side stays open and
   *   whatever the server sends is swallowed; the server cannot tell, as when
   *   a phone changes network. The server's socket is closed by close(), or
   *   by the server (e.g. when the session is resumed elsewhere).
   * Resolves when the client side of every connection is closed.
   */
  async drop(how = "reset") {
    const closed = [];
    for (const pair of this.#pairs) {
      const { client, upstream } = pair;
      client.unpipe();
      upstream.unpipe();
      closed.push(new Promise((resolve) => client.once("close", resolve)));
      client.resetAndDestroy();
      if (how === "reset") {
        upstream.resetAndDestroy();
        this.#pairs.delete(pair);
      } else {
        pair.silent = true;
        upstream.on("data", () => {});
        upstream.resume();
      }
    }
    await Promise.all(closed);
  }

  /** Stop listening and close every socket the proxy holds. */
  async close() {
    for (const socket of this.#held.splice(0)) socket.destroy();
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket) {
    this.accepted++;
    socket.on("error", () => {});
    if (this.#holding) {
      socket.pause();
      this.#held.push(socket);
      return;
    }
    this.#relay(socket);
  }

  #relay(client) {
    const upstream = net.connect(this.#targetPort, this.#host);
    const pair = { client, upstream, silent: false };
    this.#pairs.add(pair);
    upstream.on("error", () => client.destroy());
    client.on("error", () => {});
    upstream.on("close", () => {
      client.destroy();
      this.#pairs.delete(pair);
    });
    client.on("close", () => {
      // A silently dropped pair keeps its upstream open on purpose.
      if (!pair.silent) upstream.end();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}
