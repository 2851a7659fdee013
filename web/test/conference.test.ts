// The conference against a scripted transport that plays the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import type { Element } from "@xmpp/xml";
import { Conference, type Phase, type Transport } from "../src/conference";
import type { ConnState } from "../src/xmpp";

const cfg = { hosts: { domain: "localhost", muc: "conference.localhost", focus: "focus.localhost" }, websocket: "wss://x/xmpp-websocket" };
const room = "standup@conference.localhost";

class FakeServer implements Transport {
  endpointId = "3f2a9c1e";
  sent: Element[] = [];
  handlers: Record<string, ((...a: any[]) => void)[]> = {};
  onSend: (el: Element) => void = () => {};
  onIQ: (el: Element) => Element | Error = () => Object.assign(new Error("x"), { condition: "service-unavailable" });
  closed = false;
  connectError: Error | null = null;

  async connect() {
    if (this.connectError) throw this.connectError;
  }
  async close() {
    this.closed = true;
  }
  async send(el: Element) {
    this.sent.push(el);
    queueMicrotask(() => this.onSend(el));
  }
  async iq(el: Element) {
    this.sent.push(el);
    const r = this.onIQ(el);
    if (r instanceof Error) throw r;
    return r;
  }
  iqHandlers = new Map<string, (iq: Element, payload: Element) => Element | object | undefined>();
  handleIQ(type: "get" | "set", ns: string, name: string, fn: (iq: Element, payload: Element) => Element | object | undefined) {
    this.iqHandlers.set(`${type} ${ns} ${name}`, fn);
  }
  /** Delivers an IQ to the handler registered for its payload, as the XMPP library would; undefined if none. */
  deliverIQ(xml: string) {
    const iq = parse(xml);
    const payload = iq.getChildElements()[0]!;
    const fn = this.iqHandlers.get(`${iq.attrs.type} ${payload.attrs.xmlns} ${payload.name}`);
    return fn ? fn(iq, payload) : undefined;
  }
  on(event: string, fn: (...a: any[]) => void) {
    (this.handlers[event] ??= []).push(fn);
    return () => {};
  }
  fire(event: "stanza", el: Element): void;
  fire(event: "state", s: ConnState): void;
  fire(event: "session", first: boolean): void;
  fire(event: "resumed"): void;
  fire(event: "refused", reason: string): void;
  fire(event: string, ...args: unknown[]) {
    for (const fn of this.handlers[event] ?? []) fn(...args);
  }
  stanza(xml: string) {
    this.fire("stanza", parse(xml));
  }
}

const isJoinPresence = (el: Element) => el.name === "presence" && !!el.getChild("x", "http://jabber.org/protocol/muc");

function selfPresence(nick: string, role = "moderator", extra = "") {
  return `<presence from="${room}/${nick}"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="${role}"/><status code="110"/>${extra}</x></presence>`;
}

function until(conf: Conference, phase: Phase["phase"]): Promise<Phase> {
  return new Promise((resolve) => {
    if (conf.phase.phase === phase) return resolve(conf.phase);
    const off = conf.on("phase", (p) => {
      if (p.phase === phase) {
        off();
        resolve(p);
      }
    });
  });
}

const local = { displayName: "Alice", audioMuted: false, videoMuted: true };

