package muc_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const (
	lobbyService = "lobby.localhost"
	lobbyRoom    = "room@lobby.localhost"
)

// knockXML is a join presence to the lobby with a display name (none when
// name is empty) and extra presence children.
func knockXML(nick, name, extra string) string {
	n := ""
	if name != "" {
		n = fmt.Sprintf(`<nick xmlns="%s">%s</nick>`, muc.NSNick, name)
	}
	return fmt.Sprintf(`<presence to="%s/%s"><x xmlns="%s"/>%s%s</presence>`, lobbyRoom, nick, muc.NS, n, extra)
}

// knock enters the lobby and returns the self-presence.
func knock(t *testing.T, c *xmpptest.Client, nick, name string) *stanza.Element {
	t.Helper()
	c.Send(knockXML(nick, name, ""))
	self := c.ExpectSkip("lobby self-presence", isSelf(lobbyRoom+"/"+nick))
	c.ExpectSkip("lobby subject", isSubject(lobbyRoom))
	return self
}

// iqAnd sends an IQ and reads until its answer and one stanza matching each
// of also (which the room may send before or after the answer) arrived.
func iqAnd(t *testing.T, c *xmpptest.Client, typ, to, id, payload string, also ...func(*stanza.Element) bool) (*stanza.Element, []*stanza.Element) {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="%s" to="%s" id="%s">%s</iq>`, typ, to, id, payload))
	var res *stanza.Element
	got := make([]*stanza.Element, len(also))
	missing := len(also) + 1
	for missing > 0 {
		c.ExpectSkip("answer to "+id+" and what comes with it", func(e *stanza.Element) bool {
			if res == nil && e.Name.Local == "iq" && e.Get("id") == id {
				res = e
				missing--
				return true
			}
			for i, m := range also {
				if got[i] == nil && m(e) {
					got[i] = e
					missing--
					return true
				}
			}
			return false
		})
	}
	return res, got
}

// enableLobby makes the room members-only, which opens its lobby; c sees
// the LOBBY-ENABLED notice.
func enableLobby(t *testing.T, c *xmpptest.Client, on bool) map[string]any {
	t.Helper()
	v := map[bool]string{true: "true", false: "false"}[on]
	res, got := iqAnd(t, c, "set", room, "lobby-"+v, fmt.Sprintf(`<query xmlns="%s"><x xmlns="jabber:x:data" type="submit">`+
		`<field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var="muc#roomconfig_membersonly"><value>%s</value></field></x></query>`, muc.NSOwner, v), isNotice("LOBBY-ENABLED"))
	wantResult(t, res)
	n := notice(got[0])
	if n["value"] != on {
		t.Fatalf("LOBBY-ENABLED %v", n)
	}
	return n
}

// notice decodes a lobby-notify json-message; nil if e is none.
func notice(e *stanza.Element) map[string]any {
	if e.Name.Local != "message" || e.Get("type") != "groupchat" {
		return nil
	}
	j := e.Child(muc.NSJitsi, "json-message")
	if j == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(j.Text), &m) != nil || m["type"] != "lobby-notify" {
		return nil
	}
	return m
}

func isNotice(event string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool { n := notice(e); return n != nil && n["event"] == event }
}

// expectBefore reads until good matches and fails if bad matches first.
// Rooms send in order, so a reply the room sends after an event proves the
// event sent nothing matching bad to c.
func expectBefore(t *testing.T, c *xmpptest.Client, what string, good, bad func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	return c.ExpectSkip(what, func(e *stanza.Element) bool {
		if bad(e) {
			t.Fatalf("%s: got what must not come: %s", what, e)
		}
		return good(e)
	})
}

// selfPing is an XEP-0410 ping to one's own lobby occupant JID; its answer
// is a barrier in the room's order.
func selfPing(t *testing.T, c *xmpptest.Client, nick, id string) func(*stanza.Element) bool {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="get" to="%s/%s" id="%s"><ping xmlns="urn:xmpp:ping"/></iq>`, lobbyRoom, nick, id))
	return xmpptest.IsResult(id)
}

func fromLobby(e *stanza.Element) bool { return strings.HasPrefix(e.Get("from"), lobbyRoom) }

