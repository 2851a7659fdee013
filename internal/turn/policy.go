package turn

import (
	"net"
	"net/netip"
)

// Refusal reasons, the values of the reason label of parley_turn_refusals_total.
const (
	ReasonLoopback      = "loopback"
	ReasonPrivate       = "private"
	ReasonLinkLocal     = "link-local"
	ReasonCGNAT         = "cgnat"
	ReasonMulticast     = "multicast"
	ReasonUnspecified   = "unspecified"
	ReasonDocumentation = "documentation"
	ReasonReserved      = "reserved"
	ReasonIPv4InIPv6    = "ipv4-in-ipv6" // 6to4, NAT64, Teredo, SIIT: tunnels to an IPv4 peer
	ReasonHost          = "host"         // this server's own address, other than the bridge's media port
	ReasonNotAllowed    = "not-allowed"  // an ordinary address outside --turn-allow-peers
	ReasonQuota         = "quota"        // allocations per user
	ReasonBandwidth     = "bandwidth"    // packets dropped over the per-user byte rate
	ReasonCredentials   = "credentials"  // REST username refused (expired, malformed, unknown)
	ReasonFlood         = "flood"        // unauthenticated UDP requests over the per-source rate
)

// special is one IANA special-purpose range and why a relay must not reach it by default.
type special struct {
	prefix netip.Prefix
	reason string
	// overridable ranges may be reached when --turn-allow-peers lists a prefix inside them
	// (e.g. 10.0.0.0/8 for a bridge on a private network); the others never.
	overridable bool
}

func mustPrefixes(reason string, overridable bool, ps ...string) []special {
	out := make([]special, len(ps))
	for i, p := range ps {
		out[i] = special{netip.MustParsePrefix(p), reason, overridable}
	}
	return out
}

