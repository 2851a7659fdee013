package bwe

import (
	"testing"
	"time"
)

// TestClimbFromALowEstimate: the estimate starts at 40 kbit/s (as after a join that looked like heavy loss)
// on a 3 Mbit/s link, the allocator would like 1.5 Mbit/s, and padding goes in the bridge's padding-only
// packets (313 bytes on the wire). The probes must find the link: the estimate reaches the ideal within 3 s.
// Before, a cluster at twice a few tens of kbit/s held 2 to 4 packets, under the 5 a result needs, and
// the media the allocator keeps above so low an estimate made the receive rate read as a burst (above
// twice the planned rate); no probe measured, and the estimate crept up at 8% a second: 4.6-8.5 s.
func TestClimbFromALowEstimate(t *testing.T) {
	var worst time.Duration
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6} {
		s := newSim(t, Config{Initial: 40_000}, 3_000_000, seed)
		s.ideal, s.padSize = 1_500_000, 313
		reached := time.Duration(-1)
		s.run(10*time.Second, func() {
			if reached < 0 && s.e.Estimate() >= s.ideal {
				reached = s.now
			}
		})
		t.Logf("seed %d: the estimate reached %d bit/s after %v (%d probe clusters, %d at the end)", seed, s.ideal, reached, s.e.probe.nextID, s.e.Estimate())
		if reached < 0 || reached > 3*time.Second {
			t.Errorf("seed %d: estimate reached the ideal %d bit/s after %v, want within 3 s", seed, s.ideal, reached)
		}
		worst = max(worst, reached)
	}
	t.Logf("worst %v", worst)
}
