package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/pionlog"
)

// Options are what New needs besides the Config.
type Options struct {
	// TLS serves TURN over TLS on Config.TLSListen; nil turns that listener off.
	TLS *tls.Config
	// DataDir holds the generated secret when Config.Secret is empty.
	DataDir string
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock of credentials (tests); nil is time.Now.
	Now func() time.Time
}

// Service is one entry of the XEP-0215 list (protocol/jitsi-dialect.md §7.1).
type Service struct {
	Type      string // stun, turn, turns
	Host      string
	Port      int
	Transport string // udp, tcp
	Username  string
	Password  string
	Expires   time.Time
}

// Server is the embedded STUN/TURN server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tls     *tls.Config
	secret  string
	now     func() time.Time
	m       *metrics
	allow   []netip.Prefix
	bridges []netip.AddrPort

	// set by Start, read-only afterwards
	policy  *policy
	bindIP  netip.Addr // relay sockets' local IP (unspecified: every address)
	relayIP netip.Addr // advertised relay IP
	pion    *turn.Server
	udp     net.PacketConn
	tcp     net.Listener
	tlsLn   net.Listener
	shared  *connListener // TURN connections split off the HTTPS port by ShareTLS
	tcpSem  chan struct{} // one token per TURN connection over TCP or TLS

	mu         sync.Mutex
	users      map[string]*user // by REST userid; guarded by mu
	sharedPort int              // port of the listener given to ShareTLS; guarded by mu
	closed     bool             // guarded by mu
}

// user is one REST userid's share of the relay.
type user struct {
	allocs  int           // guarded by Server.mu
	limiter *rate.Limiter // nil: unlimited; shared by the user's allocations
}

// New checks cfg and loads (or generates) the secret; nothing listens yet.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: opts.Logger, tls: opts.TLS, now: opts.Now, secret: cfg.Secret, users: map[string]*user{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.secret == "" {
		if opts.DataDir == "" {
			return nil, fmt.Errorf("%w: no secret and no data directory to keep one in", ErrInvalidConfig)
		}
		var err error
		if s.secret, err = LoadSecret(opts.DataDir); err != nil {
			return nil, err
		}
	}
	s.allow, _ = cfg.allowPrefixes()
	s.bridges, _ = cfg.bridgeAddrs()
	var err error
	if s.m, err = newMetrics(opts.Registerer); err != nil {
		return nil, err
	}
	return s, nil
}

