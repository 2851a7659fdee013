// Package xmpptest runs a whole Parley server in-process on loopback and
// drives it with a raw XMPP client for black-box wire tests: send XML, expect
// the reply (the send/expect style of nats-server's tests). It is imported by
// tests only.
package xmpptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/xdg-go/scram"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/sasl"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// Timeout bounds every wait for the server.
const Timeout = 10 * time.Second

// Server is a running in-process Parley.
type Server struct {
	App    *app.App
	Config config.Config
	Domain string
	TCP    string // c2s address
	HTTP   string // HTTPS address
}

// Start runs a server on loopback with ephemeral ports; mutate adjusts the
// configuration first. It stops when the test ends.
func Start(t testing.TB, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.XMPP = "127.0.0.1:0"
	cfg.Media = "127.0.0.1:0"
	cfg.TURN = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.LogLevel = "warn"
	// Tests log in many times from 127.0.0.1; the per-IP login limit has
	// its own test.
	cfg.C2S.LoginsPerSecond = 1000
	cfg.C2S.LoginBurst = 1000
	// Media tests run on loopback only, which WebRTC stacks skip unless told.
	cfg.Bridge.IncludeLoopback = true
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(); err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Server{App: a, Config: cfg, Domain: cfg.Domain, TCP: a.XMPPAddr().String(), HTTP: a.HTTPAddr().String()}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// AddUser creates an account.
func (s *Server) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if err := s.App.Store().AddUser(context.Background(), name, password); err != nil {
		t.Fatalf("add user: %v", err)
	}
}

// WSURL is the RFC 7395 endpoint, with an optional query.
func (s *Server) WSURL(query string) string {
	u := "wss://" + s.HTTP + "/xmpp-websocket"
	if query != "" {
		u += "?" + query
	}
	return u
}

// HTTPClient trusts the server's self-signed certificate.
func HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: Timeout}
}

// Client is a raw XMPP client over TCP or WebSocket.
type Client struct {
	t      testing.TB
	srv    *Server
	raw    net.Conn // TCP
	conn   net.Conn // raw or TLS over it
	dec    *stream.Decoder
	ws     *websocket.Conn
	JID    string
	closed bool
}

// DialTCP connects to the c2s port without sending anything.
func (s *Server) DialTCP(t testing.TB) *Client {
	t.Helper()
	return s.DialTCPFrom(t, "")
}

// DialTCPFrom is DialTCP from a given local address (another loopback
// address such as 127.0.0.2 acts as another client machine); "" lets the
// system choose.
func (s *Server) DialTCPFrom(t testing.TB, localIP string) *Client {
	t.Helper()
	d := net.Dialer{Timeout: Timeout}
	if localIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	c, err := d.Dial("tcp", s.TCP)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	cl := &Client{t: t, srv: s, raw: c, conn: c}
	t.Cleanup(cl.Close)
	return cl
}

// DialWS opens the WebSocket with the xmpp subprotocol.
func (s *Server) DialWS(t testing.TB, query string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.WSURL(query), &websocket.DialOptions{
		HTTPClient:   HTTPClient(),
		Subprotocols: []string{"xmpp"},
	})
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	ws.SetReadLimit(4 << 20)
	cl := &Client{t: t, srv: s, ws: ws}
	t.Cleanup(cl.Close)
	return cl
}

// IsWS reports whether the client speaks RFC 7395.
func (c *Client) IsWS() bool { return c.ws != nil }

// Send writes raw XML (one frame on WebSocket).
func (c *Client) Send(xml string) {
	c.t.Helper()
	if err := c.TrySend(xml); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// TrySend is Send that reports the error instead of failing.
func (c *Client) TrySend(xml string) error {
	if c.ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, []byte(xml))
	}
	c.conn.SetWriteDeadline(time.Now().Add(Timeout))
	_, err := io.WriteString(c.conn, xml)
	return err
}

// Next reads the next top-level element from the server.
func (c *Client) Next() (*stanza.Element, error) {
	lim := stream.Limits{MaxStanzaBytes: 8 << 20, MaxDepth: 64, MaxAttrs: 256}
	if c.ws != nil {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		return stream.DecodeFrame(data, lim)
	}
	c.conn.SetReadDeadline(time.Now().Add(Timeout))
	if c.dec == nil {
		return nil, errors.New("stream not open")
	}
	return c.dec.Next()
}

