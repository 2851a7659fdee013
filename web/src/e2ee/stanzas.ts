// The XMPP elements of docs/e2ee.md (namespace urn:parley:e2ee:0), built
// and parsed over @xmpp/xml: a member's key in presence, the focus's room
// state in its presence, the moderator's switch, the leader's roster and
// sealed keys, and the focus's refusal of a client that cannot encrypt.
import { xml, type Element } from "@xmpp/xml";
import { fromBase64, toBase64, type Bytes } from "./bytes";
import type { Member } from "./schedule";

export const NS_E2EE = "urn:parley:e2ee:0";

/** Our key in presence: <e2ee kem='x25519' pub='…'/>. */
export function keyElement(pub: Uint8Array): Element {
  return xml("e2ee", { xmlns: NS_E2EE, kem: "x25519", pub: toBase64(pub) });
}

function b64(s: string | undefined, len: number): Bytes | null {
  if (!s) return null;
  try {
    const b = fromBase64(s);
    return b.length === len ? b : null;
  } catch {
    return null;
  }
}

/** An occupant's public key from its presence, null if it has none (it cannot encrypt). */
export function parseKey(presence: Element): Bytes | null {
  const el = presence.getChild("e2ee", NS_E2EE);
  if (!el || el.attrs.kem !== "x25519") return null;
  return b64(el.attrs.pub, 32);
}

/** The room's state from the focus's presence; null if the presence says none. */
export function parseRoomState(presence: Element): { enabled: boolean; leader: string } | null {
  const el = presence.getChild("e2ee", NS_E2EE);
  if (!el || el.attrs.enabled === undefined) return null;
  const enabled = el.attrs.enabled === "true";
  return { enabled, leader: enabled ? (el.attrs.leader ?? "") : "" };
}

/** The moderator's switch, to the focus. */
export function toggleIQ(focus: string, roomJid: string, enabled: boolean): Element {
  return xml("iq", { type: "set", to: focus }, xml("e2ee", { xmlns: NS_E2EE, room: roomJid, enabled: String(enabled) }));
}

export interface Roster {
  epoch: number;
  ratchet: boolean;
  members: Member[];
}

/** The leader's roster, once per epoch, to the room. */
export function rosterMessage(roomJid: string, r: Roster): Element {
  const members = [...r.members].sort((a, b) => a.index - b.index).map((m) => xml("member", { index: String(m.index), nick: m.nick, pub: toBase64(m.pub) }));
  return xml("message", { to: roomJid, type: "groupchat" }, xml("e2ee-roster", { xmlns: NS_E2EE, epoch: String(r.epoch), ratchet: String(r.ratchet) }, ...members));
}

function epochOf(s: string | undefined): number | null {
  if (!s || !/^\d{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 0xffffffff ? n : null;
}

/** A roster in a message, null if there is none or it is malformed (a bad member drops the whole roster). */
export function parseRoster(msg: Element): Roster | null {
  const el = msg.getChild("e2ee-roster", NS_E2EE);
  const epoch = epochOf(el?.attrs.epoch);
  if (!el || epoch === null) return null;
  const members: Member[] = [];
  for (const m of el.getChildren("member")) {
    const index = /^\d{1,3}$/.test(m.attrs.index ?? "") ? Number(m.attrs.index) : -1;
    const pub = b64(m.attrs.pub, 32);
    if (index < 0 || index > 511 || !pub || !m.attrs.nick || members.some((x) => x.index === index || x.nick === m.attrs.nick)) return null;
    members.push({ index, nick: m.attrs.nick, pub });
  }
  return { epoch, ratchet: el.attrs.ratchet === "true", members };
}

/** An epoch secret sealed to one member, privately through the room. */
export function keyMessage(roomJid: string, nick: string, epoch: number, enc: Uint8Array, ct: Uint8Array): Element {
  return xml("message", { to: `${roomJid}/${nick}`, type: "chat" }, xml("e2ee-key", { xmlns: NS_E2EE, epoch: String(epoch), enc: toBase64(enc), ct: toBase64(ct) }), xml("x", { xmlns: "http://jabber.org/protocol/muc#user" }));
}

export function parseKeyMessage(msg: Element): { epoch: number; enc: Bytes; ct: Bytes } | null {
  const el = msg.getChild("e2ee-key", NS_E2EE);
  const epoch = epochOf(el?.attrs.epoch);
  const enc = b64(el?.attrs.enc, 32);
  if (!el || epoch === null || !enc || !el.attrs.ct) return null;
  try {
    return { epoch, enc, ct: fromBase64(el.attrs.ct) };
  } catch {
    return null;
  }
}

/** Whether a message is the focus's "your client cannot encrypt" (it offers no media then). */
export function isUnsupported(msg: Element): boolean {
  return msg.getChild("e2ee-unsupported", NS_E2EE) !== undefined;
}
