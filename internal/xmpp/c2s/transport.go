package c2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// transport is one client connection's framing: a TCP stream with
// <stream:stream> (RFC 6120) or WebSocket frames with <open/> (RFC 7395).
// Reads happen on the connection's reader goroutine only; writes are
// serialised by the caller (conn.wmu).
type transport interface {
	// readHeader waits for the peer's stream header (or <open/>).
	readHeader() (*stanza.Element, error)
	// next returns the next top-level element, or stream.ErrClosed.
	next() (*stanza.Element, error)
	// writeHeader sends the server's header (or <open/>) for a new stream.
	writeHeader(id, from string) error
	// write sends serialised top-level elements.
	write(frames ...[]byte) error
	// writeClose closes the stream (</stream:stream> or <close/>).
	writeClose() error
	// restart expects a new stream header on the same connection (after
	// STARTTLS and SASL).
	restart()
	// startTLS upgrades a TCP connection; WebSocket connections are already secure.
	startTLS(cfg *tls.Config) error
	secure() bool
	canStartTLS() bool
	setWriteDeadline(t time.Time)
	remoteIP() netip.Addr
	close() error
	// lastRead is when bytes last arrived, for the idle check.
	lastRead() time.Time
}

// errThrottled ends a connection that reads far beyond its rate budget.
var errThrottled = stream.ErrPolicyViolation.WithText("rate limit exceeded")

// meter limits and observes the bytes a connection reads.
type meter struct {
	lim  *rate.Limiter // nil = unlimited
	hold throttle
	last atomic.Int64 // unix nanoseconds of the last read
}

// take accounts for n bytes that took waited to arrive, holding the reader
// back to keep the rate.
func (m *meter) take(n int, waited time.Duration) error {
	m.last.Store(time.Now().UnixNano())
	if m.lim == nil || n == 0 {
		return nil
	}
	return m.hold.wait(m.lim, n, waited)
}

// throttle slows a reader down to its budget, and gives up on a peer that
// stays over budget for longer than max: a burst is absorbed, a flood ends
// with policy-violation. Used by one goroutine only.
//
// A peer is over budget from the first read the budget holds back until it
// leaves its budget unused: the reader waited for its next bytes at least
// as long as the budget takes to grant them. A token that is free only
// because the server was slow (a long handler, a busy machine) does not
// count; a flood, however paced, always has its next stanza waiting.
type throttle struct {
	max   time.Duration
	since time.Time // when the peer went over budget; zero while within
}

func (t *throttle) wait(lim *rate.Limiter, n int, waited time.Duration) error {
	now := time.Now()
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return errThrottled
	}
	d := r.DelayFrom(now)
	if d == 0 && !t.since.IsZero() && waited >= time.Duration(float64(n)/float64(lim.Limit())*float64(time.Second)) {
		t.since = time.Time{}
	}
	if d == 0 {
		return nil
	}
	if t.since.IsZero() {
		t.since = now
	}
	if now.Add(d).Sub(t.since) > t.max {
		r.CancelAt(now)
		return errThrottled
	}
	time.Sleep(d)
	return nil
}

func (m *meter) lastRead() time.Time { return time.Unix(0, m.last.Load()) }

// meteredConn applies the meter to a net.Conn's reads.
type meteredConn struct {
	net.Conn
	m *meter
}

func (c meteredConn) Read(p []byte) (int, error) {
	if c.m.lim != nil && len(p) > c.m.lim.Burst() {
		p = p[:c.m.lim.Burst()]
	}
	start := time.Now()
	n, err := c.Conn.Read(p)
	if n > 0 {
		if terr := c.m.take(n, time.Since(start)); terr != nil {
			return n, terr
		}
	}
	return n, err
}

// tcpTransport is RFC 6120 over TCP, optionally upgraded with STARTTLS or
// started with direct TLS (XEP-0368).
type tcpTransport struct {
	raw    net.Conn // the socket
	conn   net.Conn // raw, or the TLS connection over it
	m      *meter
	lim    stream.Limits
	dec    *stream.Decoder
	isTLS  bool
	remote netip.Addr
}

func newTCPTransport(c net.Conn, m *meter, lim stream.Limits, tlsDone bool) *tcpTransport {
	t := &tcpTransport{raw: c, conn: c, m: m, lim: lim, isTLS: tlsDone}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		t.remote = ap.Addr().Unmap()
	}
	t.restart()
	return t
}

func (t *tcpTransport) restart() {
	t.dec = stream.NewDecoder(bufio.NewReaderSize(meteredConn{t.conn, t.m}, 4096), t.lim)
}

func (t *tcpTransport) readHeader() (*stanza.Element, error) { return t.dec.Header() }
func (t *tcpTransport) next() (*stanza.Element, error)       { return t.dec.Next() }

func (t *tcpTransport) writeHeader(id, from string) error {
	_, err := t.conn.Write(stream.Header(id, from, "en"))
	return err
}

