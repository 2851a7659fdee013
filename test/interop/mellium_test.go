// Package interop_test checks Parley's XMPP server against client libraries
// this project did not write (issue 2, Tests): mellium.im/xmpp here, over
// TCP with STARTTLS, and @xmpp/client over WebSocket in node_test.go.
//
// mellium.im/xmpp v0.22.0 has no XEP-0198 stream management on either side
// (nothing in the module speaks urn:xmpp:sm:3), so stream resumption is not
// exercised with it: the raw wire tests in internal/xmpp/c2s/sm_test.go and
// the node tests (resume.test.js) cover that.
package interop_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"net"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// wait bounds every wait for the server in this file.
const wait = 5 * time.Second

// chat is a message stanza with a body, as mellium's own examples decode it.
type chat struct {
	stanza.Message
	Body string `xml:"body"`
}

// melliumClient is one mellium session over TCP with STARTTLS, served in
// its own goroutine. What the handler sees is handed to the test on
// channels, so tests wait for events and never sleep.
type melliumClient struct {
	s        *xmpp.Session
	mux      *mux.ServeMux
	messages chan chat            // every message with a body
	presence chan stanza.Presence // every presence
	pings    chan stanza.IQ       // pings from the server, already answered
	ended    chan struct{}        // closed when Serve returns
	serveErr error                // Serve's result; read after ended
}

// server starts Parley and returns it with a TLS configuration that trusts
// its self-signed certificate for the domain, so mellium verifies the
// certificate the way a deployed client would instead of skipping checks.
func server(t *testing.T, mutate func(*config.Config)) (*xmpptest.Server, *tls.Config) {
	t.Helper()
	srv := xmpptest.Start(t, mutate)
	// The c2s port only speaks TLS after STARTTLS; the HTTPS port serves
	// the same certificate, so take it from there.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", srv.HTTP, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("fetching the server certificate: %v", err)
	}
	leaf := c.ConnectionState().PeerCertificates[0]
	c.Close()
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return srv, &tls.Config{ServerName: srv.Domain, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// dial negotiates a session: STARTTLS, SASL with the first of mechs the
// server offers (ANONYMOUS when user is empty), resource binding. It
// returns mellium's error instead of failing, for the tests that expect one.
func dial(t *testing.T, srv *xmpptest.Server, tlsConf *tls.Config, user, password string, mechs ...sasl.Mechanism) (*melliumClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.TCP)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.TCP, err)
	}
	origin := jid.MustParse(srv.Domain)
	if user != "" {
		origin = jid.MustParse(user + "@" + srv.Domain)
	}
	if len(mechs) == 0 {
		mechs = []sasl.Mechanism{sasl.Anonymous}
	}
	s, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(tlsConf),
		xmpp.SASL("", password, mechs...),
		xmpp.BindResource(),
	)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &melliumClient{
		s:        s,
		messages: make(chan chat, 64),
		presence: make(chan stanza.Presence, 64),
		pings:    make(chan stanza.IQ, 64),
		ended:    make(chan struct{}),
	}
	c.mux = mux.New(stanza.NSClient,
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: ping.NS, Local: "ping"}, c.answerPing),
	)
	go func() {
		c.serveErr = s.Serve(xmpp.HandlerFunc(c.handle))
		close(c.ended)
	}()
	t.Cleanup(func() { c.close(t) })
	return c, nil
}

// login is dial that fails the test on error.
func login(t *testing.T, srv *xmpptest.Server, tlsConf *tls.Config, user, password string, mechs ...sasl.Mechanism) *melliumClient {
	t.Helper()
	c, err := dial(t, srv, tlsConf, user, password, mechs...)
	if err != nil {
		t.Fatalf("mellium session for %q: %v", user, err)
	}
	return c
}

// handle runs inside Serve. Messages and presence are decoded whole and
// queued; everything else goes to the mux, whose fallback answers unknown
// IQs with service-unavailable.
func (c *melliumClient) handle(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	switch start.Name.Local {
	case "message":
		// The handler's reader starts inside the element; put the start
		// back in front, as mellium's own packages do (a bare
		// DecodeElement(&m, start) fails on the unmatched end tag).
		var m chat
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m); err != nil {
			return err
		}
		if m.Body != "" {
			c.messages <- m
		}
		return nil
	case "presence":
		p, err := stanza.NewPresence(*start)
		if err != nil {
			return err
		}
		c.presence <- p
		return nil
	}
	return c.mux.HandleXMPP(r, start)
}