test("joins without a focus, sees others, chats, mutes, leaves", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) {
      s.stanza(`<presence from="${room}/77aa01bc"><nick xmlns="http://jabber.org/protocol/nick">Bob</nick><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="b@localhost/r"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId, "moderator", `<status code="201"/>`));
    }
    if (el.name === "message" && el.attrs.type === "groupchat") {
      s.stanza(`<message from="${room}/${s.endpointId}" type="groupchat" id="${el.attrs.id}"><body>${el.getChildText("body")}</body></message>`);
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  assert.equal(conf.mediaAvailable, false, "no focus: media unavailable");
  assert.equal(conf.isModerator, true);
  assert.deepEqual([...conf.participants.keys()].sort(), ["3f2a9c1e", "77aa01bc"]);
  assert.equal(conf.displayNameOf("77aa01bc"), "Bob");
  // The room was created by us: the instant-room form went out.
  assert.ok(s.sent.some((e) => e.name === "iq" && e.getChild("query", "http://jabber.org/protocol/muc#owner")));

  const got: string[] = [];
  conf.on("chat", (m) => got.push(`${m.mine ? "me" : m.from}:${m.body}`));
  conf.sendChat("hello all");
  await new Promise((r) => setTimeout(r, 5));
  s.stanza(`<message from="${room}/77aa01bc" type="chat" id="p1"><body>psst</body></message>`);
  s.stanza(`<message from="${room}/77aa01bc" type="chat" id="p1"><body>psst</body></message>`); // duplicate
  conf.sendChat("back at you", "77aa01bc");
  assert.deepEqual(got, ["me:hello all", "77aa01bc:psst", "me:back at you"]);
  assert.equal(conf.chat.unread, 1);

  conf.setAudioMuted(true);
  const last = s.sent.at(-1)!;
  assert.equal(last.name, "presence");
  assert.match(last.getChildText("SourceInfo")!, /"3f2a9c1e-a0":\{"muted":true\}/);

  s.stanza(`<presence from="${room}/77aa01bc" type="unavailable"/>`);
  assert.equal(conf.participants.has("77aa01bc"), false);

  await conf.leave();
  assert.equal(conf.phase.phase, "ended");
  assert.equal(s.sent.at(-1)!.attrs.type, "unavailable");
  assert.ok(s.closed);
});

test("password required, wrong, then right", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (el.name !== "presence") return;
    const pw = el.getChild("x", "http://jabber.org/protocol/muc")?.getChildText("password");
    if (pw === "right") s.stanza(selfPresence(s.endpointId, "participant"));
    else s.stanza(`<presence from="${room}/${s.endpointId}" type="error"><error type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`);
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  conf.start();
  assert.deepEqual(await until(conf, "password"), { phase: "password", wrong: false, detail: "" });
  conf.joinWithPassword("wrong");
  assert.deepEqual(await until(conf, "password"), { phase: "password", wrong: true, detail: "" });
  conf.joinWithPassword("right");
  await until(conf, "joined");
  assert.equal(conf.isModerator, false);
});

test("kicked, full and unreachable end the conference with a reason", async () => {
  const kicked = new FakeServer();
  kicked.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) kicked.stanza(selfPresence(kicked.endpointId));
  };
  const a = new Conference(kicked, cfg, "R", "standup", local, "uid");
  await a.start();
  await until(a, "joined");
  kicked.stanza(`<presence from="${room}/${kicked.endpointId}" type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user"><item role="none"><reason>be nice</reason></item><status code="307"/><status code="110"/></x></presence>`);
  assert.deepEqual(a.phase, { phase: "ended", reason: "kicked", detail: "be nice" });

  const full = new FakeServer();
  full.onSend = () => full.stanza(`<presence from="${room}/${full.endpointId}" type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`);
  const b = new Conference(full, cfg, "R", "standup", local, "uid");
  await b.start();
  assert.equal(((await until(b, "ended")) as { reason: string }).reason, "full");

  const down = new FakeServer();
  down.connectError = Object.assign(new Error("refused"), { kind: "unreachable" });
  const c = new Conference(down, cfg, "R", "standup", local, "uid");
  await c.start();
  assert.equal((c.phase as { reason: string }).reason, "unreachable");
});

