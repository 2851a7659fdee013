// XEP-0045 helpers for muc.test.js: join a room and wait for the outcome,
// configure it through the owner form, match room stanzas. Every wait has
// a deadline; nothing sleeps.
import { nextEvent, WAIT, xml } from "./xmpp.js";

export const MUC = {
  muc: "http://jabber.org/protocol/muc",
  user: "http://jabber.org/protocol/muc#user",
  owner: "http://jabber.org/protocol/muc#owner",
  data: "jabber:x:data",
  roomconfig: "http://jabber.org/protocol/muc#roomconfig",
  sid: "urn:xmpp:sid:0",
};

/** The conference service: XMPP_MUC_DOMAIN, or conference.<XMPP_DOMAIN>. */
export function mucDomain(domain) {
  return process.env.XMPP_MUC_DOMAIN || `conference.${domain}`;
}

/** Status codes in a MUC presence or message. */
export function statusCodes(stanza) {
  const x = stanza.getChild("x", MUC.user);
  return x ? x.getChildren("status").map((s) => s.attrs.code) : [];
}

/**
 * Send a join presence to room/nick (with a password if given) and resolve
 * with the self-presence (status 110), or reject with the presence error's
 * condition as `err.condition`.
 */
export async function join(xmpp, room, nick, password) {
  const occupant = `${room}/${nick}`;
  const outcome = nextEvent(xmpp, "stanza", (s) => s.is("presence") && s.attrs.from === occupant &&
    (s.attrs.type === "error" || statusCodes(s).includes("110")));
  const x = xml("x", { xmlns: MUC.muc }, password === undefined ? [] : [xml("password", {}, password)]);
  await xmpp.send(xml("presence", { to: occupant }, x));
  const p = await outcome;
  if (p.attrs.type === "error") {
    const cond = p.getChild("error")?.children.find((c) => c.attrs?.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas")?.name;
    const err = new Error(`join ${occupant} refused: ${cond}`);
    err.condition = cond;
    throw err;
  }
  return p;
}

/** Fetch the owner form, then submit the given fields. */
export async function configure(xmpp, room, values) {
  // Fetch the form first, as clients do (some servers require it), then
  // submit only the fields given; like Jitsi's client, send
  // passwordprotectedroom even to servers whose form lacks it.
  const query = await xmpp.iqCaller.get(xml("query", { xmlns: MUC.owner }), room, WAIT);
  if (!query.getChild("x", MUC.data)) throw new Error(`owner form missing: ${query}`);
  const fields = [
    xml("field", { var: "FORM_TYPE" }, xml("value", {}, MUC.roomconfig)),
    ...Object.entries(values).map(([name, v]) => xml("field", { var: name }, xml("value", {}, String(v)))),
  ];
  await xmpp.iqCaller.set(xml("query", { xmlns: MUC.owner }, xml("x", { xmlns: MUC.data, type: "submit" }, fields)), room, WAIT);
}

/** Send a groupchat message with a body to the room. */
export async function say(xmpp, room, body, id) {
  await xmpp.send(xml("message", { to: room, type: "groupchat", ...(id ? { id } : {}) }, xml("body", {}, body)));
}