// Expect reads the next element and fails the test unless match accepts it.
func (c *Client) Expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	el, err := c.Next()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", what, err)
	}
	if !match(el) {
		c.t.Fatalf("waiting for %s, got %s", what, el)
	}
	return el
}

// ExpectSkip reads elements until one matches, skipping others (presence
// broadcasts, acks); it fails on a stream error or after Timeout.
func (c *Client) ExpectSkip(what string, match func(*stanza.Element) bool) *stanza.Element {
	c.t.Helper()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		el, err := c.Next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(el) {
			return el
		}
		if el.Is(stream.NS, "error") {
			c.t.Fatalf("waiting for %s, got stream error %s", what, el)
		}
	}
	c.t.Fatalf("waiting for %s: timed out", what)
	return nil
}

// ExpectStreamError waits for a stream error with condition cond and then
// for the stream to end.
func (c *Client) ExpectStreamError(cond string) {
	c.t.Helper()
	for {
		el, err := c.Next()
		if err != nil {
			c.t.Fatalf("waiting for stream error %s: %v", cond, err)
		}
		if !el.Is(stream.NS, "error") {
			continue
		}
		if el.Child(stream.NSErrors, cond) == nil {
			c.t.Fatalf("expected stream error %s, got %s", cond, el)
		}
		break
	}
	c.ExpectEnd()
}

// ExpectEnd waits for the server to close the stream or the connection.
func (c *Client) ExpectEnd() {
	c.t.Helper()
	for {
		el, err := c.Next()
		if err != nil {
			return
		}
		if el.Is(stream.NSFraming, "close") {
			return
		}
	}
}

// Open starts a stream and returns the features the server offers.
func (c *Client) Open() *stanza.Element {
	c.t.Helper()
	if c.ws != nil {
		c.Send(fmt.Sprintf(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="%s" version="1.0"/>`, c.srv.Domain))
		c.Expect("<open/>", func(e *stanza.Element) bool { return e.Is(stream.NSFraming, "open") })
	} else {
		c.Send(fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="%s" version="1.0">`, c.srv.Domain))
		c.dec = stream.NewDecoder(c.conn, stream.Limits{MaxStanzaBytes: 8 << 20, MaxDepth: 64, MaxAttrs: 256})
		c.conn.SetReadDeadline(time.Now().Add(Timeout))
		if _, err := c.dec.Header(); err != nil {
			c.t.Fatalf("stream header: %v", err)
		}
	}
	return c.Expect("features", func(e *stanza.Element) bool { return e.Is(stream.NS, "features") })
}

