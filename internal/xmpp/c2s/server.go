// Package c2s serves XMPP client sessions (RFC 6120, RFC 6121) over TCP with
// STARTTLS or direct TLS, and over WebSocket (RFC 7395).
//
// Flow of one connection:
//
//	header → features(starttls) → STARTTLS → header → features(mechanisms)
//	→ SASL → header → features(bind, sm) → bind | resume → stanzas …
//
// Each connection has a reader goroutine (negotiation, then every inbound
// element) and, once bound, a writer goroutine that owns writes and drains the
// session's bounded queue; anything that wants to send to a client only
// enqueues. A session outlives its connection when XEP-0198 resumption is on:
// it hibernates, queueing what arrives, until the client resumes or the
// resume timeout ends it.
package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/xmpp/router"
	"github.com/parley-im/parley/internal/xmpp/sasl"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// Server accepts client connections for one domain.
type Server struct {
	domain  string
	cfg     Config
	tls     *tls.Config
	router  *router.Router
	sasl    *sasl.Server
	limiter *sasl.Limiter
	log     *slog.Logger

	closing atomic.Bool
	wg      sync.WaitGroup // every connection goroutine

	mu        sync.Mutex
	conns     map[*conn]struct{}    // guarded by mu: open connections
	sessions  map[*session]struct{} // guarded by mu: bound sessions, attached or hibernating
	resumable map[string]*session   // guarded by mu: XEP-0198 id → session
	listeners []net.Listener        // guarded by mu
}

// Options are the parts a Server is built from.
type Options struct {
	Domain string
	Config Config
	TLS    *tls.Config // nil disables STARTTLS, direct TLS and PLAIN over TCP
	Router *router.Router
	SASL   *sasl.Server
	Logger *slog.Logger
}

// New returns a server; it accepts nothing until Serve or ServeHTTP is used.
func New(o Options) (*Server, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Router == nil || o.SASL == nil {
		return nil, errors.New("c2s: router and SASL server are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	lc := sasl.LimiterConfig{
		AttemptsPerSecond: o.Config.LoginsPerSecond,
		Burst:             o.Config.LoginBurst,
		MaxFailures:       o.Config.LoginMaxFailures,
		Lockout:           o.Config.LoginLockout,
	}
	if lc.AttemptsPerSecond == 0 { // 0 = no rate (the failure lockout stays)
		lc.AttemptsPerSecond, lc.Burst = 1e9, 1<<30
	}
	return &Server{
		domain:    o.Domain,
		cfg:       o.Config,
		tls:       o.TLS,
		router:    o.Router,
		sasl:      o.SASL,
		limiter:   sasl.NewLimiter(lc),
		log:       log.With("component", "c2s"),
		conns:     make(map[*conn]struct{}),
		sessions:  make(map[*session]struct{}),
		resumable: make(map[string]*session),
	}, nil
}

// Serve accepts TCP connections on ln until it is closed. A connection whose
// first byte starts a TLS handshake is served as direct TLS (XEP-0368).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	if s.closing.Load() { // Shutdown ran before this listener was known
		ln.Close()
		return nil
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ServeConn(c)
		}()
	}
}

// ServeConn serves one TCP connection until it ends.
func (s *Server) ServeConn(c net.Conn) {
	if s.closing.Load() {
		c.Close()
		return
	}
	m := s.newMeter()
	sniff := &sniffConn{Conn: c}
	c.SetReadDeadline(time.Now().Add(s.cfg.AuthTimeout))
	first, err := sniff.peek()
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	var nc net.Conn = sniff
	direct := false
	if first == 0x16 && s.tls != nil { // TLS handshake record
		nc = tls.Server(sniff, s.tls)
		direct = true
	}
	s.serve(newTCPTransport(nc, m, s.cfg.limits(), direct))
}

// ServeHTTP serves XMPP over WebSocket (RFC 7395) at the path it is mounted
// on. A plain GET without an upgrade answers 200, which Jitsi's client uses
// as a keep-alive probe.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("XMPP over WebSocket (RFC 7395)\n"))
		return
	}
	if !hasSubprotocol(r, "xmpp") {
		http.Error(w, "the xmpp WebSocket subprotocol is required", http.StatusBadRequest)
		return
	}
	if s.closing.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{"xmpp"},
		OriginPatterns:  s.cfg.AllowedWSOrigins,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered (403 for a foreign Origin)
	}
	remote := netip.Addr{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = ap.Addr().Unmap()
	}
	t := newWSTransport(ws, s.newMeter(), s.cfg.limits(), r.TLS != nil, remote)
	s.wg.Add(1)
	defer s.wg.Done()
	q := r.URL.Query()
	s.serveWithQuery(t, q.Get("previd"), q.Get("token"))
}

func hasSubprotocol(r *http.Request, want string) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range splitComma(h) {
			if p == want {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			p := s[start:i]
			for len(p) > 0 && (p[0] == ' ' || p[0] == '\t') {
				p = p[1:]
			}
			for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
				p = p[:len(p)-1]
			}
			out = append(out, p)
			start = i + 1
		}
	}
	return out
}

func (s *Server) newMeter() *meter {
	m := &meter{hold: throttle{max: s.cfg.MaxThrottle}}
	if s.cfg.ReadBytesPerSec > 0 {
		m.lim = rate.NewLimiter(rate.Limit(s.cfg.ReadBytesPerSec), s.cfg.ReadBurstBytes)
	}
	m.take(0, 0)
	return m
}

// Shutdown stops accepting, ends every stream with system-shutdown and waits
// for the connection goroutines until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for _, ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(stream.ErrSystemShutdown)
	}
	for _, ss := range sessions {
		ss.end()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sessions returns the number of bound sessions, hibernating ones included.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Connections returns the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// session is what the router delivers to.
var _ router.Session = (*session)(nil)

// sniffConn lets ServeConn look at the first byte without consuming it.
type sniffConn struct {
	net.Conn
	b    [1]byte
	have bool
}

func (c *sniffConn) peek() (byte, error) {
	if _, err := c.Conn.Read(c.b[:]); err != nil {
		return 0, err
	}
	c.have = true
	return c.b[0], nil
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if c.have && len(p) > 0 {
		c.have = false
		p[0] = c.b[0]
		return 1, nil
	}
	return c.Conn.Read(p)
}
