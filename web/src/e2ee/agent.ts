// The key agent (docs/e2ee.md "Keys"): follows the room's E2EE state and
// key leader from the focus's presence and every occupant's public key
// from theirs; as the leader it makes the epochs (a ratchet on a join, a
// fresh secret a second after a leave, every 10 minutes, and when it takes
// over), sends the roster to the room and seals the secret to the members
// that need it; as a member it ratchets or opens its seal, checks its own
// roster entry and the roster hash. Either way it learns each epoch's keys
// at once (for decrypting) and starts sending with them 2 s later.
//
//   focus presence <e2ee enabled leader/> ─► leader? ─► fresh(): roster + seals to all
//   occupant presence <e2ee pub/> ─► leader: join ─► ratchet(): roster ratchet=true + seal to newcomers
//                                           leave ─► 1 s ─► fresh()
//   member: roster ─► ratchet=true: ratchet the previous secret ─► learn
//           roster + e2ee-key ─► HPKE open ─► secret ‖ roster hash ─► check ─► learn
//   learn ─► "receiveKey" now, "sendKey" 2 s later, "change" (epoch, security code)
//
// No DOM and no media: the controller (controller.ts) carries keys to the
// transform worker. Work runs one step at a time (a promise chain), so
// stanzas and timers never interleave halfway through a step.
import type { Element } from "@xmpp/xml";
import { Emitter } from "../emitter";
import { t } from "../i18n";
import { bareOf, resourceOf } from "../muc";
import { concat, equal, randomBytes, type Bytes } from "./bytes";
import * as hpke from "./hpke";
import { baseKey, mixSecret, passphraseKey, ratchet, rosterHash, sealInfo, secretLength, securityCode, type Member } from "./schedule";
import { keyMessage, parseKey, parseKeyMessage, parseRoomState, parseRoster, rosterMessage, type Roster } from "./stanzas";

export interface Timing {
  /** From learning an epoch to sending with it. */
  sendAfterMs: number;
  /** From a leave to the fresh secret (at most). */
  leaveDebounceMs: number;
  /** Joins this close together share one ratchet. */
  joinBatchMs: number;
  /** A fresh secret this often. */
  rotateMs: number;
  /** A roster or key from someone not (yet) the leader is kept this long, in case they become it. */
  pendingMs: number;
  /** A message the room refused for its rate limit is sent again this much later (and kept this long for it ×30). */
  resendMs: number;
}

export const defaultTiming: Timing = { sendAfterMs: 2000, leaveDebounceMs: 1000, joinBatchMs: 100, rotateMs: 10 * 60_000, pendingMs: 5000, resendMs: 1000 };

export interface AgentOptions {
  roomJid: string;
  /** Our MUC nickname (the endpoint ID). */
  selfNick: () => string;
  send: (el: Element) => void;
  keys: hpke.KeyPair;
  /** The `#k=` passphrase, "" for none; it never leaves this object except mixed into keys. */
  passphrase: string;
  timing?: Partial<Timing>;
}

/** What the agent knows of one epoch. */
export interface Epoch {
  epoch: number;
  secret: Bytes;
  roster: Member[];
  hash: Bytes;
  base: Bytes;
  /** Our index in the epoch's roster, null if we are not in it. */
  index: number | null;
  code: string[];
}