// StartTLS negotiates TLS on a TCP stream and reopens it.
func (c *Client) StartTLS() *stanza.Element {
	c.t.Helper()
	c.Send(`<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`)
	c.Expect("proceed", func(e *stanza.Element) bool { return e.Is(stream.NSTLS, "proceed") })
	tc := tls.Client(c.raw, &tls.Config{InsecureSkipVerify: true, ServerName: c.srv.Domain})
	tc.SetDeadline(time.Now().Add(Timeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("tls: %v", err)
	}
	tc.SetDeadline(time.Time{})
	c.conn = tc
	return c.Open()
}

// Secure opens the stream, with STARTTLS on TCP, and returns the features.
func (c *Client) Secure() *stanza.Element {
	c.t.Helper()
	f := c.Open()
	if c.ws == nil {
		f = c.StartTLS()
	}
	return f
}

// Auth runs a SASL exchange and returns the final element (success or failure).
func (c *Client) Auth(mech string, initial []byte, respond func(challenge []byte) []byte) *stanza.Element {
	c.t.Helper()
	c.Send(fmt.Sprintf(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="%s">%s</auth>`, mech, sasl.EncodePayload(initial)))
	for {
		el, err := c.Next()
		if err != nil {
			c.t.Fatalf("sasl: %v", err)
		}
		if !el.Is(stream.NSSASL, "challenge") {
			return el
		}
		ch, err := sasl.DecodePayload(el.Text)
		if err != nil {
			c.t.Fatalf("challenge: %v", err)
		}
		c.Send(fmt.Sprintf(`<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">%s</response>`, sasl.EncodePayload(respond(ch))))
	}
}

// AuthSCRAM authenticates with SCRAM-SHA-256 (or -1) using a third-party
// SCRAM client; it returns the final element.
func (c *Client) AuthSCRAM(mech, user, password string) *stanza.Element {
	c.t.Helper()
	hf := scram.SHA256
	if mech == sasl.ScramSHA1 {
		hf = scram.SHA1
	}
	cl, err := hf.NewClient(user, password, "")
	if err != nil {
		c.t.Fatal(err)
	}
	conv := cl.NewConversation()
	first, _ := conv.Step("")
	return c.Auth(mech, []byte(first), func(ch []byte) []byte {
		out, err := conv.Step(string(ch))
		if err != nil {
			return []byte("bad")
		}
		return []byte(out)
	})
}

// Login authenticates (ANONYMOUS when user is empty, else SCRAM-SHA-256),
// binds and sends initial presence. It returns the bound JID.
func (c *Client) Login(user, password string) string {
	c.t.Helper()
	c.Secure()
	var res *stanza.Element
	if user == "" {
		res = c.Auth("ANONYMOUS", nil, nil)
	} else {
		res = c.AuthSCRAM(sasl.ScramSHA256, user, password)
	}
	if !res.Is(stream.NSSASL, "success") {
		c.t.Fatalf("login failed: %s", res)
	}
	c.Open()
	c.JID = c.Bind("")
	c.Send(`<presence/>`)
	c.ExpectSkip("own presence", func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("from") == c.JID })
	return c.JID
}

// Bind binds a resource and returns the full JID.
func (c *Client) Bind(resource string) string {
	c.t.Helper()
	r := ""
	if resource != "" {
		r = "<resource>" + resource + "</resource>"
	}
	c.Send(`<iq type="set" id="bind1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind">` + r + `</bind></iq>`)
	el := c.Expect("bind result", func(e *stanza.Element) bool { return e.Get("id") == "bind1" && e.Get("type") == "result" })
	return el.Child(stream.NSBind, "bind").ChildText(stream.NSBind, "jid")
}

// Close ends the stream politely if it is still open.
func (c *Client) Close() {
	if c.closed {
		return
	}
	c.closed = true
	if c.ws != nil {
		c.ws.CloseNow()
		return
	}
	c.conn.Close()
}

// Drop closes the socket abruptly, without closing the stream.
func (c *Client) Drop() {
	c.closed = true
	if c.ws != nil {
		c.ws.CloseNow()
		return
	}
	c.raw.Close()
}

// IsResult matches an IQ result with id.
func IsResult(id string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("id") == id && e.Get("type") == "result"
	}
}

// IsError matches a stanza of type error with id and condition.
func IsError(id, cond string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		if e.Get("type") != "error" || (id != "" && e.Get("id") != id) {
			return false
		}
		se := stanza.ErrorOf(e)
		return se != nil && se.Condition == cond
	}
}

// ExpectHeader reads the server's stream header on a TCP connection that
// was opened by hand with Send.
func (c *Client) ExpectHeader() {
	c.t.Helper()
	c.dec = stream.NewDecoder(c.conn, stream.Limits{MaxStanzaBytes: 8 << 20, MaxDepth: 64, MaxAttrs: 256})
	c.conn.SetReadDeadline(time.Now().Add(Timeout))
	if _, err := c.dec.Header(); err != nil {
		c.t.Fatalf("stream header: %v", err)
	}
}

// SendBinary sends a binary WebSocket message.
func (c *Client) SendBinary(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

// ExpectWSClose waits for the server to close the WebSocket with code.
func (c *Client) ExpectWSClose(code websocket.StatusCode) {
	c.t.Helper()
	for {
		_, err := c.Next()
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != code {
			c.t.Fatalf("expected WebSocket close %d, got %v", code, err)
		}
		return
	}
}

// Wrap makes a client of an already connected (for example direct TLS)
// socket.
func Wrap(t testing.TB, s *Server, c net.Conn) *Client {
	cl := &Client{t: t, srv: s, raw: c, conn: c}
	t.Cleanup(cl.Close)
	return cl
}
