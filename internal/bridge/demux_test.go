package bridge

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histogramCount reads how many observations a histogram has.
func histogramCount(h prometheus.Histogram) uint64 {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// demuxedCount is how many datagrams the media socket's reader has taken, on every path.
func demuxedCount(b *Bridge) float64 {
	var sum float64
	for _, p := range []string{demuxDirect, demuxICE, demuxICEDropped} {
		var m dto.Metric
		if err := b.metrics.demuxed.WithLabelValues(p).Write(&m); err == nil {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// demuxHarness is a demultiplexer on a loopback socket with one endpoint (no ICE agent), read by the test
// in pion's place.
type demuxHarness struct {
	d    *demux
	ice  icePacketConn
	e    *Endpoint
	sock *net.UDPConn
	done chan struct{}
}

func newDemuxHarness(t *testing.T, portable bool) *demuxHarness {
	t.Helper()
	br, err := New(testConfig(), nil, nil)
	must(t, err)
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	h := &demuxHarness{d: newDemux(br, sock), sock: sock, done: make(chan struct{})}
	if portable {
		h.d.rb = &connRecv{c: sock} // ReadFrom, as on Pion's vnet
	}
	h.ice = icePacketConn{h.d}
	h.e = newEndpointState(newConference(br, "demux"), "e1")
	go h.d.run(func() { close(h.done) })
	t.Cleanup(func() {
		_ = h.ice.Close()
		<-h.done
	})
	return h
}

// readICE waits for the next datagram pion's mux would read.
func (h *demuxHarness) readICE(t *testing.T) ([]byte, netip.AddrPort) {
	t.Helper()
	type res struct {
		b    []byte
		from netip.AddrPort
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		buf := make([]byte, 1500)
		n, from, err := h.ice.ReadFromAddrPort(buf)
		ch <- res{buf[:n], from, err}
	}()
	select {
	case r := <-ch:
		must(t, r.err)
		return r.b, r.from
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reached pion's side")
		return nil, netip.AddrPort{}
	}
}

// readDTLS waits for a DTLS record handed to the endpoint.
func (h *demuxHarness) readDTLS(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-h.e.dtlsIn:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no DTLS record reached the endpoint")
		return nil
	}
}

// TestDemux: datagrams from the routed address reach the endpoint on the reader goroutine, except STUN,
// which goes to pion's mux with everything from other addresses; unrouting sends the address back to
// pion. Both readers (recvmmsg, and ReadFrom as on vnet).
func TestDemux(t *testing.T) {
	for _, portable := range []bool{false, true} {
		name := "recvmmsg"
		if portable {
			name = "readfrom"
		}
		t.Run(name, func(t *testing.T) {
			h := newDemuxHarness(t, portable)
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			must(t, err)
			defer peer.Close()
			stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			must(t, err)
			defer stranger.Close()
			dst := h.sock.LocalAddr()
			h.d.route(h.e, peer.LocalAddr())
			if h.d.routed(peer.LocalAddr().(*net.UDPAddr).AddrPort()) != h.e {
				t.Fatal("peer's address not routed")
			}

			check, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("bridge:peer"))
			must(t, err)
			dtlsRecord := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}
			rtpFromStranger := []byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}
			direct0 := counterValue(h.d.direct)

			// The peer's consent check, then a DTLS record; a stranger's RTP.
			_, err = peer.WriteTo(check.Raw, dst)
			must(t, err)
			_, err = peer.WriteTo(dtlsRecord, dst)
			must(t, err)
			_, err = stranger.WriteTo(rtpFromStranger, dst)
			must(t, err)

			if got := h.readDTLS(t); !bytes.Equal(got, dtlsRecord) {
				t.Fatalf("endpoint got % x", got)
			}
			got, from := h.readICE(t)
			if !bytes.Equal(got, check.Raw) || from != peer.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Fatalf("pion got % x from %v, want the STUN check from the peer", got, from)
			}
			got, from = h.readICE(t)
			if !bytes.Equal(got, rtpFromStranger) || from != stranger.LocalAddr().(*net.UDPAddr).AddrPort() {
				t.Fatalf("pion got % x from %v, want the stranger's packet", got, from)
			}
			if d := counterValue(h.d.direct) - direct0; d != 1 {
				t.Fatalf("%v datagrams took the direct path, want 1", d)
			}

			// Expired: the address goes back to pion, and is not routed again.
			h.e.expired.Store(true)
			h.d.unroute(h.e)
			h.d.route(h.e, peer.LocalAddr())
			_, err = peer.WriteTo(dtlsRecord, dst)
			must(t, err)
			got, _ = h.readICE(t)
			if !bytes.Equal(got, dtlsRecord) {
				t.Fatalf("pion got % x after unroute", got)
			}
			if len(h.e.dtlsIn) != 0 {
				t.Fatal("unrouted endpoint still got a record")
			}
		})
	}
}