// specialRanges lists IPv4 and IPv6 ranges refused by default (RFC 6890 registries, RFC 6598 CGNAT,
// RFC 9637 documentation). IPv6 outside 2000::/3 is refused as reserved further down.
var specialRanges = concat(
	mustPrefixes(ReasonUnspecified, false, "0.0.0.0/8", "::/128"),
	mustPrefixes(ReasonLoopback, true, "127.0.0.0/8", "::1/128"),
	mustPrefixes(ReasonPrivate, true, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"),
	mustPrefixes(ReasonCGNAT, true, "100.64.0.0/10"),
	mustPrefixes(ReasonLinkLocal, true, "169.254.0.0/16", "fe80::/10"),
	mustPrefixes(ReasonMulticast, false, "224.0.0.0/4", "ff00::/8"),
	mustPrefixes(ReasonDocumentation, true, "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
		"2001:db8::/32", "3fff::/20"),
	mustPrefixes(ReasonReserved, true, "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "240.0.0.0/4",
		"100::/64", "2001::/23"),
)

func concat(ss ...[]special) []special {
	var out []special
	for _, s := range ss {
		out = append(out, s...)
	}
	return out
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// Normalise reduces every IPv4-in-IPv6 form to the IPv4 address it carries. tunnel is true for the forms
// that reach IPv4 through a translator or tunnel (6to4 2002::/16, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// Teredo 2001::/32, SIIT ::ffff:0:0:0/96): the relay refuses those whatever they carry. IPv4-mapped
// (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses are the IPv4 address itself on a dual-stack
// socket and are judged as that address. coturn's CVE-2020-26262 and CVE-2026-27624 were these forms.
func Normalise(ip netip.Addr) (v4 netip.Addr, tunnel bool) {
	ip = ip.WithZone("")
	if !ip.Is6() {
		return ip, false
	}
	if ip.Is4In6() {
		return ip.Unmap(), false
	}
	b := ip.As16()
	four := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	zero := func(from, to int) bool {
		for _, x := range b[from:to] {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(0, 12) && !zero(12, 14): // ::a.b.c.d, IPv4-compatible (deprecated, RFC 4291 §2.5.5.1); not ::, ::1
		return four(12), false
	case zero(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0: // ::ffff:0:a.b.c.d (SIIT)
		return four(12), true
	case b[0] == 0x20 && b[1] == 0x02: // 2002:AABB:CCDD::/16, 6to4 (RFC 3056)
		return four(2), true
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12): // 64:ff9b::/96 (RFC 6052)
		return four(12), true
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1: // 64:ff9b:1::/48 (RFC 8215)
		return four(12), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // 2001::/32 Teredo (RFC 4380): client is ^last 32 bits
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return ip, false
}

// classify returns why ip (already normalised) is special, or "" for an ordinary public address.
func classify(ip netip.Addr) (s special, ok bool) {
	for _, r := range specialRanges {
		if r.prefix.Contains(ip) {
			return r, true
		}
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return special{netip.PrefixFrom(ip, 3), ReasonReserved, false}, true
	}
	return special{}, false
}

// policy decides which peers a relay may reach. It is immutable once built, so the media path reads it
// without locks.
type policy struct {
	allow []netip.Prefix // --turn-allow-peers
	// ports lists, for this server's own addresses and the bridge's, the only ports a relay may reach
	// there (the bridge's media ports; empty for an own address the bridge does not listen on).
	ports map[netip.Addr][]uint16
}

// newPolicy builds the policy. host lists this server's own addresses (interfaces and --public-ip);
// bridge lists the bridge's media addresses, where an unspecified IP means every non-loopback host
// address.
func newPolicy(allow []netip.Prefix, host []netip.Addr, bridge []netip.AddrPort) *policy {
	p := &policy{allow: allow, ports: map[netip.Addr][]uint16{}}
	for _, h := range host {
		h, _ = Normalise(h)
		if _, ok := p.ports[h]; !ok {
			p.ports[h] = nil
		}
	}
	for _, b := range bridge {
		ip, _ := Normalise(b.Addr())
		if !ip.IsUnspecified() {
			p.ports[ip] = appendPort(p.ports[ip], b.Port())
			continue
		}
		for _, h := range host {
			h, _ = Normalise(h)
			if h.IsLoopback() || h.IsLinkLocalUnicast() || b.Addr().Is4() && !h.Is4() {
				continue
			}
			p.ports[h] = appendPort(p.ports[h], b.Port())
		}
	}
	return p
}

func appendPort(ps []uint16, port uint16) []uint16 {
	for _, q := range ps {
		if q == port {
			return ps
		}
	}
	return append(ps, port)
}

// checkIP is the per-IP decision of CreatePermission, ChannelBind and Connect (TURN permissions are per
// IP address, RFC 8656 §9): "" allows, anything else is the refusal reason.
func (p *policy) checkIP(raw netip.Addr) string {
	ip, tunnel := Normalise(raw)
	if tunnel {
		if s, ok := classify(ip); ok {
			return s.reason
		}
		return ReasonIPv4InIPv6
	}
	ports, own := p.ports[ip]
	if len(ports) > 0 {
		return "" // the bridge listens here; checkPort restricts the port
	}
	if s, ok := classify(ip); ok {
		if !s.overridable || own {
			return s.reason
		}
		for _, a := range p.allow {
			if a.Contains(ip) && a.Bits() >= s.prefix.Bits() {
				return ""
			}
		}
		return s.reason
	}
	if own {
		return ReasonHost
	}
	for _, a := range p.allow {
		if a.Contains(ip) {
			return ""
		}
	}
	return ReasonNotAllowed
}

// check is the decision for one peer transport address: checkIP, then on this server's own and the
// bridge's addresses only the bridge's media ports.
func (p *policy) check(ap netip.AddrPort) string {
	if r := p.checkIP(ap.Addr()); r != "" {
		return r
	}
	return p.checkPort(ap)
}

// checkPort is the per-packet part of check, for peers that already hold a permission.
func (p *policy) checkPort(ap netip.AddrPort) string {
	ip, _ := Normalise(ap.Addr())
	ports, restricted := p.ports[ip]
	if !restricted {
		return ""
	}
	for _, q := range ports {
		if q == ap.Port() {
			return ""
		}
	}
	return ReasonHost
}

// addrPort converts a net.Addr from a socket into a netip.AddrPort (zero when it is neither UDP nor TCP).
func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// hostAddrs lists this machine's interface addresses.
func hostAddrs() []netip.Addr {
	var out []netip.Addr
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}
