package alloc

import "fmt"

// Allocator is one receiver's allocator with memory: it adds hysteresis to Allocate so that a noisy
// estimate does not make layers flicker, and says when a new estimate is worth an allocation. It is
// not safe for concurrent use; the bridge runs one receiver's allocations one at a time.
type Allocator struct {
	lim Limits
	hy  Hysteresis
	res Result
	win window // recent estimates, for the up budget

	// prev is source ID → the layer it was last given (-1 none), built from res only when the sources
	// do not come in the same order as last time (the usual case needs no map work).
	prev     map[string]int
	prevOK   bool  // prev matches res
	have     bool  // an allocation has been made
	lastBwe  int64 // the estimate of the last allocation
	lastAt   int64 // when it was made
	upAfter  int64 // no source moves up before this time (after a forced move down)
	since    int64 // when the estimate became trusted; -1 while it is not
	blocked  bool  // the last allocation skipped moving up because of upAfter
	nextUp   int64 // the up budget at which the last allocation could have moved a source up
	seenAt   int64 // the last estimate recorded in win, and when, so a repeat is not counted twice
	seenBwe  int64
	seenOnce bool
	keepID   string // the first source of the last allocation, for KeepFor
	keepFrom int64  // since when it has been kept over the estimate; -1 while it fits
}

// NewAllocator returns an Allocator with the given limits and hysteresis.
func NewAllocator(lim Limits, hy Hysteresis) (*Allocator, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("new allocator: %w", err)
	}
	if err := hy.Validate(); err != nil {
		return nil, fmt.Errorf("new allocator: %w", err)
	}
	a := &Allocator{lim: lim, hy: hy, prev: map[string]int{}, keepFrom: -1, since: -1}
	a.win.width = int64(hy.UpWindow) / windowBuckets
	return a, nil
}

// Allocate computes the allocation for the estimate bwe (Unlimited while untrusted) at time now (in
// nanoseconds on any monotonic clock; only differences matter). It runs the loop of Allocate twice:
//
//  1. capped at what each source was given last time: the layers that still fit the latest estimate
//     are kept, and the lowest-priority ones that do not are lowered at once;
//  2. from there, uncapped, but a source may only move above its last layer while the whole allocation
//     stays within the up budget, mean estimate over UpWindow / (1+UpMargin), and not at all for
//     UpDelayAfterDown after an allocation ended with a source below its last layer. (Step 2 also
//     lets sources return to their last layer when step 1 stopped short of it behind an on-stage
//     source that had yet to climb, as after a change of stage.) A move down in the first UpWindow
//     of a trusted estimate starts no delay: the estimate is then the estimator's starting guess and
//     the layers' rates are still being measured, not a noisy estimate dipping (a receiver whose
//     estimate started at 1 Mbit/s and was at 7 Mbit/s within a second waited 4 s for the stage's
//     720p); the up budget, never above the latest estimate, still keeps a layer from coming back
//     that the estimate does not carry.
//
// The returned Result belongs to the Allocator and is overwritten by the next call.
func (a *Allocator) Allocate(sources []Source, speechOrder []string, s Settings, bwe int64, now int64) *Result {
	a.observe(bwe, now)
	w := &a.res.w
	w.prepare(sources, speechOrder, &s, &a.lim)
	a.setHolds(w)
	a.keepFirst(w, now)
	w.setBudget(bwe, -1)
	w.allocate(true)
	w.setBudget(bwe, a.upBudget(bwe, now))
	w.noUp = now < a.upAfter
	w.allocate(false)
	if a.forcedDown(w) && a.since >= 0 && now-a.since >= int64(a.hy.UpWindow) {
		a.upAfter = now + int64(a.hy.UpDelayAfterDown)
	}
	if w.kept != nil && w.kept.pos == 0 && !w.unlimited && w.total > w.budget {
		if a.keepFrom < 0 {
			a.keepFrom = now
		}
	} else {
		a.keepFrom = -1
	}
	a.blocked, a.nextUp = now < a.upAfter, w.nextUp
	w.finish(sources, &a.res)
	a.prevOK = false
	a.have, a.lastBwe, a.lastAt = true, max(bwe, 0), now
	return &a.res
}

