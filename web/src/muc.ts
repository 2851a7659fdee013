// XEP-0045 multi-user chat as Jitsi uses it (protocol/jitsi-dialect.md §4,
// §9): join and update presence, occupant presence parsing, join errors,
// the owner form that locks a room, and chat messages. Pure functions over
// XML elements; conference.ts sends and receives them.
//
// The MUC nickname is the 8-hex-char endpoint ID; the display name travels
// in <nick xmlns="http://jabber.org/protocol/nick">. Presence children
// without a namespace are in jabber:client, as LJM sends them.
import { xml, type Element } from "@xmpp/xml";

export const NS = {
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  mucOwner: "http://jabber.org/protocol/muc#owner",
  mucAdmin: "http://jabber.org/protocol/muc#admin",
  nick: "http://jabber.org/protocol/nick",
  data: "jabber:x:data",
  discoInfo: "http://jabber.org/protocol/disco#info",
  delay: "urn:xmpp:delay",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  jitmeet: "http://jitsi.org/jitmeet",
  jsonMessage: "http://jitsi.org/jitmeet",
} as const;

/** What this participant says about itself in presence. */
export interface LocalState {
  displayName: string;
  audioMuted: boolean;
  videoMuted: boolean;
  /** Whether a screen share is being sent (source "<endpoint>-v1"). */
  sharing?: boolean;
  /**
   * When the hand went up (ms since the epoch), 0 once lowered, undefined
   * if it never went up: <jitsi_participant_raisedHand> (§9).
   */
  raisedHand?: number;
  /** Our E2EE public key (base64) for <e2ee kem='x25519'/> (docs/e2ee.md), when we can encrypt. */
  e2eeKey?: string;
  /** The meeting URL's ?region=, sent as <jitsi_participant_region/>: the focus picks a bridge of that region. */
  region?: string;
}

/** Source names follow LJM: `<endpoint>-a0`, `<endpoint>-v0`. */
export function sourceName(endpointId: string, kind: "audio" | "video", index = 0): string {
  return `${endpointId}-${kind === "audio" ? "a" : "v"}${index}`;
}

/** The <SourceInfo> JSON text for the local sources; a screen share is `{"<ep>-v1":{"muted":false,"videoType":"desktop"}}` (§4.1). */
export function sourceInfo(endpointId: string, s: Pick<LocalState, "audioMuted" | "videoMuted" | "sharing">): string {
  const info: Record<string, { muted: boolean; videoType?: string }> = {
    [sourceName(endpointId, "audio")]: { muted: s.audioMuted },
    [sourceName(endpointId, "video")]: { muted: s.videoMuted },
  };
  if (s.sharing) info[sourceName(endpointId, "video", 1)] = { muted: false, videoType: "desktop" };
  return JSON.stringify(info);
}

/** The screen share an occupant's <SourceInfo> announces (an unmuted desktop source), or "" for none. */
export function desktopSource(sourceInfoText: string | null): string {
  if (!sourceInfoText) return "";
  try {
    const info = JSON.parse(sourceInfoText) as Record<string, { muted?: boolean; videoType?: string }>;
    for (const [name, v] of Object.entries(info)) {
      if (v?.videoType === "desktop" && v.muted !== true && /-v\d+$/.test(name)) return name;
    }
  } catch {
    // Not JSON: no screen share.
  }
  return "";
}

function presenceChildren(endpointId: string, s: LocalState): Element[] {
  const out = [
    xml("SourceInfo", {}, sourceInfo(endpointId, s)),
    xml("audiomuted", {}, String(s.audioMuted)),
    xml("videomuted", {}, String(s.videoMuted)),
  ];
  if (s.displayName) out.unshift(xml("nick", { xmlns: NS.nick }, s.displayName));
  // Jitsi Meet says a lowered hand with "0" rather than by leaving the element out (LJM keeps a property it last saw).
  if (s.raisedHand !== undefined) out.push(xml(raisedHandElement, {}, String(Math.max(0, Math.floor(s.raisedHand)))));
  if (s.e2eeKey) out.push(xml("e2ee", { xmlns: "urn:parley:e2ee:0", kem: "x25519", pub: s.e2eeKey }));
  if (s.region) out.push(xml("jitsi_participant_region", {}, s.region));
  return out;
}

