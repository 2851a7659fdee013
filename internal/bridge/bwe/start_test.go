package bwe

import (
	"testing"
	"time"
)

// TestStartBehindNarrowLink: a receiver behind 500 kbit/s and a short drop-tail queue (tc tbf with
// 100 ms latency, as the shaped-link runs use), the sender wanting 1.8 Mbit/s. Whatever the start (the
// default, or Jitsi's 2.5 Mbit/s), the estimate must be at the link within 1 s of the first packet
// (the loss rule alone took 3-4 s from 2.5 Mbit/s) and not under half of it, and must stay there.
func TestStartBehindNarrowLink(t *testing.T) {
	for _, initial := range []int64{0, 2_500_000} {
		for _, seed := range []uint64{1, 2, 3} {
			s := newSim(t, Config{Initial: initial}, 500_000, seed)
			s.queueLimit, s.ideal = 9_400, 1_800_000
			s.run(time.Second, nil)
			at1 := s.e.Estimate()
			lo, hi := int64(1<<62), int64(0)
			s.run(9*time.Second, func() {
				est := s.e.Estimate()
				lo, hi = min(lo, est), max(hi, est)
			})
			t.Logf("start %d seed %d: %d bit/s after 1 s, then %d..%d", initial, seed, at1, lo, hi)
			if at1 > 600_000 || at1 < 250_000 {
				t.Errorf("start %d seed %d: estimate %d 1 s into a 500 kbit/s link, want 250000..600000", initial, seed, at1)
			}
			if lo < 250_000 || hi > 650_000 {
				t.Errorf("start %d seed %d: estimate %d..%d over 1-10 s on a 500 kbit/s link", initial, seed, lo, hi)
			}
		}
	}
}

// TestStartOnWideLink: the default start is below what a wide link carries and what the sender wants;
// the initial probes, sent once the first feedback shows the start gets through, must find 2.5 Mbit/s
// within 1.5 s.
func TestStartOnWideLink(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 10_000_000, seed)
		s.ideal = 3_000_000
		reached := time.Duration(-1)
		s.run(3*time.Second, func() {
			if reached < 0 && s.e.Estimate() >= 2_500_000 {
				reached = s.now
			}
		})
		t.Logf("seed %d: 2.5 Mbit/s after %v", seed, reached)
		if reached < 0 || reached > 1500*time.Millisecond {
			t.Errorf("seed %d: estimate reached 2.5 Mbit/s after %v (now %d), want within 1.5 s", seed, reached, s.e.Estimate())
		}
	}
}

// TestStartIgnoresRandomLoss: 15% random loss from the first packet on a 3 Mbit/s link is the link's,
// not a narrow link: the start rule (loss over 30%) must not cut the estimate to what arrives.
func TestStartIgnoresRandomLoss(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 3_000_000, seed)
		s.ideal, s.lossRate = 2_000_000, 0.15
		s.run(2*time.Second, nil)
		if s.e.start.cut {
			t.Errorf("seed %d: the start rule cut the estimate (now %d) on a 3 Mbit/s link with 15%% random loss", seed, s.e.Estimate())
		}
	}
}

// TestProbesBackOffOnAFullLink: behind 500 kbit/s with a short queue and a sender that wants 1.8 Mbit/s,
// every probe fills the link and finds no room. After the first few, probes must come at most every
// probeDeficitMax (5 s) instead of every 3 s. When the link then widens to 3 Mbit/s, whenever that
// happens between two probes, the estimate must reach 2.5 Mbit/s within 6 s (§7.5 criterion 4 gives the
// stage 8 s to reach 720p; the allocator's up window and a key frame take the rest).
func TestProbesBackOffOnAFullLink(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 500_000, seed)
		s.queueLimit, s.ideal = 9_400, 1_800_000
		s.run(15*time.Second, nil)
		id0 := s.e.probe.nextID
		s.run(30*time.Second, nil)
		clusters := int(s.e.probe.nextID - id0)
		t.Logf("seed %d: %d probe clusters in 30 s at 500 kbit/s, interval now %v", seed, clusters, s.e.probe.deficitWait())
		if clusters > 7 {
			t.Errorf("seed %d: %d probe clusters in 30 s on a full 500 kbit/s link, want ≤ 7 (one per %v)", seed, clusters, probeDeficitMax)
		}
	}
	worst := time.Duration(0)
	for _, seed := range []uint64{1, 2, 3} {
		for k := range 11 { // steps 0, 0.5, ..., 5 s apart: every phase between two probes
			s := newSim(t, Config{}, 500_000, seed)
			s.queueLimit, s.ideal = 9_400, 1_800_000
			s.run(30*time.Second+time.Duration(k)*500*time.Millisecond, nil)
			s.capacity = 3_000_000
			start := s.now
			reached := time.Duration(-1)
			s.run(8*time.Second, func() {
				if reached < 0 && s.e.Estimate() >= 2_500_000 {
					reached = s.now - start
				}
			})
			if reached < 0 || reached > 6*time.Second {
				t.Errorf("seed %d, step %d: estimate at 2.5 Mbit/s %v after stepping up to 3 Mbit/s (now %d), want within 6 s", seed, k, reached, s.e.Estimate())
			}
			worst = max(worst, reached)
		}
	}
	t.Logf("worst time to 2.5 Mbit/s after the step up: %v", worst)
}

