package focus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// conferenceIQ asks the focus for a conference in room and returns the reply.
func conferenceIQ(t *testing.T, c *xmpptest.Client, room, id string) *stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="set" id="%s" to="focus.localhost"><conference xmlns="%s" room="%s@conference.localhost" machine-uid="m1"/></iq>`, id, nsFocus, room))
	return c.ExpectSkip("conference reply "+id, func(e *stanza.Element) bool { return e.Get("id") == id })
}

func wantReady(t *testing.T, r *stanza.Element) {
	t.Helper()
	if conf := r.Child(nsFocus, "conference"); r.Get("type") != "result" || conf == nil || conf.Get("ready") != "true" {
		t.Fatalf("want ready: %s", r)
	}
}

func wantRefused(t *testing.T, r *stanza.Element, cond, text string) {
	t.Helper()
	se := stanza.ErrorOf(r)
	if r.Get("type") != "error" || se == nil || se.Condition != cond || (text != "" && se.Text != text) {
		t.Fatalf("want %s %q: %s", cond, text, r)
	}
}

// isJoinError matches the presence error for a join of room/nick.
func isJoinError(room, nick, cond string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		se := stanza.ErrorOf(e)
		return e.Name.Local == "presence" && e.Get("type") == "error" &&
			e.Get("from") == room+"@conference.localhost/"+nick && se != nil && se.Condition == cond
	}
}

// A guest who takes the nick "focus" first could hand participants his own
// ICE candidates and fingerprint: clients trust Jingle from room/focus
// (jitsi-dialect.md §5.2). The nick belongs to the focus in every room,
// whoever arrives first and however it is spelt, and the real focus still
// gets in.
func TestGuestCannotPoseAsFocus(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	m := srv.DialWS(t, "")
	m.Login("", "")
	for _, nick := range []string{"focus", "Focus", "FOCUS", "ｆｏｃｕｓ"} {
		m.Send(fmt.Sprintf(`<presence to="trap@conference.localhost/%s"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, nick))
		m.ExpectSkip("refused nick "+nick, isJoinError("trap", nick, "conflict"))
	}
	// In the room under another name, he cannot change to it either, nor
	// ban the focus before it arrives.
	m.Send(`<presence to="trap@conference.localhost/mallory"><x xmlns="http://jabber.org/protocol/muc"/></presence>`)
	m.ExpectSkip("mallory joined", func(e *stanza.Element) bool {
		return e.Get("from") == "trap@conference.localhost/mallory" && e.Get("type") == ""
	})
	m.Send(`<presence to="trap@conference.localhost/focus"/>`)
	m.ExpectSkip("nick change refused", isJoinError("trap", "focus", "conflict"))
	m.Send(`<iq type="set" id="ban" to="trap@conference.localhost"><query xmlns="http://jabber.org/protocol/muc#admin"><item affiliation="outcast" jid="focus@auth.localhost"/></query></iq>`)
	m.ExpectSkip("ban of the focus refused", xmpptest.IsError("ban", "not-allowed"))

	v := srv.DialWS(t, "")
	v.Login("", "")
	si := join(t, v, "trap", "vvvv0001")
	j := si.Child(nsJingle, "jingle")
	if si.Get("from") != "trap@conference.localhost/focus" || j.Get("initiator") != "focus@auth.localhost/focus" {
		t.Fatalf("session-initiate not from the focus: %s", si)
	}
	// Mallory sees the real focus with its real JID, as LJM checks.
	focusPresence := m.ExpectSkip("focus presence", func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == "trap@conference.localhost/focus" && e.Get("type") == ""
	})
	if x := focusPresence.Child("http://jabber.org/protocol/muc#user", "x"); x == nil || x.Child("http://jabber.org/protocol/muc#user", "item").Get("jid") != "focus@auth.localhost/focus" {
		t.Fatalf("focus presence: %s", focusPresence)
	}
}

// On a secure domain the focus applies the rooms' rule: a guest's request
// for a room nobody authenticated has started is not-authorized
// (jitsi-dialect.md §3.3) and creates nothing; once an account holder has
// started it, the guest gets in.
func TestSecureDomainConferenceRequest(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) { c.MUC.RestrictCreation = true })
	srv.AddUser(t, "host", "correct horse")
	g := srv.DialWS(t, "")
	g.Login("", "")
	wantRefused(t, conferenceIQ(t, g, "board", "g1"), "not-authorized", "")
	if n := srv.App.Focus.Conferences(); n != 0 {
		t.Fatalf("%d conferences after a refused request", n)
	}
	if n := srv.App.MUC.Stats().Rooms; n != 0 {
		t.Fatalf("%d rooms after a refused request", n)
	}
	// Walking into the MUC directly does not create it either.
	g.Send(`<presence to="board@conference.localhost/gggg0002"><x xmlns="http://jabber.org/protocol/muc"/></presence>`)
	g.ExpectSkip("direct join refused", isJoinError("board", "gggg0002", "not-allowed"))

	h := srv.DialWS(t, "")
	h.Login("host", "correct horse")
	si := join(t, h, "board", "hhhh0001")
	h.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, si.Get("id"), si.Get("from")))
	r := conferenceIQ(t, g, "board", "g2")
	wantReady(t, r)
	if p := r.Child(nsFocus, "conference").Child(nsFocus, "property"); p == nil || p.Get("name") != "authentication" || p.Get("value") != "true" {
		t.Fatalf("secure domain reply without authentication=true: %s", r)
	}
	join(t, g, "board", "gggg0002")
}