// answerPing is mellium's own ping handler, noting the ping for the test.
func (c *melliumClient) answerPing(iq stanza.IQ, r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	err := ping.Handler{}.HandleIQ(iq, r, start)
	c.pings <- iq
	return err
}

// close ends the stream politely and expects the server to close its side,
// so Serve returns without error.
func (c *melliumClient) close(t *testing.T) {
	select {
	case <-c.ended:
	default:
		// Not SetCloseDeadline: in v0.22.0 it replaces a context that a
		// running Serve reads without a lock (a data race under -race).
		// A read deadline on the socket bounds the wait just as well.
		c.s.Conn().SetReadDeadline(time.Now().Add(wait))
		if err := c.s.Close(); err != nil {
			t.Errorf("closing %s: %v", c.s.LocalAddr(), err)
		}
		<-c.ended
		if c.serveErr != nil {
			t.Errorf("%s: the server did not close its stream after ours: %v", c.s.LocalAddr(), c.serveErr)
		}
	}
	c.s.Conn().Close()
}

// available sends initial presence and waits for the server to reflect it,
// so that messages to the bare JID are routed to this session from now on.
func (c *melliumClient) available(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.s.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatalf("initial presence: %v", err)
	}
	me := c.s.LocalAddr()
	for {
		select {
		case p := <-c.presence:
			if p.From.Equal(me) && p.Type == stanza.AvailablePresence {
				return
			}
		case <-c.ended:
			t.Fatalf("%s: session ended waiting for own presence: %v", me, c.serveErr)
		case <-time.After(wait):
			t.Fatalf("%s: no presence from the server reflecting its own", me)
		}
	}
}

// send sends a chat message with a body.
func (c *melliumClient) send(t *testing.T, m chat) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m.Type = stanza.ChatMessage
	if err := c.s.Encode(ctx, m); err != nil {
		t.Fatalf("send to %s: %v", m.To, err)
	}
}

// expectMessage waits for the next message with a body; it must be body.
func (c *melliumClient) expectMessage(t *testing.T, body string) chat {
	t.Helper()
	select {
	case m := <-c.messages:
		if m.Body != body {
			t.Fatalf("%s got message %q from %s, want %q", c.s.LocalAddr(), m.Body, m.From, body)
		}
		return m
	case <-c.ended:
		t.Fatalf("%s: session ended waiting for %q: %v", c.s.LocalAddr(), body, c.serveErr)
	case <-time.After(wait):
		t.Fatalf("%s: no message %q within %v", c.s.LocalAddr(), body, wait)
	}
	return chat{}
}

// expectPing waits for the server to ping this client.
func (c *melliumClient) expectPing(t *testing.T) {
	t.Helper()
	select {
	case iq := <-c.pings:
		if domain := c.s.LocalAddr().Domain(); !iq.From.Equal(jid.JID{}) && !iq.From.Equal(domain) {
			t.Errorf("ping from %s, want %s", iq.From, domain)
		}
	case <-c.ended:
		t.Fatalf("%s: session ended waiting for a server ping: %v", c.s.LocalAddr(), c.serveErr)
	case <-time.After(wait):
		t.Fatalf("%s: the server sent no ping within %v", c.s.LocalAddr(), wait)
	}
}

