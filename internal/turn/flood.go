package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxFloodSources bounds the per-source buckets; past it they are all
// forgotten at once, which only ever makes the limit more lenient.
const maxFloodSources = 10000

// floodConn is the UDP listener as pion/turn sees it: a request without
// MESSAGE-INTEGRITY from a source over its budget is dropped before pion
// would answer it. Such a request costs the sender nothing, and its answer
// (401 with a nonce, or a Binding success) goes to whatever address the
// packet claims to come from.
type floodConn struct {
	net.PacketConn
	limit rate.Limit
	burst int
	drop  func()

	mu      sync.Mutex
	buckets map[netip.Addr]*rate.Limiter // guarded by mu
}

func (s *Server) limitUnauthenticated(pc net.PacketConn) net.PacketConn {
	if s.cfg.UnauthenticatedPerSecond == 0 {
		return pc
	}
	return &floodConn{PacketConn: pc, limit: rate.Limit(s.cfg.UnauthenticatedPerSecond), burst: s.cfg.UnauthenticatedBurst,
		drop: func() { s.m.refuse(ReasonFlood) }, buckets: make(map[netip.Addr]*rate.Limiter)}
}

func (c *floodConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !unauthenticatedRequest(p[:n]) || c.allow(addr) {
			return n, addr, err
		}
		c.drop()
	}
}

func (c *floodConn) allow(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return true
	}
	ip, _ := netip.AddrFromSlice(ua.IP)
	ip = ip.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buckets[ip]
	if b == nil {
		if len(c.buckets) >= maxFloodSources {
			clear(c.buckets)
		}
		b = rate.NewLimiter(c.limit, c.burst)
		c.buckets[ip] = b
	}
	return b.AllowN(time.Now(), 1)
}

// STUN framing (RFC 8489 §5, §14).
const (
	stunHeader          = 20
	stunMagicCookie     = 0x2112A442
	attrMessageIntegrty = 0x0008
	attrIntegritySHA256 = 0x001C
)

// unauthenticatedRequest reports whether b is a STUN request (class
// 0b00) that carries no MESSAGE-INTEGRITY. ChannelData, indications and
// anything else pass.
func unauthenticatedRequest(b []byte) bool {
	if len(b) < stunHeader || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return false
	}
	if binary.BigEndian.Uint16(b[0:2])&0x0110 != 0 { // class bits: not a request
		return false
	}
	end := stunHeader + int(binary.BigEndian.Uint16(b[2:4]))
	if end > len(b) {
		end = len(b)
	}
	for i := stunHeader; i+4 <= end; {
		typ := binary.BigEndian.Uint16(b[i : i+2])
		l := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if typ == attrMessageIntegrty || typ == attrIntegritySHA256 {
			return false
		}
		i += 4 + (l+3)&^3
	}
	return true
}
