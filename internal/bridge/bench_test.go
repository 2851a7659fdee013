package bridge

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/srtp/v3"
)

// countingWriter stands in for the ICE connection: the benchmark measures the bridge, not the kernel.
type countingWriter struct {
	n int
	l *net.UDPConn // the receiver's socket in benchConferenceOn(…, udp=true)
}

func (w *countingWriter) Write(p []byte) (int, error) { w.n++; return len(p), nil }

// benchConference builds a conference of one video sender and n receivers with SRTP keyed directly (no
// ICE or DTLS), and returns the sender, an SRTP context that encrypts as the sender's client would, and
// the receivers' writers.
func benchConference(tb testing.TB, n int) (*Endpoint, *srtp.Context, []*countingWriter) {
	return benchConferenceOn(tb, n, false)
}

// benchConferenceOn is benchConference; with udp, the bridge sends with sendmmsg on a loopback UDP socket
// to one loopback socket per receiver (nobody reads them: the kernel drops what does not fit), as it
// does in production once ICE has selected a pair.
func benchConferenceOn(tb testing.TB, n int, udp bool) (*Endpoint, *srtp.Context, []*countingWriter) {
	return rigConference(tb, n, udp, 1)
}

// rigConference is benchConferenceOn with the given number of audio and video slots per receiver.
func rigConference(tb testing.TB, n int, udp bool, slots int) (*Endpoint, *srtp.Context, []*countingWriter) {
	cfg := testConfig()
	cfg.VideoSlots, cfg.AudioSlots = slots, slots
	senders, enc, writers := rigSenders(tb, cfg, 1, n, udp)
	return senders[0], enc, writers
}

// rigSenders builds a conference on a bridge with cfg of video senders, each with source SSRC
// rigSSRC(i), and n receivers (the endpoints that send nothing), with SRTP keyed directly (no ICE or
// DTLS). It returns the senders, an SRTP context that encrypts as a sender's client would, and the
// receivers' writers. With udp, the bridge batches its sends on a loopback socket and runs its fan-out
// workers (cfg.FanOutWorkers) until the test ends.
func rigSenders(tb testing.TB, cfg Config, senders, n int, udp bool) ([]*Endpoint, *srtp.Context, []*countingWriter) {
	br, err := New(cfg, nil, nil)
	must(tb, err)
	c := newConference(br, "bench")
	if udp {
		sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		must(tb, err)
		tb.Cleanup(func() { _ = sock.Close() })
		if br.batch = newBatchSocket(sock, br.metrics.forwardDelay); br.batch == nil {
			tb.Skip("no sendmmsg on this platform")
		}
		br.startFanOut()
		tb.Cleanup(func() { _ = br.Close() })
	}
	key, salt := rigKeys()
	profile := srtp.ProtectionProfileAeadAes128Gcm
	var writers []*countingWriter
	mk := func(id string) *Endpoint {
		e := newEndpointState(c, id)
		// No replay window on the benchmark's input: it feeds the same encrypted packet again and again.
		in, err := srtp.CreateContext(key, salt, profile, srtp.SRTPNoReplayProtection())
		must(tb, err)
		out, err := srtp.CreateContext(key, salt, profile)
		must(tb, err)
		e.srtpIn, e.srtpOut = in, out
		e.srtpReady.Store(true)
		e.videoOn.Store(true)
		e.connected.Store(true)
		w := &countingWriter{}
		writers = append(writers, w)
		e.setWriter(w)
		if udp {
			l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			must(tb, err)
			tb.Cleanup(func() { _ = l.Close() })
			e.setDst(l.LocalAddr())
			w.l = l
			if e.dst.Load() == nil {
				tb.Fatal("no batch destination")
			}
		}
		c.mu.Lock()
		c.endpoints[id] = e
		c.order = append(c.order, e)
		c.mu.Unlock()
		return e
	}
	var eps []*Endpoint
	for i := range senders {
		id := "sender" // the one sender's ID, as tests name it
		if i > 0 {
			id = fmt.Sprintf("sender%d", i)
		}
		eps = append(eps, mk(id))
	}
	for i := range n {
		mk(fmt.Sprintf("r%d", i))
	}
	for i, e := range eps {
		srcs, err := c.validateSources(e.id, []Source{{Kind: KindVideo, SSRC: rigSSRC(i), Name: e.id + "-v0"}}, nil)
		must(tb, err)
		c.setSources(e, srcs)
	}
	enc, err := srtp.CreateContext(key, salt, profile)
	must(tb, err)
	return eps, enc, writers[senders:]
}

