// The lobby as Jitsi's rooms run it (protocol/jitsi-dialect.md §4.5): the
// stanzas of both sides, no state. A moderator turns the lobby on with the
// room's owner form (muc#roomconfig_membersonly); a newcomer's join then
// fails with 407 registration-required naming the lobby room
// (<node>@lobby.<domain>); the newcomer joins that room with a <nick>
// ("knocks"); moderators, who sit in the lobby room too, see the knockers
// and admit one with a mediated invite sent to the main room, or deny one by
// kicking them out of the lobby room.
import { xml, type Element } from "@xmpp/xml";
import { bareOf, NS, resourceOf } from "./muc";

const FORM_TYPE = "http://jabber.org/protocol/muc#roomconfig";

/** The lobby room a 407 registration-required join error names (namespaced <lobbyroom> or Prosody's legacy bare one), or "". */
export function lobbyRoomOf(errorPresence: Element): string {
  const err = errorPresence.getChild("error");
  if (!err || !err.getChild("registration-required", NS.stanzas)) return "";
  for (const c of err.getChildElements()) {
    if (c.name === "lobbyroom" && (c.attrs.xmlns === NS.jitmeet || c.attrs.xmlns === undefined)) {
      const jid = c.getText().trim();
      if (/^[^@/\s]+@[^@/\s]+$/.test(jid)) return jid;
    }
  }
  return "";
}

/** Whether a join error is the lobby's 406 "a display name is required" (§4.5: not-acceptable + <displayname-required lobby="true"/>). */
export function displayNameRequired(errorPresence: Element): boolean {
  const err = errorPresence.getChild("error");
  return !!err?.getChild("not-acceptable", NS.stanzas) && !!err.getChild("displayname-required", NS.jitmeet);
}

/** The lobby room by convention when nobody named it: the main room's node at lobby.<domain> (§1.1). */
export function defaultLobbyRoom(roomJid: string, domain: string): string {
  return `${roomJid.slice(0, roomJid.indexOf("@"))}@lobby.${domain}`;
}

/** The knock: joining the lobby room as `nick` with the display name moderators see (§4.5 step 3). */
export function knockPresence(lobbyRoom: string, nick: string, displayName: string): Element {
  return xml(
    "presence",
    { to: `${lobbyRoom}/${nick}` },
    xml("x", { xmlns: NS.muc }),
    displayName ? xml("nick", { xmlns: NS.nick }, displayName) : null,
  );
}

/**
 * An invitation from the main room (§4.5 step 4, as the room relays a
 * mediated invite): the room password it carries ("" for none), or null
 * when the message is not an invite from `roomJid`.
 */
export function inviteFrom(el: Element, roomJid: string): { password: string } | null {
  if (el.name !== "message" || el.attrs.type === "error") return null;
  if ((el.attrs.from ?? "").toLowerCase() !== roomJid.toLowerCase()) return null;
  const x = el.getChild("x", NS.mucUser);
  if (!x?.getChild("invite")) return null;
  return { password: x.getChildText("password") ?? "" };
}

/** Admits knockers: a mediated invite to the main room for each real JID (§4.5 step 4). */
export function admitMessage(roomJid: string, realJids: string[]): Element {
  return xml("message", { to: roomJid }, xml("x", { xmlns: NS.mucUser }, ...realJids.map((to) => xml("invite", { to }))));
}

/** Denies a knocker: kicked from the lobby room (role none). */
export function denyIQ(lobbyRoom: string, nick: string): Element {
  return xml("iq", { type: "set", to: lobbyRoom }, xml("query", { xmlns: NS.mucAdmin }, xml("item", { nick, role: "none" })));
}

/** The owner form that turns the lobby on or off: muc#roomconfig_membersonly, and nothing else (§4.5 step 1). */
export function membersOnlyForm(roomJid: string, on: boolean): Element {
  const field = (v: string, value: string) => xml("field", { var: v }, xml("value", {}, value));
  return xml(
    "iq",
    { type: "set", to: roomJid },
    xml("query", { xmlns: NS.mucOwner }, xml("x", { xmlns: NS.data, type: "submit" }, field("FORM_TYPE", FORM_TYPE), field("muc#roomconfig_membersonly", on ? "true" : "false"))),
  );
}

/** Makes the people present members before the lobby goes on, so it does not keep them out on a rejoin (as LJM does); null when there is nobody to make one. */
export function membersIQ(roomJid: string, realJids: string[]): Element | null {
  const bare = [...new Set(realJids.map(bareOf).filter(Boolean))];
  if (bare.length === 0) return null;
  return xml("iq", { type: "set", to: roomJid }, xml("query", { xmlns: NS.mucAdmin }, ...bare.map((jid) => xml("item", { affiliation: "member", jid }))));
}

/** What the room's disco#info says about access (§4.3, §4.5). */
export interface RoomAccess {
  passwordProtected: boolean;
  membersOnly: boolean;
  /** muc#roominfo_lobbyroom, "" when the room names none. */
  lobbyRoom: string;
}

export function roomAccess(result: Element): RoomAccess {
  const q = result.getChild("query", NS.discoInfo);
  const features = new Set((q?.getChildren("feature") ?? []).map((f) => f.attrs.var ?? ""));
  let lobbyRoom = "";
  for (const x of q?.getChildren("x", NS.data) ?? []) {
    for (const f of x.getChildren("field")) {
      if (f.attrs.var === "muc#roominfo_lobbyroom") lobbyRoom = (f.getChildText("value") ?? "").trim();
    }
  }
  return { passwordProtected: features.has("muc_passwordprotected"), membersOnly: features.has("muc_membersonly"), lobbyRoom };
}

/** Someone knocking, as a moderator sees them in the lobby room. */
export interface Knocker {
  id: string; // nick in the lobby room
  displayName: string;
  jid: string; // real JID (the lobby shows it to moderators), "" when hidden
}

/** What a presence from the lobby room means for the one watching it (moderator or knocker). */
export type LobbyEvent =
  | { type: "here"; id: string; self: boolean; knocker: Knocker }
  | { type: "gone"; id: string; self: boolean; kicked: boolean; destroyed: boolean; to: string }
  | { type: "error"; id: string; self: boolean; condition: string; text: string };

export function parseLobbyPresence(el: Element, lobbyRoom: string, selfNick: string): LobbyEvent | null {
  const from = el.attrs.from ?? "";
  if (!lobbyRoom || bareOf(from).toLowerCase() !== lobbyRoom.toLowerCase()) return null;
  const id = resourceOf(from);
  if (!id) return null;
  const x = el.getChild("x", NS.mucUser);
  const codes = new Set((x?.getChildren("status") ?? []).map((s) => s.attrs.code ?? ""));
  const self = codes.has("110") || id === selfNick;
  if (el.attrs.type === "error") {
    const err = el.getChild("error");
    const cond = err?.getChildElements().find((c) => c.attrs.xmlns === NS.stanzas && c.name !== "text")?.name ?? "undefined-condition";
    return { type: "error", id, self, condition: cond, text: err?.getChildText("text", NS.stanzas) ?? "" };
  }
  if (el.attrs.type === "unavailable") {
    const destroy = x?.getChild("destroy");
    return { type: "gone", id, self, kicked: codes.has("307"), destroyed: !!destroy, to: destroy?.attrs.jid ?? "" };
  }
  if (el.attrs.type !== undefined) return null;
  const item = x?.getChild("item");
  return {
    type: "here",
    id,
    self,
    knocker: { id, displayName: (el.getChildText("nick", NS.nick) ?? "").trim().slice(0, 64), jid: item?.attrs.jid ?? "" },
  };
}
