package bridge

import (
	"slices"
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/vnet"

	"github.com/parley-im/parley/internal/pionlog"
)

// TestTransportCCFeedback: a Pion client that negotiates the transport-wide sequence number extension
// gets RTCP TransportLayerCC feedback about its packets every feedbackInterval, covering consecutive
// ranges of its transport-wide sequence numbers; the receiver gets the packets without the extension.
func TestTransportCCFeedback(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "tcc", "alice", clientOpts{tcc: true})
	b := newClient(t, tb, "tcc", "bob", clientOpts{noSend: true})
	ssrcs := map[uint32]bool{}
	for _, s := range []uint32{uint32(a.vs.GetParameters().Encodings[0].SSRC), uint32(a.as.GetParameters().Encodings[0].SSRC)} {
		ssrcs[s] = true
	}
	const want = 10
	a.rec.wait(t, "transport-cc feedback", func(r *recorder) bool { return len(twccOf(r.rtcp)) >= want })
	// Pion hands each report to the sender of its media SSRC (audio or video), read by two goroutines:
	// put them back in the order the bridge sent them.
	fbs := twccOf(a.rec.snapshotRTCP())
	slices.SortFunc(fbs, func(x, y *rtcp.TransportLayerCC) int { return int(x.FbPktCount) - int(y.FbPktCount) })
	var next uint16
	for i, fb := range fbs {
		if fb.SenderSSRC != a.alloc.Feedback[1].SSRC || !ssrcs[fb.MediaSSRC] {
			t.Fatalf("feedback %d: sender %d media %d, want the bridge's feedback SSRC about alice's SSRCs", i, fb.SenderSSRC, fb.MediaSSRC)
		}
		if fb.PacketStatusCount == 0 || fb.PacketStatusCount > 1000 || len(fb.PacketChunks) == 0 {
			t.Fatalf("feedback %d: %d statuses in %d chunks", i, fb.PacketStatusCount, len(fb.PacketChunks))
		}
		// Each report starts where the previous one ended, or earlier when a packet arrived after the
		// report that first covered its place (audio and video are written by two goroutines): the
		// reports leave no sequence number out.
		if i > 0 && int16(fb.BaseSequenceNumber-next) > 0 {
			t.Fatalf("feedback %d: base %d skips from %d", i, fb.BaseSequenceNumber, next)
		}
		if end := fb.BaseSequenceNumber + fb.PacketStatusCount; i == 0 || int16(end-next) > 0 {
			next = end
		}
		if i > 0 && fb.FbPktCount != fbs[i-1].FbPktCount+1 {
			t.Fatalf("feedback %d: count %d after %d", i, fb.FbPktCount, fbs[i-1].FbPktCount)
		}
	}
	v := slotOf(t, b, "alice-v0")
	b.rec.wait(t, "forwarded video", func(r *recorder) bool { return r.count(v) > 10 })
	for _, p := range b.rec.snapshot(v) {
		if p.Extension || len(p.Extensions) > 0 {
			t.Fatalf("forwarded packet %d carries header extensions", p.SequenceNumber)
		}
	}
	a.close()
	b.close()
	_ = tb.Close()
}

// TestNoTransportCCWithoutExtension: a client that does not negotiate the extension gets no
// transport-cc feedback.
func TestNoTransportCCWithoutExtension(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "tcc", "alice", clientOpts{})
	b := newClient(t, tb, "tcc", "bob", clientOpts{noSend: true})
	v := slotOf(t, b, "alice-v0")
	b.rec.wait(t, "forwarded video", func(r *recorder) bool { return r.count(v) > 30 }) // ~1 s of feedback ticks
	if n := len(twccOf(a.rec.snapshotRTCP())); n != 0 {
		t.Fatalf("%d transport-cc reports without the extension", n)
	}
	a.close()
	b.close()
	_ = tb.Close()
}

