package bwe

import (
	"slices"
	"testing"
	"time"
)

// TestPhases runs §7.5 criterion 6's phases (pion/bwe-test's, on a 1 Mbit/s base): 25 s each at 2.0×, 1.0× with
// 5% random loss, 1.75×, 0.5× and 1.0×, with a sender that always wants more than the link (not app-limited).
// From 10 s into each phase the estimate must stay within ±20% of the capacity (±25% when the bridge cannot
// send padding).
func TestPhases(t *testing.T) {
	phases := []struct {
		capacity int64
		loss     float64
	}{{2_000_000, 0}, {1_000_000, 0.05}, {1_750_000, 0}, {500_000, 0}, {1_000_000, 0}}
	for _, run := range []struct {
		seed    uint64
		padding bool
		padSize int
	}{{1, true, 1200}, {2, true, 1200}, {3, true, 313}, {4, false, 0}, {5, false, 0}} {
		// Without padding (a receiver with no RTX and the bridge's padding off) the estimate must still
		// follow the link; probe clusters then measure nothing and must not be taken for results.
		seed := run.seed
		s := newSim(t, Config{}, phases[0].capacity, seed)
		s.honorProbes, s.padSize = run.padding, run.padSize
		for i, ph := range phases {
			s.capacity, s.lossRate = ph.capacity, ph.loss
			s.run(10*time.Second, nil)
			// Every 100 ms sample, as the allocator may read the estimate at any time.
			lo, hi := int64(1<<62), int64(0)
			s.run(15*time.Second, func() {
				est := s.e.Estimate()
				lo, hi = min(lo, est), max(hi, est)
			})
			t.Logf("seed %d padding %v phase %d (%d bit/s, loss %.0f%%): estimate %d..%d", seed, run.padding, i, ph.capacity, ph.loss*100, lo, hi)
			// With random loss the path delivers (1 − loss) × capacity; that is the rate to be within 20% of.
			usable := float64(ph.capacity) * (1 - ph.loss)
			// Without padding the sender fills only the ladder step below the estimate, so the delivered rate
			// that each overuse backs off from (× 0.85) is lower, and the sawtooth dips deeper: measured down to
			// 0.80 and up to 1.23 (the ladder step below a high estimate still fits), asserted at ±25%.
			tol := 0.2
			if !run.padding {
				tol = 0.25
			}
			if float64(lo) < (1-tol)*usable || float64(hi) > (1+tol)*usable {
				t.Errorf("seed %d padding %v phase %d: estimate %d..%d bit/s, want within ±%.0f%% of %.0f",
					seed, run.padding, i, lo, hi, tol*100, usable)
			}
		}
	}
}

// TestStepDown: 3 Mbit/s → 500 kbit/s. Within 2 s the estimate must be at most 110% of the new capacity
// (criterion 5: the allocator then keeps egress under the cap).
func TestStepDown(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 3_000_000, seed)
		s.run(20*time.Second, nil)
		before := s.e.Estimate()
		s.capacity = 500_000
		s.run(2*time.Second, nil)
		after := s.e.Estimate()
		t.Logf("seed %d: %d bit/s before, %d bit/s 2 s after the step", seed, before, after)
		if before < 2_000_000 {
			t.Errorf("seed %d: estimate %d before the step, want it near 3 Mbit/s", seed, before)
		}
		if after > 550_000 {
			t.Errorf("seed %d: estimate %d 2 s after stepping down to 500 kbit/s, want ≤ 550000", seed, after)
		}
	}
}

// TestStepUp: 500 kbit/s → 3 Mbit/s with an allocator that wants 5 Mbit/s. Probing must find the headroom:
// the estimate reaches 2.5 Mbit/s within 8 s, and the padding and probes sent meanwhile and in the minute after
// stay under 15% of the media (criterion 4), with some slack for the probes that found the new capacity.
func TestStepUp(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		s := newSim(t, Config{}, 500_000, seed)
		if seed == 4 {
			s.padSize = 255 + 12 + 8 + 10 + 28 // padding-only packets, as the bridge sends without RTX
		}
		s.run(20*time.Second, nil)
		s.capacity = 3_000_000
		media0, pad0 := s.mediaBytes, s.paddingBytes
		reached := time.Duration(-1)
		start := s.now
		s.run(8*time.Second, func() {
			if reached < 0 && s.e.Estimate() >= 2_500_000 {
				reached = s.now - start
			}
		})
		if reached < 0 {
			t.Errorf("seed %d: estimate %d 8 s after stepping up to 3 Mbit/s, want ≥ 2.5 Mbit/s", seed, s.e.Estimate())
			continue
		}
		s.run(52*time.Second, nil)
		share := float64(s.paddingBytes-pad0) / float64(s.mediaBytes-media0)
		t.Logf("seed %d: reached 2.5 Mbit/s after %v; padding %.1f%% of media over 60 s", seed, reached, share*100)
		if share >= 0.15 {
			t.Errorf("seed %d: padding %.1f%% of media over the 60 s after the step, want < 15%%", seed, share*100)
		}
	}
}

