package alloc

import (
	"fmt"
	"testing"
	"time"
)

// benchRoom is a 50-source room (one source per endpoint), in tile view at 360p with last-N 25 and
// one source on stage at 720p, the other endpoints in a speech order.
func benchRoom(perTID bool) ([]Source, []string, Settings) {
	src := make([]Source, 50)
	speech := make([]string, 0, 50)
	for i := range src {
		owner := fmt.Sprintf("endpoint-%02d", i)
		src[i] = Source{ID: owner + "-v0", Owner: owner, Layers: ladder(perTID, 1)}
		if i%3 != 0 {
			speech = append(speech, owner)
		}
	}
	s := Settings{LastN: 25, OnStage: []string{src[7].ID}, Selected: []string{src[30].ID}, DefaultMaxHeight: 360,
		MaxHeight: map[string]int{src[7].ID: 720, src[12].ID: 180, src[40].ID: 0}}
	return src, speech, s
}

// BenchmarkAllocate is one allocation of the pure function at an estimate that leaves part of the
// room suspended (the loop runs its most passes).
func BenchmarkAllocate(b *testing.B) {
	for _, perTID := range []bool{false, true} {
		src, speech, s := benchRoom(perTID)
		b.Run(fmt.Sprintf("50x%d", len(src[0].Layers)), func(b *testing.B) {
			var r Result
			lim := DefaultLimits()
			Allocate(src, speech, s, 8_000_000, lim, &r) // warm up the buffers
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				Allocate(src, speech, s, 6_000_000+int64(i%8)*500_000, lim, &r)
			}
		})
	}
}

// BenchmarkAllocator is one allocation with hysteresis (two runs of the loop) and one
// ShouldReallocate per estimate.
func BenchmarkAllocator(b *testing.B) {
	for _, perTID := range []bool{false, true} {
		src, speech, s := benchRoom(perTID)
		b.Run(fmt.Sprintf("50x%d", len(src[0].Layers)), func(b *testing.B) {
			a, _ := NewAllocator(DefaultLimits(), DefaultHysteresis())
			now := int64(0)
			a.Allocate(src, speech, s, 8_000_000, now)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				now += int64(100 * time.Millisecond)
				bwe := 6_000_000 + int64(i%8)*500_000
				a.ShouldReallocate(bwe, now)
				a.Allocate(src, speech, s, bwe, now)
			}
		})
	}
}
