package muc_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// Join order, status codes, items with real JIDs, verbatim presence
// children, presence updates, leaving and a dead connection.
func TestJoinPresenceAndLeave(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)

	// Creation: self-presence with 110, 100 (JIDs visible) and 201, the
	// creator is owner and moderator; then the (empty) subject.
	a.Send(joinXML(room, "alice", ""))
	self := a.Expect("self-presence", isSelf(room+"/alice"))
	for _, code := range []string{"110", "100", "201"} {
		if !hasStatus(self, code) {
			t.Fatalf("self-presence lacks %s: %s", code, self)
		}
	}
	wantItem(t, self, "owner", "moderator", a.JID)
	subj := a.Expect("subject", isSubject(room))
	if subj.ChildText(stanza.NSClient, "subject") != "" || subj.Get("from") != room {
		t.Fatalf("subject %s", subj)
	}

	// The second joiner sees the existing occupant first, then itself, and
	// its presence children reach the others verbatim (a forged item is not
	// among them).
	b.Send(fmt.Sprintf(`<presence to="%s/bob"><x xmlns="%s"/>`+
		`<stats-id>Dora-3Tk</stats-id><nick xmlns="http://jabber.org/protocol/nick">Bob B</nick>`+
		`<SourceInfo>{"bob-a0":{"muted":false}}</SourceInfo>`+
		`<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://jitsi.org/jitsi-meet" ver="x="/>`+
		`<x xmlns="%s"><item affiliation="owner" role="moderator"/></x></presence>`, room, muc.NS, muc.NSUser))
	first := b.Expect("alice's presence", isPresence(room+"/alice"))
	wantItem(t, first, "owner", "moderator", a.JID)
	bself := b.Expect("self-presence", isSelf(room+"/bob"))
	if hasStatus(bself, "201") {
		t.Fatalf("201 on joining an existing room: %s", bself)
	}
	wantItem(t, bself, "none", "participant", b.JID)
	b.Expect("subject", isSubject(room))

	seen := a.Expect("bob's presence", isPresence(room+"/bob"))
	wantItem(t, seen, "none", "participant", b.JID)
	if hasStatus(seen, "110") {
		t.Fatal("110 in someone else's presence")
	}
	if seen.ChildText("", "stats-id") != "Dora-3Tk" || seen.ChildText("http://jabber.org/protocol/nick", "nick") != "Bob B" ||
		seen.ChildText("", "SourceInfo") != `{"bob-a0":{"muted":false}}` || seen.Child("http://jabber.org/protocol/caps", "c").Get("ver") != "x=" {
		t.Fatalf("presence children not passed through: %s", seen)
	}
	if n := len(userX(seen).Children); n != 1 {
		t.Fatalf("forged muc#user content survived: %s", seen)
	}

	// Updates are broadcast to everyone, the sender included.
	b.Send(fmt.Sprintf(`<presence to="%s/bob"><show>away</show><SourceInfo>{}</SourceInfo></presence>`, room))
	up := a.Expect("update", isPresence(room+"/bob"))
	if up.ChildText(stanza.NSClient, "show") != "away" || up.ChildText("", "SourceInfo") != "{}" {
		t.Fatalf("update %s", up)
	}
	b.Expect("own update", isSelf(room+"/bob"))

	// Leaving: unavailable to all, role none, the leaver's status kept.
	b.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/bob"><status>bye</status></presence>`, room))
	gone := a.Expect("bob left", isUnavailable(room+"/bob"))
	wantItem(t, gone, "none", "none", b.JID)
	if gone.ChildText(stanza.NSClient, "status") != "bye" {
		t.Fatalf("leave status lost: %s", gone)
	}
	bye := b.Expect("own unavailable", isUnavailable(room+"/bob"))
	if !hasStatus(bye, "110") {
		t.Fatalf("no 110 on own unavailable: %s", bye)
	}

	// A dead connection reaches the room as unavailable presence.
	c := guest(t, srv)
	join(t, c, room, "carol")
	a.ExpectSkip("carol joined", isPresence(room+"/carol"))
	c.Drop()
	a.ExpectSkip("carol dropped", isUnavailable(room+"/carol"))
}

