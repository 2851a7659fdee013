package alloc

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// allocateBoth runs the pure function and a fresh Allocator on the same input and returns both results.
func allocateBoth(t *testing.T, src []Source, speech []string, s Settings, bwe int64) (pureRes, hystRes *Result) {
	t.Helper()
	pureRes = &Result{}
	Allocate(src, speech, s, bwe, DefaultLimits(), pureRes)
	a, err := NewAllocator(DefaultLimits(), DefaultHysteresis())
	if err != nil {
		t.Fatal(err)
	}
	hystRes = a.Allocate(src, speech, s, bwe, 0)
	checkInvariants(t, src, s, bwe, pureRes, false)
	checkInvariants(t, src, s, bwe, hystRes, true)
	return pureRes, hystRes
}

// checkInvariants asserts what holds for every result: one entry per source, targets and ideals are
// layer indices or -1, nothing is forwarded that is off, Forwarded has no repeats and respects last-N,
// the sums add up, and oversending is the first-ranked on-stage share's (or, with keeps, an
// Allocator's first source keeping its lowest layer).
func checkInvariants(t *testing.T, src []Source, s Settings, bwe int64, r *Result, keeps bool) {
	t.Helper()
	if len(r.Sources) != len(src) {
		t.Fatalf("%d results for %d sources", len(r.Sources), len(src))
	}
	var target, ideal int64
	forwarded := 0
	for i, a := range r.Sources {
		n := min(len(src[i].Layers), maxLayers)
		if a.ID != src[i].ID || a.Target < -1 || a.Target >= n || a.Ideal < -1 || a.Ideal >= n {
			t.Fatalf("source %d (%d layers): %+v", i, len(src[i].Layers), a)
		}
		if a.Target >= 0 {
			forwarded++
			if a.EffectiveMaxHeight == 0 || a.Ideal < 0 || a.Suspended {
				t.Fatalf("source %d forwarded while off, without ideal, or suspended: %+v", i, a)
			}
		}
		target += a.TargetBps
		ideal += a.IdealBps
	}
	if forwarded != len(r.Forwarded) || target != r.TargetBps || ideal != r.IdealBps {
		t.Fatalf("forwarded %q for %d targets; sums %d/%d, result says %d/%d", r.Forwarded, forwarded, target, ideal, r.TargetBps, r.IdealBps)
	}
	if seen := slices.Compact(slices.Sorted(slices.Values(r.Forwarded))); len(seen) != len(r.Forwarded) {
		t.Fatalf("forwarded repeats a source: %q", r.Forwarded)
	}
	if s.LastN >= 0 && len(r.Forwarded) > s.LastN {
		t.Fatalf("lastN %d, forwarded %q", s.LastN, r.Forwarded)
	}
	if r.Oversending {
		first := slices.IndexFunc(src, func(x Source) bool { return x.ID == r.Forwarded[0] })
		share := slices.Contains(s.OnStage, r.Forwarded[0]) && src[first].Desktop
		// An Allocator's first source may keep its lowest layer over the estimate (KeepFor); the
		// others then have only what the estimate leaves without it.
		kept := keeps && r.TargetBps-r.Sources[first].TargetBps <= max(bwe, 0)
		if !share && !kept {
			t.Fatalf("oversending (%d over %d) without a first-ranked on-stage share or a kept lowest layer: %q", r.TargetBps, bwe, r.Forwarded)
		}
	}
}