// Start opens the UDP, TCP and TLS listeners and starts relaying. bridge lists the embedded bridge's
// media address(es) as bound: the relay may reach them (and, on this host's addresses, nothing else).
func (s *Server) Start(bridge ...netip.AddrPort) error {
	host := hostAddrs()
	if s.cfg.PublicIP != "" {
		host = append(host, netip.MustParseAddr(s.cfg.PublicIP))
	}
	s.policy = newPolicy(s.allow, host, append(append([]netip.AddrPort(nil), s.bridges...), bridge...))
	listenHost, _, _ := net.SplitHostPort(s.cfg.Listen)
	s.bindIP = netip.IPv4Unspecified()
	switch {
	case s.cfg.RelayBind != "":
		s.bindIP = netip.MustParseAddr(s.cfg.RelayBind)
	case listenHost != "":
		s.bindIP = netip.MustParseAddr(listenHost)
	}
	s.relayIP = s.advertisedIP(host)
	s.tcpSem = make(chan struct{}, s.cfg.MaxTCPConnections)

	var err error
	if s.udp, err = net.ListenPacket("udp", s.cfg.Listen); err != nil {
		return fmt.Errorf("turn udp listener: %w", err)
	}
	if u, ok := s.udp.(*net.UDPConn); ok {
		// One goroutine reads and relays; a bigger kernel buffer absorbs
		// bursts while it is busy rather than dropping them (the kernel caps
		// it at net.core.rmem_max).
		_ = u.SetReadBuffer(4 << 20)
	}
	if s.tcp, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		s.udp.Close()
		return fmt.Errorf("turn tcp listener: %w", err)
	}
	gen := &relayGen{s: s}
	perm := s.permission
	listeners := []turn.ListenerConfig{
		{Listener: s.guard(s.limitTCP(s.tcp)), RelayAddressGenerator: gen, PermissionHandler: perm},
	}
	if s.tls != nil && s.cfg.TLSListen != "" {
		tlsHost, tlsPort, _ := net.SplitHostPort(s.cfg.TLSListen)
		if tlsHost == "" {
			tlsHost = listenHost
		}
		if _, p, _ := net.SplitHostPort(s.cfg.Listen); p == "0" {
			tlsPort = "0" // an ephemeral listen port (tests) gets an ephemeral TLS port too
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(tlsHost, tlsPort))
		if err != nil {
			s.udp.Close()
			s.tcp.Close()
			return fmt.Errorf("turn tls listener: %w", err)
		}
		s.tlsLn = tls.NewListener(ln, turnTLS(s.tls))
		listeners = append(listeners, turn.ListenerConfig{Listener: s.guard(s.limitTCP(s.tlsLn)), RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	s.shared = newConnListener(s.tcp.Addr(), nil)
	listeners = append(listeners, turn.ListenerConfig{Listener: s.guard(s.shared), RelayAddressGenerator: gen, PermissionHandler: perm})

	s.pion, err = turn.NewServer(turn.ServerConfig{
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: &guardPacketConn{PacketConn: s.limitUnauthenticated(s.udp), s: s},
			RelayAddressGenerator: gen, PermissionHandler: perm}},
		ListenerConfigs:    listeners,
		LoggerFactory:      pionlog.Quiet(s.log),
		Realm:              s.cfg.Realm,
		AuthHandler:        s.authenticate,
		QuotaHandler:       s.quota,
		ChannelBindTimeout: s.cfg.ChannelLifetime,
		PermissionTimeout:  s.cfg.PermissionLifetime,
		AllocationLifetime: s.cfg.AllocationLifetime,
		InboundMTU:         inboundMTU,
	})
	if err != nil {
		s.udp.Close()
		s.tcp.Close()
		if s.tlsLn != nil {
			s.tlsLn.Close()
		}
		return fmt.Errorf("turn: %w", err)
	}
	s.log.Info("turn serving", "listen", s.cfg.Listen, "relay", s.relayIP.String(), "turn-tls", s.cfg.TLSListen)
	return nil
}

