package turn

import (
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"
)

// shareHandshakeTimeout bounds the TLS handshake and the wait for the first byte on the shared port.
const shareHandshakeTimeout = 10 * time.Second

// ShareTLS serves TURN over TLS on the HTTPS port. It takes the HTTPS server's plain TCP listener and its
// TLS configuration and returns the listener the HTTP server should serve instead: each connection is
// handshaken here, then
//   - ALPN "h2" or "http/1.1" (every browser page load) goes to HTTP as the *tls.Conn itself, so HTTP/2
//     keeps working;
//   - ALPN "stun.turn" (RFC 7443) goes to TURN;
//   - without ALPN the first decrypted byte decides: a STUN message starts with 0x00 or 0x01 (RFC 8489
//     §5; TURN ChannelData starts with 0x40-0x4F but never comes first), an HTTP/1 request with a
//     letter. Such HTTP connections reach the HTTP server wrapped, with ConnectionState, so
//     Request.TLS is still set.
//
// Closing the returned listener closes ln.
func (s *Server) ShareTLS(ln net.Listener, cfg *tls.Config) net.Listener {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		s.mu.Lock()
		s.sharedPort = tcp.Port
		s.mu.Unlock()
	}
	cfg = cfg.Clone()
	if !slices.Contains(cfg.NextProtos, "stun.turn") {
		cfg.NextProtos = append(slices.Clone(cfg.NextProtos), "stun.turn")
	}
	httpL := newConnListener(ln.Addr(), ln.Close)
	go func() {
		defer httpL.Close()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			go s.split(c, cfg, httpL)
		}
	}()
	return httpL
}

// split handshakes one connection of the shared port and hands it to TURN or HTTP.
func (s *Server) split(raw net.Conn, cfg *tls.Config, httpL *connListener) {
	_ = raw.SetDeadline(time.Now().Add(shareHandshakeTimeout))
	tc := tls.Server(raw, cfg)
	if err := tc.Handshake(); err != nil {
		raw.Close()
		return
	}
	var conn net.Conn = tc
	toTURN := false
	switch tc.ConnectionState().NegotiatedProtocol {
	case "stun.turn":
		toTURN = true
	case "":
		var b [1]byte
		if _, err := tc.Read(b[:]); err != nil {
			tc.Close()
			return
		}
		toTURN = b[0] <= 0x01
		conn = &prefixConn{Conn: tc, tls: tc, first: b[0], pending: true}
	}
	_ = raw.SetDeadline(time.Time{})
	if !toTURN {
		httpL.deliver(conn)
		return
	}
	if s.shared == nil {
		conn.Close()
		return
	}
	select {
	case s.tcpSem <- struct{}{}:
		s.shared.deliver(&limitConn{Conn: conn, sem: s.tcpSem})
	default:
		s.m.refuse(ReasonQuota)
		conn.Close()
	}
}

// prefixConn gives back the byte read to choose the destination.
type prefixConn struct {
	net.Conn
	tls     *tls.Conn
	mu      sync.Mutex // guards first and pending against concurrent Reads
	first   byte
	pending bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		c.mu.Unlock()
		return 1, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// ConnectionState lets net/http fill Request.TLS for a wrapped connection.
func (c *prefixConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// connListener is a net.Listener fed with connections by deliver.
type connListener struct {
	addr    net.Addr
	ch      chan net.Conn
	done    chan struct{}
	once    sync.Once
	onClose func() error
}

func newConnListener(addr net.Addr, onClose func() error) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{}), onClose: onClose}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *connListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		if l.onClose != nil {
			err = l.onClose()
		}
	})
	return err
}

func (l *connListener) Addr() net.Addr { return l.addr }