func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func TestMelliumLogin(t *testing.T) {
	srv, tlsConf := server(t, nil)
	srv.AddUser(t, "alice", "pw of alice")
	domain := jid.MustParse(srv.Domain)

	t.Run("anonymous", func(t *testing.T) {
		a := login(t, srv, tlsConf, "", "")
		b := login(t, srv, tlsConf, "", "")
		for _, c := range []*melliumClient{a, b} {
			j := c.s.LocalAddr()
			if !j.Domain().Equal(domain) || j.Localpart() == "" || j.Resourcepart() == "" {
				t.Errorf("anonymous session bound %s, want local@%s/resource", j, srv.Domain)
			}
		}
		if a.s.LocalAddr().Localpart() == b.s.LocalAddr().Localpart() {
			t.Errorf("two anonymous sessions share the local part: %s, %s", a.s.LocalAddr(), b.s.LocalAddr())
		}
	})

	for _, tc := range []struct {
		name  string
		mechs []sasl.Mechanism
	}{
		{"SCRAM-SHA-256", []sasl.Mechanism{sasl.ScramSha256}},
		{"SCRAM-SHA-1", []sasl.Mechanism{sasl.ScramSha1}},
		{"PLAIN", []sasl.Mechanism{sasl.Plain}},
		// What a mellium application would list. Parley offers no -PLUS
		// variant, so mellium settles on SCRAM-SHA-256.
		{"client preference", []sasl.Mechanism{sasl.ScramSha256Plus, sasl.ScramSha256, sasl.ScramSha1Plus, sasl.ScramSha1, sasl.Plain}},
	} {
		t.Run("password/"+tc.name, func(t *testing.T) {
			c := login(t, srv, tlsConf, "alice", "pw of alice", tc.mechs...)
			j := c.s.LocalAddr()
			if j.Bare().String() != "alice@"+srv.Domain || j.Resourcepart() == "" {
				t.Errorf("bound %s, want alice@%s/resource", j, srv.Domain)
			}
			if c.s.State()&(xmpp.Secure|xmpp.Authn|xmpp.Ready) != xmpp.Secure|xmpp.Authn|xmpp.Ready {
				t.Errorf("session state %v, want secure, authenticated and ready", c.s.State())
			}
		})
	}

	t.Run("wrong password refused", func(t *testing.T) {
		for _, m := range []sasl.Mechanism{sasl.ScramSha256, sasl.Plain} {
			c, err := dial(t, srv, tlsConf, "alice", "not the password", m)
			if err == nil {
				t.Fatalf("%s with a wrong password: bound %s", m.Name, c.s.LocalAddr())
			}
			t.Logf("%s with a wrong password: %v", m.Name, err)
		}
		// And the account still works.
		login(t, srv, tlsConf, "alice", "pw of alice", sasl.ScramSha256)
	})
}

// Two mellium clients exchange messages both ways: to a full JID, and to a
// bare JID once the recipient is available. The server stamps from.
func TestMelliumMessages(t *testing.T) {
	srv, tlsConf := server(t, nil)
	srv.AddUser(t, "alice", "pw of alice")
	a := login(t, srv, tlsConf, "alice", "pw of alice", sasl.ScramSha256)
	b := login(t, srv, tlsConf, "", "")
	a.available(t)
	b.available(t)
	ja, jb := a.s.LocalAddr(), b.s.LocalAddr()

	// A claimed sender is ignored: the server says who really sent it.
	a.send(t, chat{Message: stanza.Message{To: jb, From: jid.MustParse("mallory@" + srv.Domain + "/x"), ID: "m1"}, Body: "hello b"})
	m := b.expectMessage(t, "hello b")
	if !m.From.Equal(ja) || !m.To.Equal(jb) || m.ID != "m1" || m.Type != stanza.ChatMessage {
		t.Errorf("b got from=%s to=%s id=%q type=%q, want from=%s to=%s id=m1 type=chat", m.From, m.To, m.ID, m.Type, ja, jb)
	}

	b.send(t, chat{Message: stanza.Message{To: ja.Bare(), ID: "m2"}, Body: "hello alice"})
	m = a.expectMessage(t, "hello alice")
	if !m.From.Equal(jb) || m.ID != "m2" {
		t.Errorf("alice got from=%s id=%q, want from=%s id=m2", m.From, m.ID, jb)
	}

	// Order is kept on one route.
	for _, body := range []string{"one", "two", "three"} {
		a.send(t, chat{Message: stanza.Message{To: jb}, Body: body})
	}
	for _, body := range []string{"one", "two", "three"} {
		b.expectMessage(t, body)
	}
}