test("nickname conflict picks a new endpoint ID", async () => {
  const s = new FakeServer();
  let tries = 0;
  s.onSend = (el) => {
    const nick = el.attrs.to!.split("/")[1]!;
    if (tries++ === 0) s.stanza(`<presence from="${room}/${nick}" type="error"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`);
    else s.stanza(selfPresence(nick));
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  assert.notEqual(conf.endpointId, "3f2a9c1e");
  assert.match(conf.endpointId, /^[0-9a-f]{8}$/);
});

test("a focus that is ready makes media available and is hidden from the list", async () => {
  const s = new FakeServer();
  s.onIQ = (el) =>
    el.getChild("conference", "http://jitsi.org/protocol/focus")
      ? parse(`<iq type="result"><conference xmlns="http://jitsi.org/protocol/focus" ready="true" focusjid="focus@auth.localhost"/></iq>`)
      : parse(`<iq type="result"/>`);
  s.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) {
      s.stanza(`<presence from="${room}/focus"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator" jid="focus@auth.localhost/focus"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId));
    }
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  assert.equal(conf.mediaAvailable, true);
  assert.deepEqual([...conf.participants.keys()], [s.endpointId]);
});

test("connection loss: resumed keeps the room, a new session joins again", async () => {
  const s = new FakeServer();
  let joins = 0;
  s.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) {
      joins++;
      s.stanza(selfPresence(s.endpointId));
    }
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  s.fire("state", "reconnecting");
  assert.equal(conf.phase.phase, "reconnecting");
  s.fire("resumed");
  assert.equal(conf.phase.phase, "joined");
  assert.equal(joins, 1);
  s.fire("state", "reconnecting");
  s.fire("session", false);
  await until(conf, "joined");
  assert.equal(joins, 2);
});

// issue 14 item 3: a restarted server has neither the room nor the
// conference; a new session must ask the focus before joining again, or the
// focus never invites anyone and media never comes back.
test("a new session after a server restart asks the focus again, then joins", async () => {
  const s = new FakeServer();
  const order: string[] = [];
  s.onIQ = (el) => {
    if (!el.getChild("conference", "http://jitsi.org/protocol/focus")) return Object.assign(new Error("x"), { condition: "service-unavailable" });
    order.push("focus");
    return parse(`<iq type="result"><conference xmlns="http://jitsi.org/protocol/focus" ready="true" focusjid="focus@auth.localhost"/></iq>`);
  };
  s.onSend = (el) => {
    if (isJoinPresence(el)) {
      order.push("join");
      s.stanza(selfPresence(s.endpointId));
    }
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  assert.deepEqual(order, ["focus", "join"]);
  s.fire("state", "reconnecting");
  s.fire("session", false);
  await until(conf, "joined");
  assert.deepEqual(order, ["focus", "join", "focus", "join"]);
  assert.equal(conf.mediaAvailable, true);
});

test("requestMedia: asks the focus again while joined, without joining again; once at a time", async () => {
  const s = new FakeServer();
  let asked = 0;
  let ready = true;
  s.onIQ = (el) => {
    if (!el.getChild("conference", "http://jitsi.org/protocol/focus")) return Object.assign(new Error("x"), { condition: "service-unavailable" });
    asked++;
    return ready ? parse(`<iq type="result"><conference xmlns="http://jitsi.org/protocol/focus" ready="true" focusjid="focus@auth.localhost"/></iq>`) : Object.assign(new Error("x"), { condition: "service-unavailable" });
  };
  let joins = 0;
  s.onSend = (el) => {
    if (isJoinPresence(el)) {
      joins++;
      s.stanza(selfPresence(s.endpointId));
    }
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  await Promise.all([conf.requestMedia(), conf.requestMedia()]);
  assert.equal(asked, 2, "the join's request and one more");
  assert.equal(joins, 1);
  assert.equal(conf.mediaAvailable, true);
  // A focus that is gone: media unavailable (the pill), the meeting goes on.
  ready = false;
  await conf.requestMedia();
  assert.equal(conf.mediaAvailable, false);
  assert.equal(conf.phase.phase, "joined");
});

test("locking: owner form fetched then submitted; errors are readable", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (el.name === "presence") s.stanza(selfPresence(s.endpointId));
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  s.onIQ = () => parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="form"/></query></iq>`);
  await conf.setPassword("pw");
  assert.equal(conf.locked, true);
  const submit = s.sent.at(-1)!;
  assert.equal(submit.getChild("query", "http://jabber.org/protocol/muc#owner")?.getChild("x", "jabber:x:data")?.attrs.type, "submit");
  s.onIQ = () => Object.assign(new Error("x"), { condition: "forbidden" });
  await assert.rejects(conf.setPassword(""), /Only moderators/);
});

test("ask to mute (§4.7): requests go to the focus; only the focus's true is obeyed", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) {
      s.stanza(`<presence from="${room}/77aa01bc"><nick xmlns="http://jabber.org/protocol/nick">Bob</nick><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator" jid="b@localhost/r"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId, "participant"));
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  const muted: string[] = [];
  conf.on("mutedBy", (kind, actor) => muted.push(`${kind} by ${actor}`));
  await conf.start();
  await until(conf, "joined");

  // Asking: an IQ to the focus's occupant; a refusal becomes readable text.
  s.onIQ = (el) => el;
  await conf.askToMute("77aa01bc", "video");
  const asked = s.sent.at(-1)!;
  assert.equal(asked.toString(), `<iq type="set" to="${room}/focus"><mute xmlns="http://jitsi.org/jitmeet/video" jid="${room}/77aa01bc">true</mute></iq>`);
  s.onIQ = () => Object.assign(new Error("x"), { condition: "not-allowed", text: "only moderators can mute others" });
  await assert.rejects(conf.askToMute("77aa01bc", "audio"), /Could not mute Bob: only moderators can mute others\./);
  s.onIQ = () => Object.assign(new Error("x"), { condition: "forbidden" });
  await assert.rejects(conf.askToMute("77aa01bc", "audio"), /Only moderators can mute others\./);

  const me = `${room}/${s.endpointId}`;
  const req = (from: string, text: string, ns = "http://jitsi.org/jitmeet/audio", jid = me) =>
    s.deliverIQ(`<iq type="set" from="${from}" id="m"><mute xmlns="${ns}" jid="${jid}" actor="${room}/77aa01bc">${text}</mute></iq>`);
  const isError = (r: unknown) => (r as Element | undefined)?.name === "error";
  // Not from the focus, not "true", not for us, desktop: refused and ignored.
  assert.ok(isError(req(`${room}/77aa01bc`, "true")));
  assert.ok(isError(req(`${room}/focus/x`, "true")));
  assert.ok(isError(req(`focus.localhost`, "true")));
  assert.ok(isError(req(`${room}/focus`, "false")));
  assert.ok(isError(req(`${room}/focus`, "true", undefined, `${room}/someoneelse`)));
  assert.equal(req(`${room}/focus`, "true", "http://jitsi.org/jitmeet/desktop"), undefined); // no handler: the library refuses it
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(muted, []);
  // From the focus with "true": a result, and the UI is told who asked.
  assert.deepEqual(req(`${room}/focus`, " true "), {});
  assert.deepEqual(req(`${room}/focus`, "true", "http://jitsi.org/jitmeet/video"), {});
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(muted, ["audio by Bob", "video by Bob"]);
  await conf.leave();
});

test("a login refused on reconnecting (an expired token) ends the meeting with the reason", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoinPresence(el)) s.stanza(selfPresence(s.endpointId));
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  s.fire("state", "reconnecting");
  s.fire("refused", "token expired");
  assert.deepEqual(await until(conf, "ended"), { phase: "ended", reason: "login-failed", detail: "token expired" });
});

test("screen share state goes out in presence", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (el.name === "presence" && el.getChild("x", "http://jabber.org/protocol/muc")) s.stanza(selfPresence(s.endpointId));
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  conf.setSharing(true);
  assert.deepEqual(JSON.parse(s.sent.at(-1)!.getChildText("SourceInfo")!)["3f2a9c1e-v1"], { muted: false, videoType: "desktop" });
  conf.setSharing(false);
  assert.equal(JSON.parse(s.sent.at(-1)!.getChildText("SourceInfo")!)["3f2a9c1e-v1"], undefined);
  await conf.leave();
});

const FOCUS_NS = "http://jitsi.org/protocol/focus";
const lroom = "standup@lobby.localhost";
const tick = () => new Promise((r) => setTimeout(r, 5));
const isJoin = (el: Element, to = room) => el.name === "presence" && el.attrs.to?.startsWith(to + "/") && !!el.getChild("x", "http://jabber.org/protocol/muc") && el.attrs.type === undefined;

test("secure domain: not-authorized → waiting for the host, asked again, enters once the room is started (§3.3)", async () => {
  const s = new FakeServer();
  let asks = 0;
  let started = false;
  s.onIQ = (el) => {
    const c = el.getChild("conference", FOCUS_NS);
    if (!c) return parse(`<iq type="result"/>`);
    asks++;
    assert.equal(c.attrs.token, "eyJ.t.s", "the token rides along (§3.1)");
    if (!started) return Object.assign(new Error("x"), { condition: "not-authorized" });
    return parse(`<iq type="result"><conference xmlns="${FOCUS_NS}" ready="true" focusjid="focus@auth.localhost"/></iq>`);
  };
  s.onSend = (el) => {
    if (isJoin(el)) s.stanza(selfPresence(s.endpointId, "participant"));
  };
  const waits: number[] = [];
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid", { token: "eyJ.t.s", hostWait: (n) => (n + 1) * 3 });
  conf.on("phase", (p) => {
    if (p.phase === "waiting-host") {
      waits.push(p.retryInMs);
      if (waits.length === 3) started = true; // the host arrives
    }
  });
  await conf.start();
  await until(conf, "joined");
  assert.deepEqual(waits, [3, 6, 9]);
  assert.equal(asks, 4);
  assert.equal(s.sent.filter((e) => isJoin(e)).length, 1, "no join before the focus said ready");
  await conf.leave();
});

test("I am the host: signing in while waiting; a refused login keeps waiting as a guest", async () => {
  const s = new FakeServer();
  let user = "";
  const logins: string[] = [];
  (s as Transport).signIn = async (c) => {
    logins.push(c ? `${c.username}:${c.password}` : "anonymous");
    if (c && c.password !== "right") {
      user = "";
      throw Object.assign(new Error("the user name, password or token was not accepted"), { kind: "auth" });
    }
    user = c?.username ?? "";
    s.endpointId = c ? "c0ffee00" : "3f2a9c1e";
  };
  s.onIQ = (el) => {
    if (!el.getChild("conference", FOCUS_NS)) return parse(`<iq type="result"/>`);
    if (!user) return Object.assign(new Error("x"), { condition: "not-authorized" });
    return parse(`<iq type="result"><conference xmlns="${FOCUS_NS}" ready="true" focusjid="focus@auth.localhost"/></iq>`);
  };
  s.onSend = (el) => {
    if (isJoin(el)) s.stanza(selfPresence(el.attrs.to!.split("/")[1]!));
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid", { hostWait: () => 60_000 });
  await conf.start();
  await until(conf, "waiting-host");
  await assert.rejects(conf.signIn("hilda", "wrong"), /: The user name, password or token was not accepted\.$/);
  assert.equal(conf.phase.phase, "waiting-host");
  assert.deepEqual(logins, ["hilda:wrong", "anonymous"]);
  await conf.signIn("hilda", "right");
  await until(conf, "joined");
  assert.equal(conf.endpointId, "c0ffee00", "the signed-in session's endpoint id");
  assert.ok(s.sent.some((e) => isJoin(e) && e.attrs.to === `${room}/c0ffee00`));
  await assert.rejects(conf.signIn("hilda", "right"), /not possible now/);
  await conf.leave();
});

test("leaving while waiting for the host stops asking", async () => {
  const s = new FakeServer();
  let asks = 0;
  s.onIQ = (el) => (el.getChild("conference", FOCUS_NS) ? (asks++, Object.assign(new Error("x"), { condition: "not-authorized" })) : parse(`<iq type="result"/>`));
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid", { hostWait: () => 5 });
  await conf.start();
  await until(conf, "waiting-host");
  await conf.leave();
  const n = asks;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(asks, n);
  assert.equal(conf.phase.phase, "ended");
});

function lobbyServer() {
  const s = new FakeServer();
  let admitted = false;
  s.onSend = (el) => {
    if (isJoin(el)) {
      if (!admitted) s.stanza(`<presence type="error" from="${room}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc"/><error type="auth" code="407"><registration-required xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><lobbyroom xmlns="http://jitsi.org/jitmeet">${lroom}</lobbyroom></error></presence>`);
      else s.stanza(selfPresence(s.endpointId, "participant"));
    }
    if (isJoin(el, lroom)) s.stanza(`<presence from="${lroom}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/><status code="110"/></x></presence>`);
  };
  return { s, admit: () => (admitted = true) };
}

test("lobby: 407 → knock with the name → admitted by the room's invite → joined (§4.5)", async () => {
  const { s, admit } = lobbyServer();
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  assert.deepEqual(await until(conf, "lobby"), { phase: "lobby", lobbyRoom: lroom });
  conf.knock("  Ada Lovelace ");
  await until(conf, "knocking");
  const knock = s.sent.find((e) => isJoin(e, lroom))!;
  assert.equal(knock.attrs.to, `${lroom}/${s.endpointId}`);
  assert.equal(knock.getChildText("nick", "http://jabber.org/protocol/nick"), "Ada Lovelace");
  await tick();
  // A forged invite from an occupant of the room, or an invite from another room, changes nothing.
  s.stanza(`<message from="${room}/mallory"><x xmlns="http://jabber.org/protocol/muc#user"><invite from="m@x"/></x></message>`);
  s.stanza(`<message from="other@conference.localhost"><x xmlns="http://jabber.org/protocol/muc#user"><invite from="m@x"/></x></message>`);
  await tick();
  assert.equal(conf.phase.phase, "knocking");
  admit();
  s.stanza(`<message from="${room}"><x xmlns="http://jabber.org/protocol/muc#user"><invite from="mod@localhost/r"/></x><body>You are invited</body></message>`);
  await until(conf, "joined");
  assert.ok(s.sent.some((e) => e.name === "presence" && e.attrs.to === `${lroom}/${s.endpointId}` && e.attrs.type === "unavailable"), "left the lobby room");
  assert.equal(conf.local.displayName, "Ada Lovelace");
  // Our own leaving presence from the lobby afterwards is not a denial.
  s.stanza(`<presence type="unavailable" from="${lroom}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc#user"><status code="110"/></x></presence>`);
  assert.equal(conf.phase.phase, "joined");
  await conf.leave();
});

test("lobby: kicked from the lobby room → denied; the password still lets one in", async () => {
  const { s } = lobbyServer();
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "lobby");
  conf.knock("Eve");
  await until(conf, "knocking");
  s.stanza(`<presence type="unavailable" from="${lroom}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="none"><actor nick="mod"/></item><status code="307"/><status code="110"/></x></presence>`);
  assert.equal(((await until(conf, "ended")) as { reason: string }).reason, "denied");

  const b = lobbyServer();
  const conf2 = new Conference(b.s, cfg, "Standup", "standup", local, "uid");
  await conf2.start();
  await until(conf2, "lobby");
  b.admit(); // the password is right
  conf2.joinWithPassword("s3cret");
  await until(conf2, "joined");
  assert.equal(b.s.sent.filter((e) => isJoin(e)).at(-1)!.getChild("x", "http://jabber.org/protocol/muc")!.getChildText("password"), "s3cret");
  await conf2.leave();
});