// TestNoFurtherProbeOnAFullLink: tc tbf lets a burst of its bucket's depth (3200 bytes here, as the
// shaped-link runs use) through at once, so a 45 ms probe on a full 500 kbit/s link reads more than the
// link carries. A probe that filled the path or lost packets has found the capacity: it must not be
// followed at once by one at twice its result (behind the tbf such chains sent two or three clusters in
// a row, each bigger, and their padding was dropped with the media around it).
func TestNoFurtherProbeOnAFullLink(t *testing.T) {
	found := 0
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6} {
		s := newSim(t, Config{}, 500_000, seed)
		s.queueLimit, s.burst, s.ideal = 6_250, 3_200, 1_800_000
		s.run(10*time.Second, nil)
		p := &s.e.probe
		var full bool // the last judged cluster filled the path or lost packets
		judged, judgedAt := uint16(0), time.Duration(0)
		if !p.cur.open && !p.cur.pending {
			judged = p.cur.id // judged before the window
		}
		for end := s.now + 30*time.Second; s.now < end; {
			id := p.nextID
			s.step()
			c := &p.cur
			if c.id == id && judged != id && !c.open && !c.pending && c.sentPackets > 0 {
				judged, judgedAt, full = id, s.now, c.saturated || c.lossy()
				if full {
					found++
				}
			}
			if p.nextID != id && judged == id && full && s.now-judgedAt < time.Second {
				t.Errorf("seed %d: at %v a probe at %.0f bit/s followed one that found no room", seed, s.now, p.cur.bps)
			}
		}
	}
	t.Logf("%d probes found no room", found)
	if found == 0 {
		t.Fatal("no probe filled the path: the test shows nothing")
	}
}

// TestLosing: the pacer slows to pacingLossFactor while Losing (bridge/pacer.go). On a clean link it must
// never say so; behind a short queue the estimator overfills, it must say so at times.
func TestLosing(t *testing.T) {
	clean := newSim(t, Config{}, 3_000_000, 1)
	clean.ideal = 2_000_000
	clean.run(10*time.Second, func() {
		if clean.e.Losing() {
			t.Fatalf("Losing on a clean 3 Mbit/s link (loss %.3f)", clean.e.Stats().LossFraction)
		}
	})
	short := newSim(t, Config{Initial: 2_500_000}, 500_000, 1)
	short.queueLimit, short.ideal = 9_400, 1_800_000
	losing := 0
	short.run(10*time.Second, func() {
		if short.e.Losing() {
			losing++
		}
	})
	if losing == 0 {
		t.Fatal("never Losing behind a 500 kbit/s link with a 9.4 kB queue, starting at 2.5 Mbit/s")
	}
}

// TestProbeClusterTakesALateSlice: a cluster whose last slice of padding missed its end (the bridge's
// congestion loop came late, or video waited in its pacer) stays open up to probeGrace for it, and then
// measures; media sent after the end does not fill it (a receiver that takes no padding must not have
// its video's bursts read as probes), and a cluster that sent no padding closes at its end.
func TestProbeClusterTakesALateSlice(t *testing.T) {
	ms := time.Millisecond
	newCluster := func() *cluster {
		return &cluster{id: 1, bps: 1_000_000, start: 0, end: probeDuration, open: true}
	}
	// 1 Mbit/s for 45 ms is 5625 bytes; two slices of padding, 3750 bytes, went out in time.
	c := newCluster()
	for i := range 12 {
		c.onSent(int64(i), 313, time.Duration(i)*2*ms, true)
	}
	if c.ends(probeDuration) {
		t.Fatal("a cluster with a slice of padding still to send closed at its end")
	}
	if !c.ends(probeDuration + probeGrace) {
		t.Fatal("a cluster still open probeGrace after its end")
	}
	// The late slice arrives 10 ms after the end: the cluster is filled and closes.
	for i := range 6 {
		c.onSent(int64(12+i), 313, probeDuration+10*ms, true)
	}
	if !c.filled(1) || !c.ends(probeDuration+10*ms) {
		t.Fatalf("after the late slice: %d of 5625 bytes counted, closes %v", c.fillBytes, c.ends(probeDuration+10*ms))
	}
	// Media after the end does not count toward the fill.
	c = newCluster()
	c.onSent(0, 313, 0, true)
	for i := range 5 {
		c.onSent(int64(1+i), 1200, probeDuration+time.Duration(i)*ms, false)
	}
	if c.filled(probeMinFill) {
		t.Fatalf("media after the end filled the cluster (%d bytes counted)", c.fillBytes)
	}
	// No padding at all: closes at its end.
	c = newCluster()
	c.onSent(0, 1200, ms, false)
	if !c.ends(probeDuration) {
		t.Fatal("a cluster that sent no padding stayed open past its end")
	}
}

