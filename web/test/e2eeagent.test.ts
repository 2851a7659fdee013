// Key agents in a simulated room: the focus names the leader, the leader
// makes epochs, members open their seals or ratchet, everyone ends up with
// the same keys and security code; a join ratchets, a leave starts fresh,
// another passphrase gives other keys, a substituted key raises the alarm.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { xml, type Element } from "@xmpp/xml";
import { KeyAgent } from "../src/e2ee/agent";
import { toHex } from "../src/e2ee/bytes";
import * as hpke from "../src/e2ee/hpke";
import { concat } from "../src/e2ee/bytes";
import { rosterHash, sealInfo } from "../src/e2ee/schedule";
import { keyElement, keyMessage, parseKeyMessage, parseRoster, rosterMessage, NS_E2EE } from "../src/e2ee/stanzas";

const room = "secret@conference.parley.test";
const timing = { sendAfterMs: 30, leaveDebounceMs: 40, joinBatchMs: 5, pendingMs: 5000, resendMs: 20 };

/** Every room made, closed after each test even when it fails (an agent's timers would keep node running). */
const rooms: Room[] = [];
afterEach(() => {
  for (const r of rooms.splice(0)) for (const x of r.agents.values()) x.agent.close();
});

/** The MUC and the focus: presences to everyone, groupchat to everyone, chat to one; `tamper` may change any stanza in flight. */
class Room {
  agents = new Map<string, { agent: KeyAgent; pub: Uint8Array; sent: Element[]; keys: { epoch: number; base: string }[]; sending: number[] }>();
  focus: { enabled: boolean; leader: string } | null = null;
  /** Changes a stanza in flight, or drops it (null). */
  tamper: (el: Element, to: string) => Element | null | Promise<Element | null> = (el) => el;
  constructor() {
    rooms.push(this);
  }
  /** The room's rate limit on each occupant's messages (a token bucket), as the MUC's messages-per-second; refusals counted. */
  limit: { burst: number; perSecond: number } | null = null;
  refused = 0;
  private buckets = new Map<string, { tokens: number; at: number }>();

