package bridge

import (
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridge/bwe"
	"github.com/parley-im/parley/internal/pionlog"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
)

// A receiver that accepted the transport-wide sequence number extension gets it on every packet the
// bridge sends it, numbered by one counter across its audio and video slots, and its transport-cc
// feedback reaches the bridge's estimator for it. A receiver that did not accept it gets no extension.
func TestTransportWideNumberingTowardReceivers(t *testing.T) {
	tb := newTestBridge(t, testConfig())
	_ = newClient(t, tb, "tcc-out", "alice", clientOpts{})
	bob := newClient(t, tb, "tcc-out", "bob", clientOpts{tccFeedback: true, noSend: true})
	carol := newClient(t, tb, "tcc-out", "carol", clientOpts{noSend: true})

	audio, video := bob.alloc.AudioSlots[0].SSRC, bob.alloc.VideoSlots[0].SSRC
	bob.rec.wait(t, "bob receives alice's audio and video", func(r *recorder) bool {
		return len(r.pkts[audio]) > 20 && len(r.pkts[video]) > 20
	})
	seqs := map[uint16]bool{}
	for _, ssrc := range []uint32{audio, video} {
		for _, p := range bob.rec.snapshot(ssrc) {
			ext := p.GetExtension(extTransportCC)
			if len(ext) != 2 {
				t.Fatalf("packet %d on %d has no transport-wide sequence number (extensions %v)", p.SequenceNumber, ssrc, p.Extensions)
			}
			seq := uint16(ext[0])<<8 | uint16(ext[1])
			if seqs[seq] {
				t.Fatalf("transport-wide sequence number %d used twice", seq)
			}
			seqs[seq] = true
		}
	}
	// One counter for both kinds: the numbers seen interleave audio and video and are nearly contiguous.
	lo, hi := uint16(0xffff), uint16(0)
	for s := range seqs {
		lo, hi = min(lo, s), max(hi, s)
	}
	if span := int(hi-lo) + 1; span > len(seqs)*2 {
		t.Errorf("transport-wide numbers span %d for %d packets: not one counter", span, len(seqs))
	}

	eb, err := tb.endpoint("tcc-out", "bob")
	must(t, err)
	eventually(t, "transport-cc feedback from bob", func() bool { return eb.tccReports.Load() > 3 })

	carolVideo := carol.alloc.VideoSlots[0].SSRC
	carol.rec.wait(t, "carol receives alice's video", func(r *recorder) bool { return len(r.pkts[carolVideo]) > 5 })
	for _, p := range carol.rec.snapshot(carolVideo) {
		if p.Extension {
			t.Fatalf("carol did not accept transport-cc but got extensions %v", p.Extensions)
		}
	}
}

// expandTransportCC turns run-length and status-vector chunks into per-packet statuses with arrival
// times, and a packet that claims more received packets than it carries deltas (or 65535 statuses) is
// cut short instead of read past its end.
func TestExpandTransportCC(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		BaseSequenceNumber: 65534,
		PacketStatusCount:  5,
		ReferenceTime:      10,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 2},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -2000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
		},
	}
	got := expandTransportCC(fb, nil)
	base := 640 * time.Millisecond
	want := []bwe.Arrival{
		{Seq: 65534, Received: true, At: base + 1000*time.Microsecond},
		{Seq: 65535, Received: true, At: base + 1250*time.Microsecond},
		{Seq: 0},
		{Seq: 1, Received: true, At: base - 750*time.Microsecond},
		{Seq: 2, Received: true, At: base - 250*time.Microsecond},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statuses %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("status %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	liar := &rtcp.TransportLayerCC{
		PacketStatusCount: 65535,
		PacketChunks:      []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 8191}},
		RecvDeltas:        []*rtcp.RecvDelta{{Delta: 250}, {Delta: 250}},
	}
	if got := expandTransportCC(liar, nil); len(got) != 2 {
		t.Errorf("a packet with 2 deltas for 8191 received packets gave %d statuses, want 2", len(got))
	}
	lost := &rtcp.TransportLayerCC{
		PacketStatusCount: 65535,
		PacketChunks:      []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 8191}},
	}
	if got := expandTransportCC(lost, nil); len(got) != maxFeedbackStatuses {
		t.Errorf("65535 claimed statuses gave %d, want the cap %d", len(got), maxFeedbackStatuses)
	}
}

