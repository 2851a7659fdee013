// Strophe.js 1.6 against Parley over WebSocket (RFC 7395). Jitsi's client is
// built on a fork of Strophe 1.5, so this is the closest stock-client check
// of the XMPP layer: anonymous and password login, messages, ping, disco.
// Environment (set by test/interop/node_test.go): XMPP_WS_URL, XMPP_DOMAIN,
// XMPP_USER, XMPP_PASSWORD; NODE_TLS_REJECT_UNAUTHORIZED=0 for the
// self-signed certificate.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const { Strophe, $msg, $iq, $pres } = require('strophe.js');

const url = process.env.XMPP_WS_URL;
const domain = process.env.XMPP_DOMAIN;
const WAIT_MS = 15000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// connect logs in (anonymously when jid is the bare domain) and resolves
// with the connection once Strophe reports CONNECTED.
function connect(jid, password) {
  const conn = new Strophe.Connection(url, { protocol: 'wss' });
  return withTimeout(new Promise((resolve, reject) => {
    conn.connect(jid, password, (status, condition) => {
      if (status === Strophe.Status.CONNECTED) resolve(conn);
      if (status === Strophe.Status.AUTHFAIL) {
        conn.disconnect('auth failed'); // do not leave the socket to the server's auth timeout
        reject(new Error(`auth failed: ${condition}`));
      }
      if (status === Strophe.Status.CONNFAIL) reject(new Error(`connection failed: ${condition}`));
    });
  }), `login as ${jid}`);
}

function disconnect(conn) {
  return withTimeout(new Promise((resolve) => {
    conn.addHandler(() => true, null, null, null, null, null);
    const done = () => resolve();
    conn.connect_callback = (status) => { if (status === Strophe.Status.DISCONNECTED) done(); };
    conn.disconnect('test over');
  }), 'disconnect');
}

function iq(conn, stanza) {
  return withTimeout(new Promise((resolve, reject) => {
    conn.sendIQ(stanza, resolve, (err) => reject(new Error(`IQ failed: ${err ? Strophe.serialize(err) : 'timeout'}`)), WAIT_MS);
  }), 'IQ result');
}

function nextMessage(conn, body) {
  return withTimeout(new Promise((resolve) => {
    conn.addHandler((m) => {
      const b = m.getElementsByTagName('body')[0];
      if (b && Strophe.getText(b) === body) {
        resolve(m);
        return false;
      }
      return true;
    }, null, 'message', null, null, null);
  }), `message "${body}"`);
}

test('anonymous login gets a server-chosen JID on the domain', async () => {
  const c = await connect(domain);
  try {
    assert.equal(Strophe.getDomainFromJid(c.jid), domain);
    assert.match(Strophe.getNodeFromJid(c.jid), /^[0-9a-f-]{36}$/);
    assert.ok(Strophe.getResourceFromJid(c.jid));
  } finally {
    await disconnect(c);
  }
});

test('password login, and a wrong password is refused', async () => {
  const user = `${process.env.XMPP_USER}@${domain}`;
  const c = await connect(user, process.env.XMPP_PASSWORD);
  assert.equal(Strophe.getBareJidFromJid(c.jid), user);
  await disconnect(c);
  await assert.rejects(connect(user, 'not the password'), /auth failed/);
});

test('messages between two clients, both ways', async () => {
  const a = await connect(domain);
  const b = await connect(process.env.XMPP_USER + '@' + domain, process.env.XMPP_PASSWORD);
  try {
    const got = nextMessage(b, 'hello from strophe');
    a.send($msg({ to: b.jid, type: 'chat', from: 'someone@else/spoof' }).c('body').t('hello from strophe'));
    const m = await got;
    assert.equal(m.getAttribute('from'), a.jid, 'the server stamps from');
    // A bare-JID message goes to available resources (RFC 6121 §8.5.2.1), so
    // a sends its initial presence first and waits for the server's echo.
    const echo = withTimeout(new Promise((resolve) => {
      a.addHandler(() => { resolve(); return false; }, null, 'presence', null, null, a.jid);
    }), 'own presence');
    a.send($pres());
    await echo;
    const back = nextMessage(a, 'and back');
    b.send($msg({ to: Strophe.getBareJidFromJid(a.jid), type: 'chat' }).c('body').t('and back'));
    await back;
  } finally {
    await disconnect(a);
    await disconnect(b);
  }
});

test('ping and service discovery on the domain', async () => {
  const c = await connect(domain);
  try {
    const pong = await iq(c, $iq({ type: 'get', to: domain }).c('ping', { xmlns: 'urn:xmpp:ping' }));
    assert.equal(pong.getAttribute('type'), 'result');
    const info = await iq(c, $iq({ type: 'get', to: domain }).c('query', { xmlns: Strophe.NS.DISCO_INFO }));
    const features = Array.from(info.getElementsByTagName('feature')).map((f) => f.getAttribute('var'));
    for (const want of ['urn:xmpp:ping', 'urn:xmpp:extdisco:2', Strophe.NS.DISCO_INFO]) {
      assert.ok(features.includes(want), `disco#info lacks ${want}: ${features}`);
    }
    const ident = info.getElementsByTagName('identity')[0];
    assert.equal(ident.getAttribute('category'), 'server');
    await iq(c, $iq({ type: 'get', to: domain }).c('services', { xmlns: 'urn:xmpp:extdisco:2' }));
  } finally {
    await disconnect(c);
  }
});