// TestAppLimited is the pion/interceptor#299 case: the sender wants only 300 kbit/s on a 3 Mbit/s link. An
// estimator that keeps increasing while nobody fills the estimate ends at several times what was ever sent
// (there: 784 kbit/s sent, 4 Mbit/s estimated); the allocator would then pick layers the path was never shown to
// carry. The assertion: the estimate never goes above max(Initial, 1.5 × the highest rate the receiver was
// ever seen to receive over 100 ms + 10 kbit/s). 1.5 × + 10 kbit/s is libwebrtc's own bound for delivered-rate
// increases; "over 100 ms" lets a probe cluster (45 ms at twice the estimate) count as demonstrated, as it
// should: it measured the path. Without probing (a receiver that cannot take padding) and with it.
func TestAppLimited(t *testing.T) {
	for _, c := range []struct {
		name    string
		initial int64
		probes  bool
	}{
		{"low start, no padding", 300_000, false},
		{"low start, probes", 300_000, true},
		{"default start, no padding", 0, false},
		{"default start, probes", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t, Config{Initial: c.initial}, 3_000_000, 5)
			s.ideal, s.honorProbes = 300_000, c.probes
			initial := Config{Initial: c.initial}.normalized().Initial
			var shown int64
			worst := 0.0
			s.run(25*time.Second, func() {
				shown = max(shown, s.delivered(100*time.Millisecond))
				// 2% over the initial rate: the first feedback may add AIMD's minimum step before the
				// application-limited detector has seen half a second of sending.
				bound := max(initial*102/100, 3*shown/2+10_000)
				est := s.e.Estimate()
				worst = max(worst, float64(est)/float64(bound))
				if est > bound {
					t.Fatalf("at %v: estimate %d, above max(initial %d, 1.5 × shown %d + 10k)", s.now, est, initial, shown)
				}
				if est > 4_500_000 {
					t.Fatalf("at %v: estimate %d above 1.5 × the link's capacity", s.now, est)
				}
			})
			t.Logf("estimate %d at the end, highest 100 ms delivery %d, worst estimate/bound %.2f", s.e.Estimate(), shown, worst)
		})
	}
}

// TestInherentLoss: a 2 Mbit/s link that loses 15% of packets at random, whatever the rate. Loss-based
// cuts alone would take the estimate to the minimum (each cut leaves the loss where it was); the
// estimator must notice that the loss does not follow the rate and keep at least half of what the link
// delivers, then climb back near capacity when the loss stops.
func TestInherentLoss(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 2_000_000, seed)
		s.run(10*time.Second, nil)
		s.lossRate = 0.15
		s.run(15*time.Second, nil)
		lo := int64(1 << 62)
		s.run(15*time.Second, func() { lo = min(lo, s.e.Estimate()) })
		t.Logf("seed %d: lowest estimate %d over 15-30 s of 15%% random loss (inherent %.2f)", seed, lo, s.e.loss.inherent)
		if lo < 850_000 {
			t.Errorf("seed %d: estimate fell to %d on a 2 Mbit/s link with 15%% random loss, want ≥ 850000", seed, lo)
		}
		s.lossRate = 0
		s.run(20*time.Second, nil)
		if est := s.e.Estimate(); est < 1_500_000 {
			t.Errorf("seed %d: estimate %d 20 s after the loss stopped, want ≥ 1500000", seed, est)
		}
	}
}

// TestShallowQueue: 500 kbit/s behind a drop-tail queue of 9.4 kB (tc tbf with 100 ms latency and a
// 3200-byte burst, as the shaped-link runs use), starting from the 2.5 Mbit/s default. A queue this
// short shows congestion as loss more than as delay: the loss rule must bring the estimate down to the
// link and keep it there without holding it above the capacity at a few percent loss.
func TestShallowQueue(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{Initial: 2_500_000}, 500_000, seed)
		s.queueLimit, s.ideal = 9_400, 1_800_000
		s.run(10*time.Second, nil)
		lo, hi := int64(1<<62), int64(0)
		lost := 0
		s.run(20*time.Second, func() {
			est := s.e.Estimate()
			lo, hi = min(lo, est), max(hi, est)
			lost = max(lost, int(s.e.Stats().LossFraction*100))
		})
		t.Logf("seed %d: estimate %d..%d, worst window loss %d%%, inherent %.2f", seed, lo, hi, lost, s.e.loss.inherent)
		if hi > 575_000 || lo < 250_000 || s.e.loss.inherent > 0 {
			t.Errorf("seed %d: estimate %d..%d on a 500 kbit/s link (inherent loss %.2f)", seed, lo, hi, s.e.loss.inherent)
		}
	}
}

