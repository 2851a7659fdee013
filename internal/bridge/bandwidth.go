package bridge

import (
	"time"

	"github.com/parley-im/parley/internal/bridge/alloc"
)

// Bandwidth allocation (sfu-quality.md §7.3): every allocation tick the congestion loop gives each
// receiver with an estimator the layers of its video slots that fit its estimate. The receiver's
// constraints and last-N are applied first (allocate.go: each slot's maxHeight); the allocator
// (package alloc, Jitsi's order and hysteresis) then fits what is left to the estimate minus the
// audio, and each slot forwards at most the layer it was given (slot.maxLayer, applied per packet by
// targetLayer and switched at key frames). A receiver without transport-cc feedback is not limited.

// bwAlloc is one receiver's allocation state, owned by the congestion loop.
type bwAlloc struct {
	a        *alloc.Allocator
	sources  []alloc.Source
	layers   []alloc.Layer // backing store of every source's Layers
	slots    []*slot       // the slot of each entry of sources
	heights  map[string]int
	speakers []string
	redSince int64 // when the loss last called for the current redundancy level (red.go)
}

// feedbackWait is how long a receiver that accepted transport-cc is held to its estimator's start
// before its first feedback. Waiting for the feedback instead (sfu-quality.md §7.4: trust the estimate
// after the first feedback) gave every source its ideal layer for the first round trip: behind
// 500 kbit/s, the key frames of a 720p stage and three thumbnails, more than a second of the link,
// most of it dropped. A receiver with no feedback by feedbackWait never sends any: it gets every
// source's ideal, as one without transport-cc.
const feedbackWait = 3 * time.Second

// estimateTrusted reports whether r's estimate governs what it is sent at now (unix ns).
func (r *Endpoint) estimateTrusted(now int64) bool {
	if r.est == nil {
		return false
	}
	if r.tccReports.Load() > 0 {
		return true
	}
	at := r.connectedAt.Load()
	return at > 0 && now-at < int64(feedbackWait)
}

// allocate re-fits r's video to its estimate (congestion loop).
func (r *Endpoint) allocate(now time.Time) {
	if !r.connected.Load() || r.est == nil || !r.videoOn.Load() { // connected first: est is set before the transport starts
		return
	}
	ba := &r.bw
	if ba.a == nil {
		a, err := alloc.NewAllocator(alloc.DefaultLimits(), alloc.DefaultHysteresis())
		if err != nil {
			r.log.Error("bandwidth allocator", "err", err)
			return
		}
		ba.a, ba.heights = a, map[string]int{}
	}
	// Trusted from the start for a receiver that accepted transport-cc (estimateTrusted); otherwise every
	// source gets its ideal layer.
	bwe := alloc.Unlimited
	audio := int64(0)
	if r.estimateTrusted(now.UnixNano()) {
		est := r.est.Estimate()
		r.b.metrics.estimate.Observe(float64(est))
		if r.redPT != 0 {
			r.updateRedLevel(r.est.Stats().LossFraction, r.audioBaseRate(), est, now.UnixNano())
		}
		audio = r.audioRate()
		bwe = max(est-audio, 0)
	}
	start := time.Now() // not now: the tick's time, shared by every receiver
	settings := r.allocSettings()
	nowNs := now.UnixNano()

	r.sendMu.Lock()
	ba.collect(r.videoSlots, nowNs)
	settings.MaxHeight = ba.heights
	res := ba.a.Allocate(ba.sources, ba.speakers, settings, bwe, nowNs)
	for i, al := range res.Sources {
		if ba.slots[i].applyTarget(ba.sources[i].Layers, al.Target) {
			r.b.metrics.layerCaps.Inc()
		}
	}
	fwd := r.forwardedLocked()
	r.sendMu.Unlock()
	r.b.metrics.allocTime.Observe(time.Since(start).Seconds())

	// What is sent with the allocation: its video and the audio. The probes fill the estimate above it
	// (and only while the ideal is more), so they never crowd out the audio.
	r.allocTarget.Store(res.TargetBps + audio)
	r.allocIdeal.Store(res.IdealBps + audio)
	r.ch.sendForwarded(fwd)
}

