package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// XML namespaces of RFC 6120 and XEP-0199 the client speaks.
const (
	nsClient  = "jabber:client"
	nsStreams = "http://etherx.jabber.org/streams"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsPing    = "urn:xmpp:ping"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// login says how a client authenticates: SASL PLAIN when user is set,
// SASL ANONYMOUS otherwise.
type login struct {
	addr     string // loopback host:port of the c2s listener
	local    net.IP // source address (a 127.0.0.0/8 address), or nil
	domain   string // the server's domain, e.g. "localhost"
	user     string // local part for PLAIN; "" selects ANONYMOUS
	password string
	resource string
}

// client is one c2s session after login: STARTTLS done, authenticated, bound
// and available. One goroutine reads (readLoop); writers share w under wmu.
type client struct {
	conn net.Conn // the TLS connection
	dec  *xml.Decoder
	jid  string // full JID the server bound

	wmu sync.Mutex    // guards w
	w   *bufio.Writer // buffered writes to conn; flushed by each writer
}

// stanza is the part of a top-level element the load tool looks at.
type stanza struct {
	name     xml.Name
	typ, id  string
	from, to string
	children []xml.Name // first-level children
	body     string     // text of <body/>
	jid      string     // text of a <jid/> anywhere inside (bind result)
}

func (s *stanza) has(space, local string) bool {
	for _, c := range s.children {
		if c.Space == space && c.Local == local {
			return true
		}
	}
	return false
}

// condition returns the local name of the first child in ns, which is how
// stream errors, SASL failures and stanza errors carry their condition.
func (s *stanza) condition(ns string) string {
	for _, c := range s.children {
		if c.Space == ns && c.Local != "text" {
			return c.Local
		}
	}
	if len(s.children) > 0 {
		return s.children[0].Local
	}
	return "unknown"
}

// features is <stream:features/> as far as a c2s client needs it.
type features struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Session    *struct {
		Optional *struct{} `xml:"optional"`
	} `xml:"urn:ietf:params:xml:ns:xmpp-session session"`
}

// dial connects and logs in: stream, STARTTLS, SASL, bind, initial presence,
// then a ping to the server whose answer proves every earlier stanza was
// processed. The context bounds the whole exchange.
func dial(ctx context.Context, l login) (*client, error) {
	var d net.Dialer
	if l.local != nil {
		d.LocalAddr = &net.TCPAddr{IP: l.local}
	}
	raw, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	// Abort blocked reads and writes when ctx ends before the deadline.
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()

	c, err := handshake(raw, l)
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, err
	}
	if !stop() {
		raw.Close()
		return nil, ctx.Err()
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

func handshake(raw net.Conn, l login) (*client, error) {
	c := &client{conn: raw, w: bufio.NewWriter(raw)}

	f, err := c.open(l.domain)
	if err != nil {
		return nil, err
	}
	if f.StartTLS == nil {
		return nil, errors.New("starttls: server does not offer it")
	}
	if err := c.send(`<starttls xmlns='` + nsTLS + `'/>`); err != nil {
		return nil, fmt.Errorf("starttls: %w", err)
	}
	s, err := c.next()
	if err != nil {
		return nil, fmt.Errorf("starttls: %w", err)
	}
	if s.name.Local != "proceed" {
		return nil, fmt.Errorf("starttls: server answered <%s/>", s.name.Local)
	}
	// Test servers use self-signed certificates, and this tool only ever
	// connects to loopback, so the certificate is not verified.
	tc := tls.Client(raw, &tls.Config{ServerName: l.domain, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("starttls: handshake: %w", err)
	}
	c.conn = tc
	c.w = bufio.NewWriter(tc)

	if f, err = c.open(l.domain); err != nil {
		return nil, err
	}
	if err := c.auth(f, l); err != nil {
		return nil, err
	}
	if f, err = c.open(l.domain); err != nil {
		return nil, err
	}
	if err := c.bind(f, l.resource); err != nil {
		return nil, err
	}
	if err := c.send(`<presence/>`); err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	if _, err := c.iq(`<iq type='get' id='ready' to='`+escape(l.domain)+`'><ping xmlns='`+nsPing+`'/></iq>`, "ready"); err != nil {
		return nil, fmt.Errorf("ping after presence: %w", err)
	}
	return c, nil
}

// open sends a stream header and reads the server's header and features.
// Each stream restart (after STARTTLS and SASL) gets a fresh decoder: the
// server sends nothing between its last element and our new header, so the
// old decoder holds no buffered bytes.
func (c *client) open(domain string) (*features, error) {
	err := c.send(`<?xml version='1.0'?><stream:stream to='` + escape(domain) +
		`' version='1.0' xmlns='` + nsClient + `' xmlns:stream='` + nsStreams + `'>`)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	c.dec = xml.NewDecoder(c.conn)
	for {
		t, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("open stream: %w", err)
		}
		if se, ok := t.(xml.StartElement); ok {
			if se.Name.Space != nsStreams || se.Name.Local != "stream" {
				return nil, fmt.Errorf("open stream: got <%s/>", se.Name.Local)
			}
			break
		}
	}
	for {
		t, err := c.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("stream features: %w", err)
		}
		se, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Space == nsStreams && se.Name.Local == "features" {
			var f features
			if err := c.dec.DecodeElement(&f, &se); err != nil {
				return nil, fmt.Errorf("stream features: %w", err)
			}
			return &f, nil
		}
		s, err := c.readElement(se)
		if err != nil {
			return nil, fmt.Errorf("stream features: %w", err)
		}
		if s.name.Space == nsStreams && s.name.Local == "error" {
			return nil, fmt.Errorf("stream error: %s", s.condition("urn:ietf:params:xml:ns:xmpp-streams"))
		}
		return nil, fmt.Errorf("stream features: got <%s/>", s.name.Local)
	}
}