test("lobby: no display name → 406 → the name asked for, joined again with it, then knocked (§4.5)", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoin(el)) {
      if (!el.getChildText("nick", "http://jabber.org/protocol/nick"))
        s.stanza(`<presence type="error" from="${room}/${s.endpointId}"><error type="modify" code="406"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><displayname-required xmlns="http://jitsi.org/jitmeet" lobby="true"/></error></presence>`);
      else s.stanza(`<presence type="error" from="${room}/${s.endpointId}"><error type="auth" code="407"><registration-required xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><lobbyroom xmlns="http://jitsi.org/jitmeet">${lroom}</lobbyroom></error></presence>`);
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", { ...local, displayName: "" }, "uid");
  await conf.start();
  assert.deepEqual(await until(conf, "lobby"), { phase: "lobby", lobbyRoom: "" });
  conf.knock("Nameless No More");
  await until(conf, "knocking");
  const joins = s.sent.filter((e) => isJoin(e));
  assert.equal(joins.length, 2);
  assert.equal(joins[1]!.getChildText("nick", "http://jabber.org/protocol/nick"), "Nameless No More");
  const knock = s.sent.find((e) => isJoin(e, lroom))!;
  assert.equal(knock.getChildText("nick", "http://jabber.org/protocol/nick"), "Nameless No More");
  await conf.leave();
});

