package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/parley-im/parley/internal/pionlog"
)

// forbidden checks that r is a 403 error response signed with the client's key and fingerprinted.
func (c *stunClient) forbidden(what string, r *stun.Message) {
	c.t.Helper()
	if r.Type.Class != stun.ClassErrorResponse || errorCode(r) != stun.CodeForbidden {
		c.t.Errorf("%s: got %v (%d), want 403", what, r.Type, errorCode(r))
		return
	}
	if err := stun.NewLongTermIntegrity(c.user, c.realm, c.pass).Check(r); err != nil {
		c.t.Errorf("%s: 403 without a valid MESSAGE-INTEGRITY: %v", what, err)
	}
	if err := stun.Fingerprint.Check(r); err != nil {
		c.t.Errorf("%s: 403 without a valid FINGERPRINT: %v", what, err)
	}
}

// TestRefusedChannelBindNeedsCredentials: a ChannelBind to a refused peer is answered 403 only when it
// carries the MESSAGE-INTEGRITY pion would accept; without it, with a wrong password or with an
// expired username it gets pion's 401 with a nonce, as any request does, and no peer refusal is counted.
func TestRefusedChannelBindNeedsCredentials(t *testing.T) {
	s := newTLSTestServer(t, nil)
	target := peer(netip.MustParseAddrPort("127.0.0.1:22"))
	for _, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			u := dialTransport(t, s, tr).withCredentials("ivan-"+tr, time.Hour)
			u.allocate(protoUDP)
			before := s.refusals(ReasonLoopback)

			unauth, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
				channel(0x4000), target, stun.Fingerprint)
			r := u.roundTrip(unauth)
			var nonce stun.Nonce
			var realm stun.Realm
			if errorCode(r) != stun.CodeUnauthorized || nonce.GetFrom(r) != nil || realm.GetFrom(r) != nil {
				t.Errorf("without MESSAGE-INTEGRITY: %v (%d), want 401 with NONCE and REALM", r.Type, errorCode(r))
			}

			good := u.pass
			u.pass = RESTPassword("another-secret-of-16+", u.user)
			if r := u.roundTrip(u.build(stun.MethodChannelBind, channel(0x4000), target)); errorCode(r) != stun.CodeUnauthorized {
				t.Errorf("wrong password: %v (%d), want 401", r.Type, errorCode(r))
			}
			u.pass = good

			credBefore := s.refusals(ReasonCredentials)
			expired := *u
			expired.user = RESTUsername(time.Now().Add(-time.Minute), "ivan-"+tr)
			expired.pass = RESTPassword(testSecret, expired.user)
			if r := u.roundTrip(expired.build(stun.MethodChannelBind, channel(0x4000), target)); errorCode(r) != stun.CodeUnauthorized {
				t.Errorf("expired username: %v (%d), want 401", r.Type, errorCode(r))
			}
			if s.refusals(ReasonCredentials) == credBefore {
				t.Error("the expired username was not refused by the credential check")
			}
			if got := s.refusals(ReasonLoopback) - before; got != 0 {
				t.Errorf("unauthenticated requests counted %v loopback refusals", got)
			}

			u.forbidden("authenticated", u.request(stun.MethodChannelBind, channel(0x4000), target))
			if got := s.refusals(ReasonLoopback) - before; got != 1 {
				t.Errorf("refusals{reason=loopback} grew by %v, want 1", got)
			}
		})
	}
}

