package c2s_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/router"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// stillServes proves the server keeps serving others after an offence.
func stillServes(t *testing.T, srv *xmpptest.Server) {
	t.Helper()
	c := srv.DialWS(t, "")
	c.Login("", "")
	c.Send(`<iq type="get" id="alive" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
	c.ExpectSkip("ping", xmpptest.IsResult("alive"))
}

const billionLaughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`

// Hostile XML before and after authentication, over both transports: the
// offender gets the stream error RFC 6120 names and a second client is served.
func TestHostileXML(t *testing.T) {
	deep := strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000)
	var attrs strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&attrs, ` a%d="x"`, i)
	}
	big := strings.Repeat("x", 256<<10)
	cases := []struct {
		name, cond string
		stanza     string // sent after login
		opening    string // sent as the stream opening instead (before login)
	}{
		{name: "billion laughs in the opening", cond: "restricted-xml",
			opening: billionLaughs + `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0">&lol3;</open>`},
		{name: "external entity", cond: "restricted-xml", stanza: `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><message>&e;</message>`},
		{name: "comment", cond: "restricted-xml", stanza: `<message><!-- hi --><body>x</body></message>`},
		{name: "processing instruction", cond: "restricted-xml", stanza: `<message><?php echo 1; ?></message>`},
		{name: "undeclared entity", cond: "restricted-xml", stanza: `<message><body>&lol;</body></message>`},
		{name: "stanza over the limit", cond: "policy-violation", stanza: `<message to="x@localhost"><body>` + big + `</body></message>`},
		{name: "deep nesting", cond: "policy-violation", stanza: `<message>` + deep + `</message>`},
		{name: "many attributes", cond: "policy-violation", stanza: `<message` + attrs.String() + `/>`},
		{name: "huge attribute", cond: "policy-violation", stanza: `<message id="` + strings.Repeat("y", 1<<20) + `"/>`},
		{name: "invalid UTF-8", cond: "not-well-formed", stanza: "<message><body>\xff\xfe</body></message>"},
		{name: "lone surrogate", cond: "not-well-formed", stanza: "<message><body>\xed\xa0\x80</body></message>"},
		{name: "NUL reference", cond: "not-well-formed", stanza: `<message><body>a&#0;b</body></message>`},
		{name: "U+FFFE", cond: "not-well-formed", stanza: "<message><body>\uFFFE</body></message>"},
		{name: "unbound prefix", cond: "bad-namespace-prefix", stanza: `<x:message to="a@localhost"><body>x</body></x:message>`},
		{name: "duplicate attribute", cond: "not-well-formed", stanza: `<message to="a@localhost" to="b@localhost"/>`},
		{name: "unknown top-level element", cond: "unsupported-stanza-type", stanza: `<foo xmlns="urn:example"/>`},
	}
	for _, kind := range []string{"tcp", "websocket"} {
		t.Run(kind, func(t *testing.T) {
			srv := xmpptest.Start(t, func(c *config.Config) {
				c.C2S.ReadBytesPerSec = 0 // the limits under test, not the rate, must stop these
			})
			for _, tc := range cases {
				if tc.opening != "" && kind == "tcp" {
					tc.opening = billionLaughs + `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0">&lol3;`
				}
				t.Run(tc.name, func(t *testing.T) {
					var c *xmpptest.Client
					if kind == "tcp" {
						c = srv.DialTCP(t)
					} else {
						c = srv.DialWS(t, "")
					}
					if tc.opening != "" {
						if err := c.TrySend(tc.opening); err == nil {
							expectStreamErrorRaw(t, c, tc.cond)
						}
					} else {
						c.Login("", "")
						err := c.TrySend(tc.stanza)
						switch {
						case err != nil:
						case c.IsWS() && len(tc.stanza) > 2*srv.Config.C2S.MaxStanzaBytes:
							// Past twice the limit the WebSocket layer refuses
							// the frame before buffering it: close 1009.
							c.ExpectWSClose(websocket.StatusMessageTooBig)
						default:
							c.ExpectStreamError(tc.cond)
						}
					}
					stillServes(t, srv)
				})
			}
		})
	}
}