// The domain advertises the lobby as Prosody does; the lobby service
// answers disco#info, also on the node stock clients ask.
func TestLobbyDisco(t *testing.T) {
	srv := start(t, nil)
	a := guest(t, srv)
	res := iq(t, a, "get", "localhost", "d1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	wantResult(t, res)
	found := false
	for _, id := range res.Children[0].Children {
		if id.Name.Local == "identity" && id.Get("category") == "component" && id.Get("type") == "lobbyrooms" && id.Get("name") == lobbyService {
			found = true
		}
	}
	if !found {
		t.Fatalf("no lobbyrooms identity on the domain: %s", res)
	}
	for _, node := range []string{"", "lobbyrooms"} {
		res := iq(t, a, "get", lobbyService, "d2"+node, fmt.Sprintf(`<query xmlns="http://jabber.org/protocol/disco#info" node="%s"/>`, node))
		wantResult(t, res)
		if res.Children[0].Child(stanza.NSDiscoInf, "identity") == nil {
			t.Fatalf("lobby disco node %q: %s", node, res)
		}
	}
}

// The whole §4.5 flow: a moderator enables the lobby, a newcomer is told
// where to knock, knocks with a name and an e-mail, the moderator sees it
// and admits it with a mediated invite; the newcomer enters as a member.
func TestLobbyKnockAdmit(t *testing.T) {
	srv := start(t, nil)
	a, b, k := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")

	enableLobby(t, a, true)
	// The configuration change (104), then the notice.
	b.ExpectSkip("104", func(e *stanza.Element) bool { return e.Get("from") == room && hasStatus(e, "104") })
	if n := notice(b.ExpectSkip("LOBBY-ENABLED", isNotice("LOBBY-ENABLED"))); n["value"] != true {
		t.Fatalf("LOBBY-ENABLED %v", n)
	}
	info := iq(t, b, "get", room, "i1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	if v, _ := formValue(info.Children[0].Child("jabber:x:data", "x"), "muc#roominfo_lobbyroom"); v != lobbyRoom {
		t.Fatalf("muc#roominfo_lobbyroom %q in %s", v, info)
	}
	// bob was present when the room closed: a member, he may come back.
	b.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/bob"/>`, room))
	b.ExpectSkip("bob left", isUnavailable(room+"/bob"))
	wantItem(t, join(t, b, room, "bob"), "member", "participant", b.JID)

	// A newcomer without a display name is asked for one.
	k.Send(joinXML(room, "karl", ""))
	e := k.ExpectSkip("display name required", isPresenceError(room+"/karl", "not-acceptable"))
	er := e.Child(stanza.NSClient, "error")
	if er.Get("code") != "406" || er.Child(muc.NSJitsi, "displayname-required") == nil ||
		er.Child(muc.NSJitsi, "displayname-required").Get("lobby") != "true" {
		t.Fatalf("display name error %s", e)
	}
	// With one, he is told where to knock.
	k.Send(fmt.Sprintf(`<presence to="%s/karl"><x xmlns="%s"/><nick xmlns="%s">Karl</nick></presence>`, room, muc.NS, muc.NSNick))
	e = k.ExpectSkip("lobby error", isPresenceError(room+"/karl", "registration-required"))
	er = e.Child(stanza.NSClient, "error")
	if er.Get("type") != "auth" || er.Get("code") != "407" || er.ChildText(muc.NSJitsi, "lobbyroom") != lobbyRoom ||
		e.ChildText(stanza.NSClient, "lobbyroom") != lobbyRoom || e.Child(muc.NS, "x") == nil {
		t.Fatalf("lobby error %s", e)
	}

	// The moderator is an owner in the lobby.
	wantItem(t, knock(t, a, "alice-m", ""), "owner", "moderator", a.JID)
	// Karl knocks; alice sees him, with his real JID, name and e-mail.
	k.Send(knockXML("karl", "Karl", "<email>karl@example.com</email>"))
	self := k.ExpectSkip("karl in the lobby", isSelf(lobbyRoom+"/karl"))
	wantItem(t, self, "none", "participant", k.JID)
	seen := a.ExpectSkip("karl knocks", isPresence(lobbyRoom+"/karl"))
	wantItem(t, seen, "none", "participant", k.JID)
	if seen.ChildText(muc.NSNick, "nick") != "Karl" || seen.ChildText(stanza.NSClient, "email") != "karl@example.com" {
		t.Fatalf("knock %s", seen)
	}

	// Admit: a mediated invite to the main room.
	a.Send(fmt.Sprintf(`<message to="%s"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, k.JID))
	inv := k.ExpectSkip("invitation", func(e *stanza.Element) bool { return e.Get("from") == room && userX(e) != nil })
	if iv := userX(inv).Child(muc.NSUser, "invite"); iv == nil || iv.Get("from") != a.JID {
		t.Fatalf("invitation %s", inv)
	}
	n := notice(a.ExpectSkip("granted", isNotice("LOBBY-ACCESS-GRANTED")))
	if n["value"] != lobbyRoom+"/karl" || n["name"] != "Karl" {
		t.Fatalf("LOBBY-ACCESS-GRANTED %v", n)
	}
	// Only moderators hear who was admitted: bob's next message from the
	// room is his own echo.
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>hi</body></message>`, room))
	expectBefore(t, b, "bob's echo", isGroupchat(room+"/bob", "hi"), isNotice("LOBBY-ACCESS-GRANTED"))

	wantItem(t, join(t, k, room, "karl"), "member", "participant", k.JID)
}

// Deny: a moderator kicks the knocker from the lobby; the knocker gets
// 307, the moderators LOBBY-ACCESS-DENIED, and the door stays shut.
func TestLobbyDeny(t *testing.T) {
	srv := start(t, nil)
	a, k := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	enableLobby(t, a, true)
	knock(t, a, "alice-m", "")
	knock(t, k, "karl", "Karl")
	a.ExpectSkip("karl knocks", isPresence(lobbyRoom+"/karl"))

	res, got := iqAnd(t, a, "set", lobbyRoom, "deny", `<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="karl" role="none"><reason>not today</reason></item></query>`,
		isUnavailable(lobbyRoom+"/karl"), isNotice("LOBBY-ACCESS-DENIED"))
	wantResult(t, res)
	out := k.ExpectSkip("denied", isUnavailable(lobbyRoom+"/karl"))
	if !hasStatus(out, "110") || !hasStatus(out, "307") || item(out).ChildText(muc.NSUser, "reason") != "not today" {
		t.Fatalf("denial %s", out)
	}
	if !hasStatus(got[0], "307") || hasStatus(got[0], "110") {
		t.Fatalf("moderator sees %s", got[0])
	}
	n := notice(got[1])
	if n["value"] != lobbyRoom+"/karl" || n["name"] != "Karl" {
		t.Fatalf("LOBBY-ACCESS-DENIED %v", n)
	}
	k.Send(fmt.Sprintf(`<presence to="%s/karl"><x xmlns="%s"/><nick xmlns="%s">Karl</nick></presence>`, room, muc.NS, muc.NSNick))
	k.ExpectSkip("still outside", isPresenceError(room+"/karl", "registration-required"))
	// A moderator cannot be denied, nor can an absent nick.
	wantError(t, iq(t, a, "set", lobbyRoom, "d2", `<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="alice-m" role="none"/></query>`), "not-allowed")
	wantError(t, iq(t, a, "set", lobbyRoom, "d3", `<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="ghost" role="none"/></query>`), "item-not-found")
}

// Knockers see only themselves; moderators see knockers but not each
// other. Lobby chat (§4.5 point 5) runs between knockers and moderators
// only.
func TestLobbyVisibilityAndChat(t *testing.T) {
	srv := start(t, nil)
	a, m, k1, k2 := guest(t, srv), guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, m, room, "mod")
	wantResult(t, iq(t, a, "set", room, "own", fmt.Sprintf(`<query xmlns="%s"><item affiliation="owner" jid="%s"/></query>`, muc.NSAdmin, m.JID)))
	enableLobby(t, a, true)
	knock(t, a, "alice-m", "")
	knock(t, k1, "k1", "One")
	a.ExpectSkip("k1 knocks", isPresence(lobbyRoom+"/k1"))
	knock(t, k2, "k2", "Two")
	a.ExpectSkip("k2 knocks", isPresence(lobbyRoom+"/k2"))
	// A moderator joining later gets the knockers first.
	m.Send(knockXML("mod-m", "", ""))
	m.ExpectSkip("k1 for the late moderator", isPresence(lobbyRoom+"/k1"))
	m.ExpectSkip("k2 for the late moderator", isPresence(lobbyRoom+"/k2"))
	wantItem(t, m.ExpectSkip("mod in the lobby", isSelf(lobbyRoom+"/mod-m")), "owner", "moderator", m.JID)

	// k1 saw nobody: not k2, not the moderators.
	expectBefore(t, k1, "k1 barrier", selfPing(t, k1, "k1", "p1"), func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && fromLobby(e) && e.Get("from") != lobbyRoom+"/k1"
	})
	// alice did not see the other moderator.
	a.Send(fmt.Sprintf(`<iq type="get" to="%s/alice-m" id="p2"><ping xmlns="urn:xmpp:ping"/></iq>`, lobbyRoom))
	expectBefore(t, a, "alice barrier", xmpptest.IsResult("p2"), isPresence(lobbyRoom+"/mod-m"))

	// A knocker's groupchat reaches the moderators only, not echoed.
	json1 := `<json-message xmlns="http://jitsi.org/jitmeet">{"type":"lobby-chat","message":"let me in"}</json-message>`
	k1.Send(fmt.Sprintf(`<message to="%s" type="groupchat">%s<body>let me in</body></message>`, lobbyRoom, json1))
	got := a.ExpectSkip("knocker chat", isGroupchat(lobbyRoom+"/k1", "let me in"))
	if got.Child(muc.NSJitsi, "json-message") == nil {
		t.Fatalf("json-message lost: %s", got)
	}
	m.ExpectSkip("knocker chat to the other moderator", isGroupchat(lobbyRoom+"/k1", "let me in"))
	expectBefore(t, k2, "k2 barrier", selfPing(t, k2, "k2", "p3"), isGroupchat(lobbyRoom+"/k1", "let me in"))
	expectBefore(t, k1, "k1 no echo", selfPing(t, k1, "k1", "p4"), isGroupchat(lobbyRoom+"/k1", "let me in"))

	// A moderator's groupchat reaches everyone in the lobby.
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>one moment</body></message>`, lobbyRoom))
	for _, c := range []*xmpptest.Client{a, m, k1, k2} {
		c.ExpectSkip("moderator chat", isGroupchat(lobbyRoom+"/alice-m", "one moment"))
	}
	// Private: knocker ↔ moderator both ways; knocker → knocker refused.
	k1.Send(fmt.Sprintf(`<message to="%s/alice-m" type="chat"><body>psst</body></message>`, lobbyRoom))
	a.ExpectSkip("private from k1", isMessage(lobbyRoom+"/k1", "psst"))
	a.Send(fmt.Sprintf(`<message to="%s/k1" type="chat">%s<body>yes?</body></message>`, lobbyRoom, json1))
	k1.ExpectSkip("private from alice", isMessage(lobbyRoom+"/alice-m", "yes?"))
	k1.Send(fmt.Sprintf(`<message to="%s/k2" type="chat" id="kk"><body>hi</body></message>`, lobbyRoom))
	k1.ExpectSkip("knockers apart", xmpptest.IsError("kk", "forbidden"))
	expectBefore(t, k2, "k2 barrier 2", selfPing(t, k2, "k2", "p5"), isMessage(lobbyRoom+"/k1", "hi"))

	// A knocker who leaves is seen leaving by the moderators only.
	k2.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/k2"/>`, lobbyRoom))
	k2.ExpectSkip("k2 left", isUnavailable(lobbyRoom+"/k2"))
	a.ExpectSkip("k2 left, for alice", isUnavailable(lobbyRoom+"/k2"))
	expectBefore(t, k1, "k1 barrier 3", selfPing(t, k1, "k1", "p6"), isUnavailable(lobbyRoom+"/k2"))
	// A knocker whose connection drops leaves the lobby.
	k1.Drop()
	a.ExpectSkip("k1 dropped", isUnavailable(lobbyRoom+"/k1"))
}

