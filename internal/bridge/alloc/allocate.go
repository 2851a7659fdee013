package alloc

import "slices"

const (
	// maxBps bounds a layer's rate (1 Tbit/s) so sums over any number of layers cannot overflow.
	maxBps int64 = 1 << 40
	// maxLayers is how many of a source's layers are considered; the rest of a longer list is ignored
	// (real sources have at most 3 encodings × 3 temporal layers).
	maxLayers = 64
	// maxSources is how many sources are considered; the rest get nothing.
	maxSources = 1 << 20
)

// Allocate computes one receiver's allocation with Jitsi's semantics and no memory of earlier calls
// (the Allocator adds hysteresis). bwe is the estimate in bit/s, Unlimited while it is not trusted; a
// negative estimate counts as 0. out is overwritten; reuse it across calls.
func Allocate(sources []Source, speechOrder []string, s Settings, bwe int64, lim Limits, out *Result) {
	w := &out.w
	w.prepare(sources, speechOrder, &s, &lim)
	w.setBudget(bwe, -1)
	w.allocate(false)
	w.finish(sources, out)
}

// work is the scratch of one allocation. It lives in Result so that a reused Result needs no memory.
type work struct {
	lim   Limits
	src   []Source
	st    []srcState
	cands []int32 // candidate layer indices of every source, back to back
	keys  []int64 // priority sort keys
	order []int32 // source indices, highest priority first

	rank  map[string]int32 // endpoint ID → speech rank
	first map[string]int32 // source ID → index of its first occurrence
	sel   map[string]int32 // source ID → selection rank << 1 | on stage

	budget, up int64 // the estimate; moves above a source's hold must keep the total within up
	unlimited  bool
	noUp       bool      // no move above a hold at all (the Allocator's delay after a forced move down)
	kept       *srcState // its lowest candidate fits whatever the estimate (Hysteresis.KeepFor), or nil
	total      int64     // sum of the current targets' rates
	nextUp     int64     // the smallest total a refused move up needed (the Allocator reallocates when it fits)
}

// srcState is one source during an allocation. Positions index its candidates, not its layers.
type srcState struct {
	layers    []Layer // the source's layers (at most maxLayers)
	off, n    int32   // candidates are cands[off : off+n], indices into layers
	pref      int32   // position of the preferred layer (the on-stage goal), -1 none
	over      int32   // position an on-stage share may oversend to, -1 none
	pos       int32   // current target position, -1 none
	hold      int32   // highest position kept without the up margin (the Allocator's last target)
	maxH      int     // effective max height after last-N
	onStage   bool
	sending   bool // some layer is usable
	duplicate bool // an earlier source has the same ID
}

// prepare runs steps 1–3a: priority order, effective constraints, candidate layers.
func (w *work) prepare(sources []Source, speech []string, s *Settings, lim *Limits) {
	if len(sources) > maxSources {
		sources = sources[:maxSources]
	}
	w.lim, w.src, w.total, w.noUp, w.kept = *lim, sources, 0, false, nil
	w.prioritize(sources, speech, s)
	w.constrain(s)
	w.cands = w.cands[:0]
	for i := range w.st {
		w.candidates(&w.st[i], &sources[i])
	}
}

// prioritize orders the sources (step 1): on-stage then selected sources in the order given, then by
// their owner's place in the speech order (owners not in it after those in it), then sources whose
// video is off or whose ID repeats an earlier one. Ties keep the input order.
func (w *work) prioritize(sources []Source, speech []string, s *Settings) {
	if w.rank == nil {
		w.rank, w.first, w.sel = map[string]int32{}, map[string]int32{}, map[string]int32{}
	}
	clear(w.rank)
	clear(w.first)
	clear(w.sel)
	for i, id := range speech {
		if _, ok := w.rank[id]; !ok && i < maxSources {
			w.rank[id] = int32(i)
		}
	}
	nsel := int32(0)
	for k, list := range [2][]string{s.OnStage, s.Selected} {
		for _, id := range list {
			if _, ok := w.sel[id]; !ok && nsel < maxSources {
				w.sel[id] = nsel<<1 | int32(1-k)
				nsel++
			}
		}
	}
	w.st = slices.Grow(w.st[:0], len(sources))[:len(sources)]
	w.keys = w.keys[:0]
	for i := range sources {
		src := &sources[i]
		st := &w.st[i]
		*st = srcState{pref: -1, over: -1, pos: -1, hold: -1}
		if _, ok := w.first[src.ID]; ok {
			st.duplicate = true
		} else {
			w.first[src.ID] = int32(i)
		}
		var group, sub int64
		sel, selected := w.sel[src.ID]
		switch {
		case st.duplicate:
			group = 3
		case src.Disabled:
			group = 2
		case selected:
			group, sub = 0, int64(sel>>1)
			st.onStage = sel&1 == 1
		default:
			group, sub = 1, int64(len(speech))
			if r, ok := w.rank[src.Owner]; ok {
				sub = int64(r)
			}
		}
		w.keys = append(w.keys, group<<61|min(sub, maxSources)<<31|int64(i))
	}
	slices.Sort(w.keys)
	w.order = w.order[:0]
	for _, k := range w.keys {
		w.order = append(w.order, int32(k&(1<<31-1)))
	}
}

