import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import * as muc from "../src/muc";

const room = "standup@conference.localhost";

test("join presence follows dialect §4.1", () => {
  const p = muc.joinPresence(room, "3f2a9c1e", { displayName: "Alice", audioMuted: false, videoMuted: true }, "s3cret");
  assert.equal(p.attrs.to, `${room}/3f2a9c1e`);
  assert.equal(p.getChild("x", muc.NS.muc)?.getChildText("password"), "s3cret");
  assert.equal(p.getChildText("nick", muc.NS.nick), "Alice");
  assert.deepEqual(JSON.parse(p.getChildText("SourceInfo")!), { "3f2a9c1e-a0": { muted: false }, "3f2a9c1e-v0": { muted: true } });
  assert.equal(p.getChildText("audiomuted"), "false");
  assert.equal(p.getChildText("videomuted"), "true");
  // Un-namespaced children stay in jabber:client: no xmlns attribute.
  assert.equal(p.getChild("SourceInfo")?.attrs.xmlns, undefined);
  const noPw = muc.joinPresence(room, "3f2a9c1e", { displayName: "", audioMuted: true, videoMuted: true });
  assert.equal(noPw.getChild("x", muc.NS.muc)?.getChild("password"), undefined);
  assert.equal(noPw.getChild("nick", muc.NS.nick), undefined);
  const upd = muc.updatePresence(room, "3f2a9c1e", { displayName: "A", audioMuted: true, videoMuted: true });
  assert.equal(upd.getChild("x", muc.NS.muc), undefined);
});

test("the meeting URL's region goes into presence as <jitsi_participant_region/> (the focus picks a bridge there)", () => {
  const base = { displayName: "", audioMuted: true, videoMuted: true };
  assert.equal(muc.joinPresence(room, "aa", { ...base, region: "eu" }).getChildText("jitsi_participant_region"), "eu");
  assert.equal(muc.updatePresence(room, "aa", { ...base, region: "eu" }).getChildText("jitsi_participant_region"), "eu");
  assert.equal(muc.joinPresence(room, "aa", base).getChild("jitsi_participant_region"), undefined);
});

test("occupant presence", () => {
  const el = parse(`<presence from="${room}/77aa01bc" to="me@localhost/r"><nick xmlns="http://jabber.org/protocol/nick">Bob</nick>
    <SourceInfo>{"77aa01bc-a0":{"muted":true},"77aa01bc-v0":{"muted":false},"77aa01bc-v1":{"muted":false,"videoType":"desktop"}}</SourceInfo>
    <x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="moderator" jid="bob@localhost/x"/></x></presence>`);
  const ev = muc.parsePresence(el, room, "3f2a9c1e");
  assert.ok(ev && ev.type === "available");
  assert.equal(ev.self, false);
  assert.deepEqual(ev.occupant, { id: "77aa01bc", displayName: "Bob", role: "moderator", affiliation: "owner", audioMuted: true, videoMuted: false, desktop: "77aa01bc-v1", raisedHand: 0, jid: "bob@localhost/x" });
});

test("raised hand: <jitsi_participant_raisedHand> with the time it went up, 0 when lowered (§9)", () => {
  const presence = (value: string) => parse(`<presence from="${room}/77aa01bc"><jitsi_participant_raisedHand>${value}</jitsi_participant_raisedHand><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/></x></presence>`);
  const hand = (value: string) => {
    const ev = muc.parsePresence(presence(value), room, "3f2a9c1e");
    assert.ok(ev && ev.type === "available");
    return ev.occupant.raisedHand;
  };
  assert.equal(hand("1733570000123"), 1733570000123);
  assert.equal(hand("0"), 0);
  assert.equal(hand("true"), -1, "an older client's boolean: raised, time unknown");
  assert.equal(hand("false"), 0);
  assert.equal(hand("soon"), 0);
  assert.equal(hand("-5"), 0);
  // Sent only once the hand has been raised; lowered is "0", as Jitsi Meet sends it.
  const base = { displayName: "A", audioMuted: true, videoMuted: true };
  assert.equal(muc.updatePresence(room, "aa", base).getChild(muc.raisedHandElement), undefined);
  assert.equal(muc.updatePresence(room, "aa", { ...base, raisedHand: 1733570000123 }).getChildText(muc.raisedHandElement), "1733570000123");
  assert.equal(muc.joinPresence(room, "aa", { ...base, raisedHand: 0 }).getChildText(muc.raisedHandElement), "0");
});

