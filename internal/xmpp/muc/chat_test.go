package muc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// Groupchat is echoed to every occupant, the sender included, with the
// sender's id and one stanza-id assigned by the room; a forged stanza-id
// by the room is dropped; non-occupants are refused.
func TestGroupchat(t *testing.T) {
	srv := start(t, nil)
	a, b, c := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="g1"><body>hello</body>`+
		`<stanza-id xmlns="urn:xmpp:sid:0" id="forged" by="%s"/>`+
		`<json-message xmlns="http://jitsi.org/jitmeet">{"type":"x"}</json-message></message>`, room, room))
	echo := a.ExpectSkip("echo", isGroupchat(room+"/alice", "hello"))
	got := b.ExpectSkip("delivery", isGroupchat(room+"/alice", "hello"))
	for _, m := range []*stanza.Element{echo, got} {
		var ids []string
		for _, ch := range m.Children {
			if ch.Is(muc.NSSID, "stanza-id") {
				ids = append(ids, ch.Get("id")+"@"+ch.Get("by"))
			}
		}
		if len(ids) != 1 || strings.HasPrefix(ids[0], "forged") || !strings.HasSuffix(ids[0], "@"+room) {
			t.Fatalf("stanza-ids %v in %s", ids, m)
		}
		if m.Get("id") != "g1" || m.ChildText("http://jitsi.org/jitmeet", "json-message") != `{"type":"x"}` {
			t.Fatalf("message %s", m)
		}
	}
	if echo.Child(muc.NSSID, "stanza-id").Get("id") != got.Child(muc.NSSID, "stanza-id").Get("id") {
		t.Fatal("echo and delivery carry different stanza-ids")
	}
	c.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="g2"><body>intruder</body></message>`, room))
	c.ExpectSkip("not an occupant", xmpptest.IsError("g2", "not-acceptable"))
}

// History on join: the last messages (config history-length), limited by
// maxstanzas, maxchars, seconds and since, each with a delay stamp; then
// the subject.
func TestHistory(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.HistoryLength = 3 })
	a := guest(t, srv)
	join(t, a, room, "alice")
	for i := 1; i <= 4; i++ {
		a.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>m%d</body></message>`, room, i))
		a.ExpectSkip("echo", isGroupchat(room+"/alice", fmt.Sprintf("m%d", i)))
	}
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>secret</body><no-store xmlns="urn:xmpp:hints"/></message>`, room))
	a.ExpectSkip("echo", isGroupchat(room+"/alice", "secret"))

	history := func(nick, spec string) []string {
		t.Helper()
		c := guest(t, srv)
		c.Send(joinXML(room, nick, spec))
		c.ExpectSkip("self", isSelf(room+"/"+nick))
		var bodies []string
		for {
			el, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			if isSubject(room)(el) {
				return bodies
			}
			if el.Name.Local == "message" {
				d := el.Child("urn:xmpp:delay", "delay")
				if d == nil || d.Get("from") != room || d.Get("stamp") == "" {
					t.Fatalf("history without delay: %s", el)
				}
				bodies = append(bodies, el.ChildText(stanza.NSClient, "body"))
			}
		}
	}
	check := func(nick, spec, want string) {
		t.Helper()
		if got := strings.Join(history(nick, spec), ","); got != want {
			t.Fatalf("history with %q: %q, want %q", spec, got, want)
		}
	}
	check("h1", "", "m2,m3,m4")
	check("h2", `<history maxstanzas="2"/>`, "m3,m4")
	check("h3", `<history maxchars="0"/>`, "")
	check("h4", `<history maxstanzas="0"/>`, "")
	check("h5", `<history seconds="3600"/>`, "m2,m3,m4")
	check("h6", fmt.Sprintf(`<history since="%s"/>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), "")
	// Each history stanza is a few hundred characters: 1 fits, 2 don't.
	check("h7", `<history maxchars="500"/>`, "m4")
}

// The subject: moderators set it, participants may not (by default), and
// joiners get it last.
func TestSubject(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="s0"><subject>mine</subject></message>`, room))
	b.ExpectSkip("forbidden", xmpptest.IsError("s0", "forbidden"))
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="s1"><subject>Planning</subject></message>`, room))
	s := b.ExpectSkip("subject", isSubject(room))
	if s.ChildText(stanza.NSClient, "subject") != "Planning" || s.Get("from") != room+"/alice" {
		t.Fatalf("subject %s", s)
	}
	c := guest(t, srv)
	c.Send(joinXML(room, "carol", ""))
	c.ExpectSkip("self", isSelf(room+"/carol"))
	if got := c.ExpectSkip("subject", isSubject(room)).ChildText(stanza.NSClient, "subject"); got != "Planning" {
		t.Fatalf("joiner got subject %q", got)
	}
	wantResult(t, submit(t, a, room, "cs", map[string]string{"muc#roomconfig_changesubject": "1"}))
	c.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><subject>Carol's</subject></message>`, room))
	a.ExpectSkip("participant's subject", func(e *stanza.Element) bool {
		return isSubject(room)(e) && e.ChildText(stanza.NSClient, "subject") == "Carol's"
	})
}