export class KeyAgent extends Emitter<{
  /** enabled, leader, the current epoch, its security code or an alarm changed. */
  change: [];
  /** An epoch's base key, for decrypting at once. */
  receiveKey: [epoch: number, base: Bytes];
  /** Send with this epoch's base key as member `index` from now on. */
  sendKey: [epoch: number, index: number, base: Bytes];
}> {
  /** The newest epoch learnt, null before the first. */
  current: Epoch | null = null;
  /** The epoch frames are sent with (0: none yet). */
  sendingEpoch = 0;
  /** What went wrong with the keys, for the screen ("" if nothing). */
  alarm = "";
  private timing: Timing;
  private roomState: { enabled: boolean; leader: string } | null = null;
  private members = new Map<string, { pub: Bytes; order: number }>();
  private order = 0;
  private learnt = new Map<number, Epoch>();
  private rosters = new Map<number, { from: string; roster: Roster }>();
  private seals = new Map<number, { enc: Bytes; ct: Bytes }>();
  private pending: { from: string; el: Element; at: number }[] = [];
  private maxEpochSeen = 0;
  private lead: { epoch: number; secret: Bytes; roster: Member[] } | null = null;
  private freshTimer: ReturnType<typeof setTimeout> | undefined;
  private ratchetTimer: ReturnType<typeof setTimeout> | undefined;
  private rotateTimer: ReturnType<typeof setTimeout> | undefined;
  private sendTimers = new Set<ReturnType<typeof setTimeout>>();
  private pk: Promise<Bytes | null>;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private lastLeader = "";
  /** The leader's messages by stanza id, to send again if the room refuses one for its rate limit. */
  private sent = new Map<string, { el: Element; at: number }>();
  private nextID = 0;

  constructor(private opts: AgentOptions) {
    super();
    this.timing = { ...defaultTiming, ...opts.timing };
    // PBKDF2 with 600000 iterations takes a moment: once, started now.
    this.pk = opts.passphrase ? passphraseKey(opts.passphrase, opts.roomJid) : Promise.resolve(null);
  }

  /** Whether the room is encrypted: as the focus says, or (while it says nothing) whether we came with a passphrase. */
  get enabled(): boolean {
    return this.roomState ? this.roomState.enabled : this.opts.passphrase !== "";
  }

  /**
   * The key leader's nickname: the focus names it. While the focus says
   * nothing (a server without E2EE support in its focus), the oldest E2EE
   * occupant in the order their presences arrived, for passphrase rooms.
   */
  get leader(): string {
    if (this.roomState) return this.roomState.enabled ? this.roomState.leader : "";
    if (!this.opts.passphrase) return "";
    let best = "";
    let order = Infinity;
    for (const [nick, m] of this.members) if (m.order < order) [best, order] = [nick, m.order];
    return best;
  }

  /** Whether the focus has said anything about E2EE in this room. */
  get focusSpeaks(): boolean {
    return this.roomState !== null;
  }

  get isLeader(): boolean {
    return this.enabled && this.leader !== "" && this.leader === this.opts.selfNick();
  }

  get verifiedByPassphrase(): boolean {
    return this.opts.passphrase !== "";
  }

  /** Runs one step after the ones before it; a failing step is logged and the next runs. */
  private run(step: () => Promise<void> | void): Promise<void> {
    const next = this.queue.then(async () => {
      if (!this.closed) await step();
    });
    this.queue = next.catch((err) => console.warn("e2ee:", err));
    return this.queue;
  }

  /** Every stanza of the connection; the agent takes what is about its room. */
  onStanza(el: Element): void {
    const from = el.attrs.from ?? "";
    if (bareOf(from).toLowerCase() !== this.opts.roomJid.toLowerCase()) return;
    if (el.name === "message" && el.attrs.type === "error") return this.onRefused(el);
    const nick = resourceOf(from);
    if (!nick) return;
    if (el.name === "presence") void this.run(() => this.onPresence(nick, el));
    else if (el.name === "message" && el.attrs.type !== "error") void this.run(() => this.onMessage(nick, el));
  }

  private async onPresence(nick: string, el: Element) {
    if (el.attrs.type === "unavailable") {
      this.members.delete(nick);
    } else if (el.attrs.type === undefined) {
      const state = parseRoomState(el);
      if (state) this.roomState = state; // the focus
      else {
        const pub = parseKey(el);
        const had = this.members.get(nick);
        if (pub) this.members.set(nick, { pub, order: had && equal(had.pub, pub) ? had.order : this.order++ });
        else this.members.delete(nick);
      }
    }
    await this.update();
  }

  private async onMessage(from: string, el: Element) {
    const roster = parseRoster(el);
    if (roster && el.attrs.type === "groupchat") return this.fromLeader(from, el, () => this.onRoster(from, roster));
    const key = parseKeyMessage(el);
    if (key && el.attrs.type === "chat") return this.fromLeader(from, el, () => this.onKey(key));
  }

  /** Takes a leader's message; one from anyone else waits a while in case they become the leader. */
  private async fromLeader(from: string, el: Element, take: () => Promise<void>) {
    if (from === this.leader) return take();
    if (from === this.opts.selfNick()) return; // our own roster, echoed by the room
    const now = Date.now();
    this.pending = this.pending.filter((p) => now - p.at < this.timing.pendingMs).slice(-50);
    this.pending.push({ from, el, at: now });
  }

  /** After anything changed: who leads, whether we lead, what is on. */
  private async update() {
    const leader = this.leader;
    if (!this.enabled) {
      this.stopLeading();
    } else if (leader !== this.lastLeader) {
      this.stopLeading();
      // Messages the new leader sent before we knew it leads.
      const now = Date.now();
      const mine = this.pending.filter((p) => p.from === leader && now - p.at < this.timing.pendingMs);
      this.pending = this.pending.filter((p) => p.from !== leader && now - p.at < this.timing.pendingMs);
      for (const p of mine) await this.onMessage(p.from, p.el);
    }
    this.lastLeader = leader;
    if (this.isLeader) await this.reconcile();
    this.emit("change");
  }

  // ---- as the leader ----

  /** Sends one of the leader's messages, kept a while under its id in case the room refuses it. */
  private sendKept(el: Element) {
    const id = `e2ee-${Date.now().toString(36)}-${this.nextID++}`;
    el.attrs.id = id;
    const now = Date.now();
    for (const [k, v] of this.sent) if (now - v.at > 30 * this.timing.resendMs) this.sent.delete(k);
    this.sent.set(id, { el, at: now });
    this.opts.send(el);
  }

  /**
   * A message the room bounced: one of ours refused for the room's rate
   * limit (an error of type "wait": a leader seals to everyone at once) is
   * sent again later while we lead; a roster of an epoch already replaced
   * still matters, members ratchet through it.
   */
  private onRefused(el: Element) {
    const kept = this.sent.get(el.attrs.id ?? "");
    if (!kept) return;
    if (el.getChild("error")?.attrs.type !== "wait") {
      console.warn("e2ee: the room refused a key message:", el.toString());
      return;
    }
    setTimeout(() => {
      if (!this.closed && this.isLeader) this.opts.send(kept.el);
    }, this.timing.resendMs * (1 + Math.random() / 2));
  }

  /** The occupants that can encrypt, with us among them. */
  private present(): Map<string, Bytes> {
    const out = new Map<string, Bytes>();
    for (const [nick, m] of this.members) out.set(nick, m.pub);
    out.set(this.opts.selfNick(), this.opts.keys.pub);
    return out;
  }

  /** Compares the roster with who is here: a new leader starts fresh, a leave means fresh (debounced), a join a ratchet. */
  private async reconcile() {
    if (!this.lead) {
      await this.fresh();
      return;
    }
    const present = this.present();
    const inRoster = new Map(this.lead.roster.map((m) => [m.nick, m]));
    const left = this.lead.roster.some((m) => !present.has(m.nick) || !equal(present.get(m.nick)!, m.pub));
    const joined = [...present.keys()].some((nick) => !inRoster.has(nick));
    if (left && this.freshTimer === undefined) {
      clearTimeout(this.ratchetTimer);
      this.ratchetTimer = undefined;
      this.freshTimer = setTimeout(() => {
        this.freshTimer = undefined;
        void this.run(() => (this.isLeader ? this.fresh() : undefined));
      }, this.timing.leaveDebounceMs);
    } else if (!left && joined && this.freshTimer === undefined && this.ratchetTimer === undefined) {
      this.ratchetTimer = setTimeout(() => {
        this.ratchetTimer = undefined;
        void this.run(() => (this.isLeader ? this.ratchetForJoins() : undefined));
      }, this.timing.joinBatchMs);
    }
  }

  /** Indexes for who is here: a member keeps its index, a newcomer takes the smallest free one. */
  private assign(present: Map<string, Bytes>, keep: Member[]): Member[] {
    const out = keep.filter((m) => present.has(m.nick) && equal(present.get(m.nick)!, m.pub));
    const taken = new Set(out.map((m) => m.index));
    const have = new Set(out.map((m) => m.nick));
    let next = 0;
    for (const [nick, pub] of [...present].sort(([a], [b]) => (this.members.get(a)?.order ?? -1) - (this.members.get(b)?.order ?? -1))) {
      if (have.has(nick)) continue;
      while (taken.has(next)) next++;
      if (next > 511) break; // 512 members at most (the KID's 9 index bits)
      out.push({ index: next, nick, pub });
      taken.add(next);
    }
    return out.sort((a, b) => a.index - b.index);
  }

  /** A fresh random secret for everyone here: on taking over, after a leave, every 10 minutes. */
  private async fresh() {
    clearTimeout(this.freshTimer);
    clearTimeout(this.ratchetTimer);
    this.freshTimer = this.ratchetTimer = undefined;
    const epoch = Math.max(this.maxEpochSeen, this.lead?.epoch ?? 0, this.current?.epoch ?? 0) + 1;
    const roster = this.assign(this.present(), this.lead?.roster ?? []);
    await this.publish({ epoch, ratchet: false, members: roster }, randomBytes(secretLength), roster);
    clearTimeout(this.rotateTimer);
    this.rotateTimer = setTimeout(() => void this.run(() => (this.isLeader ? this.fresh() : undefined)), this.timing.rotateMs);
  }

  /** The next epoch by the ratchet, for newcomers: only they get a seal. */
  private async ratchetForJoins() {
    const lead = this.lead;
    if (!lead) return this.fresh();
    const present = this.present();
    if (lead.roster.some((m) => !present.has(m.nick) || !equal(present.get(m.nick)!, m.pub))) return this.fresh();
    const roster = this.assign(present, lead.roster);
    const old = new Set(lead.roster.map((m) => m.nick));
    await this.publish({ epoch: lead.epoch + 1, ratchet: true, members: roster }, await ratchet(lead.secret), roster.filter((m) => !old.has(m.nick)));
  }

  /** Sends the roster to the room and the sealed secret to `sealTo`, then learns the epoch ourselves. */
  private async publish(r: Roster, secret: Bytes, sealTo: Member[]) {
    const hash = await rosterHash(r.members);
    this.sendKept(rosterMessage(this.opts.roomJid, r));
    const self = this.opts.selfNick();
    for (const m of sealTo) {
      if (m.nick === self) continue;
      const { enc, ct } = await hpke.seal(m.pub, sealInfo(this.opts.roomJid, r.epoch, m.index), new Uint8Array(0), concat(secret, hash));
      this.sendKept(keyMessage(this.opts.roomJid, m.nick, r.epoch, enc, ct));
    }
    this.lead = { epoch: r.epoch, secret, roster: r.members };
    this.maxEpochSeen = Math.max(this.maxEpochSeen, r.epoch);
    await this.learn(r.epoch, secret, r.members, hash);
  }

  private stopLeading() {
    clearTimeout(this.freshTimer);
    clearTimeout(this.ratchetTimer);
    clearTimeout(this.rotateTimer);
    this.freshTimer = this.ratchetTimer = this.rotateTimer = undefined;
    this.lead = null;
  }

  // ---- as a member ----

  private ownEntry(members: Member[]): Member | undefined {
    return members.find((m) => m.nick === this.opts.selfNick());
  }

  private setAlarm(text: string) {
    console.warn("e2ee:", text);
    this.alarm = text;
    this.emit("change");
  }

  private async onRoster(from: string, r: Roster) {
    this.maxEpochSeen = Math.max(this.maxEpochSeen, r.epoch);
    if (this.learnt.has(r.epoch) || r.epoch <= (this.current?.epoch ?? 0)) return;
    this.rosters.set(r.epoch, { from, roster: r });
    const me = this.ownEntry(r.members);
    if (me && !equal(me.pub, this.opts.keys.pub)) {
      this.setAlarm(t("e2ee.alarm.notYourKey", { epoch: r.epoch }));
      return;
    }
    const prev = this.learnt.get(r.epoch - 1);
    if (r.ratchet && prev && me) {
      await this.learn(r.epoch, await ratchet(prev.secret), r.members, await rosterHash(r.members));
      return;
    }
    await this.tryOpen(r.epoch);
  }

  private async onKey(k: { epoch: number; enc: Bytes; ct: Bytes }) {
    if (this.learnt.has(k.epoch)) return;
    this.seals.set(k.epoch, { enc: k.enc, ct: k.ct });
    await this.tryOpen(k.epoch);
  }

  /** Opens an epoch's seal once both it and its roster are here. */
  private async tryOpen(epoch: number) {
    const r = this.rosters.get(epoch)?.roster;
    const seal = this.seals.get(epoch);
    if (!r || !seal || this.learnt.has(epoch)) return;
    const me = this.ownEntry(r.members);
    if (!me) return; // sealed to us, but the roster does not list us: nothing to check it against
    let pt: Bytes;
    try {
      pt = await hpke.open(this.opts.keys, seal.enc, sealInfo(this.opts.roomJid, epoch, me.index), new Uint8Array(0), seal.ct);
    } catch {
      this.setAlarm(t("e2ee.alarm.cannotOpen", { epoch }));
      return;
    }
    if (pt.length !== 2 * secretLength) return this.setAlarm(t("e2ee.alarm.wrongLength", { epoch }));
    const hash = await rosterHash(r.members);
    if (!equal(hash, pt.subarray(secretLength))) {
      this.setAlarm(t("e2ee.alarm.otherRoster", { epoch }));
      return;
    }
    await this.learn(epoch, pt.slice(0, secretLength), r.members, hash);
  }

  // ---- both ----

  /** Learns an epoch: its keys go to the receivers now and to the sender after sendAfterMs. */
  private async learn(epoch: number, secret: Bytes, roster: Member[], hash: Bytes) {
    const mixed = await mixSecret(secret, await this.pk);
    const base = await baseKey(mixed);
    const me = this.ownEntry(roster);
    const index = me && equal(me.pub, this.opts.keys.pub) ? me.index : null;
    const e: Epoch = { epoch, secret, roster, hash, base, index, code: await securityCode(mixed, hash) };
    this.learnt.set(epoch, e);
    for (const old of [...this.learnt.keys()]) if (old < epoch - 2) this.learnt.delete(old);
    for (const old of [...this.rosters.keys()]) if (old <= epoch) this.rosters.delete(old);
    for (const old of [...this.seals.keys()]) if (old <= epoch) this.seals.delete(old);
    this.emit("receiveKey", epoch, base);
    if (epoch > (this.current?.epoch ?? 0)) {
      this.current = e;
      if (this.alarm && index !== null) this.alarm = "";
      this.emit("change");
    }
    if (index !== null) {
      const timer = setTimeout(() => {
        this.sendTimers.delete(timer);
        if (this.closed || epoch <= this.sendingEpoch) return;
        this.sendingEpoch = epoch;
        this.emit("sendKey", epoch, index, base);
        this.emit("change");
      }, this.timing.sendAfterMs);
      this.sendTimers.add(timer);
    }
    // The next epoch's ratchet roster may have come first (this one's was refused and sent again): follow it now.
    const next = this.rosters.get(epoch + 1)?.roster;
    const nextMe = next && this.ownEntry(next.members);
    if (next?.ratchet && nextMe && equal(nextMe.pub, this.opts.keys.pub)) await this.learn(next.epoch, await ratchet(secret), next.members, await rosterHash(next.members));
  }

  /**
   * Forgets who is in the room (a new XMPP session: the room sends
   * everyone's presence again, and those who left meanwhile sent us no
   * unavailable one); the keys learnt stay until the next epoch.
   */
  forgetOccupants(): void {
    void this.run(() => this.members.clear()); // the focus's state stays: it comes again, and the fallback must not lead meanwhile
  }

  /** Stops every timer; the agent takes nothing more. */
  close(): void {
    this.closed = true;
    this.stopLeading();
    for (const timer of this.sendTimers) clearTimeout(timer);
    this.sendTimers.clear();
  }
}