// buildRTP with a transport-wide number writes an RFC 8285 one-byte-header extension that pion parses,
// and readTransportSeq reads it back; without one the header stays 12 bytes.
func TestBuildRTPTransportSeq(t *testing.T) {
	in := []byte{0x80, 100, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef}
	lay, _ := parseRTPLayout(in, true)
	var buf [64]byte
	n := buildRTP(buf[:], in, lay, 42, projected{seq: 7, ts: 9}, nil, transportSeq{id: 5, seq: 0xabcd})
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if ext := p.GetExtension(5); len(ext) != 2 || ext[0] != 0xab || ext[1] != 0xcd {
		t.Fatalf("extension 5 = %x", ext)
	}
	if string(p.Payload) != "\xde\xad\xbe\xef" || p.SSRC != 42 || p.SequenceNumber != 7 {
		t.Fatalf("packet %+v", p)
	}
	if seq, ok := readTransportSeq(buf[:n], 5); !ok || seq != 0xabcd {
		t.Fatalf("readTransportSeq = %x %v", seq, ok)
	}
	if _, ok := readTransportSeq(buf[:n], 6); ok {
		t.Fatal("read a number under another id")
	}
	if n := buildRTP(buf[:], in, lay, 42, projected{}, nil, transportSeq{}); n != 16 || buf[0]&0x10 != 0 {
		t.Fatalf("without a number: length %d, X bit %v", n, buf[0]&0x10 != 0)
	}
}

// TestReceiverLinkAdaptation: a receiver behind a Pion vnet token bucket gets what its link carries. At
// 2 Mbit/s it gets the sender's video and audio; when the link drops to 120 kbit/s (below the video's
// ~230 kbit/s but above the audio) the bridge's estimate follows it down and the allocator suspends the
// video (ForwardedSources empties) while the audio keeps arriving; when the link is back at 2 Mbit/s
// the probes find the room and the video returns.
func TestReceiverLinkAdaptation(t *testing.T) {
	checkNoLeaks(t)
	tb, nets, link := tbfRig(t, 2_000_000, 10_000, 12_000)
	s := newClient(t, tb, "shaped", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "shaped", "receiver", clientOpts{net: nets["receiver"], noSend: true, tccFeedback: true})
	v := slotOf(t, r, "sender-v0")
	a := r.alloc.AudioSlots[0].SSRC
	er, err := tb.endpoint("shaped", "receiver")
	must(t, err)
	forwarded := func() bool {
		fwd := er.forwardedSourcesForTest()
		return len(fwd) == 1 && fwd[0] == "sender-v0"
	}

	r.rec.wait(t, "video at 2 Mbit/s", func(rec *recorder) bool { return len(rec.pkts[v]) > 60 })
	eventually(t, "an estimate from feedback", func() bool { return er.tccReports.Load() > 5 })
	if !forwarded() {
		t.Fatalf("at 2 Mbit/s ForwardedSources = %v", er.forwardedSourcesForTest())
	}

	link.SetRate(120_000)
	waitLong(t, 20*time.Second, "video suspended at 120 kbit/s", func() bool { return !forwarded() })
	if est := er.est.Estimate(); est > 400_000 {
		t.Errorf("estimate %d bit/s on a 120 kbit/s link", est)
	}
	if d := er.debug(); d.BWE == nil || len(d.Forwarded) != 0 || d.Slots[0].Source != "sender-v0" || d.Slots[0].MaxLayer != -1 {
		t.Errorf("debug state while suspended: %+v", d)
	}
	// Audio still arrives: count what comes in 3 s against the 150 packets sent. (With the video at
	// 230 kbit/s still forwarded, about half would. Not all: on a link this close to the audio's own
	// rate, the padding that keeps probing fills it to the estimate, and the estimate overshoots the
	// token bucket's bursts; measured 82-100%.)
	before := r.rec.n(a)
	videoBefore := r.rec.n(v)
	pad0, eg0 := counterValue(tb.metrics.probeBytes), er.debug().Egress
	// Measurement windows, not waits for an event: video that the pacer and the link's queue held when
	// the video was suspended arrives in the first 2 s (measured: 14-21 packets, and 0-1 in the third second).
	time.Sleep(2 * time.Second)
	videoQueued := r.rec.n(v)
	time.Sleep(time.Second)
	padded, eg1 := counterValue(tb.metrics.probeBytes)-pad0, er.debug().Egress
	t.Logf("suspended: %+v, %.0f bytes of padding in 3 s; egress %+v", er.est.Stats(), padded, eg1)
	// The debug state's egress counts each padding packet whole (header and SRTP tag too).
	if got := eg1.PaddingBytes - eg0.PaddingBytes; float64(got) < padded {
		t.Errorf("egress counted %d bytes of padding in 3 s, the metric %.0f", got, padded)
	}
	if eg1.Bytes < eg1.PaddingBytes+eg1.RetransmittedBytes || eg1.Bytes-eg0.Bytes <= eg1.PaddingBytes-eg0.PaddingBytes {
		t.Errorf("egress %+v → %+v: media missing from the total", eg0, eg1)
	}
	if got := r.rec.n(a) - before; got < 120 {
		t.Errorf("audio while video is suspended: %d packets in 3 s, want ≥ 120 of 150", got)
	}
	t.Logf("while suspended: %d audio packets in 3 s; %d video packets in the first 2 s, %d in the third",
		r.rec.n(a)-before, videoQueued-videoBefore, r.rec.n(v)-videoQueued)
	if got := r.rec.n(v) - videoQueued; got > 2 {
		t.Errorf("video while suspended: %d packets in the third second (forwarded, it would be about 25)", got)
	}

	link.SetRate(2_000_000)
	waitLong(t, 20*time.Second, "video back at 2 Mbit/s", forwarded)
	t.Logf("back at 2 Mbit/s: %+v", er.est.Stats())
	videoBefore = r.rec.n(v)
	r.rec.wait(t, "video flowing again", func(rec *recorder) bool { return len(rec.pkts[v]) > videoBefore+30 })

	s.close()
	r.close()
	_ = tb.Close()
}

