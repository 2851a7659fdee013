package focus_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// keyXML is a participant's e2ee presence element with a key made of b.
func keyXML(b byte) string {
	return fmt.Sprintf(`<e2ee xmlns="%s" kem="x25519" pub="%s"/>`, e2eexml.NS, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)))
}

// watched is a client whose skipped stanzas are kept, so that a later
// expectation can find what arrived while waiting for something else (the
// focus's presence comes before the session-initiate).
type watched struct {
	*xmpptest.Client
	seen []*stanza.Element
}

func watch(c *xmpptest.Client) *watched { return &watched{Client: c} }

// ExpectSkip returns the first stanza, kept or new, that matches.
func (w *watched) ExpectSkip(what string, match func(*stanza.Element) bool) *stanza.Element {
	for i, e := range w.seen {
		if match(e) {
			w.seen = append(w.seen[:i:i], w.seen[i+1:]...)
			return e
		}
	}
	return w.Client.ExpectSkip(what, func(e *stanza.Element) bool {
		if match(e) {
			return true
		}
		w.seen = append(w.seen, e)
		return false
	})
}

// joinE2EE is join with extra conference properties and presence
// children; it stops at the focus's disco#info (answered) when wantSession,
// else right after sending the presence.
func joinE2EE(t *testing.T, c *watched, room, nick, props, presence string, wantSession bool) *stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="set" id="conf" to="focus.localhost"><conference xmlns="%s" room="%s@conference.localhost" machine-uid="m1">%s</conference></iq>`, nsFocus, room, props))
	c.ExpectSkip("conference result", xmpptest.IsResult("conf"))
	c.Send(fmt.Sprintf(`<presence to="%s@conference.localhost/%s"><x xmlns="http://jabber.org/protocol/muc"/>%s</presence>`, room, nick, presence))
	if !wantSession {
		return nil
	}
	disco := c.ExpectSkip("disco#info from the focus", func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("type") == "get" && e.Child(stanza.NSDiscoInf, "query") != nil
	})
	c.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"><query xmlns="%s"><feature var="urn:xmpp:jingle:apps:rtp:audio"/><feature var="urn:xmpp:jingle:apps:rtp:video"/><feature var="http://jitsi.org/opus-red"/></query></iq>`,
		disco.Get("id"), disco.Get("from"), stanza.NSDiscoInf))
	return c.ExpectSkip("session-initiate", func(e *stanza.Element) bool {
		j := e.Child(nsJingle, "jingle")
		return j != nil && j.Get("action") == "session-initiate"
	})
}

// focusState matches the focus's presence in room with the given state.
func focusState(room string, want e2eexml.State) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		if e.Name.Local != "presence" || e.Get("from") != room+"@conference.localhost/focus" {
			return false
		}
		s, ok := e2eexml.ParseState(e)
		return ok && s == want
	}
}

// offersRED reports whether a session-initiate offers RED for audio.
func offersRED(si *stanza.Element) bool {
	return strings.Contains(si.String(), `name="red"`)
}

// TestE2EERoomOpenerLeaderAndRefusal: the participant who opens a room
// with the e2ee property gets an encrypted room and is its key leader; a
// second E2EE participant gets a session (without RED) and sees the same
// leader; an occupant without a key gets no session but a message saying
// why; when the leader leaves, the next oldest leads.
func TestE2EERoomOpenerLeaderAndRefusal(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	const room = "secret"
	a, b, c := watch(srv.DialWS(t, "")), watch(srv.DialWS(t, "")), watch(srv.DialWS(t, ""))
	for _, x := range []*watched{a, b, c} {
		x.Login("", "")
	}
	si := joinE2EE(t, a, room, "aaaa0001", `<property name="e2ee" value="true"/>`, keyXML(1), true)
	if offersRED(si) {
		t.Error("RED offered in an encrypted room")
	}
	a.ExpectSkip("focus names a the leader", focusState(room, e2eexml.State{Enabled: true, Leader: "aaaa0001"}))

	// b asks for no encryption: the room is on already, b's key is enough.
	joinE2EE(t, b, room, "bbbb0002", "", keyXML(2), true)
	b.ExpectSkip("b sees the leader", focusState(room, e2eexml.State{Enabled: true, Leader: "aaaa0001"}))

	// c cannot encrypt: a message, and no disco#info or Jingle before the
	// answer to an IQ c sends the focus after it (the focus handles c's
	// presence and that IQ in order).
	joinE2EE(t, c, room, "cccc0003", "", "", false)
	msg := c.ExpectSkip("unsupported message", func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e2eexml.IsUnsupported(e)
	})
	if msg.Get("type") != "chat" || msg.Get("from") != room+"@conference.localhost/focus" || msg.ChildText(stanza.NSClient, "body") == "" {
		t.Errorf("unsupported message %s", msg)
	}
	c.Send(fmt.Sprintf(`<iq type="set" id="probe" to="%s@conference.localhost/focus"><mute xmlns="http://jitsi.org/jitmeet/audio" jid="%s@conference.localhost/cccc0003">true</mute></iq>`, room, room))
	for _, e := range c.seen {
		if e.Name.Local == "iq" && (e.Child(stanza.NSDiscoInf, "query") != nil || e.Child(nsJingle, "jingle") != nil) {
			t.Fatalf("the focus invited an occupant that cannot encrypt: %s", e)
		}
	}
	for {
		e, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name.Local == "iq" && (e.Child(stanza.NSDiscoInf, "query") != nil || e.Child(nsJingle, "jingle") != nil) {
			t.Fatalf("the focus invited an occupant that cannot encrypt: %s", e)
		}
		if e.Get("id") == "probe" {
			break
		}
	}

	// The leader leaves: b, the oldest left that can encrypt, leads.
	a.Send(fmt.Sprintf(`<presence type="unavailable" to="%s@conference.localhost/aaaa0001"/>`, room))
	b.ExpectSkip("b is the leader", focusState(room, e2eexml.State{Enabled: true, Leader: "bbbb0002"}))
}