// applyTarget limits the slot to layers[target] (the allocator's target, -1 suspended): its simulcast
// encoding and temporal layer. It reports a change from an earlier limit; sendMu is held.
func (sl *slot) applyTarget(layers []alloc.Layer, target int) (changed bool) {
	enc, tid := -1, uint8(maxTemporal)
	if target >= 0 {
		enc, tid = layers[target].Encoding, uint8(layers[target].Temporal)
	}
	if sl.maxLayer == enc && sl.allocTemporal == tid {
		return false
	}
	changed = sl.maxLayer != noLayerCap
	sl.maxLayer = enc
	sl.setTemporal(sl.fpsTemporal, tid)
	return changed
}

// allocSettings reads r's on-stage and selected sources and the speech order; the slots' heights
// already carry the rest of its constraints and last-N.
func (r *Endpoint) allocSettings() alloc.Settings {
	r.ch.mu.Lock()
	s := alloc.Settings{LastN: -1, DefaultMaxHeight: -1,
		OnStage: r.ch.settings.OnStageSources, Selected: r.ch.settings.SelectedSources}
	r.ch.mu.Unlock() // the lists are replaced, never changed in place
	dom, prev := r.conf.speech.current()
	ba := &r.bw
	ba.speakers = ba.speakers[:0]
	if dom != "" {
		ba.speakers = append(append(ba.speakers, dom), prev...)
	}
	return s
}

// collect describes r's mapped video slots to the allocator: one layer per simulcast encoding with its
// measured bit rate or, for an encoding with temporal layers, one per temporal layer within the slot's
// frame rate, with the rates of the temporal layers up to it (at 7.5, 15 and 30 fps); sendMu is held.
func (ba *bwAlloc) collect(slots []*slot, now int64) {
	ba.sources, ba.slots, ba.layers = ba.sources[:0], ba.slots[:0], ba.layers[:0]
	clear(ba.heights)
	for _, sl := range slots {
		if sl.src == nil {
			continue
		}
		src := sl.src
		start := len(ba.layers)
		for i, s := range src.layers {
			active := s.rate.bps.Load() > 0
			if len(src.layers) > 1 {
				active = active && now-s.seen.Load() < staleLayer
			}
			if !s.layered.Load() {
				ba.layers = append(ba.layers, alloc.Layer{Encoding: i, Temporal: maxTemporal, Height: src.layerHeight(i),
					FPS: 30, Bps: s.rate.bps.Load(), Active: active})
				continue
			}
			var bps int64
			for t := range int(sl.fpsTemporal) + 1 {
				bps += s.tidRate[t].bps.Load()
				ba.layers = append(ba.layers, alloc.Layer{Encoding: i, Temporal: t, Height: src.layerHeight(i),
					FPS: 30 / float64(int(1)<<(maxTemporal-t)), Bps: bps, Active: active && bps > 0})
			}
		}
		ba.sources = append(ba.sources, alloc.Source{ID: src.name, Owner: src.owner.id,
			Desktop: src.videoType == "desktop", Layers: ba.layers[start:len(ba.layers):len(ba.layers)]})
		ba.slots = append(ba.slots, sl)
		ba.heights[src.name] = sl.maxHeight
	}
}

// audioRate is the bit rate of the audio r's slots carry now, with its RED copies: the estimate minus it
// is what video may use.
func (r *Endpoint) audioRate() int64 {
	bps := r.audioBaseRate()
	if r.redPT != 0 {
		bps *= 1 + int64(r.redLevel.Load())
	}
	return bps
}

// audioBaseRate is the bit rate of the audio r's slots carry now, without RED copies.
func (r *Endpoint) audioBaseRate() int64 {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	var bps int64
	for _, sl := range r.audioSlots {
		if sl.src != nil && len(sl.src.layers) > 0 {
			bps += sl.src.layers[0].rate.bps.Load()
		}
	}
	return bps
}