func TestEdgeCases(t *testing.T) {
	tile := Settings{LastN: -1, DefaultMaxHeight: 360}
	inactive := cameras(1, false)
	for i := range inactive[0].Layers {
		inactive[0].Layers[i].Active, inactive[0].Layers[i].Bps = false, 0
	}
	lowestOff := cameras(1, false) // the 180p encoding stopped (the sender dropped it), 360p and 720p on
	lowestOff[0].Layers[0].Active = false
	dup := cameras(3, false)
	dup[2].ID = "A"
	disabled := cameras(3, false)
	disabled[0].Disabled = true
	shareOne := cameras(2, false)
	shareOne[0].Desktop = true
	shareOne[0].Layers = shareOne[0].Layers[2:] // one 720p layer, no simulcast
	huge := cameras(2, true)
	for len(huge[1].Layers) < 10_000 {
		huge[1].Layers = append(huge[1].Layers, huge[1].Layers...)
	}
	huge[1].Layers = append(huge[1].Layers, Layer{Height: -5, FPS: math.NaN(), Bps: math.MaxInt64, Active: true})
	hostile := cameras(2, false)
	hostile[0].Layers[1].Bps = math.MaxInt64
	hostile[0].Layers[2].FPS = math.Inf(1)
	hostile[1].Layers[0].Bps = -500

	for _, tc := range []struct {
		name   string
		src    []Source
		speech []string
		s      Settings
		bwe    int64
		check  func(t *testing.T, src []Source, r *Result)
	}{
		{"no sources", nil, []string{"a"}, tile, 1e6, func(t *testing.T, _ []Source, r *Result) {
			if len(r.Forwarded) != 0 || r.TargetBps != 0 || r.Oversending {
				t.Fatalf("%+v", r)
			}
		}},
		{"all layers inactive: the best candidate, to start forwarding", inactive, nil, tile, 1e6, func(t *testing.T, src []Source, r *Result) {
			if l, ok := target(src, r, 0); !ok || l.Height != 360 || r.Sources[0].Suspended {
				t.Fatalf("%s %+v", describe(src, r), r.Sources[0])
			}
		}},
		{"all layers inactive, no estimate: still started", inactive, nil, tile, 0, func(t *testing.T, src []Source, r *Result) {
			if r.Sources[0].Target < 0 {
				t.Fatalf("%+v", r.Sources[0])
			}
		}},
		{"lowest encoding off, max 180p: the lowest active one (soft constraint)", lowestOff, nil,
			Settings{LastN: -1, DefaultMaxHeight: 180}, 1e6, func(t *testing.T, src []Source, r *Result) {
				if l, ok := target(src, r, 0); !ok || l.Height != 360 || src[0].Layers[r.Sources[0].Ideal].Height != 360 {
					t.Fatalf("%s %+v", describe(src, r), r.Sources[0])
				}
			}},
		{"max height below every layer: the lowest", cameras(1, false), nil, Settings{LastN: -1, DefaultMaxHeight: 90}, 1e6,
			func(t *testing.T, src []Source, r *Result) {
				if l, ok := target(src, r, 0); !ok || l.Height != 180 || r.Sources[0].EffectiveMaxHeight != 90 {
					t.Fatalf("%s %+v", describe(src, r), r.Sources[0])
				}
			}},
		{"duplicate source IDs: the first one counts", dup, nil, Settings{LastN: 2, DefaultMaxHeight: 180}, 1e6,
			func(t *testing.T, _ []Source, r *Result) {
				if !slices.Equal(r.Forwarded, []string{"A", "B"}) || r.Sources[2].Target != -1 || r.Sources[2].EffectiveMaxHeight != 0 {
					t.Fatalf("%q %+v", r.Forwarded, r.Sources)
				}
			}},
		{"on-stage ID that does not exist: tile view", cameras(2, false), []string{"b"},
			Settings{LastN: -1, OnStage: []string{"nobody"}, DefaultMaxHeight: 180}, 1e6, func(t *testing.T, _ []Source, r *Result) {
				if !slices.Equal(r.Forwarded, []string{"B", "A"}) {
					t.Fatalf("%q", r.Forwarded)
				}
			}},
		{"lastN larger than the sources", cameras(3, false), nil, Settings{LastN: 99, DefaultMaxHeight: 180}, 1e6,
			func(t *testing.T, _ []Source, r *Result) {
				if len(r.Forwarded) != 3 {
					t.Fatalf("%q", r.Forwarded)
				}
			}},
		{"negative estimate: nothing fits, everyone suspended", cameras(3, false), nil, tile, -1e6, func(t *testing.T, _ []Source, r *Result) {
			if len(r.Forwarded) != 0 || r.Oversending || !r.Sources[0].Suspended || r.Sources[0].Ideal < 0 {
				t.Fatalf("%q %+v", r.Forwarded, r.Sources)
			}
		}},
		{"disabled video: last, not forwarded, no last-N place", disabled, []string{"a"}, Settings{LastN: 2, DefaultMaxHeight: 180}, 1e6,
			func(t *testing.T, _ []Source, r *Result) {
				if !slices.Equal(r.Forwarded, []string{"B", "C"}) || r.Sources[0].EffectiveMaxHeight != 0 {
					t.Fatalf("%q %+v", r.Forwarded, r.Sources[0])
				}
			}},
		{"one-layer share on stage: forwarded whatever the estimate", shareOne, nil,
			Settings{LastN: -1, OnStage: []string{"A"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"A": -1}}, 0,
			func(t *testing.T, _ []Source, r *Result) {
				if !slices.Equal(r.Forwarded, []string{"A"}) || !r.Oversending {
					t.Fatalf("%q oversending %v", r.Forwarded, r.Oversending)
				}
			}},
		{"huge layer list: the first 64 considered", huge, nil, Settings{LastN: -1, DefaultMaxHeight: -1}, Unlimited,
			func(t *testing.T, _ []Source, r *Result) {
				if r.Sources[1].Target < 0 || r.Sources[1].Target >= maxLayers {
					t.Fatalf("%+v", r.Sources[1])
				}
			}},
		{"hostile rates and frame rates, unlimited estimate", hostile, nil, Settings{LastN: -1, DefaultMaxHeight: -1}, Unlimited,
			func(t *testing.T, _ []Source, r *Result) {
				if r.TargetBps < 0 || r.TargetBps > 2*maxBps || len(r.Forwarded) != 2 {
					t.Fatalf("%q %d", r.Forwarded, r.TargetBps)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, h := allocateBoth(t, tc.src, tc.speech, tc.s, tc.bwe)
			tc.check(t, tc.src, p)
			if tc.bwe <= 0 || tc.bwe == Unlimited || tc.name == "no sources" {
				tc.check(t, tc.src, h) // where the up margin cannot matter
			}
		})
	}
}

// Random rooms with random settings and estimates: the invariants hold and nothing panics, for the
// pure function and for one Allocator fed the whole sequence.
func TestRandomRooms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	a, _ := NewAllocator(DefaultLimits(), DefaultHysteresis())
	var r Result
	ids := []string{"A", "B", "C", "D", "E", "F", "G", ""}
	for i := range 3000 {
		src := make([]Source, rng.IntN(8))
		for k := range src {
			src[k] = Source{ID: ids[rng.IntN(len(ids))], Owner: ids[rng.IntN(len(ids))], Desktop: rng.IntN(4) == 0, Disabled: rng.IntN(10) == 0}
			for range rng.IntN(10) {
				src[k].Layers = append(src[k].Layers, Layer{Height: rng.IntN(1100) - 20, FPS: float64(rng.IntN(40)) - 2,
					Bps: rng.Int64N(3e6) - 1000, Active: rng.IntN(5) != 0})
			}
		}
		s := Settings{LastN: rng.IntN(6) - 2, DefaultMaxHeight: rng.IntN(800) - 2, MaxHeight: map[string]int{ids[rng.IntN(8)]: rng.IntN(800) - 2}}
		for range rng.IntN(3) {
			s.OnStage = append(s.OnStage, ids[rng.IntN(len(ids))])
			s.Selected = append(s.Selected, ids[rng.IntN(len(ids))])
		}
		speech := []string{ids[rng.IntN(len(ids))], ids[rng.IntN(len(ids))]}
		bwe := rng.Int64N(8e6) - 1e6
		if rng.IntN(10) == 0 {
			bwe = Unlimited
		}
		Allocate(src, speech, s, bwe, DefaultLimits(), &r)
		checkInvariants(t, src, s, bwe, &r, false)
		checkInvariants(t, src, s, bwe, a.Allocate(src, speech, s, bwe, int64(i)*1e8), true)
	}
}

// A reused Result and an Allocator allocate nothing per call once warm.
func TestNoAllocations(t *testing.T) {
	src, speech, s := benchRoom(true)
	var r Result
	a, _ := NewAllocator(DefaultLimits(), DefaultHysteresis())
	bwe, now := int64(3e6), int64(0)
	step := func() {
		bwe = 9e6 - bwe // alternate 3 and 6 Mbit/s: moves down and up
		now += 1e9
		Allocate(src, speech, s, bwe, DefaultLimits(), &r)
		a.ShouldReallocate(bwe, now)
		a.Allocate(src, speech, s, bwe, now)
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := DefaultHysteresis().Validate(); err != nil {
		t.Fatal(err)
	}
	badL := DefaultLimits()
	badL.OnStageFPS = math.NaN()
	badH := DefaultHysteresis()
	badH.ReallocEvery = 0
	if _, err := NewAllocator(badL, DefaultHysteresis()); err == nil {
		t.Fatal("NaN OnStageFPS accepted")
	}
	if _, err := NewAllocator(DefaultLimits(), badH); err == nil {
		t.Fatal("zero ReallocEvery accepted")
	}
}
