package muc_test

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// Messages beyond an occupant's budget are refused with policy-violation.
func TestMessageRate(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.MessagesPerSecond, c.MessageBurst = 0.01, 2 })
	a := guest(t, srv)
	join(t, a, room, "alice")
	for i := 1; i <= 2; i++ {
		a.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>%d</body></message>`, room, i))
		a.ExpectSkip("echo", isGroupchat(room+"/alice", fmt.Sprint(i)))
	}
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="m3"><body>3</body></message>`, room))
	e := a.ExpectSkip("throttled", xmpptest.IsError("m3", "policy-violation"))
	if stanza.ErrorOf(e).Type != "wait" {
		t.Fatalf("error type %s", e)
	}
	a.Send(fmt.Sprintf(`<message to="%s/alice" type="chat" id="m4"><body>pm</body></message>`, room))
	a.ExpectSkip("pm throttled too", xmpptest.IsError("m4", "policy-violation"))
}

// A key leader seals an epoch to every member at once: private messages that
// carry only end-to-end encryption keys have a budget of their own, while a
// body, or a groupchat that fans out, still takes the message budget.
func TestKeyMessagesHaveTheirOwnBudget(t *testing.T) {
	srv := start(t, func(c *muc.Config) {
		c.MessagesPerSecond, c.MessageBurst = 0.01, 2
		c.KeyMessagesPerSecond, c.KeyMessageBurst = 0.01, 20
	})
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	a.ExpectSkip("bob joined", isPresence(room+"/bob"))
	seal := fmt.Sprintf(`<e2ee-key xmlns="%s" epoch="%%d" enc="AAAA" ct="BBBB"/>`, muc.NSE2EE)
	for i := 1; i <= 20; i++ {
		a.Send(fmt.Sprintf(`<message to="%s/bob" type="chat" id="k%d">`+seal+`</message>`, room, i, i))
	}
	for i := 1; i <= 20; i++ {
		b.ExpectSkip(fmt.Sprintf("seal %d", i), func(e *stanza.Element) bool {
			k := e.Child(muc.NSE2EE, "e2ee-key")
			return k != nil && k.Get("epoch") == fmt.Sprint(i)
		})
	}
	a.Send(fmt.Sprintf(`<message to="%s/bob" type="chat" id="k21">`+seal+`</message>`, room, 21))
	a.ExpectSkip("the key budget spent", xmpptest.IsError("k21", "policy-violation"))
	// Keys with a body ride on the message budget, which is untouched: two go, the third not.
	for i := 1; i <= 3; i++ {
		a.Send(fmt.Sprintf(`<message to="%s/bob" type="chat" id="b%d"><body>hi</body>`+seal+`</message>`, room, i, i))
	}
	b.ExpectSkip("a message with a body", func(e *stanza.Element) bool { return e.Child(stanza.NSClient, "body") != nil })
	a.ExpectSkip("the message budget spent", xmpptest.IsError("b3", "policy-violation"))
}

// Presence beyond the budget is coalesced: the others see the first update
// at once and the latest state later, not every intermediate one.
func TestPresenceCoalescing(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.PresencesPerSecond, c.PresenceBurst = 5, 1 })
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob") // the join itself does not spend the budget
	a.ExpectSkip("bob joined", isPresence(room+"/bob"))
	for i := 1; i <= 6; i++ {
		b.Send(fmt.Sprintf(`<presence to="%s/bob"><status>%d</status></presence>`, room, i))
	}
	var seen []string
	a.ExpectSkip("latest state", func(e *stanza.Element) bool {
		if !isPresence(room + "/bob")(e) {
			return false
		}
		s := e.ChildText(stanza.NSClient, "status")
		seen = append(seen, s)
		return s == "6"
	})
	if len(seen) >= 6 || seen[0] != "1" {
		t.Fatalf("presences seen %v: not coalesced", seen)
	}
	// Leaving is never throttled.
	b.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/bob"/>`, room))
	a.ExpectSkip("bob left", isUnavailable(room+"/bob"))
}

// One connection may be in at most rooms-per-connection rooms.
func TestRoomsPerConnection(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.RoomsPerConnection = 2 })
	a := guest(t, srv)
	join(t, a, "r1@"+service, "a")
	join(t, a, "r2@"+service, "a")
	a.Send(joinXML("r3@"+service, "a", ""))
	a.ExpectSkip("too many rooms", isPresenceError("r3@"+service+"/a", "resource-constraint"))
	a.Send(fmt.Sprintf(`<presence type="unavailable" to="r1@%s/a"/>`, service))
	a.ExpectSkip("left r1", isUnavailable("r1@"+service+"/a"))
	join(t, a, "r3@"+service, "a")
}