// TestRandomLossKeepsTheMedia: 5% random loss on a 5 Mbit/s link carrying 2 Mbit/s of media. The loss is
// the link's, not the rate's: once past the start, the estimate must never fall under what the media
// needs (each time it did, the allocator would drop a layer for nothing).
func TestRandomLossKeepsTheMedia(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 5_000_000, seed)
		s.ideal, s.lossRate = 2_000_000, 0.05
		// The start (1 Mbit/s) is under the media: the initial probes must lift it within 2 s.
		s.run(2*time.Second, nil)
		lo := int64(1 << 62)
		s.run(58*time.Second, func() { lo = min(lo, s.e.Estimate()) })
		if lo < 2_100_000 {
			t.Errorf("seed %d: estimate fell to %d at 5%% random loss with 2 Mbit/s of media on 5 Mbit/s", seed, lo)
		}
	}
}

// TestStepUpBridge is criterion 4 with the bridge's own sender model (bridgesim_test.go: its pacer, which
// holds the padding while video waits unless a probe cluster is open, 313-byte padding packets, the bots' media with a key frame every
// 32 frames and four speakers' audio, a receiver in stage view) behind tc tbf as test/shaped sets it
// (burst 20 ms of the rate, at least 3200 bytes; 100 ms of queue): 3 Mbit/s, 13 s at 500 kbit/s, then
// 3 Mbit/s again, as the harness's step scenario. The step up comes at every phase of the probe cycle
// (0 to 5 s after the 13 s, every 0.5 s), with the congestion loop's 15 ms ticks on time and up to 30 ms
// late (a loaded machine), six seeds. The estimate must reach what the allocator needs to move
// everything up with its 15% margin (1.15 × the ideal: the stage at 720p, three thumbnails, the audio)
// within 5 s of the step in every run, and within 2.5 s in half of them; the allocator's 2 s window and
// a key frame then fit in criterion 4's 8 s. Before, a probe that found the 500 kbit/s link full just
// before the step held the next one off for the whole back-off, and one the bridge could not fill
// measured nothing and did the same: median 3 s, worst 5.4 s. Behind the full link the back-off must
// hold: fewer probes than one per probeDeficitPeriod.
func TestStepUpBridge(t *testing.T) {
	setLink := func(s *sim, bps int64) {
		s.capacity = bps
		s.burst = max(int(bps/8/50), 3200)
		s.queueLimit = int(bps/8/10) + s.burst
	}
	var worst time.Duration
	var times []time.Duration
	var probes int
	var full time.Duration
	for _, late := range []time.Duration{0, 30 * time.Millisecond} {
		for _, seed := range []uint64{1, 2, 3, 4, 5, 6} {
			for k := range 11 {
				s := newSim(t, Config{}, 3_000_000, seed)
				s.bridge = stageModel()
				s.bridge.tickJitter = late
				setLink(s, 3_000_000)
				s.run(13*time.Second, nil)
				setLink(s, 500_000)
				s.run(3*time.Second, nil)
				id0 := s.e.probe.nextID
				wait := 10*time.Second + time.Duration(k)*500*time.Millisecond
				s.run(wait, nil)
				probes += int(s.e.probe.nextID - id0)
				full += wait
				setLink(s, 3_000_000)
				goal := int64(1.15 * float64(s.ideal))
				start := s.now
				reached := time.Duration(-1)
				s.run(13*time.Second, func() {
					if reached < 0 && s.e.Estimate() >= goal {
						reached = s.now - start
					}
				})
				if reached < 0 || reached > 5*time.Second {
					t.Errorf("ticks late by up to %v, seed %d, step %d: estimate at %d bit/s %v after the step up (now %d), want within 5 s",
						late, seed, k, goal, reached, s.e.Estimate())
				}
				if reached < 0 {
					reached = 13 * time.Second
				}
				worst = max(worst, reached)
				times = append(times, reached)
			}
		}
	}
	rate := float64(probes) / full.Seconds()
	slices.Sort(times)
	median := times[len(times)/2]
	t.Logf("time to 1.15 × the ideal after the step up: median %v, 90th percentile %v, worst %v; %.2f probes a second behind the full link",
		median, times[len(times)*9/10], worst, rate)
	if median > 2500*time.Millisecond {
		t.Errorf("median time to 1.15 × the ideal after the step up %v, want at most 2.5 s", median)
	}
	if rate >= 1/probeDeficitPeriod.Seconds() {
		t.Errorf("%.2f probes a second behind the full 500 kbit/s link, want fewer than one per %v", rate, probeDeficitPeriod)
	}
}
