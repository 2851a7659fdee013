package bridge

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/srtp/v3"
)

// hdPacket is a VP8 packet of 1,200 bytes (RTP header included) of sender ssrc: the first of its frame
// (start, with the payload header's key-frame bit when key) or a later one, the marker on the last.
func hdPacket(ssrc uint32, seq uint16, ts uint32, pic uint16, start, key, last bool) []byte {
	p := make([]byte, 1200)
	p[0], p[1] = 0x80, PayloadTypeVP8
	if last {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	d := []byte{0x80, 0xc0, 0x80 | byte(pic>>8)&0x7f, byte(pic), byte(pic)}
	if start {
		d[0] |= 0x10
	}
	copy(p[12:], d)
	if !key {
		p[12+len(d)] = 0x01 // inter frame (RFC 7741 §4.3: P bit)
	}
	return p
}

// hdStream is 2 s of one HD sender's video at 2.5 Mbit/s, encrypted as its client would: 30 frames a
// second of 8 packets of 1,200 bytes, the first frame a key frame of 50 (a burst the size of a 720p key
// frame). frames holds each frame's first packet index.
func hdStream(tb testing.TB, enc *srtp.Context, ssrc uint32) (pkts [][]byte, frames []int) {
	seq := uint16(1)
	for f := range 60 {
		n := 8
		if f == 0 {
			n = 50
		}
		frames = append(frames, len(pkts))
		for i := range n {
			plain := hdPacket(ssrc, seq, uint32(f)*3000, uint16(f), i == 0, f == 0, i == n-1)
			pkt, err := enc.EncryptRTP(nil, plain, nil)
			must(tb, err)
			pkts = append(pkts, pkt)
			seq++
		}
	}
	return pkts, frames
}

// BenchmarkFanOutHD is one HD sender's stream (hdStream, key frame included) forwarded to 49 receivers
// over loopback UDP (sendmmsg), with the fan-out workers off and on. Packets enter as the demultiplexer
// hands them over, a frame's packets all read at once (a key frame's burst queues behind itself):
// fanout-p50/p99-µs is one packet's time in Endpoint.receive (until its last copy is with the kernel),
// delay-p50/p99-µs each packet's time since its frame was read, cpu-µs/pkt the process's CPU time (all
// threads: the workers too) per incoming packet.
func BenchmarkFanOutHD(b *testing.B) {
	const receivers = 49
	for _, w := range []int{-1, 0} {
		name := "workers=off"
		if w == 0 {
			name = "workers=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig()
			cfg.FanOutWorkers = w
			senders, enc, _ := rigSenders(b, cfg, 1, receivers, true)
			sender := senders[0]
			pkts, frames := hdStream(b, enc, rigSSRC(0))
			fanout := make([]time.Duration, b.N)
			delay := make([]time.Duration, b.N)
			var before, after syscall.Rusage
			b.ReportAllocs()
			b.ResetTimer()
			must(b, syscall.Getrusage(syscall.RUSAGE_SELF, &before))
			var readAt time.Time
			for i, next := 0, 0; i < b.N; i++ {
				k := i % len(pkts)
				if k == 0 {
					next = 0
				}
				start := time.Now()
				if next < len(frames) && frames[next] == k {
					readAt = start
					next++
				}
				sender.receive(pkts[k], readAt)
				end := time.Now()
				fanout[i], delay[i] = end.Sub(start), end.Sub(readAt)
			}
			must(b, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
			b.StopTimer()
			cpu := time.Duration(syscall.TimevalToNsec(after.Utime) - syscall.TimevalToNsec(before.Utime) +
				syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Stime))
			slices.Sort(fanout)
			slices.Sort(delay)
			q := func(d []time.Duration, p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / 1e3 }
			b.ReportMetric(q(fanout, 0.5), "fanout-p50-µs")
			b.ReportMetric(q(fanout, 0.99), "fanout-p99-µs")
			b.ReportMetric(q(delay, 0.5), "delay-p50-µs")
			b.ReportMetric(q(delay, 0.99), "delay-p99-µs")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/pkt")
			if f := sender.b.fan; f != nil {
				b.ReportMetric(float64(f.byPool.Load())/float64(b.N), "worker-parts/pkt")
			}
		})
	}
}