// Turning the lobby off sends the knockers the destroy presence naming the
// main room, which they may now enter; knocking at a room without a lobby
// is a clear error.
func TestLobbyDisable(t *testing.T) {
	srv := start(t, nil)
	a, k := guest(t, srv), guest(t, srv)
	k.Send(knockXML("karl", "Karl", ""))
	if e := k.ExpectSkip("no room", isPresenceError(lobbyRoom+"/karl", "item-not-found")); stanza.ErrorOf(e).Text != "this room has no lobby" {
		t.Fatalf("no room: %s", e)
	}
	join(t, a, room, "alice")
	k.Send(knockXML("karl", "Karl", ""))
	k.ExpectSkip("no lobby", isPresenceError(lobbyRoom+"/karl", "item-not-found"))

	enableLobby(t, a, true)
	knock(t, k, "karl", "Karl")
	enableLobby(t, a, false)
	out := k.ExpectSkip("lobby closed", isUnavailable(lobbyRoom+"/karl"))
	if d := userX(out).Child(muc.NSUser, "destroy"); d == nil || d.Get("jid") != room {
		t.Fatalf("destroy %s", out)
	}
	info := iq(t, a, "get", room, "i1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	if _, ok := formValue(info.Children[0].Child("jabber:x:data", "x"), "muc#roominfo_lobbyroom"); ok {
		t.Fatalf("lobby still advertised: %s", info)
	}
	wantItem(t, join(t, k, room, "karl"), "none", "participant", k.JID)
	k.Send(knockXML("karl2", "Karl", ""))
	k.ExpectSkip("lobby gone", isPresenceError(lobbyRoom+"/karl2", "item-not-found"))
}

