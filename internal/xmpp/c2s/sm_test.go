package c2s_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const nsSM = "urn:xmpp:sm:3"

// enableSM enables stream management with resumption and returns the id.
func enableSM(t *testing.T, c *xmpptest.Client) string {
	t.Helper()
	c.Send(`<enable xmlns="urn:xmpp:sm:3" resume="true"/>`)
	el := c.ExpectSkip("enabled", func(e *stanza.Element) bool { return e.Is(nsSM, "enabled") })
	if el.Get("resume") != "true" || el.Get("id") == "" || el.Get("max") != "600" {
		t.Fatalf("enabled: %s", el)
	}
	return el.Get("id")
}

// resumeAuth authenticates a new connection the way the original did.
func resumeAuth(t *testing.T, c *xmpptest.Client, user, password string) {
	t.Helper()
	c.Secure()
	var r *stanza.Element
	if user == "" {
		r = c.Auth("ANONYMOUS", nil, nil)
	} else {
		r = c.AuthSCRAM("SCRAM-SHA-256", user, password)
	}
	if !r.Is(stream.NSSASL, "success") {
		t.Fatalf("auth: %s", r)
	}
	c.Open()
}

// A client whose connection drops resumes its session: the stanzas sent to
// it meanwhile, and those it had not acknowledged, arrive exactly once and in
// order; its full JID and its presence in the eyes of others do not change.
func TestStreamResumptionLosesNothing(t *testing.T) {
	for _, kind := range []string{"tcp", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			srv := xmpptest.Start(t, nil)
			srv.AddUser(t, "carol", "pw of carol")
			dial := func(q string) *xmpptest.Client {
				if kind == "tcp" {
					return srv.DialTCP(t)
				}
				return srv.DialWS(t, q)
			}
			peer := srv.DialWS(t, "")
			peer.Login("", "")
			c := dial("")
			jc := c.Login("carol", "pw of carol")
			id := enableSM(t, c)

			// Delivered but never acknowledged, then the link dies.
			peer.Send(fmt.Sprintf(`<message to="%s" type="chat"><body>m0</body></message>`, jc))
			c.ExpectSkip("m0", isMessage("m0"))
			c.Drop()
			for i := 1; i <= 5; i++ {
				peer.Send(fmt.Sprintf(`<message to="%s" type="chat"><body>m%d</body></message>`, jc, i))
			}
			// The session is still there: a ping to its full JID is queued, not bounced.
			peer.Send(`<iq type="get" id="pp" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
			peer.ExpectSkip("ping", xmpptest.IsResult("pp"))

			n := dial("previd=" + id)
			resumeAuth(t, n, "carol", "pw of carol")
			n.Send(fmt.Sprintf(`<resume xmlns="urn:xmpp:sm:3" previd="%s" h="0"/>`, id))
			r := n.Expect("resumed", func(e *stanza.Element) bool { return e.Is(nsSM, "resumed") })
			if r.Get("previd") != id {
				t.Fatalf("resumed: %s", r)
			}
			var got []string
			for len(got) < 6 {
				el, err := n.Next()
				if err != nil {
					t.Fatalf("after resume: %v (got %v)", err, got)
				}
				if el.Name.Local == "message" {
					got = append(got, el.ChildText(stanza.NSClient, "body"))
					if el.Get("to") != jc {
						t.Fatalf("resent to %q, want %q", el.Get("to"), jc)
					}
				}
			}
			for i, b := range got {
				if b != "m"+strconv.Itoa(i) {
					t.Fatalf("resent %v", got)
				}
			}
			// Acknowledge everything; the session carries on.
			n.Send(`<r xmlns="urn:xmpp:sm:3"/>`)
			n.ExpectSkip("ack", func(e *stanza.Element) bool { return e.Is(nsSM, "a") })
			n.Send(`<a xmlns="urn:xmpp:sm:3" h="6"/>`)
			peer.Send(fmt.Sprintf(`<message to="%s" type="chat"><body>after</body></message>`, jc))
			n.ExpectSkip("after", isMessage("after"))
		})
	}
}

// An anonymous WebSocket session keeps its localpart when the new socket
// carries ?previd= (what Jitsi's client does), and resumes.
func TestAnonymousResumeWithPrevid(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	c := srv.DialWS(t, "")
	j := c.Login("", "")
	id := enableSM(t, c)
	c.Drop()
	n := srv.DialWS(t, "previd="+id)
	resumeAuth(t, n, "", "")
	n.Send(fmt.Sprintf(`<resume xmlns="urn:xmpp:sm:3" previd="%s" h="0"/>`, id))
	n.ExpectSkip("resumed", func(e *stanza.Element) bool { return e.Is(nsSM, "resumed") })
	n.Send(`<iq type="get" id="w"><ping xmlns="urn:xmpp:ping"/></iq>`)
	if r := n.ExpectSkip("ping", xmpptest.IsResult("w")); r.Get("to") != j {
		t.Fatalf("resumed as %q, want %q", r.Get("to"), j)
	}
}

func TestResumeRefused(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	srv.AddUser(t, "dave", "pw d")
	srv.AddUser(t, "erin", "pw e")
	c := srv.DialTCP(t)
	c.Login("dave", "pw d")
	id := enableSM(t, c)
	c.Drop()

	// Another user cannot take dave's session with his previd.
	e := srv.DialTCP(t)
	resumeAuth(t, e, "erin", "pw e")
	e.Send(fmt.Sprintf(`<resume xmlns="urn:xmpp:sm:3" previd="%s" h="0"/>`, id))
	f := e.Expect("failed", func(el *stanza.Element) bool { return el.Is(nsSM, "failed") })
	if f.Child(stanza.NSStanzas, "item-not-found") == nil {
		t.Fatalf("foreign previd: %s", f)
	}
	// An unknown previd fails too, and the stream can still bind.
	e.Send(`<resume xmlns="urn:xmpp:sm:3" previd="nope" h="0"/>`)
	e.Expect("failed", func(el *stanza.Element) bool { return el.Is(nsSM, "failed") })
	if j := e.Bind(""); j == "" {
		t.Fatal("bind after failed resume")
	}

	// h larger than what was sent is a stream error.
	d := srv.DialTCP(t)
	resumeAuth(t, d, "dave", "pw d")
	d.Send(fmt.Sprintf(`<resume xmlns="urn:xmpp:sm:3" previd="%s" h="1000"/>`, id))
	d.ExpectStreamError("undefined-condition")

	// On a live stream too.
	g := srv.DialWS(t, "")
	g.Login("", "")
	enableSM(t, g)
	g.Send(`<a xmlns="urn:xmpp:sm:3" h="99"/>`)
	g.ExpectStreamError("undefined-condition")
	stillServes(t, srv)
}

// A clean close ends the session at once: no hibernation, presence gone.
func TestCleanCloseEndsSession(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	c := srv.DialTCP(t)
	j := c.Login("", "")
	enableSM(t, c)
	c.Send(`</stream:stream>`)
	c.ExpectEnd()
	peer := srv.DialWS(t, "")
	peer.Login("", "")
	peer.Send(fmt.Sprintf(`<iq type="get" id="gone" to="%s"><ping xmlns="urn:xmpp:ping"/></iq>`, j))
	peer.ExpectSkip("bounce", xmpptest.IsError("gone", "service-unavailable"))
}