// rigSSRC is the video SSRC of rigSenders' sender i (1234 for the first, as vp8Packet writes).
func rigSSRC(i int) uint32 { return 1234 + uint32(i)*1000 }

// rigKeys are the SRTP master key and salt every endpoint of the rig uses in both directions.
func rigKeys() (key, salt []byte) {
	key, salt = make([]byte, 16), make([]byte, 12)
	for i := range key {
		key[i] = byte(i)
	}
	return key, salt
}

// vp8Packet is a 1,100-byte VP8 key frame packet with a 15-bit picture ID and TL0PICIDX.
func vp8Packet(seq uint16, ts uint32) []byte {
	p := make([]byte, 12+1100)
	p[0], p[1] = 0x80, 0x80|PayloadTypeVP8
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], 1234)
	copy(p[12:], []byte{0x90, 0xc0, 0x80 | 0x12, 0x34, 7, 0x00})
	return p
}

// BenchmarkForwardVideo measures the per-packet path: SRTP decrypt, checks, cache store, layer choice,
// then rewrite + SRTP encrypt + write for each of N receivers. fwd-pkts/s counts forwarded packets.
func BenchmarkForwardVideo(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			sender, enc, writers := benchConference(b, n)
			pkt, err := enc.EncryptRTP(nil, vp8Packet(1, 90000), nil)
			must(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				sender.handlePacket(pkt)
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "fwd-pkts/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd-pkt")
			if writers[0].n < b.N {
				b.Fatalf("receiver got %d packets of %d", writers[0].n, b.N)
			}
		})
	}
}

// BenchmarkForwardVideoUDP is BenchmarkForwardVideo with real sends: sendmmsg on a loopback UDP socket,
// one system call per incoming packet (up to maxBatch receivers each). The kernel's work per datagram
// (including loopback delivery to the receiver's socket) is part of the figure. Packets enter as the
// demultiplexer hands them over (Endpoint.receive: the endpoint's lock and the forward-delay histogram).
func BenchmarkForwardVideoUDP(b *testing.B) {
	for _, n := range []int{1, 4, 16, 60} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			sender, enc, _ := benchConferenceOn(b, n, true)
			pkt, err := enc.EncryptRTP(nil, vp8Packet(1, 90000), nil)
			must(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				sender.receive(pkt, time.Now())
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "fwd-pkts/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd-pkt")
		})
	}
}

// TestForwardBatchedDoesNotAllocate pins the zero-allocation packet path with sendmmsg, as the
// demultiplexer enters it (with the forward-delay histogram), and that the packets arrive.
func TestForwardBatchedDoesNotAllocate(t *testing.T) {
	sender, enc, writers := benchConferenceOn(t, 40, true) // more receivers than one batch holds
	pkt, err := enc.EncryptRTP(nil, vp8Packet(1, 90000), nil)
	must(t, err)
	sender.receive(pkt, time.Now())
	if allocs := testing.AllocsPerRun(200, func() { sender.receive(pkt, time.Now()) }); allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet, want 0", allocs)
	}
	if got := histogramCount(sender.b.metrics.forwardDelay); got < 200 {
		t.Fatalf("forward delay observed %d times, want one per forwarded packet", got)
	}
	if f := sender.out.failures; f != 0 {
		t.Fatalf("%d sends failed", f)
	}
	for _, w := range []*countingWriter{writers[0], writers[39]} {
		must(t, w.l.SetReadDeadline(time.Now().Add(time.Second)))
		buf := make([]byte, 1700)
		n, err := w.l.Read(buf)
		must(t, err)
		if n != len(pkt) || binary.BigEndian.Uint16(buf[2:]) != 1 {
			t.Fatalf("received %d bytes, seq %d", n, binary.BigEndian.Uint16(buf[2:]))
		}
	}
}

// TestForwardDoesNotAllocate pins the zero-allocation packet path.
func TestForwardDoesNotAllocate(t *testing.T) {
	sender, enc, writers := benchConference(t, 4)
	pkt, err := enc.EncryptRTP(nil, vp8Packet(1, 90000), nil)
	must(t, err)
	sender.handlePacket(pkt) // warm up (first packet starts the projection)
	if allocs := testing.AllocsPerRun(200, func() { sender.handlePacket(pkt) }); allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet, want 0", allocs)
	}
	if writers[3].n < 200 {
		t.Fatalf("receiver got %d packets", writers[3].n)
	}
}