// expectStreamErrorRaw reads the server's answer to a bad opening: over TCP
// a header then the error, over WebSocket an <open/> then the error.
func expectStreamErrorRaw(t *testing.T, c *xmpptest.Client, cond string) {
	t.Helper()
	if !c.IsWS() {
		c.ExpectHeader()
	}
	c.ExpectStreamError(cond)
}

// A prefixed stanza in jabber:client is a valid message; recipients must get
// it re-serialised with the namespace the server resolved.
func TestNamespacePrefixRoundTrip(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b := srv.DialTCP(t), srv.DialWS(t, "")
	a.Login("", "")
	jb := b.Login("", "")
	a.Send(fmt.Sprintf(`<x:message xmlns:x="jabber:client" to="%s" type="chat"><x:body>prefixed</x:body><y:body xmlns:y="urn:example:other">not a body</y:body></x:message>`, jb))
	m := b.ExpectSkip("message", isMessage("prefixed"))
	if m.Name.Space != stanza.NSClient || len(m.Children) != 2 || m.Children[1].Name.Space != "urn:example:other" {
		t.Fatalf("re-serialised as %s", m)
	}
}

func TestSASLHostile(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.LoginMaxFailures = 5
		c.C2S.LoginBurst = 100
		c.C2S.LoginsPerSecond = 100
		c.C2S.MaxAuthRetries = 100
	})
	srv.AddUser(t, "bob", "bobs password")
	c := srv.DialWS(t, "")
	c.Secure()
	for _, tc := range []struct{ mech, payload, cond string }{
		{"PLAIN", "bad base64!", "incorrect-encoding"},
		{"PLAIN", "=", "malformed-request"},
		{"NOPE", "=", "invalid-mechanism"},
	} {
		c.Send(fmt.Sprintf(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="%s">%s</auth>`, tc.mech, tc.payload))
		r := c.Expect("failure", func(e *stanza.Element) bool { return e.Is(stream.NSSASL, "failure") })
		if r.Child(stream.NSSASL, tc.cond) == nil {
			t.Errorf("%s %q: %s", tc.mech, tc.payload, r)
		}
	}
	for _, p := range []string{"\x00bob\x00bobs password\x00extra", "admin@localhost\x00bob\x00bobs password"} {
		r := c.Auth("PLAIN", []byte(p), nil)
		if !r.Is(stream.NSSASL, "failure") {
			t.Errorf("PLAIN %q accepted: %s", p, r)
		}
	}
	// Enough failures from one address lock it out, even with the right password.
	for range 5 {
		c.Auth("PLAIN", []byte("\x00bob\x00wrong"), nil)
	}
	r := c.Auth("PLAIN", []byte("\x00bob\x00bobs password"), nil)
	if r.Child(stream.NSSASL, "temporary-auth-failure") == nil {
		t.Fatalf("after repeated failures: %s", r)
	}
}

func TestAuthTimeoutSlowloris(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) { c.C2S.AuthTimeout = 300 * time.Millisecond })
	c := srv.DialTCP(t)
	c.Send(`<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0">`)
	c.ExpectHeader()
	c.ExpectStreamError("connection-timeout")
	// A connection that never sends a byte is closed too.
	idle := srv.DialTCP(t)
	idle.ExpectEnd()
}

func TestWrongHost(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	c := srv.DialTCP(t)
	c.Send(`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="example.org" version="1.0">`)
	c.ExpectHeader()
	c.ExpectStreamError("host-unknown")
}

func TestWebSocketHandshakeRules(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	cl := xmpptest.HTTPClient()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	// No xmpp subprotocol.
	_, resp, err := websocket.Dial(ctx, srv.WSURL(""), &websocket.DialOptions{HTTPClient: cl})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("without subprotocol: err=%v resp=%v", err, resp)
	}
	// A foreign Origin (cross-site WebSocket hijacking).
	h := http.Header{"Origin": {"https://evil.example"}}
	_, resp, err = websocket.Dial(ctx, srv.WSURL(""), &websocket.DialOptions{HTTPClient: cl, HTTPHeader: h, Subprotocols: []string{"xmpp"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err=%v resp=%v", err, resp)
	}
	// A plain GET (Jitsi's keep-alive) answers 200.
	r, err := cl.Get("https://" + srv.HTTP + "/xmpp-websocket?room=x")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("keep-alive GET: %v %v", err, r)
	}
	r.Body.Close()
	// Binary frames are not XMPP.
	c := srv.DialWS(t, "room=abc&token=&previd=")
	c.Open()
	wsBinary(t, c)
	stillServes(t, srv)
}

func TestStanzaFloodThrottled(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.StanzasPerSec = 5
		c.C2S.StanzaBurst = 10
		c.C2S.MaxThrottle = 500 * time.Millisecond
	})
	c := srv.DialTCP(t)
	c.Login("", "")
	var flood strings.Builder
	for i := range 100 {
		fmt.Fprintf(&flood, `<presence to="x%d@localhost"/>`, i)
	}
	c.Send(flood.String())
	c.ExpectStreamError("policy-violation")
	stillServes(t, srv)
}

