// Package client is a small XMPP client over WebSocket (RFC 7395) for the
// Go participant (`parley bot`), load tools and end-to-end tests: it logs in
// (SASL ANONYMOUS or SCRAM), binds a resource, and then sends stanzas,
// matches IQ responses to their requests and hands every other inbound
// stanza to a handler.
//
// Flow: Dial opens the socket and runs <open/> → features → <auth/> →
// <success/> → <open/> → features → bind; a reader goroutine then
// dispatches stanzas until Close or the connection ends (Done is closed,
// Err says why).
package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/xdg-go/scram"

	"github.com/parley-im/parley/internal/xmpp/sasl"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// Options configure Dial.
type Options struct {
	URL      string // wss://host:port/xmpp-websocket
	Domain   string
	User     string // empty: SASL ANONYMOUS
	Password string
	Resource string
	// Insecure skips certificate verification (self-signed test servers).
	Insecure bool
	// Handler receives every inbound stanza that is not an IQ response to
	// a request made with IQ. It runs on the reader goroutine: it must not
	// block for long, and may call Send.
	Handler func(*stanza.Element)
}

// Client is a logged-in XMPP session.
type Client struct {
	ws      *websocket.Conn
	jid     string
	handler func(*stanza.Element)
	limits  stream.Limits

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	pending map[string]chan *stanza.Element // guarded by mu: IQ id → reply
	err     error                           // guarded by mu
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

// ErrClosed is returned for requests on a closed client.
var ErrClosed = errors.New("xmpp client closed")

// Dial connects, authenticates and binds.
func Dial(ctx context.Context, o Options) (*Client, error) {
	hc := http.DefaultClient
	if o.Insecure {
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	ws, _, err := websocket.Dial(ctx, o.URL, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"xmpp"}})
	if err != nil {
		return nil, fmt.Errorf("xmpp: dial %s: %w", o.URL, err)
	}
	ws.SetReadLimit(1 << 20)
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		ws: ws, handler: o.Handler, pending: make(map[string]chan *stanza.Element),
		done: make(chan struct{}), ctx: cctx, cancel: cancel,
		limits: stream.Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 64, MaxAttrs: 256},
	}
	if err := c.login(ctx, o); err != nil {
		cancel()
		ws.CloseNow()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

// JID is the bound full JID.
func (c *Client) JID() string { return c.jid }

func (c *Client) write(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *Client) read(ctx context.Context) (*stanza.Element, error) {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	el, err := stream.DecodeFrame(data, c.limits)
	if err != nil {
		return nil, err
	}
	if el.Is(stream.NS, "error") {
		return nil, fmt.Errorf("xmpp: stream error: %s", el)
	}
	return el, nil
}

func (c *Client) open(ctx context.Context, domain string) (*stanza.Element, error) {
	open := fmt.Sprintf(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="%s" version="1.0"/>`, domain)
	if err := c.write(ctx, []byte(open)); err != nil {
		return nil, err
	}
	for {
		el, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		if el.Is(stream.NS, "features") {
			return el, nil
		}
	}
}

func (c *Client) login(ctx context.Context, o Options) error {
	if _, err := c.open(ctx, o.Domain); err != nil {
		return fmt.Errorf("xmpp: open: %w", err)
	}
	if err := c.authenticate(ctx, o); err != nil {
		return err
	}
	if _, err := c.open(ctx, o.Domain); err != nil {
		return fmt.Errorf("xmpp: reopen: %w", err)
	}
	bind := stanza.New(stream.NSBind, "bind")
	if o.Resource != "" {
		bind.Add(stanza.New(stream.NSBind, "resource").SetText(o.Resource))
	}
	id := newID()
	if err := c.write(ctx, stanza.NewIQ("set", id, "", "", bind).Bytes()); err != nil {
		return err
	}
	for {
		el, err := c.read(ctx)
		if err != nil {
			return fmt.Errorf("xmpp: bind: %w", err)
		}
		if el.Name.Local != stanza.IQ || el.Get("id") != id {
			continue
		}
		if el.Get("type") != "result" {
			return fmt.Errorf("xmpp: bind refused: %v", stanza.ErrorOf(el))
		}
		c.jid = el.Child(stream.NSBind, "bind").ChildText(stream.NSBind, "jid")
		return nil
	}
}

func (c *Client) authenticate(ctx context.Context, o Options) error {
	mech := "ANONYMOUS"
	var initial []byte
	var conv *scram.ClientConversation
	if o.User != "" {
		mech = sasl.ScramSHA256
		sc, err := scram.SHA256.NewClient(o.User, o.Password, "")
		if err != nil {
			return err
		}
		conv = sc.NewConversation()
		first, err := conv.Step("")
		if err != nil {
			return err
		}
		initial = []byte(first)
	}
	auth := stanza.New(stream.NSSASL, "auth", "mechanism", mech).SetText(sasl.EncodePayload(initial))
	if err := c.write(ctx, auth.Bytes()); err != nil {
		return err
	}
	for {
		el, err := c.read(ctx)
		if err != nil {
			return fmt.Errorf("xmpp: sasl: %w", err)
		}
		switch {
		case el.Is(stream.NSSASL, "success"):
			return nil
		case el.Is(stream.NSSASL, "failure"):
			return fmt.Errorf("xmpp: authentication failed: %s", el)
		case el.Is(stream.NSSASL, "challenge") && conv != nil:
			in, err := sasl.DecodePayload(el.Text)
			if err != nil {
				return err
			}
			out, err := conv.Step(string(in))
			if err != nil {
				return fmt.Errorf("xmpp: scram: %w", err)
			}
			resp := stanza.New(stream.NSSASL, "response").SetText(sasl.EncodePayload([]byte(out)))
			if err := c.write(ctx, resp.Bytes()); err != nil {
				return err
			}
		}
	}
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		el, err := c.read(c.ctx)
		if err != nil {
			c.fail(err)
			return
		}
		if el.Name.Local == stanza.IQ && (el.Get("type") == "result" || el.Get("type") == "error") {
			c.mu.Lock()
			ch := c.pending[el.Get("id")]
			delete(c.pending, el.Get("id"))
			c.mu.Unlock()
			if ch != nil {
				ch <- el
				continue
			}
		}
		if el.Name.Local == stanza.IQ && (el.Get("type") == "get" || el.Get("type") == "set") && c.handler == nil {
			c.Send(stanza.ErrorReply(el, stanza.ErrServiceUnavailable))
			continue
		}
		if c.handler != nil {
			c.handler(el)
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

// Send writes a stanza (from is stamped by the server).
func (c *Client) Send(el *stanza.Element) error {
	if el == nil {
		return nil
	}
	return c.write(c.ctx, el.Bytes())
}

// IQ sends an IQ request and waits for its response; an error response is
// returned as a *stanza.Error.
func (c *Client) IQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	id := iq.Get("id")
	if id == "" {
		id = newID()
		iq.Set("id", id)
	}
	ch := make(chan *stanza.Element, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.Send(iq); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		if r.Get("type") == "error" {
			if se := stanza.ErrorOf(r); se != nil {
				return r, se
			}
			return r, stanza.ErrUndefinedCondition
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended (nil while it is up or after Close).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the stream politely and waits for the reader to stop.
func (c *Client) Close() error {
	c.write(c.ctx, []byte(stream.CloseFrame))
	c.cancel()
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Drop closes the socket without closing the stream (tests of failures).
func (c *Client) Drop() {
	c.cancel()
	c.ws.CloseNow()
	<-c.done
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