// constrain applies last-N (step 2): walking the priority order, the first LastN sources the receiver
// wants at all keep its constraint and every other one gets 0, so senders can be told which layers
// nobody needs before any bandwidth is weighed.
func (w *work) constrain(s *Settings) {
	taken := 0
	for _, i := range w.order {
		st, src := &w.st[i], &w.src[i]
		h := s.maxHeight(src.ID)
		if st.duplicate || src.Disabled {
			h = 0
		}
		if h != 0 && s.LastN >= 0 {
			if taken >= s.LastN {
				h = 0
			} else {
				taken++
			}
		}
		st.maxH = h
	}
}

// candidates lists the layers src may climb through (step 3a). Only usable layers count, unless none
// is, so that a source just announced can start. Every source with a layer gets at least one candidate.
func (w *work) candidates(st *srcState, src *Source) {
	layers := src.Layers
	if len(layers) > maxLayers {
		layers = layers[:maxLayers]
	}
	st.layers = layers
	st.off = int32(len(w.cands))
	for i := range layers {
		if layers[i].usable() {
			st.sending = true
			break
		}
	}
	if st.maxH == 0 || len(layers) == 0 {
		return
	}
	considered := func(l *Layer) bool { return !st.sending || l.usable() }
	minH, maxFPS := -1, 0.0
	for i := range layers {
		if l := &layers[i]; considered(l) {
			if minH < 0 || l.Height < minH {
				minH = l.Height
			}
			maxFPS = max(maxFPS, l.FPS)
		}
	}
	if src.Desktop {
		w.desktopCandidates(st, layers, considered, minH)
	} else {
		w.cameraCandidates(st, layers, considered, minH, maxFPS)
	}
	st.n = int32(len(w.cands)) - st.off
}

// cameraCandidates: frame rate before resolution above the preferred height. A camera layer is a
// candidate when it is below the preferred height (360p), or within the receiver's max height at the
// preferred frame rate (30, or the source's best if lower), or of the lowest height. The preferred
// layer is the best candidate no taller than the preferred height.
func (w *work) cameraCandidates(st *srcState, layers []Layer, considered func(*Layer) bool, minH int, maxFPS float64) {
	prefH := w.lim.OnStageHeight
	if st.maxH > 0 {
		prefH = min(prefH, st.maxH)
	}
	prefFPS := w.lim.OnStageFPS
	if maxFPS > 0 {
		prefFPS = min(prefFPS, maxFPS)
	}
	prefH = max(prefH, minH)
	for i := range layers {
		l := &layers[i]
		if !considered(l) {
			continue
		}
		within := st.maxH < 0 || l.Height <= st.maxH
		if l.Height < prefH || within && (l.FPS <= 0 || l.FPS >= prefFPS) || l.Height == minH {
			if l.Height <= prefH {
				st.pref = int32(len(w.cands)) - st.off
			}
			w.cands = append(w.cands, int32(i))
		}
	}
}

// desktopCandidates: resolution before frame rate. Every layer within the max height is a candidate
// (the lowest-height ones if none is); the preferred layer is the best. On stage, the cheapest layer of
// the best height is where the first-ranked source may oversend to.
func (w *work) desktopCandidates(st *srcState, layers []Layer, considered func(*Layer) bool, minH int) {
	for pass := 0; pass < 2 && len(w.cands) == int(st.off); pass++ {
		for i := range layers {
			l := &layers[i]
			if considered(l) && (st.maxH < 0 || l.Height <= st.maxH || pass == 1 && l.Height == minH) {
				w.cands = append(w.cands, int32(i))
			}
		}
	}
	n := int32(len(w.cands)) - st.off
	st.pref = n - 1
	if !st.onStage {
		return
	}
	bestH := -1
	for p := n - 1; p >= 0; p-- {
		if h := w.layer(st, p).Height; h > bestH {
			bestH, st.over = h, p
		} else if h == bestH {
			st.over = p
		}
	}
}

// layer is the Layer at candidate position p of st.
func (w *work) layer(st *srcState, p int32) *Layer {
	return &st.layers[w.cands[st.off+p]]
}

// cost is the rate of st's candidate at position p, 0 for -1.
func (w *work) cost(st *srcState, p int32) int64 {
	if p < 0 {
		return 0
	}
	return min(max(w.layer(st, p).Bps, 0), maxBps)
}

