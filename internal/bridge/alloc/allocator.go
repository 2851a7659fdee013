package alloc

import "fmt"

// Allocator is one receiver's allocator with memory: it adds hysteresis to Allocate so that a noisy
// estimate does not make layers flicker, and says when a new estimate is worth an allocation. It is
// not safe for concurrent use; the bridge runs one receiver's allocations one at a time.
type Allocator struct {
	lim Limits
	hy  Hysteresis
	res Result

	prev    map[string]int // source ID → the layer it was last given (-1 none)
	have    bool           // an allocation has been made
	lastBwe int64          // the estimate of the last allocation
	lastAt  int64          // when it was made
	upAfter int64          // no source moves up before this time (after a forced move down)
	blocked bool           // the last allocation skipped moving up because of upAfter
}

// NewAllocator returns an Allocator with the given limits and hysteresis.
func NewAllocator(lim Limits, hy Hysteresis) (*Allocator, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("new allocator: %w", err)
	}
	if err := hy.Validate(); err != nil {
		return nil, fmt.Errorf("new allocator: %w", err)
	}
	return &Allocator{lim: lim, hy: hy, prev: map[string]int{}}, nil
}

// Allocate computes the allocation for the estimate bwe (Unlimited while untrusted) at time now (in
// nanoseconds on any monotonic clock; only differences matter). It runs the loop of Allocate twice:
//
//  1. capped at what each source was given last time: the layers that still fit the estimate are
//     kept, and the lowest-priority ones that do not are lowered at once;
//  2. from there, uncapped, but a source may only move above its last layer while the whole allocation
//     stays within estimate/(1+UpMargin), and not at all for UpDelayAfterDown after step 1 had to
//     lower one.
//
// The returned Result belongs to the Allocator and is overwritten by the next call.
func (a *Allocator) Allocate(sources []Source, speechOrder []string, s Settings, bwe int64, now int64) *Result {
	w := &a.res.w
	w.prepare(sources, speechOrder, &s, &a.lim)
	a.setHolds(w)
	w.setBudget(bwe, 0)
	w.allocate(true)
	if a.forcedDown(w) {
		a.upAfter = now + int64(a.hy.UpDelayAfterDown)
	}
	a.blocked = now < a.upAfter
	if !a.blocked {
		w.setBudget(bwe, int64(float64(max(bwe, 0))/(1+a.hy.UpMargin)))
		w.allocate(false)
	}
	w.finish(sources, &a.res)
	clear(a.prev)
	for i := range a.res.Sources {
		if al := &a.res.Sources[i]; i < len(w.st) && !w.st[i].duplicate {
			a.prev[al.ID] = al.Target
		}
	}
	a.have, a.lastBwe, a.lastAt = true, max(bwe, 0), now
	return &a.res
}

// setHolds gives each source the candidate position of the layer it had last time: the best candidate
// no better than that layer, -1 for a source that had nothing or is new.
func (a *Allocator) setHolds(w *work) {
	for i := range w.st {
		st := &w.st[i]
		st.hold = -1
		last, ok := a.prev[w.src[i].ID]
		if !ok || last < 0 || st.duplicate {
			continue
		}
		for p := st.n - 1; p >= 0; p-- {
			if int(w.cands[st.off+p]) <= last {
				st.hold = p
				break
			}
		}
	}
}

// forcedDown reports whether the capped pass left some source below its hold: the estimate no longer
// carries what it had.
func (a *Allocator) forcedDown(w *work) bool {
	for i := range w.st {
		if w.st[i].pos < w.st[i].hold {
			return true
		}
	}
	return false
}

// ShouldReallocate reports whether a new estimate (or the passing of time) calls for an allocation
// when nothing else changed: none was made yet, the estimate moved by more than ReallocChange of the
// last one allocated with (or became trusted, or untrusted), ReallocEvery has passed, or moving up was
// held back after a forced move down and may happen now. Changes of sources, layers, settings or the
// speech order call for one anyway; the caller knows about those.
func (a *Allocator) ShouldReallocate(bwe int64, now int64) bool {
	if !a.have || now-a.lastAt >= int64(a.hy.ReallocEvery) || a.blocked && now >= a.upAfter {
		return true
	}
	b, l := max(bwe, 0), a.lastBwe
	if (b == Unlimited) != (l == Unlimited) {
		return true
	}
	diff := b - l
	if diff < 0 {
		diff = -diff
	}
	return float64(diff) > a.hy.ReallocChange*float64(l)
}

// Last returns the result of the last allocation (empty before the first).
func (a *Allocator) Last() *Result { return &a.res }