// TestRefusalLeavesRelayingAlone: refused requests, also pipelined between ChannelData frames on one
// TCP connection, change nothing for the relaying of that connection or of another client (a Pion TURN
// client over UDP).
func TestRefusalLeavesRelayingAlone(t *testing.T) {
	echo := newUDPPeer(t, "127.0.0.3:0", true)
	s := newTestServer(t, func(c *Config) { c.AllowPeers = []string{"127.0.0.3/32"} })

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	user := RESTUsername(time.Now().Add(time.Hour), "judy")
	client, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: s.UDPAddr().String(), STUNServerAddr: s.UDPAddr().String(),
		Conn: pc, Username: user, Password: RESTPassword(testSecret, user), LoggerFactory: pionlog.Quiet(testLogger())})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	echoAddr := net.UDPAddrFromAddrPort(echo.addr())
	pionRoundTrip := func(msg string) {
		t.Helper()
		if _, err := relay.WriteTo([]byte(msg), echoAddr); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, from, err := relay.ReadFrom(buf)
			if err != nil {
				t.Fatalf("the Pion client got no echo of %q: %v", msg, err)
			}
			if from.String() == echoAddr.String() && string(buf[:n]) == msg {
				return
			}
		}
	}
	pionRoundTrip("before")

	u := dialSTUN(t, "tcp", s.TCPAddr()).withCredentials("kate", time.Hour)
	u.allocate(protoUDP)
	if r := u.request(stun.MethodChannelBind, channel(0x4000), peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("ChannelBind to the allowed peer: %d", errorCode(r))
	}
	refused := u.build(stun.MethodChannelBind, channel(0x4001), peer(netip.MustParseAddrPort("127.0.0.1:22")))
	var burst []byte
	// More than 4 bytes of data each: pion's stream framing waits for a 9th byte before it takes a frame.
	burst = append(burst, channelData(0x4000, []byte("first"), true)...)
	burst = append(burst, refused.Raw...)
	burst = append(burst, channelData(0x4000, []byte("second"), true)...)
	u.write(burst)
	var echoed []string
	var answer *stun.Message
	for len(echoed) < 2 || answer == nil {
		b, err := u.readFrame()
		if err != nil {
			t.Fatalf("after the pipelined burst: %v (echoed %q, answered %v)", err, echoed, answer != nil)
		}
		if stun.IsMessage(b) {
			m := &stun.Message{Raw: b}
			if m.Decode() == nil && m.TransactionID == refused.TransactionID {
				answer = m
			}
			continue
		}
		echoed = append(echoed, string(b[4:4+binary.BigEndian.Uint16(b[2:4])]))
	}
	u.forbidden("pipelined ChannelBind", answer)
	if !slices.Equal(echoed, []string{"first", "second"}) {
		t.Errorf("echoed %q, want first, second", echoed)
	}

	v := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("leo", time.Hour)
	v.allocate(protoUDP)
	for i := range 20 {
		ap := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i))
		v.forbidden("UDP ChannelBind", v.request(stun.MethodChannelBind, channel(0x4000), peer(ap)))
	}
	pionRoundTrip("after")
	if got := s.refusals(ReasonPrivate); got != 20 {
		t.Errorf("refusals{reason=private} = %v, want 20", got)
	}
	if got := s.refusals(ReasonLoopback); got != 1 {
		t.Errorf("refusals{reason=loopback} = %v, want 1", got)
	}
}

// TestPionClientConnectForbidden: Pion's own TURN client over TCP (RFC 6062) gets 403 for a Connect to
// a port of this host other than the bridge's, and connects to the bridge.
func TestPionClientConnectForbidden(t *testing.T) {
	bridgeTCP, bridge := bridgeStandIn(t)
	s := newTestServer(t, nil, bridge.addr())
	conn, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	user := RESTUsername(time.Now().Add(time.Hour), "mia")
	client, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: s.TCPAddr().String(), STUNServerAddr: s.TCPAddr().String(),
		Conn: turn.NewSTUNConn(conn), Username: user, Password: RESTPassword(testSecret, user), LoggerFactory: pionlog.Quiet(testLogger())})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	alloc, err := client.AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer alloc.Close()
	bridgeAP := bridgeTCP.Addr().(*net.TCPAddr).AddrPort()
	ssh := net.TCPAddrFromAddrPort(netip.AddrPortFrom(bridgeAP.Addr(), 22))
	_, err = alloc.Connect(ssh)
	var te *stun.TurnError
	if !errors.As(err, &te) || te.ErrorCodeAttr.Code != stun.CodeForbidden {
		t.Fatalf("Connect to port 22 of the bridge's IP: %v, want a 403 error", err)
	}
	if got := s.refusals(ReasonHost); got != 1 {
		t.Errorf("refusals{reason=host} = %v, want 1", got)
	}
	if _, err := alloc.Connect(net.TCPAddrFromAddrPort(bridgeAP)); err != nil {
		t.Fatalf("Connect to the bridge: %v", err)
	}
	_ = bridgeTCP.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := bridgeTCP.Accept()
	if err != nil {
		t.Fatalf("the bridge got no relayed connection: %v", err)
	}
	c.Close()
}