// TestFanOutInParts sends two senders' video to 49 receivers at once, each sender's packets forwarded in
// parts by its reader and the fan-out workers: every receiver gets every packet of both, in order (the
// sequence numbers of each of its slots run on without a gap), and the workers forwarded some parts.
func TestFanOutInParts(t *testing.T) {
	checkNoLeaks(t)
	const receivers, count = 49, 150
	cfg := testConfig()
	cfg.FanOutWorkers = 2 // also where GOMAXPROCS is 1
	senders, enc, writers := rigSenders(t, cfg, 2, receivers, true)
	if senders[0].b.fan == nil || senders[0].b.fan.workers != 2 {
		t.Fatal("no fan-out workers")
	}
	// Encrypt everything first: the senders' clients each have a context of their own.
	var streams [2][][]byte
	for s := range streams {
		for i := range count {
			seq := uint16(i + 1)
			plain := hdPacket(rigSSRC(s), seq, uint32(i)*3000, uint16(i), true, true, true)
			pkt, err := enc.EncryptRTP(nil, plain, nil)
			must(t, err)
			streams[s] = append(streams[s], pkt)
		}
	}
	errs := make(chan error, receivers)
	for _, w := range writers {
		must(t, w.l.SetReadBuffer(4<<20))
		must(t, w.l.SetReadDeadline(time.Now().Add(20*time.Second)))
		go func() { errs <- readInOrder(w.l, 2*count) }()
	}
	var wg sync.WaitGroup
	for s, e := range senders {
		wg.Go(func() {
			for _, pkt := range streams[s] {
				e.receive(pkt, time.Now())
			}
		})
	}
	wg.Wait()
	for range writers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := senders[0].b.fan.byPool.Load(); n == 0 {
		t.Error("the workers forwarded no part")
	}
	for _, e := range senders {
		if e.out.failures != 0 {
			t.Errorf("%d sends failed", e.out.failures)
		}
	}
}

// TestFanOutDoesNotAllocate pins the zero-allocation packet path with the fan-out workers on (their
// allocations count too), and that the forward delay is still observed once per packet.
func TestFanOutDoesNotAllocate(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig()
	cfg.FanOutWorkers = 1
	senders, enc, _ := rigSenders(t, cfg, 1, 40, true)
	sender := senders[0]
	pkt, err := enc.EncryptRTP(nil, vp8Packet(1, 90000), nil)
	must(t, err)
	sender.receive(pkt, time.Now()) // warm up: the sender's batch and fan-out state
	if allocs := testing.AllocsPerRun(200, func() { sender.receive(pkt, time.Now()) }); allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet, want 0", allocs)
	}
	if got := histogramCount(sender.b.metrics.forwardDelay); got != 201 {
		t.Fatalf("forward delay observed %d times, want once per forwarded packet (201)", got)
	}
}

// readInOrder reads n packets from l and checks that they come on two SSRCs, each with sequence numbers
// that run on by one.
func readInOrder(l *net.UDPConn, n int) error {
	last := map[uint32]uint16{}
	buf := make([]byte, 1700)
	for i := range n {
		m, err := l.Read(buf)
		if err != nil {
			return fmt.Errorf("%s: packet %d of %d: %w", l.LocalAddr(), i, n, err)
		}
		if m < 12 {
			return fmt.Errorf("%s: %d bytes", l.LocalAddr(), m)
		}
		ssrc, seq := binary.BigEndian.Uint32(buf[8:]), binary.BigEndian.Uint16(buf[2:])
		if prev, ok := last[ssrc]; ok && seq != prev+1 {
			return fmt.Errorf("%s: ssrc %d: seq %d after %d", l.LocalAddr(), ssrc, seq, prev)
		}
		last[ssrc] = seq
	}
	if len(last) != 2 {
		return fmt.Errorf("%s: %d SSRCs, want 2", l.LocalAddr(), len(last))
	}
	return nil
}