/** The participant property (LJM setLocalParticipantProperty("raisedHand", …)) that carries a raised hand. */
export const raisedHandElement = "jitsi_participant_raisedHand";

/**
 * Reads <jitsi_participant_raisedHand>: Jitsi Meet sends the time the hand
 * went up in ms since the epoch, "0" when it is down; older clients sent
 * "true"/"false". Returns that time, 0 for a lowered hand, and -1 for a
 * hand raised at a time not given (the caller picks one).
 */
export function parseRaisedHand(text: string | null): number {
  const t = (text ?? "").trim();
  if (/^\d{1,15}$/.test(t)) return Number(t);
  return t === "true" ? -1 : 0;
}

/** The first presence to `room/endpointId`, with the password if one is known (§4.1, §4.4). */
export function joinPresence(roomJid: string, endpointId: string, s: LocalState, password?: string): Element {
  return xml(
    "presence",
    { to: `${roomJid}/${endpointId}` },
    xml("x", { xmlns: NS.muc }, password ? xml("password", {}, password) : null),
    ...presenceChildren(endpointId, s),
  );
}

/** A presence that changes the display name or the mute state (no <x/>). */
export function updatePresence(roomJid: string, endpointId: string, s: LocalState): Element {
  return xml("presence", { to: `${roomJid}/${endpointId}` }, ...presenceChildren(endpointId, s));
}

export function leavePresence(roomJid: string, endpointId: string): Element {
  return xml("presence", { to: `${roomJid}/${endpointId}`, type: "unavailable" });
}

export type Role = "moderator" | "participant" | "visitor" | "none";
export type Affiliation = "owner" | "admin" | "member" | "outcast" | "none";

/** An occupant as its presence describes it. */
export interface Occupant {
  id: string; // nickname = endpoint ID
  displayName: string;
  role: Role;
  affiliation: Affiliation;
  jid?: string; // real JID when the room shows it
  audioMuted: boolean;
  videoMuted: boolean;
  /** The source name of the occupant's screen share, "" when it shares none. */
  desktop: string;
  /** When the occupant's hand went up (ms since the epoch; -1: raised, time unknown), 0 when it is down. */
  raisedHand: number;
}

export type JoinErrorKind =
  | "password" // not-authorized: wrong or missing password
  | "full" // service-unavailable: max occupants
  | "banned" // forbidden
  | "members-only" // registration-required (lobby)
  | "nick-conflict" // conflict
  | "not-allowed" // room creation restricted (no focus yet)
  | "locked" // item-not-found: room exists but is not configured
  | "other";

export interface JoinError {
  kind: JoinErrorKind;
  condition: string;
  text: string;
}

/** Why the room sent this participant away (unavailable self-presence). */
export type ExitReason = "kicked" | "banned" | "affiliation" | "members-only" | "shutdown" | "destroyed" | "left";

export type PresenceEvent =
  | { type: "available"; occupant: Occupant; self: boolean; codes: Set<string> }
  | { type: "unavailable"; id: string; self: boolean; codes: Set<string>; exit: ExitReason; reason: string; actor: string; newNick?: string }
  | { type: "error"; id: string; error: JoinError };

/** The resource of a full JID, or "" if it has none. */
export function resourceOf(jid: string): string {
  const i = jid.indexOf("/");
  return i < 0 ? "" : jid.slice(i + 1);
}

export function bareOf(jid: string): string {
  const i = jid.indexOf("/");
  return i < 0 ? jid : jid.slice(0, i);
}

/** Error condition and text of a stanza's <error/>. */
export function stanzaError(el: Element): { condition: string; text: string; type: string } {
  const err = el.getChild("error");
  if (!err) return { condition: "undefined-condition", text: "", type: "" };
  let condition = "undefined-condition";
  for (const c of err.getChildElements()) {
    if (c.attrs.xmlns === NS.stanzas && c.name !== "text") {
      condition = c.name;
      break;
    }
  }
  return { condition, text: err.getChildText("text", NS.stanzas) ?? "", type: err.attrs.type ?? "" };
}

