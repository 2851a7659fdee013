package alloc

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// estimateEvery is how often the trace delivers an estimate (a transport-cc feedback interval).
const estimateEvery = 100 * time.Millisecond

// sample is one estimate of a trace, at a time in nanoseconds.
type sample struct {
	at  int64
	bwe int64
}

// trace generates estimates of a link whose capacity follows capacity(t) (t in seconds from the start),
// each off by uniform noise of ±noise (0.1 = ±10%), like a real estimator's jitter around the capacity.
func trace(rng *rand.Rand, seconds float64, noise float64, capacity func(t float64) float64) []sample {
	n := int(seconds * float64(time.Second/estimateEvery))
	out := make([]sample, n)
	for i := range out {
		t := float64(i) * estimateEvery.Seconds()
		out[i] = sample{at: int64(i) * int64(estimateEvery), bwe: int64(capacity(t) * (1 + noise*(2*rng.Float64()-1)))}
	}
	return out
}

// ramp is a capacity rising linearly from lo to hi bit/s over the first rise seconds, then flat.
func ramp(lo, hi, rise float64) func(float64) float64 {
	return func(t float64) float64 { return lo + (hi-lo)*min(t/rise, 1) }
}

// replay feeds a trace to an allocation function and counts what changed between successive results:
// allocations (results whose targets differ from the previous one), per-source layer changes and
// forwarded-set changes, counting only samples at or after from.
type replay struct {
	allocations, forwardedSets int
	downs                      int // moves of a source to a lower layer (or to none)
	layerChanges               map[string]int
}

// allocFunc is one allocation of the trace's sources at an estimate; it returns the result.
type allocFunc func(bwe, now int64) *Result

func replayTrace(samples []sample, from int64, alloc allocFunc) replay {
	rp := replay{layerChanges: map[string]int{}}
	var prevTargets []int
	var prevForwarded []string
	for i, s := range samples {
		r := alloc(s.bwe, s.at)
		if r == nil {
			continue // no reallocation at this estimate
		}
		targets := make([]int, len(r.Sources))
		for k, a := range r.Sources {
			targets[k] = a.Target
		}
		if i > 0 && prevTargets != nil && s.at >= from {
			changed := false
			for k := range targets {
				if targets[k] != prevTargets[k] {
					rp.layerChanges[r.Sources[k].ID]++
					changed = true
				}
				if targets[k] < prevTargets[k] {
					rp.downs++
				}
			}
			if changed {
				rp.allocations++
			}
			if !slices.Equal(prevForwarded, r.Forwarded) {
				rp.forwardedSets++
			}
		}
		prevTargets, prevForwarded = targets, slices.Clone(r.Forwarded)
	}
	return rp
}

// pure allocates with the memoryless function.
func pure(src []Source, speech []string, s Settings) allocFunc {
	var r Result
	return func(bwe, _ int64) *Result {
		Allocate(src, speech, s, bwe, DefaultLimits(), &r)
		return &r
	}
}

// withHysteresis allocates with an Allocator at every estimate, or, gated, only when ShouldReallocate
// says so (as the bridge will).
func withHysteresis(t *testing.T, src []Source, speech []string, s Settings, gated bool) allocFunc {
	a, err := NewAllocator(DefaultLimits(), DefaultHysteresis())
	if err != nil {
		t.Fatal(err)
	}
	return func(bwe, now int64) *Result {
		if gated && !a.ShouldReallocate(bwe, now) {
			return a.Last()
		}
		return a.Allocate(src, speech, s, bwe, now)
	}
}

// flickerRooms are the 6-source rooms the flicker tests replay traces on.
func flickerRooms(perTID bool) map[string]struct {
	src []Source
	s   Settings
} {
	return map[string]struct {
		src []Source
		s   Settings
	}{
		"tile 360p": {cameras(6, perTID), Settings{LastN: -1, DefaultMaxHeight: 360}},
		"stage": {cameras(6, perTID), Settings{LastN: -1, OnStage: []string{"A"}, DefaultMaxHeight: 180,
			MaxHeight: map[string]int{"A": 720}}},
	}
}

var flickerSpeech = []string{"b", "a", "c"}

// During a ramp-up from 100 kbit/s to 5 Mbit/s over 60 s with ±10% estimate noise, the Allocator never
// moves a source down and changes the allocation fewer than 20 times (Jitsi's trace test criterion),
// whether it runs on every estimate or only when ShouldReallocate says so; the memoryless function
// moves sources down and up again on the same traces. One room cannot meet 20: tile view at 360p with
// a layer per temporal layer, where each of the 6 sources climbs LD7.5, LD15, LD30, SD30, so 24 moves
// up are the least there can be; there the bound is those 24.
func TestFlickerRampUp(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		for name, room := range flickerRooms(perTID) {
			bound := 19
			if perTID && name == "tile 360p" {
				bound = 6 * 4
			}
			plainDowns := 0
			for seed := range uint64(20) {
				rng := rand.New(rand.NewPCG(seed, 1))
				samples := trace(rng, 70, 0.10, ramp(100e3, 5e6, 60))
				plainDowns += replayTrace(samples, 0, pure(room.src, flickerSpeech, room.s)).downs
				for _, gated := range []bool{false, true} {
					h := replayTrace(samples, 0, withHysteresis(t, room.src, flickerSpeech, room.s, gated))
					if h.allocations > bound || h.downs != 0 {
						t.Errorf("%s, seed %d, gated %v: %d allocation changes (at most %d), %d moves down during ramp-up (per source %v)",
							name, seed, gated, h.allocations, bound, h.downs, h.layerChanges)
					}
				}
			}
			if plainDowns == 0 {
				t.Errorf("%s: the traces never made the memoryless allocation move down; they test nothing", name)
			}
		}
	})
}

// At a steady capacity with ±5% estimate noise, once settled (10 s), a minute passes with at most one
// layer change per source and no change of the forwarded set, for capacities all over the layer
// ladder (so some sit just at a layer boundary).
func TestFlickerSteady(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		for name, room := range flickerRooms(perTID) {
			for capacity := 100e3; capacity <= 5e6; capacity += 70e3 {
				seed := uint64(capacity)
				rng := rand.New(rand.NewPCG(seed, 2))
				// Ramp to the capacity in 10 s (±10%), then hold it (±5%) for 70 s.
				up := trace(rng, 10, 0.10, ramp(100e3, capacity, 10))
				steady := trace(rng, 70, 0.05, func(float64) float64 { return capacity })
				for i := range steady {
					steady[i].at += int64(10 * time.Second)
				}
				samples := append(up, steady...)
				settled := int64(20 * time.Second)
				for _, gated := range []bool{false, true} {
					h := replayTrace(samples, settled, withHysteresis(t, room.src, flickerSpeech, room.s, gated))
					for id, n := range h.layerChanges {
						if n > 1 {
							t.Errorf("%s at %.0f kbit/s (gated %v): %s changed layer %d times in a minute",
								name, capacity/1e3, gated, id, n)
						}
					}
					if h.forwardedSets != 0 {
						t.Errorf("%s at %.0f kbit/s (gated %v): forwarded set changed %d times in a minute",
							name, capacity/1e3, gated, h.forwardedSets)
					}
				}
			}
		}
	})
}
