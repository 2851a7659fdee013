package turn

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const testSecret = "0123456789abcdef-test-secret"

func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testServer struct {
	*Server
	reg *prometheus.Registry
}

// newTestServer starts a TURN server on 127.0.0.1 with the given bridge address(es).
func newTestServer(t *testing.T, edit func(*Config), bridge ...netip.AddrPort) *testServer {
	t.Helper()
	return startTestServer(t, edit, nil, bridge...)
}

// newTLSTestServer is newTestServer with TURN over TLS on an ephemeral port too.
func newTLSTestServer(t *testing.T, edit func(*Config), bridge ...netip.AddrPort) *testServer {
	t.Helper()
	tlsEdit := func(c *Config) {
		c.TLSListen = ":5349" // ephemeral, as Listen's port is 0
		if edit != nil {
			edit(c)
		}
	}
	return startTestServer(t, tlsEdit, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}, bridge...)
}

func startTestServer(t *testing.T, edit func(*Config), tlsCfg *tls.Config, bridge ...netip.AddrPort) *testServer {
	t.Helper()
	cfg := Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLSListen = ""
	cfg.Secret = testSecret
	cfg.Realm = "parley.test"
	if edit != nil {
		edit(&cfg)
	}
	reg := prometheus.NewRegistry()
	s, err := New(cfg, Options{Registerer: reg, Logger: testLogger(), TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(bridge...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testServer{Server: s, reg: reg}
}

func (s *testServer) refusals(reason string) float64 {
	return counterValue(s.m.refusals.WithLabelValues(reason))
}

func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// stunClient speaks raw STUN/TURN to the server over UDP or TCP, so that tests control every attribute.
type stunClient struct {
	t                      *testing.T
	conn                   net.Conn
	tcp                    bool
	user, pass             string
	realm, nonce           string
	pending                [][]byte // datagrams/frames read while waiting for a response
	readTimeout            time.Duration
	lastReq, lastRespBytes int
}

func dialSTUN(t *testing.T, network string, addr net.Addr) *stunClient {
	t.Helper()
	c, err := net.Dial(network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stunClient{t: t, conn: c, tcp: network == "tcp", readTimeout: 5 * time.Second}
}

// dialTLS connects to the server's TURN over TLS port.
func dialTLS(t *testing.T, s *testServer) *stunClient {
	t.Helper()
	c, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stunClient{t: t, conn: c, tcp: true, readTimeout: 5 * time.Second}
}

// dialTransport dials the server over "udp", "tcp" or "tls".
func dialTransport(t *testing.T, s *testServer, transport string) *stunClient {
	t.Helper()
	switch transport {
	case "udp":
		return dialSTUN(t, "udp", s.UDPAddr())
	case "tcp":
		return dialSTUN(t, "tcp", s.TCPAddr())
	}
	return dialTLS(t, s)
}

// withCredentials sets a REST credential for user valid for d from now.
func (c *stunClient) withCredentials(user string, d time.Duration) *stunClient {
	c.user = RESTUsername(time.Now().Add(d), user)
	c.pass = RESTPassword(testSecret, c.user)
	return c
}

// readFrame reads one datagram, or one STUN message or ChannelData frame from a TCP stream.
func (c *stunClient) readFrame() ([]byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.readTimeout))
	if !c.tcp {
		buf := make([]byte, 2048)
		n, err := c.conn.Read(buf)
		return buf[:n], err
	}
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(c.conn, hdr); err != nil {
		return nil, err
	}
	l := int(binary.BigEndian.Uint16(hdr[2:]))
	if hdr[0]&0xC0 == 0 { // STUN: 20-byte header
		l += 16
	} else {
		l = (l + 3) &^ 3
	}
	rest := make([]byte, l)
	if _, err := io.ReadFull(c.conn, rest); err != nil {
		return nil, err
	}
	return append(hdr, rest...), nil
}

func (c *stunClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// roundTrip sends m and returns the response with its transaction ID; other frames are kept in pending.
func (c *stunClient) roundTrip(m *stun.Message) *stun.Message {
	c.t.Helper()
	c.lastReq = len(m.Raw)
	c.write(m.Raw)
	for {
		b, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("waiting for %v response: %v", m.Type, err)
		}
		r := &stun.Message{Raw: b}
		if !stun.IsMessage(b) || r.Decode() != nil || r.TransactionID != m.TransactionID {
			c.pending = append(c.pending, b)
			continue
		}
		c.lastRespBytes = len(b)
		return r
	}
}

// build makes a request of method with attrs, authenticated once the server has given a nonce.
func (c *stunClient) build(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.NewType(method, stun.ClassRequest)}
	setters = append(setters, attrs...)
	if c.nonce != "" {
		setters = append(setters, stun.NewUsername(c.user), stun.NewRealm(c.realm), stun.NewNonce(c.nonce),
			stun.NewLongTermIntegrity(c.user, c.realm, c.pass))
	}
	setters = append(setters, stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// request sends method with attrs, authenticated once the server has given a nonce; a 401 or 438
// answer (first contact, stale nonce) is retried once with the new nonce.
func (c *stunClient) request(method stun.Method, attrs ...stun.Setter) *stun.Message {
	c.t.Helper()
	for try := 0; ; try++ {
		r := c.roundTrip(c.build(method, attrs...))
		code := errorCode(r)
		if (code == stun.CodeUnauthorized && c.nonce == "" || code == stun.CodeStaleNonce) && try == 0 {
			var nonce stun.Nonce
			var realm stun.Realm
			if nonce.GetFrom(r) == nil && realm.GetFrom(r) == nil {
				c.nonce, c.realm = nonce.String(), realm.String()
				continue
			}
		}
		return r
	}
}

func errorCode(m *stun.Message) stun.ErrorCode {
	if m.Type.Class != stun.ClassErrorResponse {
		return 0
	}
	var ec stun.ErrorCodeAttribute
	if err := ec.GetFrom(m); err != nil {
		return -1
	}
	return ec.Code
}

type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (a rawAttr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

func transport(proto byte) stun.Setter {
	return rawAttr{stun.AttrRequestedTransport, []byte{proto, 0, 0, 0}}
}

func lifetime(seconds uint32) stun.Setter {
	return rawAttr{stun.AttrLifetime, binary.BigEndian.AppendUint32(nil, seconds)}
}

func channel(n uint16) stun.Setter {
	return rawAttr{stun.AttrChannelNumber, []byte{byte(n >> 8), byte(n), 0, 0}}
}

func peer(ap netip.AddrPort) stun.Setter {
	return xorPeer{stun.XORMappedAddress{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}}
}

type xorPeer struct{ a stun.XORMappedAddress }

func (p xorPeer) AddTo(m *stun.Message) error { return p.a.AddToAs(m, stun.AttrXORPeerAddress) }

const (
	protoUDP = 17
	protoTCP = 6
)

// allocate makes an allocation and returns its relayed address; it fails the test on an error response.
func (c *stunClient) allocate(proto byte, extra ...stun.Setter) netip.AddrPort {
	c.t.Helper()
	r := c.request(stun.MethodAllocate, append([]stun.Setter{transport(proto)}, extra...)...)
	if r.Type.Class != stun.ClassSuccessResponse {
		c.t.Fatalf("allocate: error %d", errorCode(r))
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(r, stun.AttrXORRelayedAddress); err != nil {
		c.t.Fatal(err)
	}
	ip, _ := netip.AddrFromSlice(relayed.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(relayed.Port))
}

func responseLifetime(t *testing.T, r *stun.Message) time.Duration {
	t.Helper()
	v, err := r.Get(stun.AttrLifetime)
	if err != nil || len(v) != 4 {
		t.Fatalf("no LIFETIME in %v", r)
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second
}

// channelData builds a ChannelData message (padded for TCP).
func channelData(n uint16, data []byte, pad bool) []byte {
	b := binary.BigEndian.AppendUint16(nil, n)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	for pad && len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// udpPeer is a UDP socket standing in for a peer; it echoes what it receives when echo is set.
type udpPeer struct {
	conn *net.UDPConn
	got  chan []byte
}

func newUDPPeer(t *testing.T, addr string, echo bool) *udpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	return udpPeerOn(t, c, echo)
}

// udpPeerOn is newUDPPeer on a socket already bound.
func udpPeerOn(t *testing.T, c *net.UDPConn, echo bool) *udpPeer {
	p := &udpPeer{conn: c, got: make(chan []byte, 100)}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			b := append([]byte(nil), buf[:n]...)
			select {
			case p.got <- b:
			default:
			}
			if echo {
				_, _ = c.WriteToUDP(b, from)
			}
		}
	}()
	return p
}

func (p *udpPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *udpPeer) wait(t *testing.T, what string) []byte {
	t.Helper()
	select {
	case b := <-p.got:
		return b
	case <-time.After(5 * time.Second):
		t.Fatalf("peer did not receive %s", what)
		return nil
	}
}

// empty reports whether nothing has arrived (no waiting: callers first await a later event).
func (p *udpPeer) empty() bool { return len(p.got) == 0 }
