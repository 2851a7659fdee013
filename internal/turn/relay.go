package turn

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/transport/v5/reuseport"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// relayGen is pion's RelayAddressGenerator: it binds relay sockets and wraps them so that every relayed
// packet is counted, held to the user's byte rate and, on this host's and the bridge's addresses, to the
// bridge's media ports. pion checks permissions per IP only (RFC 8656 §9); the port check is ours.
type relayGen struct{ s *Server }

func (g *relayGen) Validate() error { return nil }

// bind is the local address of a new relay socket: the configured bind IP, or, when its family is not
// the one asked for (REQUESTED-ADDRESS-FAMILY), the loopback or unspecified address of that family.
func (g *relayGen) bind(network string) string {
	ip := g.s.bindIP
	v6 := network == "udp6" || network == "tcp6"
	if ip.Is4() == v6 || ip.IsUnspecified() {
		switch {
		case v6 && ip.IsLoopback():
			ip = netip.IPv6Loopback()
		case v6:
			ip = netip.IPv6Unspecified()
		case ip.IsLoopback():
			ip = netip.MustParseAddr("127.0.0.1")
		default:
			ip = netip.IPv4Unspecified()
		}
	}
	return netip.AddrPortFrom(ip, 0).String()
}

// advertised is the relay address clients see for a socket bound at local.
func (g *relayGen) advertised(local netip.AddrPort) netip.AddrPort {
	ip := g.s.relayIP
	if local.Addr().Is6() && !local.Addr().Is4In6() && ip.Is4() {
		ip = local.Addr() // an IPv6 allocation (REQUESTED-ADDRESS-FAMILY) keeps its own address
	}
	return netip.AddrPortFrom(ip, local.Port())
}

func (g *relayGen) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	local := netip.MustParseAddrPort(g.bind(c.Network))
	local = netip.AddrPortFrom(local.Addr(), uint16(c.RequestedPort)) // EVEN-PORT / RESERVATION-TOKEN
	if c.UserID == "" {                                               // pion probing for a free even port (EVEN-PORT): not an allocation
		pc, err := net.ListenPacket(c.Network, local.String())
		if err != nil {
			return nil, nil, err
		}
		return pc, net.UDPAddrFromAddrPort(g.advertised(addrPort(pc.LocalAddr()))), nil
	}
	u, err := g.s.acquire(c.UserID)
	if err != nil {
		return nil, nil, err
	}
	pc, err := net.ListenPacket(c.Network, local.String())
	if err != nil {
		g.s.release(c.UserID)
		return nil, nil, err
	}
	adv := g.advertised(addrPort(pc.LocalAddr()))
	return &relayConn{PacketConn: pc, s: g.s, u: u, userID: c.UserID}, net.UDPAddrFromAddrPort(adv), nil
}

func (g *relayGen) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if c.RequestedPort != 0 {
		return nil, nil, errRequestedPort
	}
	u, err := g.s.acquire(c.UserID)
	if err != nil {
		return nil, nil, err
	}
	lc := net.ListenConfig{Control: reuseport.Control}
	ln, err := lc.Listen(context.Background(), c.Network, g.bind(c.Network))
	if err != nil {
		g.s.release(c.UserID)
		return nil, nil, err
	}
	adv := g.advertised(addrPort(ln.Addr()))
	return &relayListener{Listener: ln, s: g.s, u: u, userID: c.UserID}, net.TCPAddrFromAddrPort(adv), nil
}

// AllocateConn dials a peer for an RFC 6062 Connect from the allocation's relay port. The guard has
// answered a Connect to a refused peer with 403 and pion has asked permission for the peer's IP; the
// port is checked again here, so no TCP connection is ever opened to a port on this host other than
// the bridge's, whatever reaches pion (the client would get 447).
func (g *relayGen) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	peer := addrPort(c.RemoteAddr)
	if r := g.s.policy.check(peer); r != "" {
		g.s.m.refuse(r)
		return nil, errForbiddenPeer
	}
	local := addrPort(c.LocalAddr)
	d := net.Dialer{
		LocalAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(g.bind(c.Network))),
		Control:   reuseport.Control,
		Timeout:   30 * time.Second, // RFC 6062 §5.2: at least 30 s
	}
	d.LocalAddr.(*net.TCPAddr).Port = int(local.Port())
	conn, err := d.Dial(c.Network, c.RemoteAddr.String())
	if err != nil {
		return nil, err
	}
	g.s.mu.Lock()
	u := g.s.users[c.UserID]
	g.s.mu.Unlock()
	var lim *rate.Limiter
	if u != nil {
		lim = u.limiter
	}
	return &relayTCPConn{Conn: conn, m: g.s.m, lim: lim}, nil
}

var (
	errRequestedPort = errors.New("turn: requested relay ports are not supported")
	errForbiddenPeer = errors.New("turn: peer forbidden")
)

