package turn

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// refusedPeers is threats-and-tests.md §5.1 item 29, plus the other special ranges and tunnel forms.
var refusedPeers = []struct {
	addr, reason string
}{
	{"127.0.0.1", ReasonLoopback},
	{"0.0.0.0", ReasonUnspecified},
	{"0.1.2.3", ReasonUnspecified},
	{"::", ReasonUnspecified},
	{"::1", ReasonLoopback},
	{"::ffff:127.0.0.1", ReasonLoopback},                     // IPv4-mapped (coturn CVE-2026-27624)
	{"::127.0.0.1", ReasonLoopback},                          // IPv4-compatible
	{"2002:7f00:1::1", ReasonLoopback},                       // 6to4 carrying 127.0.0.1
	{"64:ff9b::7f00:1", ReasonLoopback},                      // NAT64 carrying 127.0.0.1
	{"64:ff9b:1::7f00:1", ReasonLoopback},                    // local-use NAT64 (RFC 8215)
	{"2001:0:4136:e378:8000:63bf:80ff:fffe", ReasonLoopback}, // Teredo, client 127.0.0.1
	{"::ffff:0:127.0.0.1", ReasonLoopback},                   // SIIT IPv4-translated
	{"2002:808:808::1", ReasonIPv4InIPv6},                    // 6to4 carrying a public address
	{"64:ff9b::808:808", ReasonIPv4InIPv6},                   // NAT64 carrying a public address
	{"169.254.169.254", ReasonLinkLocal},                     // cloud metadata
	{"fe80::1", ReasonLinkLocal},
	{"100.64.0.1", ReasonCGNAT},
	{"10.0.0.1", ReasonPrivate},
	{"172.16.0.1", ReasonPrivate},
	{"192.168.1.1", ReasonPrivate},
	{"::ffff:10.0.0.1", ReasonPrivate},
	{"fd00::1", ReasonPrivate},
	{"224.0.0.1", ReasonMulticast},
	{"ff02::1", ReasonMulticast},
	{"255.255.255.255", ReasonReserved},
	{"240.0.0.1", ReasonReserved},
	{"192.0.0.8", ReasonReserved},
	{"198.18.0.1", ReasonReserved},
	{"192.0.2.1", ReasonDocumentation},
	{"2001:db8::1", ReasonDocumentation},
	{"8.8.8.8", ReasonNotAllowed}, // public, but not in --turn-allow-peers
	{"2606:4700::1111", ReasonNotAllowed},
}

func TestNormalise(t *testing.T) {
	for _, c := range []struct {
		in, want string
		tunnel   bool
	}{
		{"::ffff:1.2.3.4", "1.2.3.4", false},
		{"::1.2.3.4", "1.2.3.4", false},
		{"::1", "::1", false},
		{"::", "::", false},
		{"2002:0102:0304::5", "1.2.3.4", true},
		{"64:ff9b::1.2.3.4", "1.2.3.4", true},
		{"64:ff9b:1::1.2.3.4", "1.2.3.4", true},
		{"2001:0:4136:e378:8000:63bf:fefd:fcfb", "1.2.3.4", true},
		{"2606:4700::1111", "2606:4700::1111", false},
		{"fe80::1%eth0", "fe80::1", false},
	} {
		got, tunnel := Normalise(netip.MustParseAddr(c.in))
		if got.String() != c.want || tunnel != c.tunnel {
			t.Errorf("Normalise(%s) = %s, %v; want %s, %v", c.in, got, tunnel, c.want, c.tunnel)
		}
	}
}