// TestNACKUpstreamRepairsSenderLoss: on a Pion vnet link that drops every third video packet from the
// sender to the bridge, the bridge NACKs the sender, forwards its RTX repairs, and the receiver ends up
// with every packet (the bridge's cache never had the lost ones, so only the sender can repair them).
func TestNACKUpstreamRepairsSenderLoss(t *testing.T) {
	checkNoLeaks(t)
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.New(testLogger())})
	must(t, err)
	nets := map[string]*vnet.Net{}
	for name, ip := range map[string]string{"bridge": "10.0.0.1", "sender": "10.0.0.2", "receiver": "10.0.0.3"} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		must(t, err)
		must(t, router.AddNet(n))
		nets[name] = n
	}
	var seen, dropped atomic.Int64
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if c.DestinationAddr().String() != "10.0.0.1:10000" || c.SourceAddr().String()[:9] != "10.0.0.2:" {
			return true
		}
		b := c.UserData()
		if len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7f != PayloadTypeVP8 {
			return true // RTX (payload type 96) and everything else pass
		}
		if seen.Add(1)%3 == 0 && dropped.Load() < 20 {
			dropped.Add(1)
			return false
		}
		return true
	})
	must(t, router.Start())
	t.Cleanup(func() { _ = router.Stop() })

	cfg := testConfig()
	cfg.MediaAddr = "10.0.0.1:10000"
	cfg.IncludeLoopback = false
	tb := newTestBridge(t, cfg, WithNet(nets["bridge"]))
	s := newClient(t, tb, "lossy", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "lossy", "receiver", clientOpts{net: nets["receiver"], noSend: true})
	v := slotOf(t, r, "sender-v0")

	r.rec.wait(t, "a repaired run of 80 packets after 20 upstream losses", func(rec *recorder) bool {
		if dropped.Load() < 20 || len(rec.pkts[v]) == 0 {
			return false
		}
		got := map[uint16]bool{}
		for _, p := range rec.pkts[v] {
			got[p.SequenceNumber] = true
		}
		first := rec.pkts[v][0].SequenceNumber
		run := 0
		for got[first+uint16(run)] {
			run++
		}
		return run >= 80
	})
	if n := counterValue(tb.metrics.nacksOut); n < 20 {
		t.Fatalf("NACKed sequence numbers = %v, want ≥ 20", n)
	}
	var nacks int
	for _, p := range s.rec.snapshotRTCP() {
		if _, ok := p.(*rtcp.TransportLayerNack); ok {
			nacks++
		}
	}
	if nacks == 0 {
		t.Fatal("the sender got no NACK")
	}
	s.close()
	r.close()
	_ = tb.Close()
}

// TestNACKTracker checks gap detection, the retry budget and the bounded window.
func TestNACKTracker(t *testing.T) {
	const ms = int64(1e6)
	var tr nackTracker
	var buf [nackMaxPerTick]uint16
	tr.note(100, 0)
	tr.note(101, 0)
	tr.note(104, 0) // 102, 103 lost
	if got := tr.due(buf[:0], 1*ms, 50*ms); len(got) != 0 {
		t.Fatalf("asked for %v before the reorder wait", got)
	}
	if got := tr.due(buf[:0], 10*ms, 50*ms); len(got) != 2 || got[0] != 102 || got[1] != 103 {
		t.Fatalf("due = %v, want [102 103]", got)
	}
	if got := tr.due(buf[:0], 20*ms, 50*ms); len(got) != 0 {
		t.Fatalf("asked again within the interval: %v", got)
	}
	tr.note(103, 30*ms) // repaired
	for i := range nackMaxTries + 2 {
		got := tr.due(buf[:0], int64(100+100*i)*ms, 50*ms)
		if want := i < nackMaxTries-1; (len(got) == 1 && got[0] == 102) != want {
			t.Fatalf("try %d: due = %v", i+2, got)
		}
	}
	// A burst larger than the tracker keeps the newest gaps; a jump past the window forgets them.
	tr.note(104+nackMaxMissing*2+1, 0)
	if len(tr.missing) != nackMaxMissing || tr.missing[len(tr.missing)-1].seq != 104+nackMaxMissing*2 {
		t.Fatalf("%d gaps tracked, last %d", len(tr.missing), tr.missing[len(tr.missing)-1].seq)
	}
	if got := tr.due(buf[:0], 1000*ms, 50*ms); len(got) != nackMaxPerTick {
		t.Fatalf("%d asked in one tick, want %d", len(got), nackMaxPerTick)
	}
	tr.note(tr.highest+nackWindow+1, 0)
	if len(tr.missing) != 0 {
		t.Fatalf("%d gaps kept across a jump", len(tr.missing))
	}
	// Wrap-around.
	var w nackTracker
	w.note(65534, 0)
	w.note(1, 0)
	if got := w.due(buf[:0], 10*ms, 50*ms); len(got) != 2 || got[0] != 65535 || got[1] != 0 {
		t.Fatalf("due across wrap = %v", got)
	}
}

func twccOf(pkts []rtcp.Packet) []*rtcp.TransportLayerCC {
	var out []*rtcp.TransportLayerCC
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			out = append(out, fb)
		}
	}
	return out
}

func (r *recorder) snapshotRTCP() []rtcp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtcp.Packet(nil), r.rtcp...)
}
