package focus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const (
	nsFocus  = "http://jitsi.org/protocol/focus"
	nsJingle = "urn:xmpp:jingle:1"
	nsICE    = "urn:xmpp:jingle:transports:ice-udp:1"
	nsDTLS   = "urn:xmpp:jingle:apps:dtls:0"
)

// join runs a participant's side up to the session-initiate: conference
// IQ, room join, disco#info answer. It returns the session-initiate IQ.
func join(t *testing.T, c *xmpptest.Client, room, nick string) *stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="set" id="conf" to="focus.localhost"><conference xmlns="%s" room="%s@conference.localhost" machine-uid="m1"><property name="rtcstatsEnabled" value="false"/></conference></iq>`, nsFocus, room))
	r := c.ExpectSkip("conference result", xmpptest.IsResult("conf"))
	conf := r.Child(nsFocus, "conference")
	if conf.Get("ready") != "true" || conf.Get("focusjid") != "focus@auth.localhost" {
		t.Fatalf("conference reply: %s", r)
	}
	c.Send(fmt.Sprintf(`<presence to="%s@conference.localhost/%s"><x xmlns="http://jabber.org/protocol/muc"/><nick xmlns="http://jabber.org/protocol/nick">%s</nick></presence>`, room, nick, strings.ToUpper(nick)))
	disco := c.ExpectSkip("disco#info from the focus", func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("type") == "get" && e.Child(stanza.NSDiscoInf, "query") != nil
	})
	if disco.Get("from") != room+"@conference.localhost/focus" {
		t.Fatalf("disco from %q", disco.Get("from"))
	}
	c.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"><query xmlns="%s"><feature var="urn:xmpp:jingle:apps:rtp:audio"/><feature var="urn:xmpp:jingle:apps:rtp:video"/><feature var="urn:ietf:rfc:4588"/><feature var="http://jitsi.org/tcc"/></query></iq>`,
		disco.Get("id"), disco.Get("from"), stanza.NSDiscoInf))
	return c.ExpectSkip("session-initiate", func(e *stanza.Element) bool {
		j := e.Child(nsJingle, "jingle")
		return j != nil && j.Get("action") == "session-initiate"
	})
}

func TestConferenceRequestAndOffer(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a := srv.DialWS(t, "")
	a.Login("", "")
	si := join(t, a, "planning", "aaaa1111")
	if si.Get("from") != "planning@conference.localhost/focus" {
		t.Fatalf("session-initiate from %q", si.Get("from"))
	}
	j := si.Child(nsJingle, "jingle")
	if j.Get("initiator") != "focus@auth.localhost/focus" || j.Get("sid") == "" {
		t.Fatalf("jingle attributes: %s", j)
	}
	var media []string
	for _, ct := range j.Children {
		if ct.Name.Local != "content" {
			continue
		}
		media = append(media, ct.Get("name"))
		tr := ct.Child(nsICE, "transport")
		if tr == nil || tr.Get("ufrag") == "" || tr.Get("pwd") == "" || tr.Child(nsDTLS, "fingerprint") == nil || tr.Child(nsICE, "candidate") == nil {
			t.Fatalf("transport of %s: %s", ct.Get("name"), tr)
		}
		if ws := tr.Child("http://jitsi.org/protocol/colibri", "web-socket"); ws == nil || !strings.Contains(ws.Get("url"), "/colibri-ws/") {
			t.Fatalf("no bridge channel URL in %s", tr)
		}
		// The only sources offered are the bridge's feedback sources, as Jicofo
		// offers them with SSRC rewriting (jitsi-dialect.md §5.5): the slots'
		// SSRCs come from the bridge channel's sources maps.
		if d := ct.Child("urn:xmpp:jingle:apps:rtp:1", "description"); d != nil {
			var names []string
			for _, s := range d.Children {
				if s.Name.Local == "source" {
					names = append(names, s.Get("name"))
				}
			}
			want := map[string]string{"audio": "jvb-a0", "video": "jvb-v0"}[ct.Get("name")]
			if strings.Join(names, ",") != want {
				t.Fatalf("%s sources %v, want only the feedback source %q", ct.Get("name"), names, want)
			}
		}
	}
	if strings.Join(media, ",") != "audio,video,data" {
		t.Fatalf("contents %v", media)
	}
	a.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, si.Get("id"), si.Get("from")))

	// A session-accept without a fingerprint is refused and changes nothing.
	a.Send(fmt.Sprintf(`<iq type="set" id="acc1" to="planning@conference.localhost/focus"><jingle xmlns="%s" action="session-accept" sid="%s"><content creator="responder" name="audio"><transport xmlns="%s" ufrag="abcd" pwd="0123456789abcdefghijklmn"/></content></jingle></iq>`,
		nsJingle, j.Get("sid"), nsICE))
	a.ExpectSkip("refused accept", xmpptest.IsError("acc1", "bad-request"))
	// A wrong sid is an unknown session.
	a.Send(fmt.Sprintf(`<iq type="set" id="acc2" to="planning@conference.localhost/focus"><jingle xmlns="%s" action="session-accept" sid="nope"/></iq>`, nsJingle))
	a.ExpectSkip("unknown session", xmpptest.IsError("acc2", "item-not-found"))

	// Someone outside the room cannot talk Jingle to the focus.
	b := srv.DialWS(t, "")
	b.Login("", "")
	b.Send(fmt.Sprintf(`<iq type="set" id="x1" to="planning@conference.localhost/focus"><jingle xmlns="%s" action="session-accept" sid="%s"/></iq>`, nsJingle, j.Get("sid")))
	b.ExpectSkip("outsider refused", func(e *stanza.Element) bool { return e.Get("id") == "x1" && e.Get("type") == "error" })

	// A room name outside the MUC domain is not acceptable.
	b.Send(fmt.Sprintf(`<iq type="set" id="c2" to="focus.localhost"><conference xmlns="%s" room="r@elsewhere.localhost"/></iq>`, nsFocus))
	b.ExpectSkip("foreign room", xmpptest.IsError("c2", "not-acceptable"))
	b.Send(fmt.Sprintf(`<iq type="set" id="c3" to="focus.localhost"><conference xmlns="%s"/></iq>`, nsFocus))
	b.ExpectSkip("no room", xmpptest.IsError("c3", "bad-request"))
}