  /** Whether `nick` may send a message now (takes a token). */
  private mayMessage(nick: string): boolean {
    if (!this.limit) return true;
    const now = Date.now();
    const b = this.buckets.get(nick) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    this.buckets.set(nick, b);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
  private delivering: Promise<void> = Promise.resolve();

  /** Delivers in order, each stanza after any (asynchronous) tampering with the ones before. */
  deliver(to: string, el: Element) {
    this.delivering = this.delivering.then(async () => {
      const out = await this.tamper(el, to);
      if (out) this.agents.get(to)?.agent.onStanza(out);
    });
  }

  presenceOf(nick: string): Element {
    return xml("presence", { from: `${room}/${nick}` }, keyElement(this.agents.get(nick)!.pub));
  }

  focusPresence(): Element {
    return xml("presence", { from: `${room}/focus` }, xml("e2ee", { xmlns: NS_E2EE, enabled: String(this.focus!.enabled), leader: this.focus!.leader || undefined }));
  }

  async join(nick: string, passphrase = "pass one", pub?: Uint8Array): Promise<KeyAgent> {
    const keys = await hpke.generateKeyPair();
    const entry = { agent: null as unknown as KeyAgent, pub: pub ?? keys.pub, sent: [] as Element[], keys: [] as { epoch: number; base: string }[], sending: [] as number[] };
    const agent = new KeyAgent({
      roomJid: room,
      selfNick: () => nick,
      keys,
      passphrase,
      timing,
      send: (el) => {
        entry.sent.push(el);
        const to = el.attrs.to as string;
        if (!this.mayMessage(nick)) {
          this.refused++;
          const refusal = xml("message", { from: to, type: "error", id: el.attrs.id }, xml("error", { type: "wait" }, xml("policy-violation", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
          queueMicrotask(() => agent.onStanza(refusal));
          return;
        }
        const stamped = xml(el.name, { ...el.attrs, from: `${room}/${nick}`, to: undefined }, ...el.getChildElements());
        if (el.attrs.type === "groupchat") for (const n of this.agents.keys()) this.deliver(n, stamped);
        else this.deliver(to.slice(room.length + 1), stamped);
      },
    });
    entry.agent = agent;
    agent.on("receiveKey", (epoch, base) => entry.keys.push({ epoch, base: toHex(base) }));
    agent.on("sendKey", (epoch) => entry.sending.push(epoch));
    // The room sends the newcomer everyone already here (the focus first), then tells everyone about it.
    if (this.focus) agent.onStanza(this.focusPresence());
    for (const n of this.agents.keys()) agent.onStanza(this.presenceOf(n));
    this.agents.set(nick, entry);
    for (const n of this.agents.keys()) this.deliver(n, this.presenceOf(nick));
    return agent;
  }

  leave(nick: string) {
    this.agents.get(nick)!.agent.close();
    this.agents.delete(nick);
    for (const n of this.agents.keys()) this.deliver(n, xml("presence", { from: `${room}/${nick}`, type: "unavailable" }));
  }

  setFocus(enabled: boolean, leader: string) {
    this.focus = { enabled, leader };
    for (const n of this.agents.keys()) this.deliver(n, this.focusPresence());
  }

  /** Resolves when every agent's newest epoch is `epoch` and all send with it. */
  async settled(epoch: number, nicks = [...this.agents.keys()]) {
    await until(() => nicks.every((n) => this.agents.get(n)!.agent.current?.epoch === epoch && this.agents.get(n)!.agent.sendingEpoch === epoch), `everyone at epoch ${epoch}`);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function base(r: Room, nick: string, epoch: number): string | undefined {
  return r.agents.get(nick)!.keys.find((k) => k.epoch === epoch)?.base;
}

test("the leader's epoch reaches every member: same base key, same security code", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const a = await r.join("aaaa0001");
  const b = await r.join("bbbb0002");
  const c = await r.join("cccc0003");
  await until(() => (c.current?.epoch ?? 0) >= 2, "c learns an epoch");
  const e = c.current!.epoch;
  await r.settled(e);
  assert.ok(a.isLeader && !b.isLeader);
  assert.equal(base(r, "bbbb0002", e), base(r, "aaaa0001", e));
  assert.equal(base(r, "cccc0003", e), base(r, "aaaa0001", e));
  assert.deepEqual(b.current!.code, a.current!.code);
  assert.deepEqual(c.current!.code, a.current!.code);
  assert.equal(new Set(a.current!.roster.map((m) => m.index)).size, 3);
  assert.deepEqual(a.current!.roster.map((m) => m.nick).sort(), ["aaaa0001", "bbbb0002", "cccc0003"]);
  assert.equal(a.alarm + b.alarm + c.alarm, "");
  for (const n of r.agents.keys()) r.agents.get(n)!.agent.close();
});

test("a join ratchets (only the newcomer gets a seal, and it cannot go back); a leave starts fresh for those left", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const a = await r.join("aaaa0001");
  await r.join("bbbb0002");
  await until(() => r.agents.get("bbbb0002")!.agent.current !== null, "b keyed");
  const e1 = a.current!.epoch;
  await r.settled(e1);
  const sentBefore = r.agents.get("aaaa0001")!.sent.length;
  const c = await r.join("cccc0003");
  await r.settled(e1 + 1);
  const sent = r.agents.get("aaaa0001")!.sent.slice(sentBefore);
  const roster = parseRoster(sent[0]!)!;
  assert.equal(roster.ratchet, true);
  assert.deepEqual(sent.slice(1).map((el) => el.attrs.to), [`${room}/cccc0003`], "one seal, to the newcomer");
  assert.equal(base(r, "cccc0003", e1), undefined, "the newcomer has no key of the epoch before its join");
  assert.deepEqual(c.current!.code, a.current!.code);
  // A leave: a fresh secret to those left, not a ratchet (the leaver could ratchet).
  const leaverKey = base(r, "cccc0003", e1 + 1);
  r.leave("cccc0003");
  await r.settled(e1 + 2);
  const fresh = parseRoster(r.agents.get("aaaa0001")!.sent.filter((el) => el.attrs.type === "groupchat").at(-1)!)!;
  assert.equal(fresh.ratchet, false);
  assert.deepEqual(fresh.members.map((m) => m.nick), ["aaaa0001", "bbbb0002"]);
  assert.notEqual(base(r, "bbbb0002", e1 + 2), leaverKey);
  assert.equal(base(r, "bbbb0002", e1 + 2), base(r, "aaaa0001", e1 + 2));
  a.close();
  r.agents.get("bbbb0002")!.agent.close();
});

test("another passphrase: the same epoch, other keys and another code", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const a = await r.join("aaaa0001", "pass one");
  const b = await r.join("bbbb0002", "pass two");
  await until(() => b.current !== null && a.current?.epoch === b.current.epoch, "b keyed");
  const e = b.current!.epoch;
  assert.notEqual(base(r, "bbbb0002", e), base(r, "aaaa0001", e));
  assert.notDeepEqual(b.current!.code, a.current!.code);
  a.close();
  b.close();
});

test("without the focus's word, a passphrase room takes the oldest E2EE occupant as leader", async () => {
  const r = new Room();
  const a = await r.join("aaaa0001");
  const b = await r.join("bbbb0002");
  assert.equal(a.focusSpeaks, false);
  assert.equal(b.leader, "aaaa0001");
  await until(() => b.current !== null, "b keyed");
  await r.settled(b.current!.epoch);
  assert.equal(base(r, "bbbb0002", b.current!.epoch), base(r, "aaaa0001", b.current!.epoch));
  // The focus names another leader: it starts fresh, and everyone follows.
  const before = b.current!.epoch;
  r.setFocus(true, "bbbb0002");
  await until(() => (a.current?.epoch ?? 0) > before, "a follows the new leader");
  assert.ok(b.isLeader && !a.isLeader);
  assert.deepEqual(a.current!.code, b.current!.code);
  a.close();
  b.close();
});

test("a roster that lists someone else's key for us raises the alarm and gives no key", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const evil = (await hpke.generateKeyPair()).pub;
  // The server swaps b's key in the presence the leader sees.
  r.tamper = (el, to) => (to === "aaaa0001" && el.name === "presence" && el.attrs.from === `${room}/bbbb0002` ? xml("presence", { from: el.attrs.from }, keyElement(evil)) : el);
  const a = await r.join("aaaa0001");
  const b = await r.join("bbbb0002");
  await until(() => b.alarm !== "", "b's alarm");
  assert.equal(b.current, null);
  assert.match(b.alarm, /not yours/);
  a.close();
  b.close();
});

test("a server that swaps a key and re-seals the secret shows its victim another security code", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const evil = await hpke.generateKeyPair();
  const bobPub = () => r.agents.get("bbbb0002")!.pub;
  const swapped = new Map<number, Uint8Array>(); // epoch → the roster hash bob is shown
  r.tamper = async (el, to) => {
    const from = el.attrs.from as string;
    // The leader sees the attacker's key for bob.
    if (to === "aaaa0001" && el.name === "presence" && from === `${room}/bbbb0002`) return xml("presence", { from }, keyElement(evil.pub));
    if (to !== "bbbb0002") return el;
    // Bob is shown a roster with his own key, so his own-entry check passes…
    const roster = parseRoster(el);
    if (roster) {
      const members = roster.members.map((m) => (m.nick === "bbbb0002" ? { ...m, pub: bobPub() } : m));
      swapped.set(roster.epoch, await rosterHash(members));
      return xml("message", { from, type: "groupchat" }, ...rosterMessage(room, { ...roster, members }).getChildElements());
    }
    // …and the secret sealed to the attacker's key, opened and sealed again to bob's with that roster's hash.
    const key = parseKeyMessage(el);
    if (key) {
      const index = parseRoster(r.agents.get("aaaa0001")!.sent.find((x) => parseRoster(x)?.epoch === key.epoch)!)!.members.find((m) => m.nick === "bbbb0002")!.index;
      const info = sealInfo(room, key.epoch, index);
      const pt = await hpke.open(evil, key.enc, info, new Uint8Array(0), key.ct);
      const again = await hpke.seal(bobPub(), info, new Uint8Array(0), concat(pt.subarray(0, 32), swapped.get(key.epoch)!));
      return xml("message", { from, type: "chat" }, ...keyMessage(room, "bbbb0002", key.epoch, again.enc, again.ct).getChildElements());
    }
    return el;
  };
  const a = await r.join("aaaa0001");
  const b = await r.join("bbbb0002");
  await until(() => b.current !== null && b.current.epoch === a.current?.epoch, "bob keyed through the attacker");
  assert.equal(b.alarm, "", "the naive checks pass");
  assert.notDeepEqual(b.current!.code, a.current!.code, "but the security codes differ");
  a.close();
  b.close();
});

test("the room's rate limit refuses some of the leader's messages: it sends them again and everyone gets the keys", async () => {
  const r = new Room();
  // Everyone is in before the focus names a leader, so its first epoch seals to seven at once: over the burst.
  r.focus = { enabled: true, leader: "" };
  // A slow refill (2 a second): on a loaded machine the leader's eight seals may take a second or more,
  // and at a faster one the bucket refilled as fast as they came.
  r.limit = { burst: 3, perSecond: 2 };
  const agents: KeyAgent[] = [];
  for (let i = 0; i < 8; i++) agents.push(await r.join(`n${i}`));
  r.setFocus(true, "n0");
  await until(() => agents.every((x) => x.current !== null && x.current.epoch === agents[0]!.current?.epoch && x.sendingEpoch === x.current.epoch), "everyone keyed", 20_000);
  assert.ok(r.refused > 0, "the limit refused something");
  for (const x of agents) assert.deepEqual(x.current!.code, agents[0]!.current!.code);
});

test("a ratchet roster that arrives before the one it follows is followed once that one is learnt", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  // The leader's rosters to b are held back while `holding`, then delivered newest first.
  const held: Element[] = [];
  let holding = false;
  r.tamper = (el, to) => {
    if (!holding || to !== "bbbb0002" || !parseRoster(el)) return el;
    held.push(el);
    return null;
  };
  const a = await r.join("aaaa0001");
  const b = await r.join("bbbb0002");
  await until(() => b.current !== null && b.current.epoch === a.current?.epoch, "b keyed");
  const e = a.current!.epoch;
  await r.settled(e);
  holding = true;
  await r.join("cccc0003"); // epoch e+1, a ratchet
  await until(() => a.current?.epoch === e + 1, "a at e+1");
  await r.join("dddd0004"); // epoch e+2, a ratchet
  await until(() => a.current?.epoch === e + 2 && held.length === 2, "a at e+2, both rosters held");
  holding = false;
  for (const el of held.reverse()) b.onStanza(el);
  await r.settled(e + 2);
  assert.equal(base(r, "bbbb0002", e + 2), base(r, "aaaa0001", e + 2));
  for (const n of [...r.agents.keys()]) r.agents.get(n)!.agent.close();
});