const joinErrorKinds: Record<string, JoinErrorKind> = {
  "not-authorized": "password",
  "service-unavailable": "full",
  forbidden: "banned",
  "registration-required": "members-only",
  conflict: "nick-conflict",
  "not-allowed": "not-allowed",
  "item-not-found": "locked",
};

export function joinError(el: Element): JoinError {
  const { condition, text } = stanzaError(el);
  return { kind: joinErrorKinds[condition] ?? "other", condition, text };
}

function parseMuted(sourceInfoText: string | null, kind: "a" | "v"): boolean | undefined {
  if (!sourceInfoText) return undefined;
  try {
    const info = JSON.parse(sourceInfoText) as Record<string, { muted?: boolean; videoType?: string }>;
    let seen = false;
    for (const [name, v] of Object.entries(info)) {
      // Camera or microphone sources only: "<ep>-a0", "<ep>-v0" (screen shares have videoType desktop).
      if (!new RegExp(`-${kind}\\d+$`).test(name) || v?.videoType === "desktop") continue;
      seen = true;
      if (v?.muted === false) return false;
    }
    return seen ? true : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a presence from the room `roomJid`; null if it is from elsewhere
 * or from the bare room. `selfId` is this participant's nickname.
 */
export function parsePresence(el: Element, roomJid: string, selfId: string): PresenceEvent | null {
  const from = el.attrs.from ?? "";
  if (bareOf(from).toLowerCase() !== roomJid.toLowerCase()) return null;
  const id = resourceOf(from);
  if (!id) return null;
  if (el.attrs.type === "error") return { type: "error", id, error: joinError(el) };

  const x = el.getChild("x", NS.mucUser);
  const codes = new Set((x?.getChildren("status") ?? []).map((s) => s.attrs.code ?? ""));
  const self = codes.has("110") || id === selfId;
  const item = x?.getChild("item");

  if (el.attrs.type === "unavailable") {
    let exit: ExitReason = "left";
    if (x?.getChild("destroy")) exit = "destroyed";
    else if (codes.has("307")) exit = "kicked";
    else if (codes.has("301")) exit = "banned";
    else if (codes.has("321")) exit = "affiliation";
    else if (codes.has("322")) exit = "members-only";
    else if (codes.has("332")) exit = "shutdown";
    const reason = item?.getChildText("reason") ?? x?.getChild("destroy")?.getChildText("reason") ?? "";
    const actor = item?.getChild("actor")?.attrs.nick ?? "";
    const ev: PresenceEvent = { type: "unavailable", id, self, codes, exit, reason, actor };
    if (codes.has("303") && item?.attrs.nick) ev.newNick = item.attrs.nick;
    return ev;
  }
  if (el.attrs.type !== undefined) return null; // subscription types do not apply to rooms

  const sourceInfoText = el.getChildText("SourceInfo");
  const legacy = (name: string) => {
    const t = el.getChildText(name);
    return t === null ? undefined : t.trim() === "true";
  };
  const occupant: Occupant = {
    id,
    displayName: (verifiedName(el) || el.getChildText("nick", NS.nick) || "").trim().slice(0, 64),
    role: (item?.attrs.role as Role) ?? "participant",
    affiliation: (item?.attrs.affiliation as Affiliation) ?? "none",
    audioMuted: parseMuted(sourceInfoText, "a") ?? legacy("audiomuted") ?? true,
    videoMuted: parseMuted(sourceInfoText, "v") ?? legacy("videomuted") ?? true,
    desktop: desktopSource(sourceInfoText),
    raisedHand: parseRaisedHand(el.getChildText(raisedHandElement)),
  };
  if (item?.attrs.jid) occupant.jid = item.attrs.jid;
  return { type: "available", occupant, self, codes };
}

/**
 * The name a verified token gave the occupant: the server puts its
 * context.user into <identity><user><name/></user></identity> and drops any
 * <identity> a client sends (jitsi-dialect.md §4.1, §10), so it wins over the
 * self-chosen <nick>.
 */
function verifiedName(el: Element): string {
  return el.getChild("identity")?.getChild("user")?.getChildText("name")?.trim() ?? "";
}

/** Whether an occupant is the conference focus (nick "focus" or its real JID, §3.2, §4.2). */
export function isFocus(o: Occupant, focusJids: Iterable<string>): boolean {
  if (o.jid) {
    for (const f of focusJids) if (o.jid.startsWith(f + "/")) return true;
  }
  return o.id === "focus";
}

/** XEP-0045 §10.1.2: accept the default configuration of a room we created. */
export function instantRoom(roomJid: string): Element {
  return xml("iq", { type: "set", to: roomJid }, xml("query", { xmlns: NS.mucOwner }, xml("x", { xmlns: NS.data, type: "submit" })));
}

/** Asks the room for its configuration form (moderators only). */
export function ownerFormRequest(roomJid: string): Element {
  return xml("iq", { type: "get", to: roomJid }, xml("query", { xmlns: NS.mucOwner }));
}

/** The field vars a room's configuration form offers. */
export function formFields(result: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const x = result.getChild("query", NS.mucOwner)?.getChild("x", NS.data);
  for (const f of x?.getChildren("field") ?? []) {
    if (!f.attrs.var) continue;
    out.set(f.attrs.var, f.getChildren("value").map((v) => v.getText()));
  }
  return out;
}

/**
 * Submits the owner form that sets or clears the room password (§4.4):
 * FORM_TYPE, muc#roomconfig_roomsecret, muc#roomconfig_passwordprotectedroom
 * and muc#roomconfig_whois=anyone; a members-only room stays members-only.
 */
export function passwordForm(roomJid: string, password: string, current?: Map<string, string[]>): Element {
  const field = (v: string, value: string) => xml("field", { var: v }, xml("value", {}, value));
  const fields = [
    field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
    field("muc#roomconfig_roomsecret", password),
    field("muc#roomconfig_passwordprotectedroom", password ? "1" : "0"),
    field("muc#roomconfig_whois", "anyone"),
  ];
  const membersOnly = current?.get("muc#roomconfig_membersonly")?.[0];
  if (membersOnly === "1" || membersOnly === "true") fields.push(field("muc#roomconfig_membersonly", "true"));
  return xml(
    "iq",
    { type: "set", to: roomJid },
    xml("query", { xmlns: NS.mucOwner }, xml("x", { xmlns: NS.data, type: "submit" }, ...fields)),
  );
}

/** Removes an occupant from the room: muc#admin role "none" (§4.6). */
export function kickIQ(roomJid: string, nick: string, reason: string): Element {
  return xml(
    "iq",
    { type: "set", to: roomJid },
    xml("query", { xmlns: NS.mucAdmin }, xml("item", { nick, role: "none" }, reason ? xml("reason", {}, reason) : null)),
  );
}

/** A mute request to the focus's occupant (§4.7): mute `nick`'s microphone (ns …/jitmeet/audio) or camera (…/jitmeet/video). */
export function muteRequest(roomJid: string, nick: string, ns: string): Element {
  return xml("iq", { type: "set", to: `${roomJid}/focus` }, xml("mute", { xmlns: ns, jid: `${roomJid}/${nick}` }, "true"));
}

/** An <error/> for an IQ reply: type and a defined condition (RFC 6120 §8.3). */
export function errorElement(type: "cancel" | "modify" | "auth" | "wait", condition: string): Element {
  return xml("error", { type }, xml(condition, { xmlns: NS.stanzas }));
}

/** disco#info of the room (§4.3). */
export function roomInfoRequest(roomJid: string): Element {
  return xml("iq", { type: "get", to: roomJid }, xml("query", { xmlns: NS.discoInfo }));
}

/** Whether the room's disco#info says it has a password. */
export function isPasswordProtected(result: Element): boolean {
  const q = result.getChild("query", NS.discoInfo);
  return (q?.getChildren("feature") ?? []).some((f) => f.attrs.var === "muc_passwordprotected");
}

export interface ChatMessage {
  id: string;
  from: string; // endpoint ID of the sender
  to?: string; // endpoint ID of the recipient, for private messages we sent
  body: string;
  private: boolean;
  at: Date;
  history: boolean; // delivered from the room's history
}

/** A chat message from the room (groupchat) or an occupant (private), else null. */
export function parseChat(el: Element, roomJid: string): ChatMessage | null {
  if (el.name !== "message") return null;
  const from = el.attrs.from ?? "";
  if (bareOf(from).toLowerCase() !== roomJid.toLowerCase()) return null;
  const type = el.attrs.type ?? "normal";
  if (type !== "groupchat" && type !== "chat") return null;
  const body = el.getChildText("body");
  if (body === null || body.trim() === "") return null;
  if (el.getChild("e2ee-unsupported", "urn:parley:e2ee:0")) return null; // the focus's refusal: the E2EE screen says it
  const delay = el.getChild("delay", NS.delay) ?? el.getChild("x", "jabber:x:delay");
  let at = new Date();
  if (delay?.attrs.stamp) {
    const d = new Date(delay.attrs.stamp);
    if (!Number.isNaN(d.getTime())) at = d;
  }
  return {
    id: el.attrs.id ?? "",
    from: resourceOf(from),
    body: body.slice(0, 10_000),
    private: type === "chat",
    at,
    history: !!delay && type === "groupchat",
  };
}

/** Status codes of a groupchat message from the bare room (104: configuration changed). */
export function roomStatusCodes(el: Element, roomJid: string): Set<string> {
  if (el.name !== "message" || (el.attrs.from ?? "").toLowerCase() !== roomJid.toLowerCase()) return new Set();
  const x = el.getChild("x", NS.mucUser);
  return new Set((x?.getChildren("status") ?? []).map((s) => s.attrs.code ?? ""));
}

export function groupchat(roomJid: string, body: string, id: string): Element {
  return xml("message", { to: roomJid, type: "groupchat", id }, xml("body", {}, body));
}

/** A private message to one occupant (XEP-0045 §7.5 marks it with an empty muc#user <x/>). */
export function privateChat(roomJid: string, to: string, body: string, id: string): Element {
  return xml("message", { to: `${roomJid}/${to}`, type: "chat", id }, xml("body", {}, body), xml("x", { xmlns: NS.mucUser }));
}

/** Longer json-message payloads from an occupant are dropped unread. */
const MAX_JSON_MESSAGE = 16 * 1024;

/**
 * A JSON payload for one occupant, sent through the room as a private
 * message: <json-message xmlns="http://jitsi.org/jitmeet"> with the "type"
 * key LJM's receivers insist on ("" when the payload has none), as LJM's
 * sendMessage(payload, to) sends it (§9). LJM hands it to the app as an
 * endpoint message, as if it had come through the bridge channel; unlike
 * that channel, the room delivers it whatever the recipient's media.
 */
export function privateJSON(roomJid: string, to: string, payload: Record<string, unknown>, id: string): Element {
  const body = { ...payload, type: typeof payload.type === "string" ? payload.type : "" };
  return xml("message", { to: `${roomJid}/${to}`, type: "chat", id }, xml("json-message", { xmlns: NS.jsonMessage }, JSON.stringify(body)), xml("x", { xmlns: NS.mucUser }));
}

/**
 * An occupant's json-message (private or to the room, §9): the sender's
 * endpoint ID and the payload, or null for anything else (another sender,
 * no json-message, a delayed one from history, JSON that is no object or
 * has no "type" key, which LJM's receivers drop too).
 */
export function parseOccupantJSON(el: Element, roomJid: string): { from: string; payload: Record<string, unknown> } | null {
  if (el.name !== "message") return null;
  const type = el.attrs.type ?? "normal";
  if (type !== "chat" && type !== "groupchat") return null;
  const from = el.attrs.from ?? "";
  if (bareOf(from).toLowerCase() !== roomJid.toLowerCase() || !resourceOf(from)) return null;
  if (el.getChild("delay", NS.delay) || el.getChild("x", "jabber:x:delay")) return null;
  const text = el.getChildText("json-message", NS.jsonMessage);
  if (text === null || text.length > MAX_JSON_MESSAGE) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, "type")) return null;
  return { from: resourceOf(from), payload: v as Record<string, unknown> };
}