// TestDemuxRouteMoves: when the selected pair changes address, the new address is routed and the old one
// goes back to pion; another endpoint selecting the same address takes it over.
func TestDemuxRouteMoves(t *testing.T) {
	h := newDemuxHarness(t, false)
	a := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	b := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
	h.d.route(h.e, a)
	h.d.route(h.e, b)
	if h.d.routed(a.AddrPort()) != nil || h.d.routed(b.AddrPort()) != h.e {
		t.Fatal("route did not move")
	}
	other := newEndpointState(h.e.conf, "e2")
	h.d.route(other, b)
	h.d.unroute(h.e) // e no longer owns b: nothing to undo
	if h.d.routed(b.AddrPort()) != other {
		t.Fatal("the newest selection does not own the address")
	}
	// IPv4 in IPv6 form (a dual-stack socket's view) is the same address.
	if h.d.routed(netip.AddrPortFrom(netip.AddrFrom16(b.AddrPort().Addr().As16()), 40001)) != other {
		t.Fatal("v4-mapped address not matched")
	}
}

// TestMediaTakesDirectPath: between two Pion clients on loopback, media reaches the bridge's endpoints
// through the demultiplexer (not pion's mux and the endpoints' readLoops), each forwarded packet's time
// in the bridge is observed, and consent freshness holds: with disconnection after 400 ms without STUN,
// the endpoints stay connected for far longer while the media goes around pion.
func TestMediaTakesDirectPath(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig()
	cfg.ICEKeepaliveInterval = 100 * time.Millisecond
	cfg.ICEDisconnectedTimeout = 400 * time.Millisecond
	cfg.ICEFailedTimeout = 400 * time.Millisecond
	br, err := New(cfg, testLogger(), nil)
	must(t, err)
	expired := make(chan string, 4)
	br.expiredHook = func(_, ep, reason string) { expired <- ep + ": " + reason }
	must(t, br.Start())
	srv := newChannelServer(br)
	tb := &testBridge{Bridge: br, http: srv}
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); _ = br.Close() })
	a := newClient(t, tb, "room1", "alice", clientOpts{})
	b := newClient(t, tb, "room1", "bob", clientOpts{})
	av := slotOf(t, b, "alice-v0")
	// 90 video packets at 30 frames a second (several packets per key frame) span more than the ICE
	// failure time (800 ms) several times over.
	b.rec.wait(t, "bob receives alice", func(r *recorder) bool { return r.count(av) >= 90 })
	select {
	case r := <-expired:
		t.Fatalf("endpoint expired while media flowed: %s", r)
	default:
	}
	if n := counterValue(tb.demux.direct); n < 90 {
		t.Fatalf("%v datagrams took the direct path", n)
	}
	if n := histogramCount(tb.metrics.forwardDelay); n == 0 {
		t.Fatal("no forward delay observed")
	}
	a.close()
	b.close()
	_ = tb.Close()
}