// accept sends a session-accept with the given audio sources (XML) and
// returns the reply.
func accept(t *testing.T, c *xmpptest.Client, room, sid, id, sources string) *stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="set" id="%s" to="%s@conference.localhost/focus"><jingle xmlns="%s" action="session-accept" sid="%s">`+
		`<content creator="responder" name="audio" senders="both"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">`+
		`<payload-type id="111" name="opus" clockrate="48000" channels="2"/>%s</description>`+
		`<transport xmlns="%s" ufrag="abcd" pwd="0123456789abcdefghijklmn"><fingerprint xmlns="%s" hash="sha-256" setup="active">%s</fingerprint></transport>`+
		`</content></jingle></iq>`, id, room, nsJingle, sid, sources, nsICE, nsDTLS, strings.TrimSuffix(strings.Repeat("AB:", 32), ":")))
	return c.ExpectSkip("reply to "+id, func(e *stanza.Element) bool { return e.Get("id") == id })
}

func src(ssrc int, extra string) string {
	return fmt.Sprintf(`<source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="%d" name="x-a0"%s/>`, ssrc, extra)
}

// Every refused Jingle input leaves the session as it was: the next valid
// session-accept is still taken.
func TestJingleValidation(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b := srv.DialWS(t, ""), srv.DialWS(t, "")
	a.Login("", "")
	b.Login("", "")
	sa := join(t, a, "checks", "aaaa0001").Child(nsJingle, "jingle").Get("sid")
	if r := accept(t, a, "checks", sa, "a1", src(1111, "")); r.Get("type") != "result" {
		t.Fatalf("valid accept refused: %s", r)
	}
	sb := join(t, b, "checks", "bbbb0002").Child(nsJingle, "jingle").Get("sid")
	var many strings.Builder
	for i := range 21 {
		many.WriteString(src(5000+i, ""))
	}
	for _, tc := range []struct{ name, sources, cond string }{
		{"another participant's SSRC", src(1111, ""), "bad-request"},
		{"the same SSRC twice", src(2222, "") + src(2222, ""), "bad-request"},
		{"21 sources", many.String(), "bad-request"},
		{"line break in an attribute", src(3333, ` videoType="camera&#13;&#10;a=inject"`), "bad-request"},
		// NUL and other control characters never get this far: the XML
		// stream refuses them (internal/xmpp/stream tests).
		{"group over unknown SSRCs", src(3335, "") + `<ssrc-group xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" semantics="FID"><source ssrc="3335"/><source ssrc="9999"/></ssrc-group>`, "bad-request"},
	} {
		r := accept(t, b, "checks", sb, "bad", tc.sources)
		se := stanza.ErrorOf(r)
		if r.Get("type") != "error" || se == nil {
			t.Errorf("%s: accepted: %s", tc.name, r)
		}
	}
	if r := accept(t, b, "checks", sb, "b1", src(4444, "")); r.Get("type") != "result" {
		t.Fatalf("valid accept after refusals: %s", r)
	}
	// The same accept sent again (a resumed stream resends what it had not
	// seen acknowledged) gets the same result; another one is refused.
	if r := accept(t, b, "checks", sb, "b2", src(4444, "")); r.Get("type") != "result" {
		t.Fatalf("resent accept: %s", r)
	}
	if r := accept(t, b, "checks", sb, "b3", src(4445, "")); r.Get("type") != "error" {
		t.Fatalf("second accept with other sources: %s", r)
	}
}