// advertisedIP picks the relay address put in XOR-RELAYED-ADDRESS.
func (s *Server) advertisedIP(host []netip.Addr) netip.Addr {
	if s.cfg.PublicIP != "" {
		return netip.MustParseAddr(s.cfg.PublicIP)
	}
	if !s.bindIP.IsUnspecified() {
		return s.bindIP
	}
	for _, h := range host {
		if h.Is4() && h.IsGlobalUnicast() && !h.IsPrivate() {
			return h
		}
	}
	for _, h := range host {
		if h.Is4() && h.IsGlobalUnicast() {
			return h
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// Close stops every listener and every allocation.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed || s.pion == nil {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.shared.Close()
	err := s.pion.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// UDPAddr, TCPAddr and TLSAddr are the addresses actually bound (after Start); TLSAddr is nil when TLS
// is off.
func (s *Server) UDPAddr() net.Addr { return s.udp.LocalAddr() }
func (s *Server) TCPAddr() net.Addr { return s.tcp.Addr() }
func (s *Server) TLSAddr() net.Addr {
	if s.tlsLn == nil {
		return nil
	}
	return s.tlsLn.Addr()
}

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int {
	if s.pion == nil {
		return 0
	}
	return s.pion.AllocationCount()
}

// Services returns the XEP-0215 entries for user at host: STUN, TURN over UDP and TCP, and TURNS on the
// TLS port and on the HTTPS port (when ShareTLS serves it), with one REST credential valid for
// CredentialLifetime. Jitsi's client uses only the TCP and TLS entries for the bridge connection
// (jitsi-dialect.md §7.1), so those are what gets through port-443-only firewalls.
func (s *Server) Services(userID, host string) []Service {
	if s.udp == nil {
		return nil
	}
	exp := s.now().Add(s.cfg.CredentialLifetime).Truncate(time.Second)
	name := RESTUsername(exp, userID)
	pw := RESTPassword(s.secret, name)
	port := func(a net.Addr) int { return int(addrPort(a).Port()) }
	out := []Service{
		{Type: "stun", Host: host, Port: port(s.udp.LocalAddr()), Transport: "udp"},
		{Type: "turn", Host: host, Port: port(s.udp.LocalAddr()), Transport: "udp", Username: name, Password: pw, Expires: exp},
		{Type: "turn", Host: host, Port: port(s.tcp.Addr()), Transport: "tcp", Username: name, Password: pw, Expires: exp},
	}
	if s.tlsLn != nil {
		out = append(out, Service{Type: "turns", Host: host, Port: port(s.tlsLn.Addr()), Transport: "tcp", Username: name, Password: pw, Expires: exp})
	}
	s.mu.Lock()
	shared := s.sharedPort
	s.mu.Unlock()
	if shared != 0 {
		out = append(out, Service{Type: "turns", Host: host, Port: shared, Transport: "tcp", Username: name, Password: pw, Expires: exp})
	}
	return out
}

// authenticate is pion's AuthHandler: the REST username must parse and be current; the key is derived
// from the HMAC password, and pion checks MESSAGE-INTEGRITY against it.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	userID, err := ParseUsername(ra.Username, s.now(), s.cfg.CredentialLifetime)
	if err != nil {
		s.m.refuse(ReasonCredentials)
		s.log.Debug("turn credential refused", "src", ra.SrcAddr.String(), "err", err)
		return "", nil, false
	}
	return userID, turn.GenerateAuthKey(ra.Username, ra.Realm, RESTPassword(s.secret, ra.Username)), true
}

// quota is pion's QuotaHandler: false answers 486 Allocation Quota Reached.
func (s *Server) quota(userID, _ string, _ net.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[userID]; u != nil && u.allocs >= s.cfg.UserAllocations {
		s.m.refuse(ReasonQuota)
		return false
	}
	return true
}

// acquire counts an allocation for userID, or refuses it over the quota (a second check: quota and
// allocation are not atomic in pion).
func (s *Server) acquire(userID string) (*user, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	if u == nil {
		u = &user{}
		if s.cfg.UserBandwidth > 0 {
			u.limiter = rate.NewLimiter(rate.Limit(s.cfg.UserBandwidth), max(s.cfg.UserBandwidth, 64<<10))
		}
		s.users[userID] = u
	}
	if u.allocs >= s.cfg.UserAllocations {
		s.m.refuse(ReasonQuota)
		return nil, errQuota
	}
	u.allocs++
	s.m.allocations.Inc()
	s.m.allocationsTotal.Inc()
	return u, nil
}

func (s *Server) release(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[userID]; u != nil {
		u.allocs--
		if u.allocs <= 0 {
			delete(s.users, userID)
		}
	}
	s.m.allocations.Dec()
}

var errQuota = errors.New("turn: allocation quota reached")

// permission is pion's PermissionHandler for CreatePermission, ChannelBind and Connect. The guard
// (guard.go) has already answered authenticated requests for a refused peer with 403, so this is the
// backstop: false makes pion answer 403 (401 for a ChannelBind).
func (s *Server) permission(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	reason := ReasonUnspecified
	if ok {
		reason = s.policy.checkIP(ip)
	}
	if reason != "" {
		s.m.refuse(reason)
		s.log.Debug("turn peer refused", "client", client.String(), "peer", peer.String(), "reason", reason)
		return false
	}
	return true
}

// guard wraps a listener of TURN over TCP or TLS in the guard (guard.go).
func (s *Server) guard(ln net.Listener) net.Listener { return &guardListener{Listener: ln, s: s} }

// turnTLS is the HTTPS certificate configuration without HTTP's ALPN protocols: a TURN client offering
// some other ALPN name must not fail the handshake.
func turnTLS(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.NextProtos = nil
	return c
}