test("a token's verified name wins over the self-chosen nick (§10)", () => {
  const el = parse(`<presence from="${room}/77aa01bc" to="me@localhost/r"><nick xmlns="http://jabber.org/protocol/nick">Not Bob</nick>
    <identity><user><id>u1</id><name>Bob Verified</name></user></identity>
    <x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant" jid="bob@localhost/x"/></x></presence>`);
  const ev = muc.parsePresence(el, room, "3f2a9c1e");
  assert.ok(ev && ev.type === "available");
  assert.equal(ev.occupant.displayName, "Bob Verified");
});

test("screen share in SourceInfo (§4.1) and mute requests (§4.7)", () => {
  assert.deepEqual(JSON.parse(muc.sourceInfo("aa", { audioMuted: false, videoMuted: true, sharing: true })), {
    "aa-a0": { muted: false },
    "aa-v0": { muted: true },
    "aa-v1": { muted: false, videoType: "desktop" },
  });
  assert.deepEqual(Object.keys(JSON.parse(muc.sourceInfo("aa", { audioMuted: false, videoMuted: false }))), ["aa-a0", "aa-v0"]);
  assert.equal(muc.desktopSource('{"aa-v0":{"muted":false},"aa-v1":{"muted":false,"videoType":"desktop"}}'), "aa-v1");
  assert.equal(muc.desktopSource('{"aa-v1":{"muted":true,"videoType":"desktop"}}'), "");
  assert.equal(muc.desktopSource('{"aa-v1":{"muted":false}}'), "");
  assert.equal(muc.desktopSource("not json"), "");
  assert.equal(muc.desktopSource(null), "");
  assert.equal(
    muc.muteRequest(room, "77aa01bc", "http://jitsi.org/jitmeet/audio").toString(),
    `<iq type="set" to="${room}/focus"><mute xmlns="http://jitsi.org/jitmeet/audio" jid="${room}/77aa01bc">true</mute></iq>`,
  );
});

test("legacy mute flags when SourceInfo is absent, and self-presence", () => {
  const el = parse(`<presence from="${room.toUpperCase()}/3f2a9c1e"><audiomuted>false</audiomuted><videomuted>true</videomuted>
    <x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/><status code="110"/><status code="201"/></x></presence>`);
  const ev = muc.parsePresence(el, room, "other");
  assert.ok(ev && ev.type === "available");
  assert.equal(ev.self, true);
  assert.ok(ev.codes.has("201"));
  assert.equal(ev.occupant.audioMuted, false);
  assert.equal(ev.occupant.videoMuted, true);
});

test("presences from elsewhere are ignored", () => {
  assert.equal(muc.parsePresence(parse(`<presence from="other@conference.localhost/x"/>`), room, "me"), null);
  assert.equal(muc.parsePresence(parse(`<presence from="${room}"/>`), room, "me"), null);
  assert.equal(muc.parsePresence(parse(`<presence from="${room}/x" type="subscribe"/>`), room, "me"), null);
});

test("unavailable: left, kicked with reason, destroyed", () => {
  const left = muc.parsePresence(parse(`<presence from="${room}/a" type="unavailable"/>`), room, "me");
  assert.ok(left?.type === "unavailable" && left.exit === "left" && !left.self);
  const kicked = muc.parsePresence(
    parse(`<presence from="${room}/me" type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user"><item role="none"><actor nick="boss"/><reason>spam</reason></item><status code="307"/><status code="110"/></x></presence>`),
    room,
    "me",
  );
  assert.ok(kicked?.type === "unavailable");
  assert.deepEqual([kicked.exit, kicked.reason, kicked.actor, kicked.self], ["kicked", "spam", "boss", true]);
  const gone = muc.parsePresence(parse(`<presence from="${room}/me" type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user"><destroy><reason>bye</reason></destroy></x></presence>`), room, "me");
  assert.ok(gone?.type === "unavailable" && gone.exit === "destroyed" && gone.reason === "bye");
});

