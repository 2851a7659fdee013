// The lobby's stanzas (lobby.ts, protocol/jitsi-dialect.md §4.5).
import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import * as lobby from "../src/lobby";

const room = "standup@conference.x";
const lroom = "standup@lobby.x";

test("407 registration-required names the lobby room (namespaced or Prosody's legacy element)", () => {
  const err = (child: string) =>
    parse(`<presence type="error" from="${room}/77aa01bc"><x xmlns="http://jabber.org/protocol/muc"/><error type="auth" code="407"><registration-required xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>${child}</error></presence>`);
  assert.equal(lobby.lobbyRoomOf(err(`<lobbyroom xmlns="http://jitsi.org/jitmeet">${lroom}</lobbyroom>`)), lroom);
  assert.equal(lobby.lobbyRoomOf(err(`<lobbyroom>${lroom}</lobbyroom>`)), lroom);
  assert.equal(lobby.lobbyRoomOf(err("")), "", "members-only without a lobby");
  assert.equal(lobby.lobbyRoomOf(err(`<lobbyroom xmlns="http://jitsi.org/jitmeet">not a jid/with resource</lobbyroom>`)), "");
  assert.equal(lobby.lobbyRoomOf(err(`<lobbyroom xmlns="urn:other">${lroom}</lobbyroom>`)), "");
  const notAuth = parse(`<presence type="error" from="${room}/a"><error type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><lobbyroom xmlns="http://jitsi.org/jitmeet">${lroom}</lobbyroom></error></presence>`);
  assert.equal(lobby.lobbyRoomOf(notAuth), "");
  assert.equal(lobby.defaultLobbyRoom(room, "x"), lroom);
});

test("knock, admit, deny, members-only form", () => {
  assert.equal(lobby.knockPresence(lroom, "77aa01bc", "Ada").toString(), `<presence to="${lroom}/77aa01bc"><x xmlns="http://jabber.org/protocol/muc"/><nick xmlns="http://jabber.org/protocol/nick">Ada</nick></presence>`);
  assert.equal(lobby.admitMessage(room, ["a@x/1"]).toString(), `<message to="${room}"><x xmlns="http://jabber.org/protocol/muc#user"><invite to="a@x/1"/></x></message>`);
  assert.equal(lobby.denyIQ(lroom, "77aa01bc").toString(), `<iq type="set" to="${lroom}"><query xmlns="http://jabber.org/protocol/muc#admin"><item nick="77aa01bc" role="none"/></query></iq>`);
  const form = lobby.membersOnlyForm(room, true);
  const fields = Object.fromEntries(form.getChild("query", "http://jabber.org/protocol/muc#owner")!.getChild("x", "jabber:x:data")!.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value")]));
  assert.deepEqual(fields, { FORM_TYPE: "http://jabber.org/protocol/muc#roomconfig", "muc#roomconfig_membersonly": "true" });
  assert.match(lobby.membersOnlyForm(room, false).toString(), /<value>false<\/value>/);
  assert.equal(lobby.membersIQ(room, []), null);
  const m = lobby.membersIQ(room, ["a@x/1", "a@x/2", "b@x/1"])!;
  assert.deepEqual(m.getChild("query")!.getChildren("item").map((i) => `${i.attrs.affiliation} ${i.attrs.jid}`), ["member a@x", "member b@x"]);
});

test("invites only from the main room's bare JID", () => {
  const inv = (from: string, extra = "") => parse(`<message from="${from}"><x xmlns="http://jabber.org/protocol/muc#user"><invite from="mod@x/r"/>${extra}</x><body>join</body></message>`);
  assert.deepEqual(lobby.inviteFrom(inv(room), room), { password: "" });
  assert.deepEqual(lobby.inviteFrom(inv(room, "<password>s3cret</password>"), room), { password: "s3cret" });
  assert.equal(lobby.inviteFrom(inv(`${room}/mallory`), room), null, "an occupant cannot forge the room's invite");
  assert.equal(lobby.inviteFrom(inv("other@conference.x"), room), null);
  assert.equal(lobby.inviteFrom(parse(`<message from="${room}" type="groupchat"><body>hi</body></message>`), room), null);
});

test("room info: members-only and the lobby room", () => {
  const info = lobby.roomAccess(parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info"><feature var="muc_membersonly"/><feature var="muc_passwordprotected"/><x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roominfo</value></field><field var="muc#roominfo_lobbyroom"><value>${lroom}</value></field></x></query></iq>`));
  assert.deepEqual(info, { passwordProtected: true, membersOnly: true, lobbyRoom: lroom });
  assert.deepEqual(lobby.roomAccess(parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info"><feature var="muc_open"/></query></iq>`)), { passwordProtected: false, membersOnly: false, lobbyRoom: "" });
});

test("lobby presences", () => {
  const here = lobby.parseLobbyPresence(parse(`<presence from="${lroom}/77aa01bc"><nick xmlns="http://jabber.org/protocol/nick">Ada</nick><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="77aa01bc-1@x/r"/></x></presence>`), lroom, "me");
  assert.deepEqual(here, { type: "here", id: "77aa01bc", self: false, knocker: { id: "77aa01bc", displayName: "Ada", jid: "77aa01bc-1@x/r" } });
  const long = lobby.parseLobbyPresence(parse(`<presence from="${lroom}/a"><nick xmlns="http://jabber.org/protocol/nick">${"n".repeat(500)}</nick></presence>`), lroom, "me");
  assert.equal(long?.type === "here" && long.knocker.displayName.length, 64);
  const kicked = lobby.parseLobbyPresence(parse(`<presence type="unavailable" from="${lroom}/me"><x xmlns="http://jabber.org/protocol/muc#user"><item role="none"/><status code="307"/><status code="110"/></x></presence>`), lroom, "me");
  assert.deepEqual(kicked, { type: "gone", id: "me", self: true, kicked: true, destroyed: false, to: "" });
  const destroyed = lobby.parseLobbyPresence(parse(`<presence type="unavailable" from="${lroom}/me"><x xmlns="http://jabber.org/protocol/muc#user"><destroy jid="${room}"/></x></presence>`), lroom, "me");
  assert.deepEqual(destroyed, { type: "gone", id: "me", self: true, kicked: false, destroyed: true, to: room });
  assert.equal(lobby.parseLobbyPresence(parse(`<presence from="${room}/a"/>`), lroom, "me"), null);
  assert.equal(lobby.parseLobbyPresence(parse(`<presence from="${lroom}/a"/>`), "", "me"), null);
});