func TestSlowConsumerDisconnected(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.MaxStanzaBytes = 16 << 10
		c.C2S.SendQueueBytes = 64 << 10
		c.C2S.WriteTimeout = time.Hour // only the queue bound may act
		c.C2S.StanzasPerSec = 0
		c.C2S.ReadBytesPerSec = 0
	})
	slow, fast := srv.DialTCP(t), srv.DialWS(t, "")
	js := slow.Login("", "")
	fast.Login("", "")
	body := strings.Repeat("z", 12<<10)
	// The slow client never reads; the sender keeps going until the server
	// answers that the recipient is gone. Nobody else waits meanwhile.
	for i := 0; ; i++ {
		if i > 5000 {
			t.Fatal("slow consumer was never disconnected")
		}
		fast.Send(fmt.Sprintf(`<message to="%s" type="chat" id="m%d"><body>%s</body></message>`, js, i, body))
		if i%50 == 49 {
			fast.Send(fmt.Sprintf(`<iq type="get" id="p%d" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`, i))
			el := fast.ExpectSkip("ping or bounce", func(e *stanza.Element) bool {
				return e.Get("id") == fmt.Sprintf("p%d", i) || e.Get("type") == "error"
			})
			if el.Get("type") == "error" {
				break
			}
		}
	}
	stillServes(t, srv)
}

func TestPanicInSessionRecovered(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	srv.App.Router.AddComponent("boom.localhost", router.ComponentFunc(func(*stanza.Element) { panic("injected") }))
	c := srv.DialWS(t, "")
	c.Login("", "")
	c.Send(`<message to="boom.localhost"><body>x</body></message>`)
	c.ExpectStreamError("internal-server-error")
	stillServes(t, srv)
}

func TestServerPingsIdleClient(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.PingInterval = 200 * time.Millisecond
		c.C2S.PingTimeout = 200 * time.Millisecond
	})
	c := srv.DialTCP(t)
	c.Login("", "")
	p := c.ExpectSkip("server ping", func(e *stanza.Element) bool { return e.Child("urn:xmpp:ping", "ping") != nil })
	c.Send(fmt.Sprintf(`<iq type="result" id="%s" to="localhost"/>`, p.Get("id")))
	c.ExpectSkip("second ping", func(e *stanza.Element) bool { return e.Child("urn:xmpp:ping", "ping") != nil })
	// Not answering: the server gives up on the connection.
	c.ExpectStreamError("connection-timeout")
	stillServes(t, srv)
}

func wsBinary(t *testing.T, c *xmpptest.Client) {
	t.Helper()
	if err := c.SendBinary([]byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	c.ExpectStreamError("not-well-formed")
}