// Private messages and IQs travel through occupant JIDs, so occupants (and
// the focus) reach each other without knowing real JIDs.
func TestPrivateMessagesAndIQs(t *testing.T) {
	srv := start(t, nil)
	a, b, c := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")

	b.Send(fmt.Sprintf(`<message to="%s/alice" type="chat" id="p1"><body>psst</body></message>`, room))
	pm := a.ExpectSkip("pm", isMessage(room+"/bob", "psst"))
	if pm.Get("type") != "chat" || pm.Get("id") != "p1" || userX(pm) == nil {
		t.Fatalf("pm %s", pm)
	}
	b.Send(fmt.Sprintf(`<message to="%s/nobody" type="chat" id="p2"><body>x</body></message>`, room))
	b.ExpectSkip("no such occupant", xmpptest.IsError("p2", "item-not-found"))
	b.Send(fmt.Sprintf(`<message to="%s/alice" type="groupchat" id="p3"><body>x</body></message>`, room))
	b.ExpectSkip("groupchat to an occupant", xmpptest.IsError("p3", "bad-request"))
	c.Send(fmt.Sprintf(`<message to="%s/alice" type="chat" id="p4"><body>x</body></message>`, room))
	c.ExpectSkip("non-occupant", xmpptest.IsError("p4", "not-acceptable"))

	// An IQ to an occupant JID reaches the real JID; the answer comes back.
	a.Send(fmt.Sprintf(`<iq type="get" id="q1" to="%s/bob"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`, room))
	req := b.ExpectSkip("relayed iq", func(e *stanza.Element) bool { return e.Name.Local == "iq" && e.Get("id") == "q1" })
	if req.Get("from") != room+"/alice" || req.Get("to") != b.JID {
		t.Fatalf("relayed iq %s", req)
	}
	b.Send(fmt.Sprintf(`<iq type="result" id="q1" to="%s/alice"><query xmlns="http://jabber.org/protocol/disco#info"><feature var="urn:xmpp:jingle:1"/></query></iq>`, room))
	res := a.ExpectSkip("answer", xmpptest.IsResult("q1"))
	if res.Get("from") != room+"/bob" {
		t.Fatalf("answer from %q", res.Get("from"))
	}
	wantResult(t, iq(t, a, "get", room+"/alice", "self-ping", `<ping xmlns="urn:xmpp:ping"/>`))
	wantError(t, iq(t, c, "get", room+"/alice", "q2", `<ping xmlns="urn:xmpp:ping"/>`), "not-acceptable")
	wantError(t, iq(t, a, "get", room+"/ghost", "q3", `<ping xmlns="urn:xmpp:ping"/>`), "item-not-found")
}

// Invitations: mediated through the room (with the password, and making
// the invitee a member of a members-only room), declined back to the
// inviter; and direct (XEP-0249), which the server routes like any message.
func TestInvitations(t *testing.T) {
	srv := start(t, nil)
	a, c := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	wantResult(t, submit(t, a, room, "cfg", map[string]string{
		"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "pw", "muc#roomconfig_membersonly": "1",
	}))
	a.Send(fmt.Sprintf(`<message to="%s" id="i1"><x xmlns="%s"><invite to="%s"><reason>join us</reason></invite></x></message>`,
		room, muc.NSUser, c.JID))
	inv := c.ExpectSkip("invitation", func(e *stanza.Element) bool { return e.Name.Local == "message" && e.Get("from") == room })
	x := userX(inv)
	if iv := x.Child(muc.NSUser, "invite"); iv == nil || iv.Get("from") != a.JID || iv.ChildText(muc.NSUser, "reason") != "join us" {
		t.Fatalf("invite %s", inv)
	}
	if x.Child(muc.NSUser, "password") != nil {
		t.Fatalf("the password of a room with a lobby in the invitation: %s", inv)
	}
	// The invitation made c a member: it gets past members-only, and past
	// the password (the lobby's rule: admitted people need none).
	c.Send(joinXML(room, "carol", ""))
	self := c.ExpectSkip("carol in", isSelf(room+"/carol"))
	wantItem(t, self, "member", "participant", c.JID)

	// Decline.
	d := guest(t, srv)
	a.Send(fmt.Sprintf(`<message to="%s"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, d.JID))
	d.ExpectSkip("invitation", func(e *stanza.Element) bool { return e.Get("from") == room && userX(e) != nil })
	d.Send(fmt.Sprintf(`<message to="%s"><x xmlns="%s"><decline to="%s"><reason>busy</reason></decline></x></message>`, room, muc.NSUser, a.JID))
	dec := a.ExpectSkip("decline", func(e *stanza.Element) bool {
		return e.Get("from") == room && userX(e) != nil && userX(e).Child(muc.NSUser, "decline") != nil
	})
	if dl := userX(dec).Child(muc.NSUser, "decline"); dl.ChildText(muc.NSUser, "reason") != "busy" {
		t.Fatalf("decline %s", dec)
	}

	// Participants may not invite into a members-only room.
	c.Send(fmt.Sprintf(`<message to="%s" id="i2"><x xmlns="%s"><invite to="%s"/></x></message>`, room, muc.NSUser, d.JID))
	c.ExpectSkip("forbidden", xmpptest.IsError("i2", "forbidden"))

	// Direct invitation (XEP-0249), also through the occupant JID.
	a.Send(fmt.Sprintf(`<message to="%s"><x xmlns="jabber:x:conference" jid="%s" password="pw" reason="direct"/></message>`, d.JID, room))
	di := d.ExpectSkip("direct invitation", func(e *stanza.Element) bool { return e.Child("jabber:x:conference", "x") != nil })
	if di.Get("from") != a.JID || di.Child("jabber:x:conference", "x").Get("jid") != room {
		t.Fatalf("direct invitation %s", di)
	}
	a.Send(fmt.Sprintf(`<message to="%s/carol"><x xmlns="jabber:x:conference" jid="other@%s"/></message>`, room, service))
	pi := c.ExpectSkip("invitation by pm", func(e *stanza.Element) bool { return e.Child("jabber:x:conference", "x") != nil })
	if pi.Get("from") != room+"/alice" {
		t.Fatalf("invitation by pm %s", pi)
	}
}