func (c *client) auth(f *features, l login) error {
	mech, payload := "ANONYMOUS", ""
	if l.user != "" {
		mech = "PLAIN"
		payload = base64.StdEncoding.EncodeToString([]byte("\x00" + l.user + "\x00" + l.password))
	}
	offered := false
	for _, m := range f.Mechanisms {
		offered = offered || m == mech
	}
	if !offered {
		return fmt.Errorf("sasl: server does not offer %s (offers %s)", mech, strings.Join(f.Mechanisms, ", "))
	}
	if payload == "" {
		payload = "=" // RFC 6120 §6.4.2: an empty initial response
	}
	if err := c.send(`<auth xmlns='` + nsSASL + `' mechanism='` + mech + `'>` + payload + `</auth>`); err != nil {
		return fmt.Errorf("sasl %s: %w", mech, err)
	}
	s, err := c.next()
	if err != nil {
		return fmt.Errorf("sasl %s: %w", mech, err)
	}
	switch s.name.Local {
	case "success":
		return nil
	case "failure":
		return fmt.Errorf("sasl %s: failure: %s", mech, s.condition(nsSASL))
	default:
		return fmt.Errorf("sasl %s: unexpected <%s/>", mech, s.name.Local)
	}
}

func (c *client) bind(f *features, resource string) error {
	if f.Bind == nil {
		return errors.New("bind: server does not offer resource binding")
	}
	res := ""
	if resource != "" {
		res = `<resource>` + escape(resource) + `</resource>`
	}
	s, err := c.iq(`<iq type='set' id='bind'><bind xmlns='`+nsBind+`'>`+res+`</bind></iq>`, "bind")
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if s.jid == "" {
		return errors.New("bind: result carries no JID")
	}
	c.jid = s.jid
	// RFC 3921 sessions: only for servers that still require them.
	if f.Session != nil && f.Session.Optional == nil {
		if _, err := c.iq(`<iq type='set' id='sess'><session xmlns='`+nsSession+`'/></iq>`, "sess"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// iq sends a request and waits for the response with the given id, skipping
// whatever else arrives meanwhile (presence echoes, for instance).
func (c *client) iq(req, id string) (*stanza, error) {
	if err := c.send(req); err != nil {
		return nil, err
	}
	for {
		s, err := c.next()
		if err != nil {
			return nil, err
		}
		if s.name.Local != "iq" || s.id != id {
			continue
		}
		if s.typ == "error" {
			return nil, fmt.Errorf("iq error: %s", s.condition(nsStanzas))
		}
		return s, nil
	}
}

// send writes raw XML and flushes it.
func (c *client) send(x string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.WriteString(x); err != nil {
		return err
	}
	return c.w.Flush()
}

// next reads the next top-level element. The end of the server's stream is
// io.EOF; a stream error is returned as an error.
func (c *client) next() (*stanza, error) {
	for {
		t, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			s, err := c.readElement(t)
			if err != nil {
				return nil, err
			}
			if s.name.Space == nsStreams && s.name.Local == "error" {
				return nil, fmt.Errorf("stream error: %s", s.condition("urn:ietf:params:xml:ns:xmpp-streams"))
			}
			return s, nil
		case xml.EndElement:
			return nil, io.EOF // </stream:stream>
		}
	}
}

// readElement consumes the element that start opened, keeping only what the
// tool needs. It walks tokens instead of using reflection: this is the hot
// path of the routing benchmark.
func (c *client) readElement(start xml.StartElement) (*stanza, error) {
	s := &stanza{name: start.Name}
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "type":
			s.typ = a.Value
		case "id":
			s.id = a.Value
		case "from":
			s.from = a.Value
		case "to":
			s.to = a.Value
		}
	}
	depth := 1
	var text *strings.Builder
	var body, jid strings.Builder
	for depth > 0 {
		t, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			depth++
			text = nil
			if depth == 2 {
				s.children = append(s.children, t.Name)
				if t.Name.Local == "body" {
					text = &body
				}
			}
			if t.Name.Local == "jid" {
				text = &jid
			}
		case xml.EndElement:
			depth--
			text = nil
		case xml.CharData:
			if text != nil {
				text.Write(t)
			}
		}
	}
	s.body, s.jid = body.String(), jid.String()
	return s, nil
}

// readLoop hands every message to onMessage until the stream ends, and
// answers IQs so servers that ping idle clients (XEP-0199) keep them.
func (c *client) readLoop(onMessage func(*stanza)) error {
	for {
		s, err := c.next()
		if err != nil {
			return err
		}
		switch s.name.Local {
		case "message":
			onMessage(s)
		case "iq":
			if s.typ != "get" && s.typ != "set" {
				continue
			}
			reply := `<iq type='result' id='` + escape(s.id) + `'` + toAttr(s.from) + `/>`
			if !s.has(nsPing, "ping") {
				reply = `<iq type='error' id='` + escape(s.id) + `'` + toAttr(s.from) +
					`><error type='cancel'><service-unavailable xmlns='` + nsStanzas + `'/></error></iq>`
			}
			if err := c.send(reply); err != nil {
				return err
			}
		}
	}
}

// close ends the stream politely and closes the connection without waiting
// for the server's closing tag.
func (c *client) close() {
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.send(`</stream:stream>`)
	c.conn.Close()
}

func toAttr(jid string) string {
	if jid == "" {
		return ""
	}
	return ` to='` + escape(jid) + `'`
}

var attrEscaper = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `'`, "&apos;", `"`, "&quot;")

func escape(s string) string { return attrEscaper.Replace(s) }
