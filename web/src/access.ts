// Who may start and run a meeting, on the client's side: the JWT from the
// meeting URL (protocol/jitsi-dialect.md §10), the secure domain's wait for
// a host (§3.3), the components the server advertises (§2.5) and the
// moderator's stanzas outside the lobby: grant moderator (§4.6) and end the
// meeting for everyone (Jitsi's end_conference component).
import { xml, type Element } from "@xmpp/xml";
import { bareOf, NS } from "./muc";

/** The token of a meeting URL (`?jwt=`, as Jitsi's app takes it), or "". */
export function tokenFromSearch(search: string): string {
  return new URLSearchParams(search).get("jwt")?.trim() ?? "";
}

/**
 * The display name a token's context.user carries (§10), or "". The client
 * cannot verify the token; this only prefills the name field, while the
 * server shows others the name it verified (<identity>, muc.ts).
 */
export function tokenDisplayName(token: string): string {
  try {
    const part = token.split(".")[1] ?? "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const name = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))))?.context?.user?.name;
    return typeof name === "string" ? name.trim().slice(0, 64) : "";
  } catch {
    return "";
  }
}

/**
 * The XMPP WebSocket URL for a meeting: the token as `?token=` (how LJM
 * sends it, §10) and the room as `?room=` (how Jitsi's app names the room
 * its session is for; Prosody's end_conference and token checks read it).
 */
export function serviceURL(service: string, token: string, room: string): string {
  const u = new URL(service);
  if (token) u.searchParams.set("token", token);
  if (room) u.searchParams.set("room", room);
  return u.toString();
}

/**
 * Delay before asking the focus again while a secure domain waits for its
 * host (not-authorized, §3.3): 1 s, 2 s, 4 s, 8 s, then every 10 s. LJM caps
 * its ready="false" back-off at 120 s; a person looking at a waiting screen
 * should not wait that long after the host arrives.
 */
export function hostWaitDelay(attempt: number, capMs = 10_000): number {
  return Math.min(1000 * 2 ** Math.min(Math.max(attempt, 0), 20), capMs);
}

/** disco#info of the domain (§2.5). */
export function domainInfoRequest(domain: string): Element {
  return xml("iq", { type: "get", to: domain }, xml("query", { xmlns: NS.discoInfo }));
}

/** Component addresses by identity type (end_conference, lobbyrooms, av_moderation …) from the domain's disco#info. */
export function componentsFrom(result: Element): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of result.getChild("query", NS.discoInfo)?.getChildren("identity") ?? []) {
    if (id.attrs.category === "component" && id.attrs.type && id.attrs.name && !out.has(id.attrs.type)) out.set(id.attrs.type, id.attrs.name);
  }
  return out;
}

/** Ends the meeting for everyone: `<end_conference/>` to the component (LJM's ChatRoom.end); the room is destroyed. */
export function endConferenceMessage(component: string): Element {
  return xml("message", { to: component }, xml("end_conference"));
}

/** Makes an occupant a moderator: muc#admin affiliation owner for their bare real JID (§4.6). */
export function grantOwnerIQ(roomJid: string, realJid: string): Element {
  return xml(
    "iq",
    { type: "set", to: roomJid },
    xml("query", { xmlns: NS.mucAdmin }, xml("item", { affiliation: "owner", jid: bareOf(realJid) }, xml("reason", {}, "Your affiliation has been changed to 'owner'."))),
  );
}