test("lobby: a new session while knocking knocks again with the same name", async () => {
  const { s, admit } = lobbyServer();
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "lobby");
  conf.knock("Ada");
  await until(conf, "knocking");
  s.fire("session", false);
  await tick();
  const knocks = s.sent.filter((e) => isJoin(e, lroom));
  assert.equal(knocks.length, 2);
  assert.equal(knocks[1]!.getChildText("nick", "http://jabber.org/protocol/nick"), "Ada");
  assert.equal(conf.phase.phase, "knocking");
  admit();
  s.stanza(`<message from="${room}"><x xmlns="http://jabber.org/protocol/muc#user"><invite from="mod@localhost/r"/></x></message>`);
  await until(conf, "joined");
  await conf.leave();
});

test("moderator: lobby on, sits in the lobby room, admits and denies knockers, grants, mutes everyone, ends for all", async () => {
  const s = new FakeServer();
  let membersOnly = false;
  const iqs: Element[] = [];
  s.onIQ = (el) => {
    iqs.push(el);
    const q = el.getChildElements()[0];
    if (el.attrs.to === "localhost") return parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info"><identity category="component" type="end_conference" name="endconference.localhost"/></query></iq>`);
    if (q?.attrs.xmlns === "http://jabber.org/protocol/disco#info")
      return parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info">${membersOnly ? `<feature var="muc_membersonly"/><x xmlns="jabber:x:data" type="result"><field var="muc#roominfo_lobbyroom"><value>${lroom}</value></field></x>` : ""}</query></iq>`);
    if (q?.attrs.xmlns === "http://jabber.org/protocol/muc#owner" && el.attrs.type === "set") membersOnly = q.toString().includes("<value>true</value>");
    if (q?.name === "conference") return Object.assign(new Error("x"), { condition: "service-unavailable" });
    return parse(`<iq type="result"/>`);
  };
  s.onSend = (el) => {
    if (isJoin(el)) {
      s.stanza(`<presence from="${room}/b0b0b0b0"><nick xmlns="http://jabber.org/protocol/nick">Bob</nick><audiomuted>false</audiomuted><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="b0b0b0b0-1@localhost/r"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId));
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  await tick();
  assert.equal(conf.canEndForAll, true);
  assert.equal(conf.lobbyOn, false);

  await conf.setLobby(true);
  const members = iqs.find((e) => e.getChild("query", "http://jabber.org/protocol/muc#admin")?.getChild("item")?.attrs.affiliation === "member")!;
  assert.equal(members.getChild("query")!.getChild("item")!.attrs.jid, "b0b0b0b0-1@localhost", "those present become members first");
  assert.equal(conf.lobbyOn, true);
  assert.ok(s.sent.some((e) => isJoin(e, lroom)), "the moderator sits in the lobby room");

  let changes = 0;
  conf.on("lobby", () => changes++);
  s.stanza(`<presence from="${lroom}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator"/><status code="110"/></x></presence>`);
  s.stanza(`<presence from="${lroom}/aaaa0001"><nick xmlns="http://jabber.org/protocol/nick">Ada</nick><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="aaaa0001-1@localhost/r"/></x></presence>`);
  s.stanza(`<presence from="${lroom}/eeee0001"><nick xmlns="http://jabber.org/protocol/nick">Eve</nick><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="eeee0001-1@localhost/r"/></x></presence>`);
  // Bob, already in the main room, is not knocking.
  s.stanza(`<presence from="${lroom}/b0b0b0b0"><x xmlns="http://jabber.org/protocol/muc#user"><item jid="b0b0b0b0-1@localhost/r"/></x></presence>`);
  assert.deepEqual([...conf.knockers.values()].map((k) => k.displayName), ["Ada", "Eve"]);
  assert.equal(changes, 2);

  await conf.admit("aaaa0001");
  const invite = s.sent.at(-1)!;
  assert.equal(invite.toString(), `<message to="${room}"><x xmlns="http://jabber.org/protocol/muc#user"><invite to="aaaa0001-1@localhost/r"/></x></message>`);
  await conf.deny("eeee0001");
  assert.equal(iqs.at(-1)!.toString(), `<iq type="set" to="${lroom}"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="eeee0001" role="none"/></query></iq>`);
  assert.equal(conf.knockers.size, 0);
  await assert.rejects(conf.admit("nobody"), /no longer waiting/);

  await conf.grantModerator("b0b0b0b0");
  assert.match(iqs.at(-1)!.toString(), /<item affiliation="owner" jid="b0b0b0b0-1@localhost">/);
  assert.equal(await conf.muteEveryone(), 1);
  assert.equal(iqs.at(-1)!.attrs.to, `${room}/focus`);
  assert.equal(iqs.at(-1)!.getChild("mute", "http://jitsi.org/jitmeet/audio")!.attrs.jid, `${room}/b0b0b0b0`);
  await conf.endForAll();
  assert.equal(s.sent.at(-1)!.toString(), `<message to="endconference.localhost"><end_conference/></message>`);
  // The room is destroyed: everyone's meeting ends.
  s.stanza(`<presence type="unavailable" from="${room}/${s.endpointId}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="none"/><destroy><reason>The meeting has been terminated</reason></destroy><status code="110"/></x></presence>`);
  assert.deepEqual(await until(conf, "ended"), { phase: "ended", reason: "destroyed", detail: "The meeting has been terminated" });
});

test("AV moderation (§4.8): moderated microphones close and stay closed until a moderator allows", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoin(el)) s.stanza(selfPresence(s.endpointId, "participant"));
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  const muted: string[] = [];
  const av: string[] = [];
  conf.on("mutedBy", (k, by) => muted.push(`${k} by ${by}`));
  conf.on("avModeration", (what) => av.push(what));
  await conf.start();
  await until(conf, "joined");
  const comp = "avmoderation.localhost";
  const json = (j: object, from = comp) => s.stanza(`<message from="${from}"><json-message xmlns="http://jitsi.org/jitmeet">${JSON.stringify({ type: "av_moderation", room, ...j })}</json-message></message>`);
  assert.equal(conf.mayUnmuteMic, true);
  json({ enabled: true, mediaType: "audio", actor: `${room}/aaaa0001` });
  await tick();
  assert.equal(conf.mayUnmuteMic, false);
  assert.deepEqual(muted, ["audio by Guest aaaa"], "our open microphone is closed");
  // Only the component is believed.
  json({ mediaType: "audio", approved: true }, `${room}/mallory`);
  assert.equal(conf.mayUnmuteMic, false);
  json({ mediaType: "audio", approved: true, from: `${room}/aaaa0001` });
  assert.equal(conf.mayUnmuteMic, true);
  json({ mediaType: "audio", removed: true });
  assert.equal(conf.mayUnmuteMic, false);
  json({ enabled: false, mediaType: "audio" });
  assert.equal(conf.mayUnmuteMic, true);
  assert.deepEqual(av, ["enabled", "approved", "removed", "disabled"]);

  await conf.setMicModeration(true);
  assert.equal(s.sent.at(-1)!.toString(), `<message to="${comp}"><av_moderation mediaType="audio" enable="true"/></message>`);
  await conf.allowToSpeak("b0b0b0b0");
  assert.equal(s.sent.at(-1)!.getChild("av_moderation")!.attrs.jidToWhitelist, `${room}/b0b0b0b0`);
  json({ mediaType: "audio", whitelists: { audio: [`${room}/b0b0b0b0`] } });
  assert.deepEqual([...conf.micAllowed], ["b0b0b0b0"]);
  await conf.leave();
});

const pillOf = (c: Conference): string => c.mediaPill.kind;

test("media: no failure while the first session connects; overdue after mediaWaitMs; connected clears it; the focus's condition kept", async () => {
  const s = new FakeServer();
  s.onIQ = (el) =>
    el.getChild("conference", "http://jitsi.org/protocol/focus")
      ? parse(`<iq type="result"><conference xmlns="http://jitsi.org/protocol/focus" ready="true" focusjid="focus@auth.localhost"/></iq>`)
      : parse(`<iq type="result"/>`);
  s.onSend = (el) => {
    if (isJoinPresence(el)) s.stanza(selfPresence(s.endpointId));
  };
  const conf = new Conference(s, cfg, "R", "standup", local, "uid", { mediaWaitMs: 30 });
  await conf.start();
  await until(conf, "joined");
  conf.setMediaState("connecting");
  assert.equal(pillOf(conf), "hidden", "a session still connecting is no failure");
  const guard = setTimeout(() => {}, 5000); // the media timer is unref'd: keep the test alive while awaiting it
  await new Promise<void>((resolve) => {
    const off = conf.on("room", () => {
      if (conf.mediaOverdue) {
        off();
        resolve();
      }
    });
  });
  clearTimeout(guard);
  assert.equal(pillOf(conf), "failed");
  conf.setMediaConnected(true);
  conf.setMediaState("connected");
  assert.equal(conf.mediaOverdue, false);
  assert.equal(pillOf(conf), "hidden");
  conf.setMediaConnected(false);
  conf.setMediaState("reconnecting");
  assert.equal(pillOf(conf), "reconnecting");
  await conf.leave();

  const t = new FakeServer(); // no focus: the condition is shown
  t.onSend = (el) => {
    if (isJoinPresence(el)) t.stanza(selfPresence(t.endpointId));
  };
  const alone = new Conference(t, cfg, "R", "standup", local, "uid");
  await alone.start();
  await until(alone, "joined");
  assert.equal(alone.mediaUnavailable, "service-unavailable");
  const pill = alone.mediaPill;
  assert.ok(pill.kind === "failed" && /service-unavailable/.test(pill.title));
  await alone.leave();
});

test("raised hands (§9): ours goes out in presence, others' are kept in the order they went up", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoinPresence(el)) s.stanza(selfPresence(s.endpointId));
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  const hands: string[] = [];
  conf.on("hand", (id, up) => hands.push(`${id}:${up}`));
  const occupant = (id: string, hand: string, role = "participant") =>
    s.stanza(`<presence from="${room}/${id}"><jitsi_participant_raisedHand>${hand}</jitsi_participant_raisedHand><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="${role}"/></x></presence>`);
  occupant("bbbbbbbb", "2000");
  occupant("aaaaaaaa", "1000");
  occupant("cccccccc", "0");
  assert.deepEqual(conf.raisedHands.map((p) => p.id), ["aaaaaaaa", "bbbbbbbb"], "earliest hand first");
  conf.raiseHand(true);
  const sent = s.sent.at(-1)!;
  assert.equal(sent.name, "presence");
  const at = Number(sent.getChildText("jitsi_participant_raisedHand"));
  assert.ok(at > 2000 && at <= Date.now());
  assert.deepEqual(conf.raisedHands.map((p) => p.id), ["aaaaaaaa", "bbbbbbbb", s.endpointId]);
  occupant("aaaaaaaa", "0");
  assert.deepEqual(conf.raisedHands.map((p) => p.id), ["bbbbbbbb", s.endpointId]);
  // An older client says "true": raised now, and it keeps its place when said again.
  occupant("cccccccc", "true");
  const first = conf.participants.get("cccccccc")!.raisedHand;
  assert.ok(first >= at);
  occupant("cccccccc", "true");
  assert.equal(conf.participants.get("cccccccc")!.raisedHand, first);
  assert.deepEqual(hands, ["bbbbbbbb:true", "aaaaaaaa:true", "aaaaaaaa:false", "cccccccc:true"]);
  conf.raiseHand(false);
  assert.equal(s.sent.at(-1)!.getChildText("jitsi_participant_raisedHand"), "0");
  assert.equal(conf.handRaised, false);
  await conf.leave();
});