// A room lives from its first join until its last occupant leaves, and a
// room created again under the same name inherits nothing.
func TestRoomLifecycle(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	wantResult(t, submit(t, a, room, "cfg", map[string]string{
		"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "s3cret",
	}))
	b.Send(joinXML(room, "bob", "<password>s3cret</password>"))
	b.ExpectSkip("bob in", isSelf(room+"/bob"))
	b.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/bob"/>`, room))
	b.ExpectSkip("bob out", isUnavailable(room+"/bob"))
	a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/alice"/>`, room))
	a.ExpectSkip("alice out", isUnavailable(room+"/alice"))
	waitRooms(t, srv, 0)

	// Messages and IQs for a room that does not exist.
	wantError(t, iq(t, b, "get", room, "d1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`), "item-not-found")
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="m1"><body>hi</body></message>`, room))
	b.ExpectSkip("error", func(e *stanza.Element) bool { return e.Get("id") == "m1" && e.Get("type") == "error" })

	// Recreated: b creates it (201), as owner, without any password.
	b.Send(joinXML(room, "bob", ""))
	self := b.ExpectSkip("bob creates", isSelf(room+"/bob"))
	if !hasStatus(self, "201") {
		t.Fatalf("recreated room without 201: %s", self)
	}
	wantItem(t, self, "owner", "moderator", b.JID)
	if st := srv.App.MUC.Stats(); st.Rooms != 1 || st.Occupants != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// When the last owner leaves, ownership passes to the occupant present
// longest (auto-owner), as Jicofo does.
func TestAutoOwner(t *testing.T) {
	srv := start(t, nil)
	a, b, c := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	join(t, c, room, "carol")
	a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/alice"/>`, room))
	p := c.ExpectSkip("bob promoted", func(e *stanza.Element) bool {
		return isPresence(room+"/bob")(e) && e.Get("type") == "" && item(e).Get("affiliation") == "owner"
	})
	wantItem(t, p, "owner", "moderator", b.JID)
}

// Joins that are refused, and why.
func TestJoinErrors(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.MaxOccupants = 10 })
	a, b, c, d := guest(t, srv), guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")

	// The same nick from another session.
	b.Send(joinXML(room, "alice", ""))
	e := b.ExpectSkip("conflict", isPresenceError(room+"/alice", "conflict"))
	if e.Child(muc.NS, "x") == nil {
		t.Fatalf("presence error without the muc element: %s", e)
	}

	// Password: missing and wrong are not-authorized, right is admitted.
	wantResult(t, submit(t, a, room, "cfg", map[string]string{
		"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "pw",
		"muc#roomconfig_maxusers": "3",
	}))
	wantError(t, submit(t, a, room, "cfg1", map[string]string{"muc#roomconfig_maxusers": "11"}), "not-acceptable")
	b.Send(joinXML(room, "bob", ""))
	b.ExpectSkip("no password", isPresenceError(room+"/bob", "not-authorized"))
	b.Send(joinXML(room, "bob", "<password>nope</password>"))
	b.ExpectSkip("wrong password", isPresenceError(room+"/bob", "not-authorized"))
	b.Send(joinXML(room, "bob", "<password>pw</password>"))
	b.ExpectSkip("admitted", isSelf(room+"/bob"))

	// Full: the room takes 3.
	c.Send(joinXML(room, "carol", "<password>pw</password>"))
	c.ExpectSkip("carol in", isSelf(room+"/carol"))
	d.Send(joinXML(room, "dave", "<password>pw</password>"))
	d.ExpectSkip("full", isPresenceError(room+"/dave", "service-unavailable"))

	// Members-only: registration-required (the right password would admit
	// dave as a member: the lobby's rule, lobby_test.go).
	wantResult(t, submit(t, a, room, "cfg2", map[string]string{"muc#roomconfig_membersonly": "1", "muc#roomconfig_maxusers": "10"}))
	d.Send(fmt.Sprintf(`<presence to="%s/dave"><x xmlns="%s"/><nick xmlns="%s">Dave</nick></presence>`, room, muc.NS, muc.NSNick))
	d.ExpectSkip("members only", isPresenceError(room+"/dave", "registration-required"))

	// Missing nick.
	d.Send(`<presence to="other@conference.localhost"><x xmlns="http://jabber.org/protocol/muc"/></presence>`)
	d.ExpectSkip("no nick", isPresenceError("other@conference.localhost", "jid-malformed"))
}

// The secure domain: guests cannot create rooms; authenticated users create
// them and are owners; guests then join as participants.
func TestRestrictCreation(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.RestrictCreation = true })
	srv.AddUser(t, "alice", "secret")
	g := guest(t, srv)
	g.Send(joinXML(room, "guest", ""))
	e := g.ExpectSkip("restricted", isPresenceError(room+"/guest", "not-allowed"))
	if stanza.ErrorOf(e).Text != "Room creation is restricted" {
		t.Fatalf("error text %s", e)
	}
	a := srv.DialTCP(t)
	a.Login("alice", "secret")
	wantItem(t, join(t, a, room, "alice"), "owner", "moderator", a.JID)
	wantItem(t, join(t, g, room, "guest"), "none", "participant", g.JID)
}

// Locked rooms (XEP-0045 §10.1) when configured: others get item-not-found
// until the owner submits the form.
func TestLockOnCreate(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.LockOnCreate = true })
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	b.Send(joinXML(room, "bob", ""))
	b.ExpectSkip("locked", isPresenceError(room+"/bob", "item-not-found"))
	wantResult(t, submit(t, a, room, "unlock", nil))
	join(t, b, room, "bob")
}