// TestUnmeasuredProbeIsRetried: a cluster the sender did not fill says nothing about room: it leaves the
// interval between deficit probes as it was, even with the detector overusing or packets lost, and the
// next probe comes probeRetry later, once in a row. One that was filled and lost packets or filled the
// path lengthens the interval; the path delivering more than the capacity seen at overuses (widened)
// shortens it again.
func TestUnmeasuredProbeIsRetried(t *testing.T) {
	var p prober
	p.startCluster(1_000_000, 500_000, 0)
	p.wait = probeDeficitMax
	// Half of what was planned, and half of that lost.
	lossy := cluster{bps: 1_000_000, sentPackets: 10, recvPackets: 5, fillBytes: 2800, covered: true}
	p.judge(&lossy, false, 0, true, time.Second)
	if p.wait != probeDeficitMax {
		t.Fatalf("an unmeasured cluster changed the interval to %v", p.wait)
	}
	if p.deficitDue(time.Second+probeRetry-time.Millisecond) || !p.deficitDue(time.Second+probeRetry) {
		t.Fatalf("after an unmeasured cluster judged at 1 s, the next probe is not due at %v", time.Second+probeRetry)
	}
	p.startCluster(1_000_000, 500_000, time.Second+probeRetry)
	p.judge(&lossy, false, 0, false, 2*time.Second)
	if p.deficitDue(2*time.Second + probeRetry) {
		t.Fatal("a second unmeasured cluster in a row was retried")
	}
	if !p.deficitDue(time.Second + probeRetry + probeDeficitMax) {
		t.Fatal("no probe due a whole interval after the retry")
	}
	// Filled: one that lost a fifth of its packets, or filled the path, found no room.
	p.wait = 0
	lossy.fillBytes, lossy.recvPackets = 5625, 8
	p.judge(&lossy, false, 0, false, 3*time.Second)
	if p.wait != 2*probeDeficitPeriod && p.wait != probeDeficitMax {
		t.Fatalf("a probe that lost a fifth of its packets left the interval at %v", p.wait)
	}
	full := cluster{bps: 1_000_000, sentPackets: 10, recvPackets: 10, fillBytes: 5625, covered: true, saturated: true}
	p.judge(&full, true, 450_000, false, 3*time.Second)
	if p.wait != probeDeficitMax {
		t.Fatalf("a probe that filled the path left the interval at %v", p.wait)
	}
	p.widened()
	if p.deficitWait() != probeDeficitPeriod {
		t.Fatalf("the interval is %v after the path widened", p.deficitWait())
	}
}

// TestWiderWhenDeliveredAboveCapacity: the rate controller says the path got wider when the delivered
// rate goes 20% above the link capacity seen at overuses, while increasing or while a queue drains, and
// not while it stays within a token bucket's burst of it.
func TestWiderWhenDeliveredAboveCapacity(t *testing.T) {
	for _, state := range []DelayState{Normal, Underusing} {
		for _, c := range []struct {
			acked float64
			wider bool
		}{{510_000, false}, {580_000, false}, {700_000, true}} {
			a := newAIMD(500_000, 30_000, 20_000_000)
			a.link.onOveruse(500_000)
			a.update(Normal, 400_000, false, time.Second)
			a.update(state, c.acked, false, 2*time.Second)
			if a.wider != c.wider {
				t.Errorf("%v at %.0f bit/s delivered with a 500 kbit/s capacity: wider %v, want %v", state, c.acked, a.wider, c.wider)
			}
		}
	}
}