// TestE2EEModeratorToggle: only a moderator turns encryption on, not while
// an occupant cannot encrypt (named in the refusal); the room and its
// leader are announced; turning it off gives the refused occupant its
// session. The IQ works through the room and to the focus's service.
func TestE2EEModeratorToggle(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	const room = "switch"
	mod, b, c := watch(srv.DialWS(t, "")), watch(srv.DialWS(t, "")), watch(srv.DialWS(t, ""))
	for _, x := range []*watched{mod, b, c} {
		x.Login("", "")
	}
	si := joinE2EE(t, mod, room, "aaaa0001", "", keyXML(1), true)
	if !offersRED(si) {
		t.Fatal("RED not offered in a plain room: the test's check is wrong")
	}
	mod.ExpectSkip("focus presence, off", focusState(room, e2eexml.State{}))
	joinE2EE(t, b, room, "bbbb0002", "", keyXML(2), true)
	joinE2EE(t, c, room, "cccc0003", "", "", true)

	toggle := func(cl *watched, id, to string, on bool) *stanza.Element {
		cl.Send(fmt.Sprintf(`<iq type="set" id="%s" to="%s"><e2ee xmlns="%s" room="%s@conference.localhost" enabled="%v"/></iq>`, id, to, e2eexml.NS, room, on))
		return cl.ExpectSkip("reply to "+id, func(e *stanza.Element) bool { return e.Get("id") == id && e.Name.Local == "iq" })
	}
	viaRoom := room + "@conference.localhost/focus"
	if r := toggle(mod, "on1", viaRoom, true); stanza.ErrorOf(r) == nil || stanza.ErrorOf(r).Condition != "not-acceptable" || !strings.Contains(stanza.ErrorOf(r).Text, "cccc0003") {
		t.Fatalf("on with an occupant that cannot encrypt: %s", r)
	}
	if r := toggle(b, "on2", viaRoom, true); stanza.ErrorOf(r) == nil || stanza.ErrorOf(r).Condition != "forbidden" {
		t.Fatalf("a participant turned it on: %s", r)
	}
	c.Send(fmt.Sprintf(`<presence type="unavailable" to="%s@conference.localhost/cccc0003"/>`, room))
	mod.ExpectSkip("c left", func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("type") == "unavailable" && strings.HasSuffix(e.Get("from"), "/cccc0003")
	})
	if r := toggle(mod, "on3", "focus.localhost", true); r.Get("type") != "result" {
		t.Fatalf("moderator's toggle to the focus service: %s", r)
	}
	b.ExpectSkip("b sees the room encrypted, led by the moderator", focusState(room, e2eexml.State{Enabled: true, Leader: "aaaa0001"}))

	// A newcomer without a key is held; turning encryption off invites it.
	d := watch(srv.DialWS(t, ""))
	d.Login("", "")
	joinE2EE(t, d, room, "dddd0004", "", "", false)
	d.ExpectSkip("unsupported message", func(e *stanza.Element) bool { return e.Name.Local == "message" && e2eexml.IsUnsupported(e) })
	if r := toggle(mod, "off", viaRoom, false); r.Get("type") != "result" {
		t.Fatalf("off: %s", r)
	}
	d.ExpectSkip("disco#info once the room is plain again", func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Child(stanza.NSDiscoInf, "query") != nil
	})
	b.ExpectSkip("b sees the room plain", focusState(room, e2eexml.State{}))
}
