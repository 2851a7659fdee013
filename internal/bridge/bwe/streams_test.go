package bwe

import (
	"testing"
	"time"
)

// TestStreamsNotYetSetUp: a browser joining a large room sets up the bridge's slots (an m-line each) only
// after the bridge has begun to send on them, and until then drops their packets before its transport-cc
// reports them, so the feedback calls them lost. Here media goes on 40 slots, packet by packet, on a
// 10 Mbit/s link; the receiver sets up the first 1.5 s into the call and the others one every 20, 50 or
// 100 ms after it (Firefox adding m-lines in one renegotiation after another); only the probes' stream is
// known from the start. The estimate must not fall for those losses (without the rule it fell to
// 310-640 kbit/s with the slower set-ups), and must carry the wanted 2 Mbit/s at 6 s.
func TestStreamsNotYetSetUp(t *testing.T) {
	for _, each := range []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		for _, seed := range []uint64{1, 2, 3} {
			s := newSim(t, Config{}, 10_000_000, seed)
			s.ideal, s.padSize = 2_000_000, 313
			s.streams, s.setUp, s.setUpEach = 40, 1500*time.Millisecond, each
			low := int64(1 << 62)
			s.run(6*time.Second, func() { low = min(low, s.e.Estimate()) })
			at6 := s.e.Estimate()
			s.run(2*time.Second, func() { low = min(low, s.e.Estimate()) })
			t.Logf("set-up every %v, seed %d: lowest %d bit/s over 8 s, %d at 6 s; start rule cut: %v", each, seed, low, at6, s.e.start.cut)
			if low < DefaultInitial*9/10 || s.e.start.cut {
				t.Errorf("set-up every %v, seed %d: the estimate fell to %d bit/s (start rule cut: %v) for losses of streams the receiver had not set up",
					each, seed, low, s.e.start.cut)
			}
			if at6 < s.ideal {
				t.Errorf("set-up every %v, seed %d: estimate %d bit/s at 6 s on a 10 Mbit/s link, want at least the wanted %d", each, seed, at6, s.ideal)
			}
		}
	}
}

// TestStreamsLossCountsOnceSeen: the losses the estimator leaves out are only those of streams the
// receiver never reported a packet of. Media on 20 streams, all set up at once, behind 500 kbit/s with a
// short queue: the start rule and the loss rule must bring the estimate to the link as they do when all
// media is on one known stream (TestStartBehindNarrowLink).
func TestStreamsLossCountsOnceSeen(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		s := newSim(t, Config{}, 500_000, seed)
		s.queueLimit, s.ideal = 9_400, 1_800_000
		s.streams = 20
		s.run(time.Second, nil)
		at1 := s.e.Estimate()
		hi := int64(0)
		s.run(9*time.Second, func() { hi = max(hi, s.e.Estimate()) })
		t.Logf("seed %d: %d bit/s after 1 s, at most %d over 1-10 s", seed, at1, hi)
		if at1 > 600_000 || hi > 650_000 {
			t.Errorf("seed %d: estimate %d after 1 s, up to %d later, on a 500 kbit/s link: losses on streams the receiver had reported were not counted",
				seed, at1, hi)
		}
	}
}

// TestStreamSeenLate: a stream whose packets were all reported lost counts as set up, and its losses as
// the link's, from the first feedback that reports one of its packets received, including the losses
// reported in that same feedback before it.
func TestStreamSeenLate(t *testing.T) {
	e := New(Config{})
	at := simEpoch
	for seq := uint16(1); seq <= 4; seq++ {
		e.OnSentStream(seq, 7, 1000, at, false)
	}
	e.OnFeedback(at.Add(50*time.Millisecond), []Arrival{{Seq: 1}, {Seq: 2}})
	if e.loss.lost != 0 || e.loss.total != 0 {
		t.Fatalf("losses on a stream never seen were counted: %d lost of %d", e.loss.lost, e.loss.total)
	}
	e.OnFeedback(at.Add(100*time.Millisecond), []Arrival{{Seq: 3}, {Seq: 4, Received: true, At: time.Second}})
	if e.loss.lost != 1 || e.loss.total != 2 {
		t.Fatalf("after the stream was seen: %d lost of %d counted, want 1 of 2", e.loss.lost, e.loss.total)
	}
	// The earlier packets arriving late (reordered feedback) count as received, not as losses undone.
	e.OnFeedback(at.Add(150*time.Millisecond), []Arrival{{Seq: 1, Received: true, At: time.Second + time.Millisecond}})
	if e.loss.lost != 1 || e.loss.total != 3 {
		t.Fatalf("a packet first left out, then received: %d lost of %d counted, want 1 of 3", e.loss.lost, e.loss.total)
	}
	e.OnSentStream(5, 7, 1000, at.Add(160*time.Millisecond), false)
	e.OnFeedback(at.Add(200*time.Millisecond), []Arrival{{Seq: 5}})
	if e.loss.lost != 2 || e.loss.total != 4 {
		t.Fatalf("a loss on a seen stream: %d lost of %d counted, want 2 of 4", e.loss.lost, e.loss.total)
	}
}