func TestPolicyDecisions(t *testing.T) {
	host := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("203.0.113.7")}
	bridge := []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:10000")}
	allow := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("10.1.0.0/16")}
	p := newPolicy(allow, host, bridge)
	for _, c := range []struct {
		addr, want string
	}{
		{"203.0.113.7:10000", ""},               // the bridge on the public address
		{"203.0.113.7:22", ReasonHost},          // anything else on this host
		{"[::ffff:203.0.113.7]:22", ReasonHost}, // in any form
		{"127.0.0.1:10000", ReasonLoopback},     // the bridge on 0.0.0.0 is not reached over loopback
		{"8.8.8.8:53", ""},                      // 0.0.0.0/0 allows public addresses...
		{"10.0.0.1:1", ReasonPrivate},           // ...but not what lies in a narrower special range
		{"10.1.2.3:1", ""},                      // unless a prefix inside that range is listed
		{"169.254.169.254:80", ReasonLinkLocal},
		{"224.0.0.1:5", ReasonMulticast},                   // never overridable
		{"[2002:cb00:7107::1]:10000", ReasonDocumentation}, // 6to4 of an own address: refused as a tunnel
	} {
		if got := p.check(netip.MustParseAddrPort(c.addr)); got != c.want {
			t.Errorf("check(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
	// Deny by default: with nothing allowed, everything but the bridge is refused.
	p = newPolicy(nil, host, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:10000")})
	for _, c := range refusedPeers {
		if got := p.checkIP(netip.MustParseAddr(c.addr)); got != c.reason {
			t.Errorf("checkIP(%s) = %q, want %q", c.addr, got, c.reason)
		}
	}
	if got := p.check(netip.MustParseAddrPort("127.0.0.2:10000")); got != "" {
		t.Errorf("bridge refused: %q", got)
	}
	if got := p.check(netip.MustParseAddrPort("127.0.0.2:10001")); got != ReasonHost {
		t.Errorf("bridge IP, other port: %q", got)
	}
}

// familyAttr is REQUESTED-ADDRESS-FAMILY (RFC 6156) for IPv6 peers.
func familyAttr(ip netip.Addr) []stun.Setter {
	if ip.Is4() || ip.Is4In6() {
		return nil
	}
	return []stun.Setter{rawAttr{stun.AttrRequestedAddressFamily, []byte{0x02, 0, 0, 0}}}
}

// TestRefusedPeersOnTheWire sends every refused form as CreatePermission and ChannelBind over UDP, TCP
// and TLS, and as Connect over TCP and TLS (RFC 6062): each gets 403, counted once under its reason.
func TestRefusedPeersOnTheWire(t *testing.T) {
	bridge := newUDPPeer(t, "127.0.0.2:0", false)
	s := newTLSTestServer(t, func(c *Config) { c.UserAllocations = 1000 }, bridge.addr())
	for i, c := range refusedPeers {
		ip := netip.MustParseAddr(c.addr)
		ap := netip.AddrPortFrom(ip, 3478)
		t.Run(c.addr, func(t *testing.T) {
			before := s.refusals(c.reason)
			for _, tr := range []string{"udp", "tcp", "tls"} {
				u := dialTransport(t, s, tr).withCredentials(fmt.Sprint("u", i, tr), time.Hour)
				u.allocate(protoUDP, familyAttr(ip)...)
				u.forbidden(tr+" CreatePermission", u.request(stun.MethodCreatePermission, peer(ap)))
				u.forbidden(tr+" ChannelBind", u.request(stun.MethodChannelBind, channel(0x4000), peer(ap)))
				if tr == "udp" {
					continue
				}
				tc := dialTransport(t, s, tr).withCredentials(fmt.Sprint("t", i, tr), time.Hour)
				tc.allocate(protoTCP, familyAttr(ip)...)
				tc.forbidden(tr+" Connect", tc.request(stun.MethodConnect, peer(ap)))
			}
			if got := s.refusals(c.reason) - before; got != 8 {
				t.Errorf("refusals{reason=%q} grew by %v, want 8", c.reason, got)
			}
		})
	}
	if !bridge.empty() {
		t.Error("the bridge stand-in received something")
	}
}

// TestHostPortsUnreachable: on the bridge's IP (this host) only the bridge's port can be reached. A
// CreatePermission for that IP is granted (permissions are per IP); a ChannelBind or Connect, which
// name the port, gets 403 for any other port; a Send indication to another port is dropped and counted.
func TestHostPortsUnreachable(t *testing.T) {
	bridgeTCP, bridge := bridgeStandIn(t)
	admin := newUDPPeer(t, "127.0.0.2:0", false)
	adminTCP, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer adminTCP.Close()
	s := newTLSTestServer(t, nil, bridge.addr())

	for _, tr := range []string{"udp", "tcp", "tls"} {
		before := s.refusals(ReasonHost)
		u := dialTransport(t, s, tr).withCredentials("alice-"+tr, time.Hour)
		u.allocate(protoUDP)
		if r := u.request(stun.MethodCreatePermission, peer(admin.addr())); r.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("%s: CreatePermission for the bridge's IP: %d", tr, errorCode(r))
		}
		u.forbidden(tr+" ChannelBind to another port", u.request(stun.MethodChannelBind, channel(0x4001), peer(admin.addr())))
		if r := u.request(stun.MethodChannelBind, channel(0x4002), peer(bridge.addr())); r.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("%s: ChannelBind to the bridge: %d", tr, errorCode(r))
		}
		pad := tr != "udp"
		u.write(sendIndication(t, admin.addr(), []byte("to admin by send")))
		u.write(channelData(0x4001, []byte("to admin by channel"), pad))
		u.write(channelData(0x4002, []byte("to bridge"), pad))
		if got := string(bridge.wait(t, "channel data")); got != "to bridge" {
			t.Fatalf("%s: bridge got %q", tr, got)
		}
		// The server handles one client's messages in order: the two before were dropped by now.
		if !admin.empty() {
			t.Fatalf("%s: admin port received %q", tr, <-admin.got)
		}
		if got := s.refusals(ReasonHost) - before; got != 2 {
			t.Errorf("%s: refusals{reason=host} grew by %v, want 2 (ChannelBind, Send)", tr, got)
		}
	}

	adminAP := adminTCP.Addr().(*net.TCPAddr).AddrPort()
	bridgeAP := bridgeTCP.Addr().(*net.TCPAddr).AddrPort()
	for _, tr := range []string{"tcp", "tls"} {
		before := s.refusals(ReasonHost)
		tc := dialTransport(t, s, tr).withCredentials("bob-"+tr, time.Hour)
		tc.allocate(protoTCP)
		tc.forbidden(tr+" Connect to another port", tc.request(stun.MethodConnect, peer(adminAP)))
		if r := tc.request(stun.MethodConnect, peer(bridgeAP)); r.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("%s: Connect to the bridge's port: %v (%d)", tr, r.Type, errorCode(r))
		}
		_ = bridgeTCP.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c, err := bridgeTCP.Accept()
		if err != nil {
			t.Fatalf("%s: the bridge got no relayed connection: %v", tr, err)
		}
		c.Close()
		if got := s.refusals(ReasonHost) - before; got != 1 {
			t.Errorf("%s: refusals{reason=host} grew by %v, want 1", tr, got)
		}
	}
	_ = adminTCP.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := adminTCP.Accept(); err == nil {
		c.Close()
		t.Error("the admin port accepted a relayed connection")
	}
}

// bridgeStandIn listens on 127.0.0.2 on one port number for TCP and UDP, as a bridge with ICE-TCP does.
func bridgeStandIn(t *testing.T) (net.Listener, *udpPeer) {
	t.Helper()
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: port})
		if err != nil && try < 10 {
			ln.Close()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln, udpPeerOn(t, c, false)
	}
}

func sendIndication(t *testing.T, to netip.AddrPort, data []byte) []byte {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication), peer(to),
		rawAttr{stun.AttrData, data}, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}