// observe records an estimate in the window; an untrusted one forgets the window and any delay after
// a forced move down (without an estimate every source gets its ideal).
func (a *Allocator) observe(bwe, now int64) {
	bwe = max(bwe, 0)
	if a.seenOnce && a.seenAt == now && a.seenBwe == bwe {
		return
	}
	a.seenOnce, a.seenAt, a.seenBwe = true, now, bwe
	if bwe >= maxBps*maxSources {
		a.win.reset()
		a.upAfter, a.since = 0, -1
		return
	}
	if a.since < 0 {
		a.since = now
	}
	a.win.add(bwe, now)
}

// upBudget is the total a move up must keep the allocation within: the mean estimate over UpWindow
// divided by 1+UpMargin, and no more than the latest estimate.
func (a *Allocator) upBudget(bwe, now int64) int64 {
	bwe = max(bwe, 0)
	if bwe >= maxBps*maxSources {
		return bwe
	}
	mean, ok := a.win.mean(now)
	if !ok {
		mean = float64(bwe)
	}
	return min(int64(mean/(1+a.hy.UpMargin)), bwe)
}

// setHolds gives each source the candidate position of the layer it had last time: the best candidate
// no better than that layer, -1 for a source that had nothing or is new.
func (a *Allocator) setHolds(w *work) {
	for i := range w.st {
		st := &w.st[i]
		st.hold = -1
		last, ok := a.lastTarget(i, w.src[i].ID)
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

// lastTarget is the layer the last allocation gave source id, found at index i when the sources come
// in the same order, else by ID; ok false for a source it did not have.
func (a *Allocator) lastTarget(i int, id string) (layer int, ok bool) {
	last := a.res.Sources
	if !a.have {
		return -1, false
	}
	if i < len(last) && last[i].ID == id {
		return last[i].Target, true
	}
	if !a.prevOK {
		clear(a.prev)
		for k := range last {
			if _, dup := a.prev[last[k].ID]; !dup {
				a.prev[last[k].ID] = last[k].Target
			}
		}
		a.prevOK = true
	}
	layer, ok = a.prev[id]
	return layer, ok
}

// keepFirst lets the first source in the priority order keep its lowest candidate whatever the
// estimate, if it had a layer last time and has not been kept over the estimate for KeepFor already
// (a new first source starts afresh).
func (a *Allocator) keepFirst(w *work, now int64) {
	if a.hy.KeepFor <= 0 || len(w.order) == 0 {
		return
	}
	i := w.order[0]
	if id := w.src[i].ID; id != a.keepID {
		a.keepID, a.keepFrom = id, -1
	}
	st := &w.st[i]
	if st.hold < 0 || st.maxH == 0 || st.duplicate || a.keepFrom >= 0 && now-a.keepFrom >= int64(a.hy.KeepFor) {
		return
	}
	w.kept = st
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
// when nothing else changed. It does when:
//   - none was made yet, or ReallocEvery has passed since the last one;
//   - the estimate moved by more than ReallocChange since the last allocation, or became trusted or
//     untrusted (Jitsi's rule);
//   - the estimate no longer carries the allocation (a move down is due), or the up budget now
//     allows a move up the last allocation refused, or the delay after a forced move down ended:
//     the hysteresis decides on every estimate, not only on 15% steps.
//
// Call it with every new estimate: it records it for the up budget's mean. Changes of sources,
// layers, settings or the speech order call for an allocation anyway; the caller knows about those.
func (a *Allocator) ShouldReallocate(bwe int64, now int64) bool {
	a.observe(bwe, now)
	if !a.have || now-a.lastAt >= int64(a.hy.ReallocEvery) {
		return true
	}
	b := max(bwe, 0)
	if untrusted := b >= maxBps*maxSources; untrusted != (a.lastBwe >= maxBps*maxSources) {
		return true
	} else if untrusted {
		return false // every source has its ideal already
	}
	if a.moved(b, a.lastBwe) || !a.res.Oversending && b < a.res.TargetBps {
		return true
	}
	if a.keepFrom >= 0 && now-a.keepFrom >= int64(a.hy.KeepFor) {
		return true // the first source's keep over the estimate ran out
	}
	if a.blocked {
		return now >= a.upAfter
	}
	return a.upBudget(b, now) >= a.nextUp
}

// moved reports whether v differs from last by more than ReallocChange of last.
func (a *Allocator) moved(v, last int64) bool {
	d := v - last
	if d < 0 {
		d = -d
	}
	return float64(d) > a.hy.ReallocChange*float64(last)
}

// Last returns the result of the last allocation (empty before the first).
func (a *Allocator) Last() *Result { return &a.res }
