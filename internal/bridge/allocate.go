package bridge

import "time"

// Which video each receiver gets (dialect §11.4, without bandwidth estimation yet): the receiver's
// ReceiverVideoConstraints give every source a maximum height, and each video slot carries the source's
// simulcast layer that fits it (targetLayer), switching at key frames. Sources are ranked on-stage first,
// then selected, then by speech (the dominant speaker, then the previous ones), then the rest in slot
// order; with lastN ≥ 0 the sources ranked past lastN get height 0, which is no video at all. Each sender
// hears the tallest height any receiver wants of each of its video sources (SenderSourceConstraints), so
// it can stop encoding layers nobody receives.

// limits is what the height of each video slot is computed from.
type limits struct {
	lastN         int
	defaultHeight int
	heights       map[string]int // source name → maxHeight (-1 unlimited, 0 off)
	defaultFPS    float64
	fps           map[string]float64 // source name → maxFrameRate (-1 unlimited)
	first         []string           // on-stage then selected source names
	speakers      []string           // endpoint IDs, dominant speaker first
}

// limitsOf reads r's bridge-channel settings and its conference's speech order. It takes the channel's
// lock and the speech lock in turn, which may be done with sendMu held (neither is ever held while
// taking sendMu).
func (r *Endpoint) limitsOf() limits {
	r.ch.mu.Lock()
	s := &r.ch.settings
	l := limits{lastN: s.LastN, defaultHeight: s.DefaultMaxHeight, heights: s.Constraints,
		defaultFPS: s.DefaultMaxFrameRate, fps: s.FrameRates}
	if len(s.OnStageSources)+len(s.SelectedSources) > 0 {
		l.first = make([]string, 0, len(s.OnStageSources)+len(s.SelectedSources))
		l.first = append(append(l.first, s.OnStageSources...), s.SelectedSources...)
	}
	r.ch.mu.Unlock() // s.Constraints and s.FrameRates are replaced, never changed in place
	if l.lastN >= 0 {
		dom, prev := r.conf.speech.current()
		if dom != "" {
			l.speakers = append([]string{dom}, prev...)
		}
	}
	return l
}

// applyLimitsLocked sets the maximum height of each of r's video slots from its settings as they are
// now; sendMu is held, so two updates cannot apply their readings out of order.
func (r *Endpoint) applyLimitsLocked() {
	l := r.limitsOf()
	height := func(src *source) int {
		if h, ok := l.heights[src.name]; ok {
			return h
		}
		return l.defaultHeight
	}
	for _, sl := range r.videoSlots {
		if sl.src != nil {
			fps, ok := l.fps[sl.src.name]
			if !ok {
				fps = l.defaultFPS
			}
			sl.setTemporal(temporalFor(fps), sl.allocTemporal)
		}
	}
	if l.lastN < 0 {
		for _, sl := range r.videoSlots {
			if sl.src != nil {
				sl.maxHeight = height(sl.src)
			}
		}
		return
	}
	// Rank the mapped sources; a slot not ranked within lastN gets 0. A source the receiver asked not
	// to see (height 0) takes no place in lastN (as in Jitsi).
	ranked := 0
	done := make(map[*slot]bool, len(r.videoSlots))
	take := func(sl *slot) {
		if done[sl] {
			return
		}
		done[sl] = true
		h := height(sl.src)
		switch {
		case h == 0:
			sl.maxHeight = 0
		case ranked < l.lastN:
			sl.maxHeight = h
			ranked++
		default:
			sl.maxHeight = 0
		}
	}
	for _, name := range l.first {
		for _, sl := range r.videoSlots {
			if sl.src != nil && sl.src.name == name {
				take(sl)
			}
		}
	}
	for _, id := range l.speakers {
		for _, sl := range r.videoSlots {
			if sl.src != nil && sl.src.owner.id == id {
				take(sl)
			}
		}
	}
	for _, sl := range r.videoSlots {
		if sl.src != nil {
			take(sl)
		}
	}
}

// updateLimits recomputes r's slot heights after its constraints changed, tells it when the set of
// forwarded sources changed and the senders when what they should send changed.
func (r *Endpoint) updateLimits() {
	r.sendMu.Lock()
	r.applyLimitsLocked()
	fwd := r.forwardedLocked()
	r.sendMu.Unlock()
	r.ch.sendForwarded(fwd)
	r.conf.senderConstraints()
}

// senderUnsent marks a source whose owner has not been told a height yet.
const senderUnsent = -2

// senderLowerAfter is how long a lower height must stand before the sender hears it: a layout change
// often lowers one tile for a moment before raising it again, and each time a sender stops and restarts
// a layer costs a key frame. A higher height is sent at once. With housekeeping's tick (at most 500 ms)
// a sender hears a lower height within 1 s (sfu-quality.md §7.5 criterion 10).
const senderLowerAfter = int64(500 * time.Millisecond)

// senderConstraints sends SenderSourceConstraints for each video source whose tallest wanted height
// changed.
func (c *Conference) senderConstraints() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.senderConstraintsLocked(time.Now().UnixNano())
}

// senderConstraintsLocked is senderConstraints with c.mu held (slot assignment, housekeeping).
func (c *Conference) senderConstraintsLocked(now int64) {
	want := map[*source]int{}
	for _, r := range c.order {
		if !r.videoOn.Load() {
			continue
		}
		r.sendMu.Lock()
		for _, sl := range r.videoSlots {
			if sl.src == nil {
				continue
			}
			if h, mh := want[sl.src], sl.maxHeight; h < 0 || mh < 0 {
				want[sl.src] = -1
			} else {
				want[sl.src] = max(h, mh)
			}
		}
		r.sendMu.Unlock()
	}
	c.relayWantsLocked(want)
	c.senderLowering = false
	for _, e := range c.order {
		for _, src := range e.sources {
			h := want[src]
			if src.kind != KindVideo {
				continue
			}
			if h == src.senderHeight {
				src.lowerSince = 0
				continue
			}
			if src.senderHeight != senderUnsent && tallerThan(src.senderHeight, h) {
				if src.lowerSince == 0 || src.lowerTo != h {
					src.lowerSince, src.lowerTo = now, h
				}
				if now-src.lowerSince < senderLowerAfter {
					c.senderLowering = true // housekeeping looks again
					continue
				}
			}
			src.senderHeight, src.lowerSince = h, 0
			e.ch.sendJSON(senderSourceConstraints{Class: classSenderConstraints, SourceName: src.name, MaxHeight: h})
		}
	}
}

// tallerThan reports whether maxHeight a allows more than b (-1 is unlimited).
func tallerThan(a, b int) bool {
	switch {
	case a < 0:
		return b >= 0
	case b < 0:
		return false
	}
	return a > b
}

// senderConstraintMsgs is what e's sources were last told, to repeat on a newly opened channel.
func (e *Endpoint) senderConstraintMsgs() []senderSourceConstraints {
	e.conf.mu.Lock()
	defer e.conf.mu.Unlock()
	var msgs []senderSourceConstraints
	for _, src := range e.sources {
		if src.kind == KindVideo && src.senderHeight != senderUnsent {
			msgs = append(msgs, senderSourceConstraints{Class: classSenderConstraints, SourceName: src.name, MaxHeight: src.senderHeight})
		}
	}
	return msgs
}