// XEP-0199 to the domain, an IQ to an absent resource, disco#info,
// disco#items and XEP-0215 on the domain, through mellium's own packages.
func TestMelliumPingDisco(t *testing.T) {
	srv, tlsConf := server(t, nil)
	c := login(t, srv, tlsConf, "", "")
	domain := jid.MustParse(srv.Domain)

	t.Run("ping", func(t *testing.T) {
		// ping.Send also takes service-unavailable for a pong, so ask for
		// the result itself: UnmarshalIQ returns a stanza error as an error.
		if err := c.s.UnmarshalIQ(ctxWait(t), ping.IQ{IQ: stanza.IQ{Type: stanza.GetIQ, To: domain}}.TokenReader(), nil); err != nil {
			t.Fatalf("ping %s: %v", domain, err)
		}
		if err := ping.Send(ctxWait(t), c.s, domain); err != nil {
			t.Fatalf("ping.Send %s: %v", domain, err)
		}
	})

	t.Run("IQ to an absent resource", func(t *testing.T) {
		to := c.s.LocalAddr().Bare().String() + "/gone"
		err := c.s.UnmarshalIQ(ctxWait(t), ping.IQ{IQ: stanza.IQ{Type: stanza.GetIQ, To: jid.MustParse(to)}}.TokenReader(), nil)
		var se stanza.Error
		if !errors.As(err, &se) || se.Condition != stanza.ServiceUnavailable {
			t.Fatalf("ping %s: got %v, want a service-unavailable stanza error (RFC 6121 §8.5.3.2.1)", to, err)
		}
	})

	t.Run("disco#info", func(t *testing.T) {
		info, err := disco.GetInfo(ctxWait(t), "", domain, c.s)
		if err != nil {
			t.Fatalf("disco#info %s: %v", domain, err)
		}
		has := map[string]bool{}
		for _, f := range info.Features {
			has[f.Var] = true
		}
		for _, want := range []string{disco.NSInfo, disco.NSItems, ping.NS, "urn:xmpp:extdisco:2"} {
			if !has[want] {
				t.Errorf("disco#info of %s lacks feature %s; features: %v", domain, want, info.Features)
			}
		}
		isServer := false
		for _, id := range info.Identity {
			isServer = isServer || id.Category == "server" && id.Type == "im"
		}
		if !isServer {
			t.Errorf("disco#info of %s has no server/im identity: %v", domain, info.Identity)
		}
	})

	t.Run("disco#items", func(t *testing.T) {
		iter := disco.FetchItems(ctxWait(t), items.Item{JID: domain}, c.s)
		defer iter.Close()
		for iter.Next() {
			t.Logf("item %s %q", iter.Item().JID, iter.Item().Name)
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("disco#items %s: %v", domain, err)
		}
	})

	t.Run("XEP-0215", func(t *testing.T) {
		// mellium has no XEP-0215 package; its generic IQ API is enough.
		var services struct {
			XMLName  xml.Name `xml:"urn:xmpp:extdisco:2 services"`
			Services []struct {
				Type      string `xml:"type,attr"`
				Host      string `xml:"host,attr"`
				Port      int    `xml:"port,attr"`
				Transport string `xml:"transport,attr"`
			} `xml:"service"`
		}
		query := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:xmpp:extdisco:2", Local: "services"}})
		if err := c.s.UnmarshalIQElement(ctxWait(t), query, stanza.IQ{Type: stanza.GetIQ, To: domain}, &services); err != nil {
			t.Fatalf("external services of %s: %v", domain, err)
		}
		if services.XMLName.Local != "services" {
			t.Fatalf("no <services/> in the result")
		}
		for _, s := range services.Services {
			t.Logf("service %s %s:%d %s", s.Type, s.Host, s.Port, s.Transport)
		}
	})
}

// The server pings an idle client (XEP-0199 the other way); mellium's
// ping handler answers and the session lives on past the ping timeout.
func TestMelliumAnswersServerPing(t *testing.T) {
	srv, tlsConf := server(t, func(c *config.Config) {
		c.C2S.PingInterval = 200 * time.Millisecond
		c.C2S.PingTimeout = 200 * time.Millisecond
	})
	c := login(t, srv, tlsConf, "", "")
	c.expectPing(t)
	// A second ping comes only if the first answer kept the session alive
	// through the timeout.
	c.expectPing(t)
	if err := c.s.UnmarshalIQ(ctxWait(t), ping.IQ{IQ: stanza.IQ{Type: stanza.GetIQ, To: jid.MustParse(srv.Domain)}}.TokenReader(), nil); err != nil {
		t.Fatalf("ping after the server's pings: %v", err)
	}
}