// relayConn is one UDP allocation's relay socket.
type relayConn struct {
	net.PacketConn
	s      *Server
	u      *user
	userID string
	once   sync.Once
}

// WriteTo sends toward a peer. Datagrams to a forbidden port, or over the user's byte rate, are dropped
// silently (as the network would), and counted.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if r := c.s.policy.checkPort(addrPort(addr)); r != "" {
		c.s.m.refuse(r)
		return len(p), nil
	}
	if c.u.limiter != nil && !c.u.limiter.AllowN(time.Now(), len(p)) {
		c.s.m.refuse(ReasonBandwidth)
		return len(p), nil
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.s.m.toPeerBytes.Add(float64(n))
		c.s.m.toPeerPackets.Inc()
	}
	return n, err
}

// ReadFrom receives from peers, dropping what comes from a forbidden port of a permitted IP (pion checks
// the IP) or over the byte rate.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if r := c.s.policy.checkPort(addrPort(addr)); r != "" {
			c.s.m.refuse(r)
			continue
		}
		if c.u.limiter != nil && !c.u.limiter.AllowN(time.Now(), n) {
			c.s.m.refuse(ReasonBandwidth)
			continue
		}
		c.s.m.fromPeerBytes.Add(float64(n))
		c.s.m.fromPeerPackets.Inc()
		return n, addr, nil
	}
}

func (c *relayConn) Close() error {
	c.once.Do(func() { c.s.release(c.userID) })
	return c.PacketConn.Close()
}

// relayListener is one TCP allocation's relay listener (RFC 6062): peers that fail the policy are
// closed on accept.
type relayListener struct {
	net.Listener
	s      *Server
	u      *user
	userID string
	once   sync.Once
}

func (l *relayListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if r := l.s.policy.check(addrPort(c.RemoteAddr())); r != "" {
			l.s.m.refuse(r)
			c.Close()
			continue
		}
		return &relayTCPConn{Conn: c, m: l.s.m, lim: l.u.limiter}, nil
	}
}

func (l *relayListener) Close() error {
	l.once.Do(func() { l.s.release(l.userID) })
	return l.Listener.Close()
}

// relayTCPConn is a peer data connection: counted, and paced to the user's byte rate (TCP pushes back
// rather than dropping).
type relayTCPConn struct {
	net.Conn
	m   *metrics
	lim *rate.Limiter
}

func (c *relayTCPConn) wait(n int) {
	if c.lim == nil {
		return
	}
	for n > 0 {
		k := min(n, c.lim.Burst())
		_ = c.lim.WaitN(context.Background(), k)
		n -= k
	}
}

func (c *relayTCPConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.wait(n)
		c.m.fromPeerBytes.Add(float64(n))
	}
	return n, err
}

func (c *relayTCPConn) Write(p []byte) (int, error) {
	c.wait(len(p))
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.m.toPeerBytes.Add(float64(n))
	}
	return n, err
}

// limitTCP bounds the concurrent TURN connections over TCP and TLS; connections over the bound are
// closed at once.
func (s *Server) limitTCP(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, sem: s.tcpSem, m: s.m}
}

type limitListener struct {
	net.Listener
	sem chan struct{}
	m   *metrics
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, sem: l.sem}, nil
		default:
			l.m.refuse(ReasonQuota)
			c.Close()
		}
	}
}

type limitConn struct {
	net.Conn
	sem  chan struct{}
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { <-c.sem })
	return c.Conn.Close()
}

// metrics are the TURN server's Prometheus series.
type metrics struct {
	allocations      prometheus.Gauge
	allocationsTotal prometheus.Counter
	bytes, packets   *prometheus.CounterVec
	refusals         *prometheus.CounterVec

	toPeerBytes, fromPeerBytes     prometheus.Counter
	toPeerPackets, fromPeerPackets prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_turn_allocations", Help: "TURN allocations (UDP and TCP relays) now open."}),
		allocationsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_turn_allocations_total", Help: "TURN allocations opened."}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_turn_relayed_bytes_total", Help: "Bytes relayed, by direction (to-peer, from-peer)."},
			[]string{"direction"}),
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_turn_relayed_packets_total", Help: "UDP datagrams relayed, by direction."},
			[]string{"direction"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_turn_refusals_total", Help: "Refused TURN requests and dropped relay packets, by reason."},
			[]string{"reason"}),
	}
	m.toPeerBytes, m.fromPeerBytes = m.bytes.WithLabelValues("to-peer"), m.bytes.WithLabelValues("from-peer")
	m.toPeerPackets, m.fromPeerPackets = m.packets.WithLabelValues("to-peer"), m.packets.WithLabelValues("from-peer")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.allocations, m.allocationsTotal, m.bytes, m.packets, m.refusals} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) refuse(reason string) { m.refusals.WithLabelValues(reason).Inc() }