test("join errors", () => {
  const err = (cond: string, text = "") =>
    muc.parsePresence(
      parse(`<presence from="${room}/me" type="error"><x xmlns="http://jabber.org/protocol/muc"/><error type="auth"><${cond} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>${text ? `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">${text}</text>` : ""}</error></presence>`),
      room,
      "me",
    );
  const cases: [string, muc.JoinErrorKind][] = [
    ["not-authorized", "password"],
    ["service-unavailable", "full"],
    ["forbidden", "banned"],
    ["registration-required", "members-only"],
    ["conflict", "nick-conflict"],
    ["not-allowed", "not-allowed"],
    ["item-not-found", "locked"],
    ["bad-request", "other"],
  ];
  for (const [cond, kind] of cases) {
    const ev = err(cond, "why");
    assert.ok(ev?.type === "error");
    assert.equal(ev.error.kind, kind, cond);
    assert.equal(ev.error.text, "why");
  }
});

test("focus is recognised by real JID or nick", () => {
  const o = { id: "x", displayName: "", role: "moderator", affiliation: "owner", audioMuted: true, videoMuted: true } as muc.Occupant;
  assert.equal(muc.isFocus({ ...o, jid: "focus@auth.localhost/focus" }, ["focus@auth.localhost"]), true);
  assert.equal(muc.isFocus({ ...o, jid: "focus@auth.localhost.evil/x" }, ["focus@auth.localhost"]), false);
  assert.equal(muc.isFocus({ ...o, id: "focus" }, []), true);
});

test("password form (§4.4)", () => {
  const current = muc.formFields(
    parse(`<iq type="result"><query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="form"><field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var="muc#roomconfig_membersonly"><value>1</value></field></x></query></iq>`),
  );
  const iq = muc.passwordForm(room, "pw", current);
  assert.equal(iq.attrs.type, "set");
  const fields = new Map(iq.getChild("query", muc.NS.mucOwner)!.getChild("x", muc.NS.data)!.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value")]));
  assert.equal(iq.getChild("query", muc.NS.mucOwner)!.getChild("x", muc.NS.data)!.attrs.type, "submit");
  assert.deepEqual(Object.fromEntries(fields), {
    FORM_TYPE: "http://jabber.org/protocol/muc#roomconfig",
    "muc#roomconfig_roomsecret": "pw",
    "muc#roomconfig_passwordprotectedroom": "1",
    "muc#roomconfig_whois": "anyone",
    "muc#roomconfig_membersonly": "true",
  });
  const clear = muc.passwordForm(room, "");
  const f2 = clear.getChild("query", muc.NS.mucOwner)!.getChild("x", muc.NS.data)!.getChildren("field");
  assert.equal(f2.find((f) => f.attrs.var === "muc#roomconfig_passwordprotectedroom")?.getChildText("value"), "0");
  assert.equal(f2.length, 4);
});

test("room info lock state", () => {
  assert.equal(muc.isPasswordProtected(parse(`<iq><query xmlns="http://jabber.org/protocol/disco#info"><feature var="muc_passwordprotected"/></query></iq>`)), true);
  assert.equal(muc.isPasswordProtected(parse(`<iq><query xmlns="http://jabber.org/protocol/disco#info"><feature var="muc_unsecured"/></query></iq>`)), false);
});

test("chat messages", () => {
  const g = muc.parseChat(parse(`<message from="${room}/a" type="groupchat" id="m1"><body>hi</body></message>`), room);
  assert.ok(g);
  assert.deepEqual([g.from, g.body, g.private, g.history], ["a", "hi", false, false]);
  const h = muc.parseChat(parse(`<message from="${room}/a" type="groupchat" id="m0"><body>old</body><delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/></message>`), room);
  assert.ok(h?.history);
  assert.equal(h.at.toISOString(), "2026-01-02T03:04:05.000Z");
  const p = muc.parseChat(parse(`<message from="${room}/b" type="chat"><body>psst</body><x xmlns="http://jabber.org/protocol/muc#user"/></message>`), room);
  assert.ok(p?.private);
  assert.equal(muc.parseChat(parse(`<message from="${room}" type="groupchat"><subject>s</subject></message>`), room), null);
  assert.equal(muc.parseChat(parse(`<message from="x@y/z" type="chat"><body>spam</body></message>`), room), null);
  assert.equal(muc.parseChat(parse(`<message from="${room}/a" type="groupchat"><body>  </body></message>`), room), null);
  const pm = muc.privateChat(room, "b", "hey", "id1");
  assert.equal(pm.attrs.to, `${room}/b`);
  assert.equal(pm.attrs.type, "chat");
  assert.ok(pm.getChild("x", muc.NS.mucUser));
  assert.ok(muc.roomStatusCodes(parse(`<message from="${room}" type="groupchat"><x xmlns="http://jabber.org/protocol/muc#user"><status code="104"/></x></message>`), room).has("104"));
});

test("kick (§4.6)", () => {
  const iq = muc.kickIQ(room, "77aa01bc", "spam");
  const item = iq.getChild("query", muc.NS.mucAdmin)!.getChild("item")!;
  assert.deepEqual(item.attrs, { nick: "77aa01bc", role: "none" });
  assert.equal(item.getChildText("reason"), "spam");
  assert.equal(muc.kickIQ(room, "x", "").getChild("query", muc.NS.mucAdmin)!.getChild("item")!.getChild("reason"), undefined);
});