// Conference requests are capped per session, per client address and in
// total, with resource-constraint; a conference nobody joins ends after
// join-within and stops counting, and one somebody joins stops counting at
// once.
func TestConferenceCaps(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.Focus.PendingPerSession = 3
		c.Focus.PendingPerAddress = 5
		c.Focus.MaxConferences = 8
		c.Focus.JoinWithin = time.Second
	})
	login := func(ip string) *xmpptest.Client {
		c := srv.DialTCPFrom(t, ip)
		c.Login("", "")
		return c
	}
	const yours, total = "too many conferences requested that nobody joined", "the server runs too many conferences"
	a, b := login("127.0.0.1"), login("127.0.0.1")
	for i := range 3 {
		wantReady(t, conferenceIQ(t, a, fmt.Sprintf("a%d", i), "a"))
	}
	wantRefused(t, conferenceIQ(t, a, "a3", "a"), "resource-constraint", yours)
	// A request for a running conference is not a new one.
	wantReady(t, conferenceIQ(t, a, "a0", "a"))
	wantReady(t, conferenceIQ(t, b, "b0", "b"))
	wantReady(t, conferenceIQ(t, b, "b1", "b"))
	wantRefused(t, conferenceIQ(t, b, "b2", "b"), "resource-constraint", yours) // the address's 5
	c := login("127.0.0.2")
	for i := range 3 {
		wantReady(t, conferenceIQ(t, c, fmt.Sprintf("c%d", i), "c"))
	}
	d := login("127.0.0.3")
	wantRefused(t, conferenceIQ(t, d, "d0", "d"), "resource-constraint", total)
	if n := srv.App.Focus.Conferences(); n != 8 {
		t.Fatalf("%d conferences, want 8", n)
	}

	// Nobody joins: within join-within every one ends, its room with it,
	// and the requesters may ask again.
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := srv.App.Focus.WaitConferences(ctx, 0); err != nil {
		t.Fatalf("conferences nobody joined still run: %d", srv.App.Focus.Conferences())
	}
	if err := srv.App.MUC.WaitRooms(ctx, 0); err != nil {
		t.Fatalf("rooms of ended conferences remain: %+v", srv.App.MUC.Stats())
	}
	// A joined conference stops counting against its requester.
	join(t, a, "a0", "aaaa0000")
	for i := 1; i < 4; i++ {
		wantReady(t, conferenceIQ(t, a, fmt.Sprintf("a%d", i), "a"))
	}
	wantRefused(t, conferenceIQ(t, a, "a4", "a"), "resource-constraint", yours)
}

// The flood of the report: ten guests from five addresses send 100
// requests each. The focus starts no more than its caps allow, answers every
// other request resource-constraint, and once the unjoined conferences end
// no goroutine of theirs is left.
func TestConferenceFlood(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.Focus.JoinWithin = time.Second
		c.C2S.StanzasPerSec = 0 // the focus's caps, not the stanza budget, are under test
	})
	var clients []*xmpptest.Client
	for i := range 10 {
		c := srv.DialTCPFrom(t, fmt.Sprintf("127.0.0.%d", 10+i/2))
		c.Login("", "")
		clients = append(clients, c)
	}
	before := goleak.IgnoreCurrent()
	for i, c := range clients {
		for j := range 100 {
			c.Send(fmt.Sprintf(`<iq type="set" id="f%d" to="focus.localhost"><conference xmlns="%s" room="flood%d-%d@conference.localhost"/></iq>`, j, nsFocus, i, j))
		}
	}
	lim := config.Default().Focus
	for i, c := range clients {
		ready := 0
		for range 100 {
			r := c.ExpectSkip("flood reply", func(e *stanza.Element) bool { return e.Name.Local == "iq" && e.Get("type") != "get" })
			if r.Get("type") == "result" {
				ready++
			} else {
				wantRefused(t, r, "resource-constraint", "")
			}
		}
		if ready != lim.PendingPerSession {
			t.Errorf("client %d: %d conferences started, want %d", i, ready, lim.PendingPerSession)
		}
	}
	if n, most := srv.App.Focus.Conferences(), 10*lim.PendingPerSession; n > most {
		t.Fatalf("%d conferences, want at most %d", n, most)
	}
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := srv.App.Focus.WaitConferences(ctx, 0); err != nil {
		t.Fatalf("conferences nobody joined still run: %d", srv.App.Focus.Conferences())
	}
	if err := srv.App.MUC.WaitRooms(ctx, 0); err != nil {
		t.Fatalf("rooms of ended conferences remain: %+v", srv.App.MUC.Stats())
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left by the flood: %v", err)
	}
	// Everyone is still served.
	clients[0].Send(`<iq type="get" id="p" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
	clients[0].ExpectSkip("ping", xmpptest.IsResult("p"))
}
