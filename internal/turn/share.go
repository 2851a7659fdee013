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
//   - a client that offers ALPN "stun.turn" (RFC 7443) goes to TURN, and "stun.turn" is what the server
//     selects for it, even when it offers "http/1.1" too: coturn's clients offer "http/1.1",
//     "stun.turn" and "stun.nat-discovery" in that order, and the server's own preference (HTTP first)
//     would otherwise hand their STUN requests to the HTTP server;
//   - without ALPN the first decrypted byte decides: a STUN message starts with 0x00 or 0x01 (RFC 8489
//     §5; TURN ChannelData starts with 0x40-0x4F but never comes first), an HTTP/1 request with a
//     letter. The first read is handed on whole as the connection's first read, so TURN's stream
//     framing sees the bytes as it does on the TURN TLS port. Such HTTP connections reach the HTTP
//     server wrapped, with ConnectionState, so Request.TLS is still set.
//
// Closing the returned listener closes ln.
func (s *Server) ShareTLS(ln net.Listener, cfg *tls.Config) net.Listener {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		s.mu.Lock()
		s.sharedPort = tcp.Port
		s.mu.Unlock()
	}
	cfg = shareConfig(cfg)
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

// alpnTURN is TURN's ALPN protocol ID (RFC 7443 §6).
const alpnTURN = "stun.turn"

// shareConfig is the shared port's TLS configuration: cfg offering "stun.turn" as well, and selecting
// "stun.turn" for every client that offers it, whatever else it offers.
func shareConfig(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	if !slices.Contains(cfg.NextProtos, alpnTURN) {
		cfg.NextProtos = append(slices.Clone(cfg.NextProtos), alpnTURN)
	}
	forTURN := func(c *tls.Config) *tls.Config {
		c = c.Clone()
		c.GetConfigForClient = nil
		c.NextProtos = []string{alpnTURN}
		return c
	}
	turnCfg := forTURN(cfg)
	inner := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		var c *tls.Config
		if inner != nil {
			var err error
			if c, err = inner(hello); err != nil {
				return nil, err
			}
		}
		if !slices.Contains(hello.SupportedProtos, alpnTURN) {
			return c, nil
		}
		if c != nil {
			return forTURN(c), nil
		}
		return turnCfg, nil
	}
	return cfg
}

// firstRead bounds the first read of a connection without ALPN; what it returns is handed on whole.
const firstRead = 4096

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
	case alpnTURN:
		toTURN = true
	case "":
		b := make([]byte, firstRead)
		n, err := tc.Read(b)
		if err != nil || n == 0 {
			tc.Close()
			return
		}
		toTURN = b[0] <= 0x01
		conn = &prefixConn{Conn: tc, tls: tc, first: b[:n]}
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

// prefixConn gives back the bytes read to choose the destination, as they came: the whole first read
// goes to the first Read that has room for it.
type prefixConn struct {
	net.Conn
	tls   *tls.Conn
	mu    sync.Mutex // guards first against concurrent Reads
	first []byte     // what is left of the first read
}

func (c *prefixConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.first) > 0 && len(p) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		if len(c.first) == 0 {
			c.first = nil
		}
		c.mu.Unlock()
		return n, nil
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