// The new session after a restart starts without the old one's sources: the
// participant announces the same ones again in its session-accept.
func TestRestartAcceptsSameSources(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a := srv.DialWS(t, "")
	a.Login("", "")
	sid := join(t, a, "again", "dddd0004").Child(nsJingle, "jingle").Get("sid")
	if r := accept(t, a, "again", sid, "a1", src(1111, "")); r.Get("type") != "result" {
		t.Fatalf("first accept: %s", r)
	}
	a.Send(fmt.Sprintf(`<iq type="set" id="rs" to="again@conference.localhost/focus"><jingle xmlns="%s" action="session-terminate" sid="%s"><reason><success/></reason><bridge-session xmlns="%s" id="x" restart="true"/></jingle></iq>`,
		nsJingle, sid, nsFocus))
	if r := a.ExpectSkip("restart reply", func(e *stanza.Element) bool { return e.Get("id") == "rs" }); r.Get("type") != "result" {
		t.Fatalf("restart: %s", r)
	}
	next := a.ExpectSkip("new session-initiate", func(e *stanza.Element) bool {
		j := e.Child(nsJingle, "jingle")
		return j != nil && j.Get("action") == "session-initiate"
	})
	a.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, next.Get("id"), next.Get("from")))
	if r := accept(t, a, "again", next.Child(nsJingle, "jingle").Get("sid"), "a2", src(1111, "")); r.Get("type") != "result" {
		t.Fatalf("accept of the new session with the same sources: %s", r)
	}
}

// A participant whose ICE failed asks for a new session; the focus obliges
// with a fresh session-initiate, at most five times a minute.
func TestRestartRequests(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a := srv.DialWS(t, "")
	a.Login("", "")
	si := join(t, a, "flaky", "cccc0003")
	a.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, si.Get("id"), si.Get("from")))
	sid := si.Child(nsJingle, "jingle").Get("sid")
	for i := range 6 {
		id := fmt.Sprintf("rs%d", i)
		a.Send(fmt.Sprintf(`<iq type="set" id="%s" to="flaky@conference.localhost/focus"><jingle xmlns="%s" action="session-terminate" sid="%s"><reason><success/></reason><bridge-session xmlns="%s" id="x" restart="true"/></jingle></iq>`,
			id, nsJingle, sid, nsFocus))
		r := a.ExpectSkip("restart reply", func(e *stanza.Element) bool { return e.Get("id") == id })
		if i == 5 {
			if se := stanza.ErrorOf(r); r.Get("type") != "error" || se.Condition != "resource-constraint" {
				t.Fatalf("sixth restart in a minute: %s", r)
			}
			break
		}
		if r.Get("type") != "result" {
			t.Fatalf("restart %d: %s", i, r)
		}
		next := a.ExpectSkip("new session-initiate", func(e *stanza.Element) bool {
			j := e.Child(nsJingle, "jingle")
			return j != nil && j.Get("action") == "session-initiate"
		})
		a.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, next.Get("id"), next.Get("from")))
		newSID := next.Child(nsJingle, "jingle").Get("sid")
		if newSID == sid {
			t.Fatal("the new session reuses the old sid")
		}
		sid = newSID
	}
}