// When the main room ends, its lobby goes too: knockers get the destroy
// presence and nothing is left behind.
func TestLobbyEndsWithRoom(t *testing.T) {
	srv := start(t, nil)
	a, k := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	enableLobby(t, a, true)
	knock(t, a, "alice-m", "")
	knock(t, k, "karl", "Karl")
	a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/alice"/>`, room))
	out := k.ExpectSkip("lobby destroyed", isUnavailable(lobbyRoom+"/karl"))
	if d := userX(out).Child(muc.NSUser, "destroy"); d == nil || d.Get("jid") != "" {
		t.Fatalf("destroy %s", out)
	}
	a.ExpectSkip("alice's lobby seat gone too", isUnavailable(lobbyRoom+"/alice-m"))
	waitRooms(t, srv, 0)
	if st := srv.App.MUC.Stats(); st.Occupants != 0 || st.Tracked != 0 {
		t.Fatalf("left behind: %+v", st)
	}
	// A new room of the same name has no lobby.
	join(t, a, room, "alice")
	k.Send(knockXML("karl", "Karl", ""))
	k.ExpectSkip("no lobby", isPresenceError(lobbyRoom+"/karl", "item-not-found"))
}

// The room password still opens the door (as a member, throttled like any
// password); admitted people need no password.
func TestLobbyPassword(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.PasswordBurst = 2 })
	a, p, k, w := guest(t, srv), guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	wantResult(t, submit(t, a, room, "pw", map[string]string{
		"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "pw", "muc#roomconfig_membersonly": "1",
	}))
	p.Send(joinXML(room, "pat", "<password>pw</password>"))
	wantItem(t, p.ExpectSkip("pat in by password", isSelf(room+"/pat")), "member", "participant", p.JID)

	// Admitted from the lobby: in without the password.
	knock(t, k, "karl", "Karl")
	a.Send(fmt.Sprintf(`<message to="%s"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, k.JID))
	k.ExpectSkip("invitation", func(e *stanza.Element) bool { return e.Get("from") == room && userX(e) != nil })
	wantItem(t, join(t, k, room, "karl"), "member", "participant", k.JID)

	// Wrong passwords: the lobby answer, then the throttle.
	nick := fmt.Sprintf(`<nick xmlns="%s">W</nick>`, muc.NSNick)
	for i := range 2 {
		w.Send(fmt.Sprintf(`<presence to="%s/w"><x xmlns="%s"><password>no%d</password></x>%s</presence>`, room, muc.NS, i, nick))
		w.ExpectSkip("wrong password", isPresenceError(room+"/w", "registration-required"))
	}
	w.Send(fmt.Sprintf(`<presence to="%s/w"><x xmlns="%s"><password>pw</password></x>%s</presence>`, room, muc.NS, nick))
	w.ExpectSkip("throttled", isPresenceError(room+"/w", "not-authorized"))
}

// Hostile: a participant enabling the lobby or changing affiliations, a
// knocker admitting himself or denying others, a knocker's lobby groupchat
// into the main room.
func TestLobbyHostileControl(t *testing.T) {
	srv := start(t, nil)
	a, b, k, k2 := guest(t, srv), guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	wantError(t, submit(t, b, room, "en", map[string]string{"muc#roomconfig_membersonly": "true"}), "forbidden")
	info := iq(t, b, "get", room, "i1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	if _, ok := formValue(info.Children[0].Child("jabber:x:data", "x"), "muc#roominfo_lobbyroom"); ok {
		t.Fatalf("a participant opened the lobby: %s", info)
	}
	k.Send(knockXML("karl", "Karl", ""))
	k.ExpectSkip("no lobby", isPresenceError(lobbyRoom+"/karl", "item-not-found"))

	enableLobby(t, a, true)
	wantError(t, iq(t, b, "set", room, "aff", fmt.Sprintf(`<query xmlns="%s"><item affiliation="member" jid="%s"/></query>`, muc.NSAdmin, k.JID)), "forbidden")
	knock(t, k, "karl", "Karl")
	knock(t, k2, "kate", "Kate")

	// The knocker invites himself: forbidden, and no membership.
	k.Send(fmt.Sprintf(`<message to="%s" id="self"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, k.JID))
	k.ExpectSkip("self-invite", xmpptest.IsError("self", "forbidden"))
	k.Send(fmt.Sprintf(`<message to="%s" id="self2"><x xmlns="%s"><invite to="%s"/></x></message>`, lobbyRoom, muc.NSUser, k.JID))
	k.ExpectSkip("invite in the lobby", xmpptest.IsError("self2", "bad-request"))
	// A participant may not admit either.
	b.Send(fmt.Sprintf(`<message to="%s" id="binv"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, k.JID))
	b.ExpectSkip("participant invite", xmpptest.IsError("binv", "forbidden"))
	wantError(t, iq(t, k, "set", room, "aff2", fmt.Sprintf(`<query xmlns="%s"><item affiliation="member" jid="%s"/></query>`, muc.NSAdmin, k.JID)), "forbidden")
	// Nor deny others, nor configure the lobby.
	wantError(t, iq(t, k, "set", lobbyRoom, "kick", `<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="kate" role="none"/></query>`), "forbidden")
	wantError(t, iq(t, b, "set", lobbyRoom, "kick2", `<query xmlns="http://jabber.org/protocol/muc#admin"><item nick="kate" role="none"/></query>`), "forbidden")
	wantError(t, iq(t, k, "set", lobbyRoom, "own", `<query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="submit"/></query>`), "not-allowed")
	// Groupchat to the main room from the lobby: not an occupant.
	k.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="gc"><body>hi</body></message>`, room))
	k.ExpectSkip("not an occupant", xmpptest.IsError("gc", "not-acceptable"))
	k.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="subj"><subject>mine</subject></message>`, lobbyRoom))
	k.ExpectSkip("no lobby subject", xmpptest.IsError("subj", "forbidden"))

	k.Send(fmt.Sprintf(`<presence to="%s/karl"><x xmlns="%s"/><nick xmlns="%s">Karl</nick></presence>`, room, muc.NS, muc.NSNick))
	k.ExpectSkip("still outside", isPresenceError(room+"/karl", "registration-required"))
}

// Hostile display names: over the bound (up to the biggest stanza the
// server reads), with bidi controls, or missing, are refused; a knocker's
// later presence cannot sneak one in either.
func TestLobbyDisplayNames(t *testing.T) {
	srv := start(t, nil)
	a, k := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	enableLobby(t, a, true)
	knock(t, a, "alice-m", "")

	for i, name := range []string{
		strings.Repeat("n", muc.MaxDisplayNameBytes+1),
		strings.Repeat("n", 250_000), // just under the 256 KiB stanza cap
		"evil\u202Eexe",
		"",
	} {
		k.Send(knockXML(fmt.Sprint("k", i), name, ""))
		e := k.ExpectSkip("refused", isPresenceError(fmt.Sprint(lobbyRoom, "/k", i), "not-acceptable"))
		if name == "" && e.Child(stanza.NSClient, "error").Child(muc.NSJitsi, "displayname-required") == nil {
			t.Fatalf("missing name: %s", e)
		}
	}
	// A nick (the resource) past max-nick-bytes.
	k.Send(knockXML(strings.Repeat("r", 65), "R", ""))
	k.ExpectSkip("long resource", isPresenceError(lobbyRoom+"/"+strings.Repeat("r", 65), "not-acceptable"))
	k.Send(knockXML("k", "K", "<email>"+strings.Repeat("e", muc.MaxEmailBytes+1)+"</email>"))
	k.ExpectSkip("long email", isPresenceError(lobbyRoom+"/k", "not-acceptable"))

	// At the bound: in. Then an update past it is refused and changes nothing.
	ok := strings.Repeat("é", muc.MaxDisplayNameBytes/2)
	knock(t, k, "k", ok)
	if got := a.ExpectSkip("knock", isPresence(lobbyRoom+"/k")); got.ChildText(muc.NSNick, "nick") != ok {
		t.Fatalf("name %s", got)
	}
	k.Send(knockXML("k", strings.Repeat("x", 100_000), ""))
	k.ExpectSkip("long update", isPresenceError(lobbyRoom+"/k", "not-acceptable"))
	a.Send(fmt.Sprintf(`<iq type="get" to="%s/alice-m" id="b1"><ping xmlns="urn:xmpp:ping"/></iq>`, lobbyRoom))
	expectBefore(t, a, "barrier", xmpptest.IsResult("b1"), isPresence(lobbyRoom+"/k"))
	// Only the name and e-mail are relayed, rebuilt.
	k.Send(knockXML("k", "Kay", `<email>k@example.com</email><status>`+strings.Repeat("s", 1000)+`</status><c xmlns="http://jabber.org/protocol/caps"/>`))
	got := a.ExpectSkip("update", isPresence(lobbyRoom+"/k"))
	for _, c := range got.Children {
		if !c.Is(muc.NSNick, "nick") && !c.Is(stanza.NSClient, "email") && !c.Is(muc.NSUser, "x") {
			t.Fatalf("relayed %s", c)
		}
	}
}

// A knock flood: the lobby holds at most max-occupants knockers, one
// connection knocks at most rooms-per-connection times, and a knocker's
// presence burst reaches the moderators coalesced.
func TestLobbyKnockFlood(t *testing.T) {
	srv := start(t, func(c *muc.Config) {
		c.MaxOccupants, c.PresencesPerSecond, c.PresenceBurst, c.RoomsPerConnection = 3, 5, 1, 2
	})
	a := guest(t, srv)
	join(t, a, room, "alice")
	enableLobby(t, a, true)
	knock(t, a, "alice-m", "") // alice's second seat
	// A lobby seat is a seat: a connection in two rooms cannot knock.
	x := guest(t, srv)
	join(t, x, "r2@"+service, "x")
	join(t, x, "r3@"+service, "x")
	x.Send(knockXML("x", "X", ""))
	x.ExpectSkip("too many rooms", isPresenceError(lobbyRoom+"/x", "resource-constraint"))
	ks := make([]*xmpptest.Client, 4)
	for i := range ks {
		ks[i] = guest(t, srv)
	}
	for i := range 3 {
		knock(t, ks[i], fmt.Sprint("k", i), "K")
	}
	ks[3].Send(knockXML("k3", "K", ""))
	if e := ks[3].ExpectSkip("lobby full", isPresenceError(lobbyRoom+"/k3", "service-unavailable")); stanza.ErrorOf(e).Text != "the lobby is full" {
		t.Fatalf("full: %s", e)
	}
	// The moderator is not counted among the knockers; a leaving knocker
	// frees a seat.
	ks[0].Send(fmt.Sprintf(`<presence type="unavailable" to="%s/k0"/>`, lobbyRoom))
	ks[0].ExpectSkip("k0 left", isUnavailable(lobbyRoom+"/k0"))
	knock(t, ks[3], "k3", "K")

	// Presence burst from one knocker: coalesced.
	for i := 1; i <= 20; i++ {
		ks[1].Send(knockXML("k1", fmt.Sprint("K", i), ""))
	}
	var seen []string
	a.ExpectSkip("latest name", func(e *stanza.Element) bool {
		if !isPresence(lobbyRoom + "/k1")(e) {
			return false
		}
		seen = append(seen, e.ChildText(muc.NSNick, "nick"))
		return seen[len(seen)-1] == "K20"
	})
	if len(seen) >= 20 {
		t.Fatalf("names seen %v: not coalesced", seen)
	}
	// Lobby seats are counted like room seats.
	st := srv.App.MUC.Stats()
	if st.Occupants != 1+1+3+2 { // alice in the room and the lobby, three knockers, x in r2 and r3
		t.Fatalf("stats %+v", st)
	}
}