func TestScreened(t *testing.T) {
	req := func(typ uint16) []byte { return stunRequest(typ, true) }
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"ChannelBind", req(0x0009), true},
		{"CreatePermission", req(0x0008), true},
		{"Connect", req(0x000A), true},
		{"ChannelBind with the leading bits set (pion ignores them)", req(0x8009), true},
		{"Allocate", req(0x0003), false},
		{"Refresh", req(0x0004), false},
		{"ChannelBind success response", req(0x0109), false},
		{"Send indication", req(0x0016), false},
		{"ChannelData on channel 0x4009", append([]byte{0x40, 0x09, 0x00, 0x10}, req(0x0009)[4:20]...), false},
		{"no magic cookie", append([]byte{0, 9, 0, 0}, make([]byte, 16)...), false},
		{"short", []byte{0, 9, 0, 0}, false},
	} {
		if got := screened(c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// chunkConn is a net.Conn that reads src in chunks of n bytes and discards writes.
type chunkConn struct {
	net.Conn
	src []byte
	n   int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.src)
	c.src = c.src[k:]
	return k, nil
}

func (c *chunkConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *chunkConn) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// pionFrames returns the messages pion's stream framing (turn.NewSTUNConn, what the server reads TCP
// and TLS with) takes from stream when it arrives n bytes at a time, through the guard or not.
func pionFrames(s *Server, stream []byte, n int, guarded bool) [][]byte {
	var conn net.Conn = &chunkConn{src: stream, n: n}
	if guarded {
		conn = newGuardConn(conn, s)
	}
	sc := turn.NewSTUNConn(conn)
	var out [][]byte
	buf := make([]byte, 70000)
	for {
		k, _, err := sc.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
}

func guardTestServer() *Server {
	s, _ := New(func() Config { c := Default(); c.Secret = testSecret; return c }(), Options{})
	s.policy = newPolicy(nil, nil, nil)
	return s
}

// smuggled hides a ChannelBind request from a guard that frames naively. It starts with a ChannelData
// frame on channel 0x4009 whose data is the STUN magic cookie: pion reads that as a STUN message of type
// 0x4009 (a ChannelBind request, the leading bits ignored) and length 4 when it has 20 bytes buffered,
// and as ChannelData otherwise. The STUN reading swallows the first 16 bytes of the next message, an
// Allocate-typed one whose body is the hidden request, which pion then reads as a message of its own.
func smuggled() []byte {
	inner := stunRequest(0x0009, true)
	outer := make([]byte, 16) // a STUN header without its last 4 bytes, which are inner's first 4
	binary.BigEndian.PutUint16(outer[0:2], 0x0003)
	binary.BigEndian.PutUint16(outer[2:4], uint16(len(inner)-4))
	binary.BigEndian.PutUint32(outer[4:8], stunMagicCookie)
	b := []byte{0x40, 0x09, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42}
	return append(append(b, outer...), inner...)
}

// TestGuardConnFraming: through the guard, pion frames a stream as the guard does, however it is
// segmented, so it handles no message that the guard did not see as one. Without the guard pion's
// framing of the same stream depends on the segmentation.
func TestGuardConnFraming(t *testing.T) {
	s := guardTestServer()
	stream := smuggled()
	if slices.EqualFunc(pionFrames(s, stream, 1, false), pionFrames(s, stream, len(stream), false), bytes.Equal) {
		t.Fatal("the smuggling stream frames the same unguarded; the test shows nothing")
	}
	checkFraming(t, s, stream)
	if got := pionFrames(s, stream, len(stream), true); len(got) != 1 || got[0][1] != 0x03 {
		t.Errorf("guarded frames % x, want only the Allocate", got)
	}
}

// guardFrames is how the guard splits stream: the frames it passes on, up to the first incomplete one.
func guardFrames(s *Server, stream []byte) [][]byte {
	g := newGuardConn(&chunkConn{src: stream, n: len(stream)}, s)
	var out [][]byte
	for {
		size, act, err := g.next()
		if err != nil {
			return out
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(g.r, b); err != nil {
			return out
		}
		if act == framePass || act == frameScreen && s.screen(b, g.RemoteAddr()) == nil {
			out = append(out, b)
		}
	}
}

// checkFraming: pion takes the guard's frames, in whatever chunks the stream arrives, except that it
// never takes the last few when they come to fewer than 9 bytes (it needs 9 to tell a frame's kind).
func checkFraming(t *testing.T, s *Server, stream []byte) {
	t.Helper()
	want := guardFrames(s, stream)
	for _, n := range []int{1, 3, 7, 20, len(stream)} {
		got := pionFrames(s, stream, n, true)
		short := 0
		if len(got) <= len(want) {
			for _, f := range want[len(got):] {
				short += len(f)
			}
		}
		if len(got) > len(want) || !slices.EqualFunc(got, want[:len(got)], bytes.Equal) || short >= 9 {
			t.Fatalf("in chunks of %d pion framed\n% x\nthe guard\n% x", n, got, want)
		}
	}
}

func FuzzGuardConnFraming(f *testing.F) {
	f.Add(smuggled())
	f.Add(append(channelData(0x4000, []byte("hello"), true), stunRequest(0x0009, true)...))
	f.Add(append(channelData(0x4000, nil, true), stunRequest(0x2112, false)...))
	f.Add(append(stunRequest(0x0016, false), channelData(0x7FFF, []byte{0x21, 0x12, 0xA4}, true)...))
	f.Add([]byte{0x80, 0x09, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	s := guardTestServer()
	f.Fuzz(func(t *testing.T, stream []byte) {
		checkFraming(t, s, stream)
	})
}

// BenchmarkGuardChannelData is the guard's cost on the media path: the UDP check of one ChannelData
// datagram, and the TCP framing of a stream of them.
func BenchmarkGuardChannelData(b *testing.B) {
	frame := channelData(0x4000, make([]byte, 1200), true)
	b.Run("udp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if screened(frame) {
				b.Fatal("screened ChannelData")
			}
		}
	})
	b.Run("tcp", func(b *testing.B) {
		stream := bytes.Repeat(frame, 1000)
		buf := make([]byte, inboundMTU)
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			g := newGuardConn(&chunkConn{src: stream, n: 64 << 10}, nil)
			for {
				if _, err := g.Read(buf); err != nil {
					break
				}
			}
		}
	})
}