test("after a new XMPP session the leader forgets who was here: someone who left meanwhile gets no next key", async () => {
  const r = new Room();
  r.focus = { enabled: true, leader: "aaaa0001" };
  const a = await r.join("aaaa0001");
  await r.join("bbbb0002");
  await r.join("cccc0003");
  await until(() => [...r.agents.values()].every((x) => x.agent.current?.epoch === a.current?.epoch && x.agent.current !== null), "all keyed");
  const e = a.current!.epoch;
  // c leaves while a is cut off (a never sees its unavailable presence); a's new session gets the room again.
  r.agents.get("cccc0003")!.agent.close();
  r.agents.delete("cccc0003");
  a.forgetOccupants();
  a.onStanza(r.focusPresence());
  for (const n of r.agents.keys()) a.onStanza(r.presenceOf(n));
  await r.settled(e + 1);
  assert.deepEqual(a.current!.roster.map((m) => m.nick), ["aaaa0001", "bbbb0002"]);
  assert.deepEqual(r.agents.get("bbbb0002")!.agent.current!.code, a.current!.code);
  for (const x of r.agents.values()) x.agent.close();
});

test("E2EE off: no leader, no epochs", async () => {
  const r = new Room();
  r.focus = { enabled: false, leader: "" };
  const a = await r.join("aaaa0001", "");
  const b = await r.join("bbbb0002", "");
  await new Promise((res) => setTimeout(res, 50)); // nothing is expected to happen: give it the time a leader would take
  assert.equal(a.enabled, false);
  assert.equal(a.current, null);
  assert.equal(r.agents.get("aaaa0001")!.sent.length + r.agents.get("bbbb0002")!.sent.length, 0);
  a.close();
  b.close();
});
