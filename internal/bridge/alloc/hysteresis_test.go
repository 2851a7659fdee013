package alloc

import (
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// stageRoom is A on stage at 720p with B, C, D as 180p thumbnails, one layer per encoding.
func stageRoom() ([]Source, []string, Settings) {
	return cameras(4, false), []string{"a", "b", "c", "d"},
		Settings{LastN: -1, OnStage: []string{"A"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"A": 720}}
}

// hold feeds the Allocator a constant estimate every 100 ms from now for d, allocating each time, and
// returns the time after.
func hold(a *Allocator, src []Source, speech []string, s Settings, bwe, now int64, d time.Duration) int64 {
	for end := now + int64(d); now < end; now += 100 * ms {
		a.Allocate(src, speech, s, bwe, now)
	}
	return now
}

func newAllocator(t *testing.T) *Allocator {
	t.Helper()
	a, err := NewAllocator(DefaultLimits(), DefaultHysteresis())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A drop of the estimate lowers the allocation in the very allocation that sees it, and
// ShouldReallocate asks for that allocation even though the drop is below 15%.
func TestHysteresisDownAtOnce(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	now := hold(a, src, speech, s, 3_000_000, 0, 3*time.Second)
	settled := a.Last().TargetBps // A:HD30 and three LD30: 2.45 Mbit/s
	if settled != 2_450_000 {
		t.Fatalf("settled at %d: %s", settled, describe(src, a.Last()))
	}
	drop := settled * 9 / 10 // 10% below what is forwarded, 27% below the last estimate
	if !a.ShouldReallocate(drop, now) {
		t.Fatal("ShouldReallocate ignores an estimate that no longer carries the allocation")
	}
	r := a.Allocate(src, speech, s, drop, now)
	if r.TargetBps > drop || r.Oversending {
		t.Fatalf("at %d still forwarding %d: %s", drop, r.TargetBps, describe(src, r))
	}
	// Down is what the memoryless allocation gives at that estimate: the stage keeps SD30 and the
	// thumbnails, which rank before the stage's climb above SD30, keep theirs.
	var plain Result
	Allocate(src, speech, s, drop, DefaultLimits(), &plain)
	if got, want := describe(src, r), describe(src, &plain); got != want || want != "A:SD30 B:LD30 C:LD30 D:LD30" {
		t.Fatalf("lowered to %s, the memoryless allocation is %s", got, want)
	}
	// A further dip under 15% that still carries the allocation asks for nothing.
	if a.ShouldReallocate(drop*9/10, now+100*ms) {
		t.Fatal("ShouldReallocate asks for an allocation that changes nothing")
	}
}

// One high estimate among steady ones does not buy a layer (the pure function takes it), and
// a move up needs the 15% margin over the 2 s mean.
func TestHysteresisUpNeedsMargin(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	// 1.1 Mbit/s carries A:SD30 + three LD30 (950 kbit/s); A:HD30 needs 2.45 Mbit/s.
	now := hold(a, src, speech, s, 1_100_000, 0, 3*time.Second)
	before := describe(src, a.Last())
	if before != "A:SD30 B:LD30 C:LD30 D:LD30" {
		t.Fatalf("settled at %s", before)
	}
	spike := int64(2_600_000)
	var plain Result
	Allocate(src, speech, s, spike, DefaultLimits(), &plain)
	if !atLeast(src, &plain, 0, 720, 30) {
		t.Fatalf("the spike should buy HD without hysteresis: %s", describe(src, &plain))
	}
	if r := a.Allocate(src, speech, s, spike, now); describe(src, r) != before {
		t.Fatalf("one spike changed %s to %s", before, describe(src, r))
	}
	// A steady 2.6 Mbit/s: its mean over 2 s, divided by 1.15, is 2.26 Mbit/s, still short of HD's
	// 2.45; 3 Mbit/s (2.61) buys it once the mean has caught up.
	now = hold(a, src, speech, s, spike, now+100*ms, 3*time.Second)
	if r := a.Last(); describe(src, r) != before {
		t.Fatalf("HD bought without the margin: %s", describe(src, r))
	}
	hold(a, src, speech, s, 3_000_000, now, 3*time.Second)
	if r := a.Last(); !atLeast(src, r, 0, 720, 30) {
		t.Fatalf("3 Mbit/s for 3 s did not buy HD: %s", describe(src, r))
	}
}

// After the estimate forced a move down, nothing moves up for UpDelayAfterDown even if the estimate
// comes straight back; ShouldReallocate asks for the allocation when the delay ends.
func TestHysteresisDelayAfterDown(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	now := hold(a, src, speech, s, 3_000_000, 0, 3*time.Second)
	high := describe(src, a.Last())
	down := a.Allocate(src, speech, s, 700_000, now)
	low := describe(src, down)
	if low == high {
		t.Fatal("700 kbit/s did not lower anything")
	}
	downAt := now
	delay := int64(DefaultHysteresis().UpDelayAfterDown)
	for now = downAt + 100*ms; now < downAt+delay; now += 100 * ms {
		if r := a.Allocate(src, speech, s, 3_000_000, now); describe(src, r) != low {
			t.Fatalf("moved up %v after a forced move down: %s", time.Duration(now-downAt), describe(src, r))
		}
		if a.ShouldReallocate(3_000_000, now+50*ms) {
			t.Fatalf("ShouldReallocate true during the delay at %v", time.Duration(now-downAt))
		}
	}
	if !a.ShouldReallocate(3_000_000, downAt+delay) {
		t.Fatal("ShouldReallocate false when the delay ended")
	}
	if r := a.Allocate(src, speech, s, 3_000_000, downAt+delay); describe(src, r) != high {
		t.Fatalf("after the delay: %s, want %s", describe(src, r), high)
	}
}

// Moving a source to the stage at a steady estimate is a change of settings, not of bandwidth: the
// new stage source climbs and the old one becomes a thumbnail in the same allocation, without the
// delay after a forced move down.
func TestHysteresisStageChange(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	now := hold(a, src, speech, s, 3_000_000, 0, 3*time.Second)
	s2 := Settings{LastN: -1, OnStage: []string{"B"}, DefaultMaxHeight: 180, MaxHeight: map[string]int{"B": 720}}
	r := a.Allocate(src, speech, s2, 3_000_000, now)
	if got, want := describe(src, r), "A:LD30 B:HD30 C:LD30 D:LD30"; got != want {
		t.Fatalf("after the stage change %s, want %s", got, want)
	}
}

// While the estimate is not trusted every source gets its ideal layer; once it is, the allocation
// follows it, and ShouldReallocate notices both changes.
func TestHysteresisUntrusted(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	r := a.Allocate(src, speech, s, Unlimited, 0)
	for _, al := range r.Sources {
		if al.Target != al.Ideal || al.Target < 0 {
			t.Fatalf("untrusted: %+v", al)
		}
	}
	if a.ShouldReallocate(Unlimited, 100*ms) {
		t.Fatal("ShouldReallocate with nothing changed")
	}
	if !a.ShouldReallocate(600_000, 200*ms) {
		t.Fatal("ShouldReallocate ignores the estimate becoming trusted")
	}
	if r := a.Allocate(src, speech, s, 600_000, 200*ms); r.TargetBps > 600_000 {
		t.Fatalf("trusted 600 kbit/s: %s", describe(src, r))
	}
}

// ShouldReallocate keeps Jitsi's rules: more than 15% of change, or 5 s since the last allocation.
func TestShouldReallocateJitsiRules(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	if !a.ShouldReallocate(10_000_000, 0) {
		t.Fatal("no allocation yet")
	}
	now := hold(a, src, speech, s, 10_000_000, 0, 3*time.Second) - 100*ms
	for _, tc := range []struct {
		bwe  int64
		at   int64
		want bool
	}{
		{11_000_000, now + 100*ms, false},
		{8_700_000, now + 100*ms, false},
		{11_600_000, now + 100*ms, true},
		{8_400_000, now + 100*ms, true},
		{10_000_000, now + int64(5*time.Second), true},
	} {
		if got := a.ShouldReallocate(tc.bwe, tc.at); got != tc.want {
			t.Errorf("bwe %d at +%v: %v, want %v", tc.bwe, time.Duration(tc.at-now), got, tc.want)
		}
	}
}

// The Allocator remembers sources by ID: passing them in another order changes nothing.
func TestHysteresisSourceOrder(t *testing.T) {
	src := cameras(3, false)
	speech, s := []string{"a", "b", "c"}, Settings{LastN: -1, DefaultMaxHeight: 720}
	a := newAllocator(t)
	now := hold(a, src, speech, s, 3_600_000, 0, 3*time.Second)
	before := describe(src, a.Last())
	if before != "A:HD30 B:SD30 C:SD30" {
		t.Fatalf("settled at %s", before)
	}
	reversed := []Source{src[2], src[1], src[0]}
	// 3.1 Mbit/s still carries the 3 Mbit/s allocation, but not with the margin a move up needs, so
	// only the memory of each source's layer keeps A at HD (and not C, which now comes first).
	r := a.Allocate(reversed, speech, s, 3_100_000, now)
	if got := describe(reversed, r); got != "C:SD30 B:SD30 A:HD30" {
		t.Fatalf("reordered sources: %s, before %s", got, before)
	}
}

// The stage keeps its lowest layer through a dip of the estimate below it shorter than KeepFor (the
// memoryless allocation suspends it), and is suspended once the dip lasts longer; the thumbnails
// never get what the stage keeps over the estimate. ShouldReallocate asks for the allocation that
// ends the keep.
func TestHysteresisStageKeepsItsLowestLayer(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	now := hold(a, src, speech, s, 400_000, 0, 3*time.Second)
	if got := describe(src, a.Last()); got != "A:LD30" {
		t.Fatalf("settled at %s", got)
	}
	dip := int64(100_000)
	var plain Result
	Allocate(src, speech, s, dip, DefaultLimits(), &plain)
	if got := describe(src, &plain); got != "" {
		t.Fatalf("the memoryless allocation at %d is %q, want nothing", dip, got)
	}
	keep := DefaultHysteresis().KeepFor
	// A dip shorter than KeepFor, then the estimate comes back: the stage never loses its picture.
	end := now + int64(keep) - 200*ms
	for ; now < end; now += 100 * ms {
		r := a.Allocate(src, speech, s, dip, now)
		if got := describe(src, r); got != "A:LD30" || !r.Oversending {
			t.Fatalf("%d ms into the dip: %q (oversending %v)", (now-end+int64(keep)-200*ms)/ms, got, r.Oversending)
		}
	}
	now = hold(a, src, speech, s, 400_000, now, time.Second)
	if got := describe(src, a.Last()); got != "A:LD30" || a.Last().Oversending {
		t.Fatalf("after the dip: %q (oversending %v)", got, a.Last().Oversending)
	}
	// A dip longer than KeepFor: kept until KeepFor has passed, then suspended, and
	// ShouldReallocate asks for that allocation even though the estimate did not move.
	start := now
	for ; now-start < int64(keep); now += 100 * ms {
		if got := describe(src, a.Allocate(src, speech, s, dip, now)); got != "A:LD30" {
			t.Fatalf("%d ms into the long dip: %q", (now-start)/ms, got)
		}
	}
	if !a.ShouldReallocate(dip, now) {
		t.Fatal("ShouldReallocate does not ask for the allocation that ends the keep")
	}
	if r := a.Allocate(src, speech, s, dip, now); describe(src, r) != "" || r.Oversending {
		t.Fatalf("after %v below its layer the stage still has %q", keep, describe(src, r))
	}
	// With the rule off the first dip suspends the stage at once.
	h := DefaultHysteresis()
	h.KeepFor = 0
	off, err := NewAllocator(DefaultLimits(), h)
	if err != nil {
		t.Fatal(err)
	}
	now = hold(off, src, speech, s, 400_000, 0, 3*time.Second)
	if got := describe(src, off.Allocate(src, speech, s, dip, now)); got != "" {
		t.Fatalf("KeepFor 0 keeps %q", got)
	}
}

// Only the first source keeps its layer: in tile view the thumbnails behind the speaker are lowered
// at once by a dip, and the speaker (first in the speech order) keeps its lowest layer.
func TestHysteresisKeepIsTheFirstSourceOnly(t *testing.T) {
	src := cameras(3, false)
	speech := []string{"b", "a", "c"}
	s := Settings{LastN: -1, DefaultMaxHeight: 180}
	a := newAllocator(t)
	now := hold(a, src, speech, s, 600_000, 0, 3*time.Second)
	if got := describe(src, a.Last()); got != "A:LD30 B:LD30 C:LD30" {
		t.Fatalf("settled at %s", got)
	}
	r := a.Allocate(src, speech, s, 120_000, now)
	if got := describe(src, r); got != "B:LD30" || r.TargetBps != 150_000 {
		t.Fatalf("in the dip: %q", got)
	}
}

// A move down in the first UpWindow of a trusted estimate comes from the estimator's starting guess,
// not a noisy estimate: when the estimate then rises, the stage moves up as soon as the up budget
// allows, without UpDelayAfterDown. (The bridge starts its estimate at 1 Mbit/s; on a wide link the
// initial probes take it to several Mbit/s within the first second.)
func TestHysteresisNoDelayAfterAStartDown(t *testing.T) {
	src, speech, s := stageRoom()
	a := newAllocator(t)
	now := hold(a, src, speech, s, 1_000_000, 0, 300*time.Millisecond)
	start := describe(src, a.Last())
	if low := describe(src, a.Allocate(src, speech, s, 600_000, now)); low == start {
		t.Fatalf("600 kbit/s did not lower %s", start)
	}
	now += 100 * ms
	downAt := now
	var hd int64 = -1
	for ; now < downAt+int64(3*time.Second); now += 100 * ms {
		a.ShouldReallocate(7_000_000, now)
		if r := a.Allocate(src, speech, s, 7_000_000, now); hd < 0 && describe(src, r) == "A:HD30 B:LD30 C:LD30 D:LD30" {
			hd = now - downAt
		}
	}
	if hd < 0 || hd > int64(1500*time.Millisecond) {
		t.Fatalf("stage at HD %v after the estimate rose to 7 Mbit/s (-1: not within 3 s; now %s), want within 1.5 s",
			time.Duration(hd), describe(src, a.Last()))
	}
	t.Logf("HD %v after the rise", time.Duration(hd))
}