func (t *tcpTransport) write(frames ...[]byte) error {
	if len(frames) == 1 {
		_, err := t.conn.Write(frames[0])
		return err
	}
	bufs := net.Buffers(frames)
	if t.isTLS {
		// tls.Conn has no writev; join to send few records.
		n := 0
		for _, f := range frames {
			n += len(f)
		}
		b := make([]byte, 0, n)
		for _, f := range frames {
			b = append(b, f...)
		}
		_, err := t.conn.Write(b)
		return err
	}
	_, err := bufs.WriteTo(t.conn)
	return err
}

func (t *tcpTransport) writeClose() error {
	_, err := t.conn.Write([]byte(stream.Footer))
	return err
}

func (t *tcpTransport) startTLS(cfg *tls.Config) error {
	tc := tls.Server(t.raw, cfg)
	t.raw.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	t.raw.SetDeadline(time.Time{})
	t.conn = tc
	t.isTLS = true
	t.restart()
	return nil
}

func (t *tcpTransport) secure() bool                 { return t.isTLS }
func (t *tcpTransport) canStartTLS() bool            { return !t.isTLS }
func (t *tcpTransport) setWriteDeadline(d time.Time) { t.conn.SetWriteDeadline(d) }
func (t *tcpTransport) remoteIP() netip.Addr         { return t.remote }
func (t *tcpTransport) close() error                 { return t.raw.Close() }
func (t *tcpTransport) lastRead() time.Time          { return t.m.lastRead() }

// wsTransport is RFC 7395: one element per text message.
type wsTransport struct {
	ws       *websocket.Conn
	m        *meter
	lim      stream.Limits
	tls      bool
	remote   netip.Addr
	deadline atomic.Int64 // write deadline, unix nanoseconds; 0 = none
	ctx      context.Context
	cancel   context.CancelFunc
}

func newWSTransport(ws *websocket.Conn, m *meter, lim stream.Limits, secure bool, remote netip.Addr) *wsTransport {
	ctx, cancel := context.WithCancel(context.Background())
	// Like Prosody, buffer up to twice the stanza limit so that an oversized
	// stanza gets a policy-violation stream error; beyond that the WebSocket
	// layer closes with 1009 (message too big) before buffering more.
	ws.SetReadLimit(2 * int64(lim.MaxStanzaBytes))
	return &wsTransport{ws: ws, m: m, lim: lim, tls: secure, remote: remote, ctx: ctx, cancel: cancel}
}

// frame reads one text message and parses it.
func (t *wsTransport) frame() (*stanza.Element, error) {
	start := time.Now()
	typ, data, err := t.ws.Read(t.ctx)
	if err != nil {
		var ce websocket.CloseError
		if errors.As(err, &ce) && ce.Code == websocket.StatusMessageTooBig {
			return nil, stream.ErrPolicyViolation.WithText("frame too big")
		}
		if errors.As(err, &ce) {
			return nil, io.EOF
		}
		if errors.Is(err, websocket.ErrMessageTooBig) {
			return nil, stream.ErrPolicyViolation.WithText("frame too big")
		}
		return nil, err
	}
	if err := t.m.take(len(data), time.Since(start)); err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, stream.ErrNotWellFormed.WithText("binary frames are not XMPP")
	}
	return stream.DecodeFrame(data, t.lim)
}

func (t *wsTransport) readHeader() (*stanza.Element, error) {
	el, err := t.frame()
	if err != nil {
		return nil, err
	}
	if el.Name.Space != stream.NSFraming || el.Name.Local != "open" {
		return nil, stream.ErrInvalidNamespace.WithText("expected <open/>")
	}
	return el, nil
}

func (t *wsTransport) next() (*stanza.Element, error) {
	el, err := t.frame()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == stream.NSFraming {
		if el.Name.Local == "close" {
			return nil, stream.ErrClosed
		}
		return nil, stream.ErrBadFormat.WithText("unexpected <%s/>", el.Name.Local)
	}
	return el, nil
}

func (t *wsTransport) writeCtx() (context.Context, context.CancelFunc) {
	if d := t.deadline.Load(); d != 0 {
		return context.WithDeadline(t.ctx, time.Unix(0, d))
	}
	return t.ctx, func() {}
}

func (t *wsTransport) writeHeader(id, from string) error { return t.write(stream.Open(id, from, "en")) }

func (t *wsTransport) write(frames ...[]byte) error {
	ctx, cancel := t.writeCtx()
	defer cancel()
	for _, f := range frames {
		if err := t.ws.Write(ctx, websocket.MessageText, f); err != nil {
			return err
		}
	}
	return nil
}

func (t *wsTransport) writeClose() error { return t.write([]byte(stream.CloseFrame)) }
func (t *wsTransport) restart()          {}
func (t *wsTransport) startTLS(*tls.Config) error {
	return stream.ErrPolicyViolation.WithText("STARTTLS is not available on WebSocket")
}
func (t *wsTransport) secure() bool      { return t.tls }
func (t *wsTransport) canStartTLS() bool { return false }
func (t *wsTransport) setWriteDeadline(d time.Time) {
	if d.IsZero() {
		t.deadline.Store(0)
	} else {
		t.deadline.Store(d.UnixNano())
	}
}
func (t *wsTransport) remoteIP() netip.Addr { return t.remote }
func (t *wsTransport) close() error {
	t.cancel()
	return t.ws.CloseNow()
}
func (t *wsTransport) lastRead() time.Time { return t.m.lastRead() }