// Hostile nicknames (threats §5.1 item 8) are refused; ordinary ones pass.
func TestHostileNicks(t *testing.T) {
	srv := start(t, nil)
	a := guest(t, srv)
	for _, nick := range []string{
		"evil\u202Eexe.txt", // right-to-left override
		"zero\u200Bwidth",   // zero-width space
		"\u2066isolate",     // bidi isolate
		"line\u2028sep",     // line separator
		"\u3164",            // Hangul filler: looks empty
		"a/b",               // '/' inside the resource
		strings.Repeat("n", 65),
		strings.Repeat("\u00e9", 40), // 80 bytes
		"   ",
		"\u0085next", // C1 control
	} {
		a.Send(joinXML(room, nick, ""))
		e := a.ExpectSkip("refusal of "+fmt.Sprintf("%q", nick), func(e *stanza.Element) bool {
			return e.Name.Local == "presence" && (e.Get("type") == "error" || isSelf(room+"/"+nick)(e))
		})
		if e.Get("type") != "error" {
			t.Fatalf("nick %q admitted", nick)
		}
		if c := stanza.ErrorOf(e).Condition; c != "not-acceptable" && c != "jid-malformed" {
			t.Fatalf("nick %q: %s", nick, e)
		}
	}
	if st := srv.App.MUC.Stats(); st.Rooms != 0 || st.Occupants != 0 {
		t.Fatalf("refused joins left %+v", st)
	}
	for i, nick := range []string{"3f2a9c1e", "Dr. Bob Smith", "@at", "日本語", "O'Brien & co"} {
		r := fmt.Sprintf("ok%d@%s", i, service)
		esc := strings.NewReplacer("&", "&amp;", "'", "&apos;").Replace(nick)
		a.Send(joinXML(r, esc, ""))
		a.ExpectSkip(fmt.Sprintf("%q admitted", nick), isSelf(r+"/"+nick))
		a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s/%s"/>`, r, esc))
		a.ExpectSkip("left", isUnavailable(r+"/"+nick))
	}
}

// Failed room passwords are throttled per client address: with the bucket empty,
// even the right password is refused.
func TestPasswordThrottle(t *testing.T) {
	srv := start(t, func(c *muc.Config) { c.PasswordAttemptsPerMinute, c.PasswordBurst = 0.01, 2 })
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	wantResult(t, submit(t, a, room, "pw", map[string]string{"muc#roomconfig_roomsecret": "right", "muc#roomconfig_passwordprotectedroom": "1"}))
	for i := 0; i < 2; i++ {
		b.Send(joinXML(room, "bob", "<password>wrong</password>"))
		b.ExpectSkip("wrong", isPresenceError(room+"/bob", "not-authorized"))
	}
	b.Send(joinXML(room, "bob", "<password>right</password>"))
	e := b.ExpectSkip("throttled", isPresenceError(room+"/bob", "not-authorized"))
	if !strings.Contains(stanza.ErrorOf(e).Text, "too many") {
		t.Fatalf("throttle %s", e)
	}
	if st := srv.App.MUC.Stats(); st.Throttled != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Another client machine is not affected (the throttle is per IP).
	c := srv.DialTCPFrom(t, "127.0.0.2")
	c.Login("", "")
	c.Send(joinXML(room, "carol", "<password>right</password>"))
	c.ExpectSkip("carol in", isSelf(room+"/carol"))
}

// A hundred occupants joining a shared room and a room each, then leaving
// (half by unavailable presence, half by dropping the connection), leave no
// room, goroutine or map entry behind.
func TestNoLeaks(t *testing.T) {
	srv := start(t, nil)
	// One session first, so that everything the server starts lazily is
	// running before the snapshot; accept loops are the server's own.
	warm := guest(t, srv)
	join(t, warm, "warmup@"+service, "w")
	warm.Close()
	waitRooms(t, srv, 0)
	before := goleak.IgnoreCurrent()
	const n = 100
	clients := make([]*xmpptest.Client, n)
	for i := range clients {
		c := guest(t, srv)
		clients[i] = c
		join(t, c, room, fmt.Sprintf("p%d", i))
		join(t, c, fmt.Sprintf("own%d@%s", i, service), "me")
	}
	if st := srv.App.MUC.Stats(); st.Rooms != n+1 || st.Occupants != 2*n || st.Tracked != n {
		t.Fatalf("stats while full %+v", st)
	}
	for i, c := range clients {
		if i%2 == 0 {
			c.Send(`<presence type="unavailable"/>`) // broadcast: ends directed presence too
			c.Close()
		} else {
			c.Drop()
		}
	}
	waitRooms(t, srv, 0)
	if st := srv.App.MUC.Stats(); st != (muc.Stats{}) {
		t.Fatalf("stats after everyone left %+v", st)
	}
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("net.(*TCPListener).Accept"))
}