test("reactions and lower-hand requests as EndpointMessages through the bridge channel", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoinPresence(el)) {
      s.stanza(`<presence from="${room}/aaaaaaaa"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator"/></x></presence>`);
      s.stanza(`<presence from="${room}/bbbbbbbb"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId, "participant"));
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  const out: [string, Record<string, unknown>][] = [];
  assert.throws(() => conf.sendReaction("like"), /media connection/, "no bridge channel yet");
  conf.sendEndpointMessage = (to, payload) => (out.push([to, payload]), true);
  const seen: string[] = [];
  conf.on("reaction", (from, ids) => seen.push(`${from}:${ids.join()}`));
  conf.sendReaction("clap");
  assert.equal(out[0]![0], "", "to everyone");
  assert.equal(out[0]![1].name, "endpoint-reaction");
  assert.deepEqual(out[0]![1].reactions, ["clap"]);
  assert.equal(typeof out[0]![1].timestamp, "number");
  conf.onEndpointMessage("bbbbbbbb", { name: "endpoint-reaction", reactions: ["like", "nonsense", 7, "laugh"], timestamp: 1 });
  conf.onEndpointMessage("ffffffff", { name: "endpoint-reaction", reactions: ["like"] }); // not in the room
  conf.onEndpointMessage("bbbbbbbb", { name: "e2e-ping-request" });
  assert.deepEqual(seen, [`${s.endpointId}:clap`, "bbbbbbbb:like,laugh"]);

  // Only a moderator lowers our hand.
  const lowered: string[] = [];
  conf.on("handLowered", (actor) => lowered.push(actor));
  conf.raiseHand(true);
  conf.onEndpointMessage("bbbbbbbb", { name: "lower-hand-message" });
  assert.equal(conf.handRaised, true);
  conf.onEndpointMessage("aaaaaaaa", { name: "lower-hand-message" });
  assert.equal(conf.handRaised, false);
  assert.equal(lowered.length, 1);
  // We are no moderator: we cannot ask others.
  assert.throws(() => conf.askToLowerHand("bbbbbbbb"), /Only moderators/);
  await conf.leave();
});

test("a moderator's lower-hand request goes through the room as a private json-message, and one received that way lowers our hand", async () => {
  const s = new FakeServer();
  s.onSend = (el) => {
    if (isJoinPresence(el)) {
      s.stanza(`<presence from="${room}/aaaaaaaa"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator"/></x></presence>`);
      s.stanza(`<presence from="${room}/bbbbbbbb"><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/></x></presence>`);
      s.stanza(selfPresence(s.endpointId, "moderator"));
    }
  };
  const conf = new Conference(s, cfg, "Standup", "standup", local, "uid");
  await conf.start();
  await until(conf, "joined");
  // No bridge channel at all (sendEndpointMessage answers false): the request still goes out, through the room.
  conf.askToLowerHand("bbbbbbbb");
  const sent = s.sent.at(-1)!;
  assert.equal(sent.name, "message");
  assert.equal(sent.attrs.to, `${room}/bbbbbbbb`);
  assert.equal(sent.attrs.type, "chat");
  assert.equal(sent.getChildText("body"), null, "no chat text");
  assert.deepEqual(JSON.parse(sent.getChildText("json-message", "http://jitsi.org/jitmeet")!), { name: "lower-hand-message", type: "" });
  assert.throws(() => conf.askToLowerHand("ffffffff"), /no longer in the meeting/);

  // Received: only a moderator's lowers our hand; a delayed one (history) or JSON without "type" (LJM drops it) does nothing.
  const lowered: string[] = [];
  conf.on("handLowered", (actor) => lowered.push(actor));
  const json = (from: string, payload: string, extra = "") =>
    s.stanza(`<message from="${room}/${from}" to="me@localhost/r" type="chat"><json-message xmlns="http://jitsi.org/jitmeet">${payload}</json-message><x xmlns="http://jabber.org/protocol/muc#user"/>${extra}</message>`);
  conf.raiseHand(true);
  json("bbbbbbbb", `{"name":"lower-hand-message","type":""}`);
  json("aaaaaaaa", `{"name":"lower-hand-message"}`);
  json("aaaaaaaa", `{"name":"lower-hand-message","type":""}`, `<delay xmlns="urn:xmpp:delay" stamp="2020-01-01T00:00:00Z"/>`);
  json("aaaaaaaa", `[1,2`);
  assert.equal(conf.handRaised, true);
  assert.deepEqual(lowered, []);
  json("aaaaaaaa", `{"name":"lower-hand-message","type":""}`);
  assert.equal(conf.handRaised, false);
  assert.equal(lowered.length, 1);
  // Nothing of it shows in the chat.
  assert.equal(conf.chat.messages.length, 0);
  await conf.leave();
});
