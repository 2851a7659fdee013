// The token, the secure domain's wait, components, end for all and grant moderator (access.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import { componentsFrom, endConferenceMessage, grantOwnerIQ, hostWaitDelay, serviceURL, tokenDisplayName, tokenFromSearch } from "../src/access";
import { conferenceIQ, NS_FOCUS } from "../src/focus";
import { loginFailure, withPrevId } from "../src/xmpp";

test("?jwt= on the meeting URL becomes ?token= on the WebSocket and the conference IQ's token (§10, §3.1)", () => {
  assert.equal(tokenFromSearch("?jwt=eyJ.a.b&lang=en"), "eyJ.a.b");
  assert.equal(tokenFromSearch("?lang=en"), "");
  assert.equal(tokenFromSearch(""), "");
  const url = serviceURL("wss://meet.example/xmpp-websocket", "eyJ.a+b/c", "standup");
  const u = new URL(url);
  assert.equal(u.searchParams.get("token"), "eyJ.a+b/c");
  assert.equal(u.searchParams.get("room"), "standup");
  // Resumption keeps both (previd is added beside them).
  const resumed = new URL(withPrevId(url, "sm1"));
  assert.equal(resumed.searchParams.get("token"), "eyJ.a+b/c");
  assert.equal(resumed.searchParams.get("previd"), "sm1");
  assert.equal(new URL(serviceURL("wss://meet.example/xmpp-websocket", "", "standup")).searchParams.has("token"), false);

  const c = conferenceIQ({ focus: "focus.x", room: "r@conference.x", machineUid: "m", token: "eyJ.a.b" }).getChild("conference", NS_FOCUS)!;
  assert.equal(c.attrs.token, "eyJ.a.b");
  const none = conferenceIQ({ focus: "focus.x", room: "r@conference.x", machineUid: "m" }).getChild("conference", NS_FOCUS)!;
  assert.equal("token" in none.attrs, false);
  assert.doesNotMatch(none.toString(), /token=/);
});

test("a refused login says the server's reason", () => {
  assert.equal(loginFailure("not-allowed", "token expired"), "token expired");
  assert.equal(loginFailure("not-allowed", ""), "the server does not let guests in without a token");
  assert.equal(loginFailure("not-authorized", "  bad\n signature "), "bad signature");
  assert.equal(loginFailure("not-allowed", "token\u0007\u0000 expired"), "token expired");
  assert.equal(loginFailure("temporary-auth-failure", ""), "the login failed (temporary-auth-failure)");
  assert.equal(loginFailure("not-allowed", "x".repeat(5000)).length, 200);
});

test("waiting for the host: 1 s, 2 s, 4 s, 8 s, then every 10 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map((n) => hostWaitDelay(n)), [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
});

test("components from the domain's disco#info (§2.5); end_conference; grant owner (§4.6)", () => {
  const res = parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info">
    <identity category="server" type="im" name="parley"/>
    <identity category="component" type="end_conference" name="endconference.meet.example"/>
    <identity category="component" type="lobbyrooms" name="lobby.meet.example"/>
    <identity category="component" type="end_conference" name="second.meet.example"/>
  </query></iq>`);
  const c = componentsFrom(res);
  assert.equal(c.get("end_conference"), "endconference.meet.example");
  assert.equal(c.get("lobbyrooms"), "lobby.meet.example");
  assert.equal(c.has("im"), false);
  assert.equal(endConferenceMessage("endconference.meet.example").toString(), `<message to="endconference.meet.example"><end_conference/></message>`);
  const g = grantOwnerIQ("r@conference.x", "3f2a9c1e@x/abc");
  const item = g.getChild("query", "http://jabber.org/protocol/muc#admin")!.getChild("item")!;
  assert.deepEqual([g.attrs.type, g.attrs.to, item.attrs.affiliation, item.attrs.jid], ["set", "r@conference.x", "owner", "3f2a9c1e@x"]);
});

test("a token's context.user.name prefills the display name; anything else gives none", () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const tok = (payload: unknown) => `${b64({ alg: "HS256" })}.${b64(payload)}.sig`;
  assert.equal(tokenDisplayName(tok({ context: { user: { name: " Zoë Ålvik " } } })), "Zoë Ålvik");
  assert.equal(tokenDisplayName(tok({ context: { user: { name: 42 } } })), "");
  assert.equal(tokenDisplayName(tok({ room: "*" })), "");
  assert.equal(tokenDisplayName("not a token"), "");
  assert.equal(tokenDisplayName(""), "");
});
