package c2s_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// transports runs f once over TCP (STARTTLS) and once over WebSocket.
func transports(t *testing.T, f func(t *testing.T, srv *xmpptest.Server, dial func() *xmpptest.Client)) {
	for _, kind := range []string{"tcp", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			srv := xmpptest.Start(t, nil)
			dial := func() *xmpptest.Client {
				if kind == "tcp" {
					return srv.DialTCP(t)
				}
				return srv.DialWS(t, "")
			}
			f(t, srv, dial)
		})
	}
}

func isMessage(body string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.ChildText(stanza.NSClient, "body") == body
	}
}

func TestAnonymousLoginAndMessages(t *testing.T) {
	transports(t, func(t *testing.T, srv *xmpptest.Server, dial func() *xmpptest.Client) {
		a, b := dial(), dial()
		ja, jb := a.Login("", ""), b.Login("", "")
		if !strings.HasSuffix(strings.SplitN(ja, "/", 2)[0], "@localhost") || ja == jb {
			t.Fatalf("anonymous JIDs %q and %q", ja, jb)
		}
		// A spoofed from is replaced by the sender's full JID.
		a.Send(fmt.Sprintf(`<message to="%s" from="admin@localhost/x" type="chat"><body>hello</body></message>`, jb))
		m := b.ExpectSkip("message", isMessage("hello"))
		if m.Get("from") != ja {
			t.Fatalf("from = %q, want %q", m.Get("from"), ja)
		}
		b.Send(fmt.Sprintf(`<message to="%s" type="chat"><body>back</body></message>`, ja))
		a.ExpectSkip("reply", isMessage("back"))
	})
}

func TestPasswordLogin(t *testing.T) {
	transports(t, func(t *testing.T, srv *xmpptest.Server, dial func() *xmpptest.Client) {
		srv.AddUser(t, "alice", "correct horse")
		c := dial()
		f := c.Secure()
		mechs := f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
		var names []string
		for _, m := range mechs.Children {
			names = append(names, m.Text)
		}
		if got := strings.Join(names, ","); got != "SCRAM-SHA-256,SCRAM-SHA-1,PLAIN,ANONYMOUS" {
			t.Fatalf("mechanisms %s", got)
		}
		if r := c.AuthSCRAM("SCRAM-SHA-256", "alice", "wrong"); !r.Is(stream.NSSASL, "failure") || r.Child(stream.NSSASL, "not-authorized") == nil {
			t.Fatalf("wrong password: %s", r)
		}
		if r := c.AuthSCRAM("SCRAM-SHA-1", "alice", "correct horse"); !r.Is(stream.NSSASL, "success") {
			t.Fatalf("SCRAM-SHA-1: %s", r)
		}
		c.Open()
		if j := c.Bind("desk"); j != "alice@localhost/desk" {
			t.Fatalf("bound %q", j)
		}

		// PLAIN works over TLS (WebSocket here runs over HTTPS).
		p := dial()
		p.Secure()
		if r := p.Auth("PLAIN", []byte("\x00alice\x00correct horse"), nil); !r.Is(stream.NSSASL, "success") {
			t.Fatalf("PLAIN: %s", r)
		}
	})
}

func TestPingDiscoRoster(t *testing.T) {
	transports(t, func(t *testing.T, srv *xmpptest.Server, dial func() *xmpptest.Client) {
		c := dial()
		c.Login("", "")
		c.Send(`<iq type="get" id="p1" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
		c.ExpectSkip("ping result", xmpptest.IsResult("p1"))

		c.Send(`<iq type="get" id="d1" to="localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
		info := c.ExpectSkip("disco#info", xmpptest.IsResult("d1")).Child(stanza.NSDiscoInf, "query")
		feats := map[string]bool{}
		for _, f := range info.Children {
			feats[f.Get("var")] = true
		}
		for _, want := range []string{"urn:xmpp:ping", "urn:xmpp:extdisco:2", stanza.NSDiscoInf, stanza.NSDiscoIt} {
			if !feats[want] {
				t.Errorf("disco#info lacks %s: %s", want, info)
			}
		}
		if id := info.Child(stanza.NSDiscoInf, "identity"); id == nil || id.Get("category") != "server" {
			t.Errorf("no server identity: %s", info)
		}
		c.Send(`<iq type="get" id="d2" to="localhost"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`)
		c.ExpectSkip("disco#items", xmpptest.IsResult("d2"))

		c.Send(`<iq type="get" id="x1" to="localhost"><services xmlns="urn:xmpp:extdisco:2"/></iq>`)
		c.ExpectSkip("extdisco", xmpptest.IsResult("x1"))

		c.Send(`<iq type="get" id="r1"><query xmlns="jabber:iq:roster"/></iq>`)
		r := c.ExpectSkip("roster", xmpptest.IsResult("r1"))
		if q := r.Child("jabber:iq:roster", "query"); q == nil || len(q.Children) != 0 {
			t.Fatalf("roster: %s", r)
		}
		// Unknown payloads get service-unavailable; IQs are always answered.
		c.Send(`<iq type="get" id="u1" to="localhost"><query xmlns="urn:example:nothing"/></iq>`)
		c.ExpectSkip("unknown payload", xmpptest.IsError("u1", "service-unavailable"))
		c.Send(`<iq type="get" id="u2" to="nobody@localhost/x"><query xmlns="urn:example:nothing"/></iq>`)
		c.ExpectSkip("offline resource", xmpptest.IsError("u2", "service-unavailable"))
		c.Send(`<iq type="get" id="u3" to="elsewhere.example"><ping xmlns="urn:xmpp:ping"/></iq>`)
		c.ExpectSkip("no federation", xmpptest.IsError("u3", "remote-server-not-found"))
		c.Send(`<iq type="get" id="u4" to="a@@b"><ping xmlns="urn:xmpp:ping"/></iq>`)
		c.ExpectSkip("bad JID", xmpptest.IsError("u4", "jid-malformed"))
		c.Send(`<message to="nobody@localhost" type="chat" id="m1"><body>x</body></message>`)
		c.ExpectSkip("message to nobody", xmpptest.IsError("m1", "service-unavailable"))
	})
}

func TestTLSRequiredOnTCP(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	c := srv.DialTCP(t)
	f := c.Open()
	if f.Child(stream.NSTLS, "starttls") == nil || f.Child(stream.NSSASL, "mechanisms") != nil {
		t.Fatalf("features before TLS: %s", f)
	}
	c.Send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="ANONYMOUS">=</auth>`)
	c.ExpectStreamError("policy-violation")
	srv.DialTCP(t).Login("", "")
}

func TestAnonymousDisabled(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) { c.C2S.AllowAnonymous = false })
	c := srv.DialWS(t, "")
	c.Secure()
	r := c.Auth("ANONYMOUS", nil, nil)
	if r.Child(stream.NSSASL, "invalid-mechanism") == nil {
		t.Fatalf("ANONYMOUS when disabled: %s", r)
	}
}
