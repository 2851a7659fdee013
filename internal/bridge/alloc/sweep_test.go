package alloc

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// sweep runs an allocation for every estimate from 0 to 5 Mbit/s in 10 kbit/s steps, 100 ms apart (as
// Jitsi's BitrateControllerTest does), with the pure function or with the hysteresis Allocator, and
// calls check after each. It returns the history of distinct allocations.
func sweep(t *testing.T, withHysteresis bool, src []Source, speech []string, s Settings, check func(bwe int64, r *Result)) []string {
	t.Helper()
	var a *Allocator
	if withHysteresis {
		var err error
		if a, err = NewAllocator(DefaultLimits(), DefaultHysteresis()); err != nil {
			t.Fatal(err)
		}
	}
	var own Result
	var history []string
	for step := int64(0); step <= 500; step++ {
		bwe := step * 10_000
		r := &own
		if a != nil {
			r = a.Allocate(src, speech, s, bwe, step*int64(100*time.Millisecond))
		} else {
			Allocate(src, speech, s, bwe, DefaultLimits(), r)
		}
		if !withHysteresis && r.TargetBps > bwe && !r.Oversending {
			t.Fatalf("bwe %d: target %d over the estimate without the oversending flag", bwe, r.TargetBps)
		}
		check(bwe, r)
		if d := describe(src, r); len(history) == 0 || history[len(history)-1] != d {
			history = append(history, d)
		}
	}
	return history
}

// bothModes runs f as a subtest for the pure function and for the Allocator.
func bothModes(t *testing.T, f func(t *testing.T, withHysteresis bool)) {
	t.Run("pure", func(t *testing.T) { f(t, false) })
	t.Run("hysteresis", func(t *testing.T) { f(t, true) })
}

// layerTables runs f for one layer per encoding (what the bridge forwards today) and per temporal layer.
func layerTables(t *testing.T, f func(t *testing.T, perTID bool)) {
	t.Run("per-encoding", func(t *testing.T) { f(t, false) })
	t.Run("per-temporal", func(t *testing.T) { f(t, true) })
}

// Stage view: A on stage at up to 720p, the others thumbnails at 180p. No thumbnail gets anything until
// A has SD30, whoever speaks.
func TestSweepStageView(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		bothModes(t, func(t *testing.T, hyst bool) {
			src := cameras(4, perTID)
			s := Settings{LastN: -1, OnStage: []string{"A"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"A": 720}}
			sawThumbnail := false
			history := sweep(t, hyst, src, []string{"d", "c", "b", "a"}, s, func(bwe int64, r *Result) {
				for i := 1; i < 4; i++ {
					if r.Sources[i].Target >= 0 {
						sawThumbnail = true
						if !atLeast(src, r, 0, 360, 30) {
							t.Fatalf("bwe %d: thumbnail %s forwarded before the stage has SD30: %s", bwe, r.Sources[i].ID, describe(src, r))
						}
					}
					if l, ok := target(src, r, i); ok && l.Height > 180 {
						t.Fatalf("bwe %d: thumbnail above its 180p constraint: %s", bwe, describe(src, r))
					}
				}
				if r.Oversending {
					t.Fatalf("bwe %d: a camera stage oversends: %s", bwe, describe(src, r))
				}
			})
			if !sawThumbnail {
				t.Fatalf("no thumbnail ever forwarded: %q", history)
			}
			// Thumbnails follow the speech order d, c, b: D appears first, then C, then B.
			if first := firstWith(history, "D:"); first < 0 || first > firstWith(history, "C:") || firstWith(history, "C:") > firstWith(history, "B:") {
				t.Fatalf("thumbnails not in speech order: %q", history)
			}
			want := "A:HD30 B:LD30 C:LD30 D:LD30"
			if got := history[len(history)-1]; got != want {
				t.Fatalf("at 5 Mbit/s: %q, want %q", got, want)
			}
			if !hyst && !perTID {
				// With one layer per encoding the whole order is short enough to spell out.
				want := []string{"", "A:LD30", "A:SD30", "A:SD30 D:LD30", "A:SD30 C:LD30 D:LD30",
					"A:SD30 B:LD30 C:LD30 D:LD30", "A:HD30 B:LD30 C:LD30 D:LD30"}
				if !slices.Equal(history, want) {
					t.Fatalf("history\n got %q\nwant %q", history, want)
				}
			}
		})
	})
}

// firstWith is the index of the first history entry containing sub, -1 for none.
func firstWith(history []string, sub string) int {
	return slices.IndexFunc(history, func(h string) bool { return strings.Contains(h, sub) })
}

// Tile view at 360p: everyone reaches LD30 before anyone reaches SD30, and the 360p layers below
// 30 fps are never candidates.
func TestSweepTileView(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		bothModes(t, func(t *testing.T, hyst bool) {
			src := cameras(4, perTID)
			s := Settings{LastN: -1, DefaultMaxHeight: 360}
			history := sweep(t, hyst, src, []string{"a", "b", "c", "d"}, s, func(bwe int64, r *Result) {
				anySD, allLD := false, true
				for i := range src {
					l, ok := target(src, r, i)
					anySD = anySD || ok && l.Height >= 360
					allLD = allLD && atLeast(src, r, i, 180, 30)
					if ok && l.Height == 360 && l.FPS < 30 {
						t.Fatalf("bwe %d: SD below 30 fps is not a candidate: %s", bwe, describe(src, r))
					}
					if ok && l.Height > 360 {
						t.Fatalf("bwe %d: above the 360p constraint: %s", bwe, describe(src, r))
					}
				}
				if anySD && !allLD {
					t.Fatalf("bwe %d: SD before everyone has LD30: %s", bwe, describe(src, r))
				}
			})
			if want := "A:SD30 B:SD30 C:SD30 D:SD30"; history[len(history)-1] != want {
				t.Fatalf("at 5 Mbit/s: %q, want %q", history[len(history)-1], want)
			}
		})
	})
}