// setBudget sets the estimate and the total that moves above a hold must stay within; a negative up
// means the estimate itself.
func (w *work) setBudget(bwe, up int64) {
	w.unlimited = bwe >= maxBps*maxSources
	w.budget = max(bwe, 0)
	if up < 0 || up > w.budget {
		up = w.budget
	}
	w.up = up
}

// allocate runs the allocation loop (step 3b) from the current targets: passes over the sources in
// priority order, each improving every source by one step, until a pass changes nothing. A pass stops
// after an on-stage source still short of its preferred layer, so no thumbnail takes bits the stage
// needs; without a stage this is a round-robin (everyone at 180p before anyone at 360p). capped
// keeps every source at or below its hold.
func (w *work) allocate(capped bool) {
	w.nextUp = maxBps * maxSources
	limit := len(w.cands) + 2 // each changing pass moves some source up at least one position
	for pass := 0; pass < limit; pass++ {
		changed := false
		for k, i := range w.order {
			st := &w.st[i]
			if st.maxH == 0 || st.n == 0 {
				continue
			}
			if w.improve(st, k == 0, capped) {
				changed = true
			}
			if st.onStage && st.pos < st.pref {
				break
			}
		}
		if !changed {
			return
		}
	}
}

// improve moves st up by one step if the budget allows, and reports whether it moved. An on-stage
// source with nothing yet goes straight to the best layer up to its preferred one that fits; others
// climb one candidate. The first-ranked source may then oversend up to its oversend layer by
// MaxOversendBps; a one-layer on-stage share is forwarded whatever the estimate, as nothing else would
// show it. Finally st skips to a better candidate that costs no more than the one it reached.
func (w *work) improve(st *srcState, first, capped bool) bool {
	from := st.pos
	ceil := st.n - 1
	if capped {
		ceil = min(ceil, st.hold)
	}
	if from < 0 && st.onStage && st.pref >= 0 {
		for p := int32(0); p <= min(st.pref, ceil) && w.fits(st, from, p, 0); p++ {
			st.pos = p
		}
	} else if from+1 <= ceil && w.fits(st, from, from+1, 0) {
		st.pos = from + 1
	}
	if first && st.over > st.pos {
		for p := min(st.over, ceil); p > st.pos; p-- {
			if w.fits(st, from, p, w.lim.MaxOversendBps) {
				st.pos = p
				break
			}
		}
		if st.pos < 0 && st.n == 1 && ceil >= 0 {
			st.pos = 0
		}
	}
	if st.pos >= 0 {
		c := w.cost(st, st.pos)
		for p := ceil; p > st.pos; p-- {
			if w.cost(st, p) <= c {
				st.pos = p
				break
			}
		}
	}
	if st.pos == from {
		return false
	}
	w.total += w.cost(st, st.pos) - w.cost(st, from)
	return true
}

// fits reports whether st may move from position from to p: the extra rate fits in what the estimate
// (plus extra) leaves, and, above st's hold, the new total stays within the up budget (plus extra).
func (w *work) fits(st *srcState, from, p int32, extra int64) bool {
	if w.unlimited && !w.noUp {
		return true
	}
	d := w.cost(st, p) - w.cost(st, from)
	if d <= 0 || st == w.kept && p == 0 {
		return true
	}
	if p > st.hold && w.noUp {
		return false
	}
	if w.total+d > w.budget+extra || p > st.hold && w.total+d > w.up+extra {
		w.nextUp = min(w.nextUp, w.total+d-extra)
		return false
	}
	return true
}

// finish writes the outcome into out.
func (w *work) finish(sources []Source, out *Result) {
	out.Sources = slices.Grow(out.Sources[:0], len(sources))[:len(sources)]
	out.Forwarded = out.Forwarded[:0]
	out.TargetBps, out.IdealBps = 0, 0
	for i := range out.Sources {
		a := &out.Sources[i]
		*a = Allocation{ID: sources[i].ID, Target: -1, Ideal: -1}
		if i >= len(w.st) {
			continue // past maxSources
		}
		st := &w.st[i]
		a.EffectiveMaxHeight = st.maxH
		if st.n > 0 {
			a.Ideal = int(w.cands[st.off+st.n-1])
			a.IdealBps = w.cost(st, st.n-1)
		}
		if st.pos >= 0 {
			a.Target = int(w.cands[st.off+st.pos])
			a.TargetBps = w.cost(st, st.pos)
		}
		a.Suspended = st.maxH != 0 && st.sending && st.pos < 0
		out.TargetBps += a.TargetBps
		out.IdealBps += a.IdealBps
	}
	for _, i := range w.order {
		if w.st[i].pos >= 0 {
			out.Forwarded = append(out.Forwarded, sources[i].ID)
		}
	}
	out.Oversending = !w.unlimited && out.TargetBps > w.budget
	// Let go of the caller's sources: the scratch outlives the call.
	w.src = nil
	for i := range w.st {
		w.st[i].layers = nil
	}
}