// Nick changes: 303 from the old nick naming the new one, then presence
// from the new nick; conflicts refused; the switch turns them off.
func TestNickChange(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	b.Send(fmt.Sprintf(`<presence to="%s/alice"/>`, room))
	b.ExpectSkip("conflict", isPresenceError(room+"/alice", "conflict"))
	b.Send(fmt.Sprintf(`<presence to="%s/robert"/>`, room))
	old := a.ExpectSkip("303", isUnavailable(room+"/bob"))
	if !hasStatus(old, "303") || item(old).Get("nick") != "robert" || item(old).Get("role") != "participant" {
		t.Fatalf("nick change presence %s", old)
	}
	a.ExpectSkip("new nick", isPresence(room+"/robert"))
	own := b.ExpectSkip("own 303", isUnavailable(room+"/bob"))
	if !hasStatus(own, "110") || !hasStatus(own, "303") {
		t.Fatalf("own 303 %s", own)
	}
	b.ExpectSkip("own new nick", isSelf(room+"/robert"))
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>as robert</body></message>`, room))
	a.ExpectSkip("message from new nick", isGroupchat(room+"/robert", "as robert"))

	srv2 := start(t, func(c *muc.Config) { c.NickChange = false })
	c := guest(t, srv2)
	join(t, c, room, "carol")
	c.Send(fmt.Sprintf(`<presence to="%s/caroline"/>`, room))
	c.ExpectSkip("refused", isPresenceError(room+"/caroline", "not-acceptable"))
}

// The focus (focus@auth.<domain>/focus; a stand-in here) bypasses the password, is owner,
// and does not keep a room alive: when the last other occupant leaves, it
// gets the destroy notice.
func TestFocus(t *testing.T) {
	srv := start(t, nil)
	got := make(chan *stanza.Element, 64)
	const focusJID = "focus@auth.localhost/focus"
	srv.App.Router.AddComponent("auth.localhost", componentFunc(func(el *stanza.Element) { got <- el }))
	route := srv.App.Router.Route
	route(stanza.New(stanza.NSClient, "presence", "from", focusJID, "to", room+"/focus").Add(stanza.New(muc.NS, "x")))
	self := expectChan(t, got, "focus self-presence", isSelf(room+"/focus"))
	wantItem(t, self, "owner", "moderator", focusJID)

	a := guest(t, srv)
	self = join(t, a, room, "alice")
	wantItem(t, self, "owner", "moderator", a.JID) // first participant: auto-owner
	wantResult(t, submit(t, a, room, "pw", map[string]string{"muc#roomconfig_roomsecret": "pw", "muc#roomconfig_passwordprotectedroom": "1"}))

	// Jingle-style IQ from the focus to an occupant and back.
	route(stanza.NewIQ("set", "j1", focusJID, room+"/alice", stanza.New("urn:xmpp:jingle:1", "jingle", "action", "session-initiate")))
	in := a.ExpectSkip("jingle", func(e *stanza.Element) bool { return e.Get("id") == "j1" })
	if in.Get("from") != room+"/focus" {
		t.Fatalf("jingle from %q", in.Get("from"))
	}
	a.Send(fmt.Sprintf(`<iq type="result" id="j1" to="%s/focus"/>`, room))
	res := expectChan(t, got, "jingle result", func(e *stanza.Element) bool { return e.Get("id") == "j1" })
	if res.Get("from") != room+"/alice" || res.Get("to") != focusJID {
		t.Fatalf("result %s", res)
	}

	// Leaving and coming back: no password needed.
	route(stanza.New(stanza.NSClient, "presence", "type", "unavailable", "from", focusJID, "to", room+"/focus"))
	a.ExpectSkip("focus left", isUnavailable(room+"/focus"))
	route(stanza.New(stanza.NSClient, "presence", "from", focusJID, "to", room+"/focus").Add(stanza.New(muc.NS, "x")))
	a.ExpectSkip("focus back", isPresence(room+"/focus"))

	a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/alice"/>`, room))
	expectChan(t, got, "destroy", func(e *stanza.Element) bool {
		return isUnavailable(room+"/focus")(e) && userX(e).Child(muc.NSUser, "destroy") != nil
	})
	waitRooms(t, srv, 0)
}

type componentFunc func(*stanza.Element)

func (f componentFunc) Route(el *stanza.Element) { f(el) }

func expectChan(t *testing.T, ch chan *stanza.Element, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	deadline := time.After(xmpptest.Timeout)
	for {
		select {
		case el := <-ch:
			if match(el) {
				return el
			}
		case <-deadline:
			t.Fatalf("waiting for %s: timed out", what)
			return nil
		}
	}
}