// lastN 1 forwards exactly one source (the dominant speaker's) once its lowest layer fits; lastN 0
// forwards none and tells senders to send nothing.
func TestSweepLastN(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		bothModes(t, func(t *testing.T, hyst bool) {
			src := cameras(4, perTID)
			// The estimate from which one source must be forwarded: its cheapest layer, and with
			// hysteresis that with the up margin over the mean of the last 2 s of the sweep (which
			// rises 100 kbit/s a second, so the mean lags by up to 200 kbit/s).
			reach := src[0].Layers[0].Bps
			if hyst {
				reach = int64(float64(reach)*(1+DefaultHysteresis().UpMargin)) + 200_000
			}
			for _, view := range []struct {
				name string
				s    Settings
			}{
				{"tile", Settings{LastN: 1, DefaultMaxHeight: 360}},
				{"stage", Settings{LastN: 1, OnStage: []string{"B"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"B": 720}}},
			} {
				want := "C" // the dominant speaker, unless a source is on stage
				if len(view.s.OnStage) > 0 {
					want = view.s.OnStage[0]
				}
				sweep(t, hyst, src, []string{"c", "a"}, view.s, func(bwe int64, r *Result) {
					if len(r.Forwarded) > 1 || bwe > reach && (len(r.Forwarded) != 1 || r.Forwarded[0] != want) {
						t.Fatalf("%s, bwe %d: forwarded %q, want [%s]", view.name, bwe, r.Forwarded, want)
					}
					for _, a := range r.Sources {
						if (a.EffectiveMaxHeight != 0) != (a.ID == want) {
							t.Fatalf("%s, bwe %d: %s has effective max height %d", view.name, bwe, a.ID, a.EffectiveMaxHeight)
						}
					}
				})
			}
			sweep(t, hyst, src, []string{"c", "a"}, Settings{LastN: 0, DefaultMaxHeight: 360}, func(bwe int64, r *Result) {
				if len(r.Forwarded) != 0 || r.TargetBps != 0 || r.IdealBps != 0 {
					t.Fatalf("lastN 0, bwe %d: forwarded %q, target %d, ideal %d", bwe, r.Forwarded, r.TargetBps, r.IdealBps)
				}
				for _, a := range r.Sources {
					if a.EffectiveMaxHeight != 0 || a.Suspended {
						t.Fatalf("lastN 0, bwe %d: %+v", bwe, a)
					}
				}
			})
		})
	})
}

// A screen share on stage oversends at low estimates, by at most MaxOversendBps, to show a sharper
// layer than fits, and is then the only source forwarded; a camera on stage never oversends (checked
// in TestSweepStageView).
func TestSweepScreenShareOversends(t *testing.T) {
	layerTables(t, func(t *testing.T, perTID bool) {
		bothModes(t, func(t *testing.T, hyst bool) {
			src := cameras(4, perTID)
			src[0].Desktop = true
			src[0].Layers = ladder(perTID, 5.0/30)
			s := Settings{LastN: -1, OnStage: []string{"A"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"A": -1}}
			var oversentAt []int64
			sweep(t, hyst, src, []string{"b", "c", "d", "a"}, s, func(bwe int64, r *Result) {
				if !r.Oversending {
					return
				}
				oversentAt = append(oversentAt, bwe)
				if r.TargetBps > bwe+DefaultLimits().MaxOversendBps || len(r.Forwarded) != 1 || r.Forwarded[0] != "A" {
					t.Fatalf("bwe %d: oversending %d bit/s: %s", bwe, r.TargetBps-bwe, describe(src, r))
				}
			})
			if len(oversentAt) == 0 || oversentAt[0] != 0 {
				t.Fatalf("the on-stage screen share should oversend from the lowest estimates; it did at %v", oversentAt)
			}
			if last := oversentAt[len(oversentAt)-1]; last >= ladderBps[2] {
				t.Fatalf("still oversending at %d bit/s, where the best layer fits", last)
			}
		})
	})
}

// Selected sources come before speakers, speakers before the rest, whatever the input order.
func TestPriorityOrder(t *testing.T) {
	bothModes(t, func(t *testing.T, hyst bool) {
		src := cameras(6, false) // A..F owned by a..f
		s := Settings{LastN: -1, Selected: []string{"E", "B"}, DefaultMaxHeight: 180}
		speech := []string{"c", "f", "b"} // dominant c, then f, then b; a, d, e never spoke
		var r Result
		if hyst {
			a, _ := NewAllocator(DefaultLimits(), DefaultHysteresis())
			r = *a.Allocate(src, speech, s, Unlimited, 0)
		} else {
			Allocate(src, speech, s, Unlimited, DefaultLimits(), &r)
		}
		if want := []string{"E", "B", "C", "F", "A", "D"}; !slices.Equal(r.Forwarded, want) {
			t.Fatalf("forwarded %q, want %q", r.Forwarded, want)
		}
		// With room for three LD layers only, the first three in that order get them.
		var r2 Result
		Allocate(src, speech, s, 3*ladderBps[0]+ladderBps[0]/2, DefaultLimits(), &r2)
		if want := []string{"E", "B", "C"}; !slices.Equal(r2.Forwarded, want) {
			t.Fatalf("with 3 LD of room, forwarded %q, want %q", r2.Forwarded, want)
		}
		for _, id := range []string{"F", "A", "D"} {
			if a := r2.Sources[id[0]-'A']; !a.Suspended || a.EffectiveMaxHeight != 180 {
				t.Fatalf("%s should be suspended for bandwidth: %+v", id, a)
			}
		}
	})
}
