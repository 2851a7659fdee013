package bot

import (
	"testing"
	"time"
)

// TestRestartDelay: reconnections and session restarts back off 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s,
// each up to a fifth longer; five take over 30 s and a sixth comes a minute after the first, under the
// focus's five restarts a minute.
func TestRestartDelay(t *testing.T) {
	bases := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for n, base := range bases {
		base *= time.Second
		for range 50 {
			if d := restartDelay(n); d < base || d > base+base/5 {
				t.Fatalf("restartDelay(%d) = %v, want %v to %v", n, d, base, base+base/5)
			}
		}
	}
	if d := restartDelay(1000); d < 30*time.Second || d > 36*time.Second {
		t.Fatalf("restartDelay(1000) = %v", d)
	}
}