// TestReceiverClimbsFromALowEstimate: the estimate toward a receiver behind a 3 Mbit/s link starts at
// 40 kbit/s (as after a large room's join that looked like heavy loss), under the only media it could
// get, one sender's video (no audio). The video the allocator's hysteresis keeps at the start waits in
// the pacer, which sends it at 2.5 × the estimate; the allocator then suspends it, and the probe
// clusters must find the link while that video still waits: the estimate must have at least doubled by
// the last time video was seen waiting, and reach what the allocator would like within 1.5 s of the
// first feedback; then the video flows. Measured 0.2-0.3 s from the first feedback in 35 runs, the
// estimate 246-492 kbit/s the last time video waited. Before, the congestion loop sent no padding and
// started no probe while video waited: the estimate crept up at 8% a second, 73-74 kbit/s the last
// time video waited, and reached the ideal 3.5-3.6 s after the first feedback (6 runs in 7; 0.8 s in
// the other, when the backlog was gone at 0.4 s). Before that, a cluster at twice an estimate under
// 90 kbit/s held 3-4 padding packets, under the 5 a result needs, and, with nothing else sent, the
// padding budget ran out: the estimate never reached the ideal in 30 s (4 runs in 4).
func TestReceiverClimbsFromALowEstimate(t *testing.T) {
	checkNoLeaks(t)
	tb, nets, _ := tbfRig(t, 3_000_000, 30_000, 60_000, func(b *Bridge) { b.estCfg = bwe.Config{Initial: 40_000} })
	s := newClient(t, tb, "shaped", "sender", clientOpts{net: nets["sender"], noAudio: true})
	r := newClient(t, tb, "shaped", "receiver", clientOpts{net: nets["receiver"], noSend: true, tccFeedback: true})
	v := slotOf(t, r, "sender-v0")
	er, err := tb.endpoint("shaped", "receiver")
	must(t, err)
	// Sampled every 2 ms from the start (a backlog of a few packets lasts tens of ms once the probes
	// find the link), as the pacer's queue has no notification.
	var start time.Time   // the first feedback
	var drained time.Time // the last time video was seen waiting in the pacer
	var estWaiting int64  // the estimate then
	var trace []int64
	defer func() {
		if t.Failed() {
			t.Logf("estimate every 200 ms: %v; now %+v, ideal %d", trace, er.est.Stats(), er.allocIdeal.Load())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		er.sendMu.Lock()
		waiting := er.pace.waiting()
		er.sendMu.Unlock()
		est := er.est.Estimate()
		if waiting {
			drained, estWaiting = time.Now(), est
		}
		if start.IsZero() {
			if er.tccReports.Load() > 0 {
				start = time.Now()
			}
		} else {
			if len(trace) < 100 && time.Since(start) >= time.Duration(len(trace))*200*time.Millisecond {
				trace = append(trace, est)
			}
			if ideal := er.allocIdeal.Load(); ideal > 0 && est >= ideal {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the estimate %d bit/s not at the allocator's ideal %d after 20 s (first feedback at %v)", est, er.allocIdeal.Load(), start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	now := time.Now()
	t.Logf("the estimate reached the ideal %d bit/s %v after the first feedback (%d); video last waited in the pacer %v after it, the estimate then %d (every 200 ms: %v)",
		er.allocIdeal.Load(), now.Sub(start).Round(10*time.Millisecond), er.est.Estimate(), drained.Sub(start).Round(10*time.Millisecond), estWaiting, trace)
	// Under the race detector the sender's video sometimes starts only after the climb (2 runs in 4):
	// nothing waits in the pacer, and only the time to the ideal is checked.
	switch {
	case drained.Before(start):
		t.Logf("no video waited in the pacer after the first feedback this time")
	case estWaiting < 2*40_000:
		t.Errorf("the estimate was %d bit/s the last time video waited in the pacer, want at least twice the start's 40 kbit/s: no probe went out while video waited", estWaiting)
	}
	if took := now.Sub(start); took > 1500*time.Millisecond {
		t.Errorf("the estimate took %v from the first feedback to the allocator's ideal behind 3 Mbit/s, want at most 1.5 s", took)
	}
	videoBefore := r.rec.n(v)
	r.rec.wait(t, "video flowing", func(rec *recorder) bool { return len(rec.pkts[v]) > videoBefore+30 })

	s.close()
	r.close()
	_ = tb.Close()
}

// waitLong polls cond every 50 ms until it holds or d passes (for state that has no notification and
// takes seconds: an estimate converging).
func waitLong(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tbfRig is a vnet with the bridge (10.0.0.1), a sender (10.0.0.2) and a receiver (10.0.0.3) whose
// incoming link is a token bucket of rate bit/s with burst and queue bytes, and the bridge serving on it.
func tbfRig(t *testing.T, rate, burst int, queue int64, opts ...Option) (*testBridge, map[string]*vnet.Net, *vnet.TBFQueue) {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.New(testLogger())})
	must(t, err)
	nets := map[string]*vnet.Net{}
	for name, ip := range map[string]string{"bridge": "10.0.0.1", "sender": "10.0.0.2", "receiver": "10.0.0.3"} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		must(t, err)
		nets[name] = n
	}
	must(t, router.AddNet(nets["bridge"]))
	must(t, router.AddNet(nets["sender"]))
	link := vnet.NewTBFQueue(rate, burst, queue)
	q, err := vnet.NewQueue(nets["receiver"], link)
	must(t, err)
	must(t, router.AddNet(q))
	must(t, router.Start())
	t.Cleanup(func() { _ = q.Close(); _ = router.Stop() })

	cfg := testConfig()
	cfg.MediaAddr = "10.0.0.1:10000"
	cfg.IncludeLoopback = false
	return newTestBridge(t, cfg, append(opts, WithNet(nets["bridge"]))...), nets, link
}
