package bridge

import (
	"slices"
	"time"
)

// reassignLocked maps sender sources onto every receiver's slots (SSRC-rewriting mode, dialect §5.5):
// a source keeps its slot while it exists; sources without a slot take free slots, recent speakers first
// (the dominant speaker, then the previous ones), then in join order; when the slots are full, a recent
// speaker takes the slot of the source ranked last if that one ranks below it; a slot whose source went
// away is freed. Newly mapped slots are announced with VideoSourcesMap/AudioSourcesMap
// and their sources asked for a key frame; senders hear what they should now send. c.mu is held.
func (c *Conference) reassignLocked() {
	var all []*source
	for _, e := range c.order {
		all = append(all, e.sources...)
	}
	all = append(all, c.relayedSourcesLocked()...) // other bridges' senders (relay.go)
	subs := make(map[*source][]*slot, len(all))
	var keyframes []*source
	// Candidates for free slots: the dominant speaker's sources, then the previous speakers', most
	// recent first, then everyone else's in join order. rank is 1 for the dominant speaker, 2 for the
	// previous one and so on, 0 for who has not spoken; order is the join order.
	rank, order := map[string]int{}, map[string]int{}
	dom, prev := c.speech.current()
	for i, id := range append([]string{dom}, prev...) {
		if id != "" && rank[id] == 0 {
			rank[id] = i + 1
		}
	}
	for i, e := range c.order {
		order[e.id] = i
	}
	candidates := slices.Clone(all)
	slices.SortStableFunc(candidates, func(a, b *source) int {
		switch {
		case ranksBefore(a, b, rank, order):
			return -1
		case ranksBefore(b, a, rank, order):
			return 1
		}
		return 0
	})
	for _, r := range c.order {
		var newVideo, newAudio []*slotMapping
		r.sendMu.Lock()
		for _, slots := range [][]*slot{r.audioSlots, r.videoSlots} {
			kind := slots[0].kind
			avail := map[string]*source{}
			for _, src := range all {
				if src.owner != r && src.kind == kind {
					avail[src.key] = src
				}
			}
			used := map[string]bool{}
			for _, sl := range slots {
				if sl.src == nil {
					continue
				}
				if ns := avail[sl.src.key]; ns != nil {
					sl.src = ns
					used[ns.key] = true
				} else {
					sl.src = nil
					sl.proj.reset()
				}
			}
			for _, src := range candidates {
				if src.owner == r || src.kind != kind || used[src.key] {
					continue
				}
				sl := freeSlot(slots)
				if sl == nil {
					// Full: a recent speaker takes the slot of the source ranked last, if that one
					// ranks below it (has not spoken since, or joined later without speaking).
					if rank[src.owner.id] == 0 {
						break // the candidates that follow have not spoken either
					}
					if sl = lastRanked(slots, rank, order); sl == nil || !ranksBefore(src, sl.src, rank, order) {
						continue
					}
				}
				sl.src = src
				sl.proj.reset()
				used[src.key] = true
				if kind == KindVideo {
					newVideo = append(newVideo, mappingOf(sl))
					keyframes = append(keyframes, src)
				} else {
					newAudio = append(newAudio, mappingOf(sl))
				}
			}
			for _, sl := range slots {
				if sl.src != nil {
					subs[sl.src] = append(subs[sl.src], sl)
				}
			}
		}
		r.applyLimitsLocked()
		forwarded := r.forwardedLocked()
		r.sendMu.Unlock()
		r.ch.announce(newVideo, newAudio)
		r.ch.sendForwarded(forwarded)
	}
	for _, src := range all {
		list := subs[src]
		src.subscribers.Store(&list)
	}
	now := time.Now().UnixNano()
	c.senderConstraintsLocked(now)
	for _, src := range keyframes {
		src.requestKeyframe(now)
	}
}

// freeSlot returns the first slot without a source, nil when all carry one.
func freeSlot(slots []*slot) *slot {
	for _, sl := range slots {
		if sl.src == nil {
			return sl
		}
	}
	return nil
}

// ranksBefore reports whether source a comes before b for a slot: a more recent speaker, or, when
// neither has spoken, an earlier join.
func ranksBefore(a, b *source, rank, order map[string]int) bool {
	ra, rb := rank[a.owner.id], rank[b.owner.id]
	switch {
	case ra != 0 && rb != 0:
		return ra < rb
	case ra != 0 || rb != 0:
		return ra != 0
	}
	return order[a.owner.id] < order[b.owner.id]
}

// lastRanked returns the slot whose source comes last (ranksBefore), nil for no slots.
func lastRanked(slots []*slot, rank, order map[string]int) *slot {
	var last *slot
	for _, sl := range slots {
		if sl.src != nil && (last == nil || ranksBefore(last.src, sl.src, rank, order)) {
			last = sl
		}
	}
	return last
}

// forwardedLocked lists the video sources currently forwarded to r (ForwardedSources): mapped onto a
// slot and not limited to height 0. sendMu is held.
func (r *Endpoint) forwardedLocked() []string {
	out := []string{}
	if !r.videoOn.Load() {
		return out
	}
	for _, sl := range r.videoSlots {
		if sl.src != nil && sl.maxHeight != 0 && sl.maxLayer >= 0 {
			out = append(out, sl.src.name)
		}
	}
	return out
}

// mappings describes the slots of the given kind that carry a source (for VideoSourcesMap/AudioSourcesMap
// on channel open); sendMu must not be held.
func (r *Endpoint) mappings() (video, audio []*slotMapping) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	for _, sl := range r.videoSlots {
		if sl.src != nil {
			video = append(video, mappingOf(sl))
		}
	}
	for _, sl := range r.audioSlots {
		if sl.src != nil {
			audio = append(audio, mappingOf(sl))
		}
	}
	return video, audio
}

// slotMapping is one entry of VideoSourcesMap / AudioSourcesMap (dialect §6.2).
type slotMapping struct {
	Source    string `json:"source"`
	Owner     string `json:"owner"`
	SSRC      uint32 `json:"ssrc"`
	RTX       uint32 `json:"rtx,omitempty"`
	VideoType string `json:"videoType,omitempty"`
}

// mappingOf describes sl; the receiver's sendMu is held (sl.src) and source fields are immutable.
func mappingOf(sl *slot) *slotMapping {
	m := &slotMapping{Source: sl.src.name, Owner: sl.src.owner.id, SSRC: sl.ssrc}
	if sl.kind == KindVideo {
		m.RTX = sl.rtxSSRC
		switch sl.src.videoType {
		case "desktop":
			m.VideoType = "DESKTOP"
		default:
			m.VideoType = "CAMERA"
		}
	}
	return m
}
