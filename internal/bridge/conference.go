package bridge

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/bridge/packetcache"
)

// Conference holds the endpoints of one meeting and decides which sender source fills which slot of
// which receiver.
type Conference struct {
	id string
	b  *Bridge
	m  conferenceMetrics

	mu        sync.Mutex // guards endpoints and order, every endpoint's sources, and slot assignment
	endpoints map[string]*Endpoint
	order     []*Endpoint // join order: older senders get slots first

	speech speech // the dominant speaker (speaker.go)

	// senderLowering: some source waits to tell its sender a lower height (allocate.go); guarded by mu.
	senderLowering bool

	relays relaySet // relays to the conference's other bridges (relay.go); the map is guarded by mu
}

func newConference(b *Bridge, id string) *Conference {
	return &Conference{id: id, b: b, m: b.metrics.forConference(id), endpoints: map[string]*Endpoint{}}
}

func (c *Conference) endpoint(id string) *Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoints[id]
}

func (c *Conference) empty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.endpoints) == 0
}

// members returns a snapshot of the endpoints.
func (c *Conference) members() []*Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Endpoint(nil), c.order...)
}

func (c *Conference) allocate(id string) (*Endpoint, error) {
	if c.endpoint(id) != nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrEndpointExists, c.id, id)
	}
	e, err := newEndpoint(c, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.endpoints[id] != nil {
		c.mu.Unlock()
		e.cancel()
		_ = e.agent.Close()
		return nil, fmt.Errorf("%w: %s/%s", ErrEndpointExists, c.id, id)
	}
	moved := c.dropRelayedLocked(id)
	c.endpoints[id] = e
	c.order = append(c.order, e)
	c.reassignLocked()
	c.mu.Unlock()
	if moved {
		c.speech.forget(id) // the relayed one's speech; the endpoint starts afresh here
	}
	c.m.endpoints.Inc()
	e.log.Info("endpoint allocated", "was_relayed", moved)
	return e, nil
}

// dropRelayedLocked forgets the relayed endpoint id stands for behind any of c's relays, and reports
// whether there was one: the participant now has an endpoint on this bridge. That happens when its
// bridge failed and the focus moved it here before the relay to the failed bridge was closed (closing
// it waits for the failed bridge to answer or time out); until then its sources, kept under the same
// names and SSRCs behind the dead relay, would hold the receivers' slots the new endpoint's sources
// need. c.mu is held.
func (c *Conference) dropRelayedLocked(id string) bool {
	dropped := false
	for _, r := range c.relays.m {
		e := r.endpoints[id]
		if e == nil {
			continue
		}
		for _, src := range e.sources {
			src.subscribers.Store(nil)
		}
		e.sources = nil
		e.cancel()
		delete(r.endpoints, id)
		r.publishSSRCsLocked()
		dropped = true
	}
	return dropped
}

// remove takes an expired endpoint out, frees its slots elsewhere and forgets the conference when empty.
func (c *Conference) remove(e *Endpoint) {
	c.mu.Lock()
	if c.endpoints[e.id] != e {
		c.mu.Unlock()
		return
	}
	delete(c.endpoints, e.id)
	for i, x := range c.order {
		if x == e {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
	for _, src := range e.sources {
		src.subscribers.Store(nil)
	}
	e.sources = nil
	c.reassignLocked()
	c.mu.Unlock()
	c.speech.forget(e.id)
	c.m.endpoints.Dec()
	c.b.removeConferenceIfEmpty(c)
}

func (c *Conference) expireAll() {
	for _, e := range c.members() {
		e.expire("bridge closing")
	}
}

// validateSources checks an endpoint's sources and groups (Jicofo's rules, dialect §5.5) and builds the
// logical sources: SIM groups make layers, FID groups mark RTX streams.
func (c *Conference) validateSources(owner string, in []Source, groups []Group) ([]*source, error) {
	limit := c.b.cfg.MaxSourcesPerEndpoint
	if len(in) > limit || len(groups) > limit {
		return nil, fmt.Errorf("%w: %d sources, %d groups (max %d)", ErrBadSources, len(in), len(groups), limit)
	}
	byssrc := map[uint32]*Source{}
	for i := range in {
		s := &in[i]
		if s.Kind != KindAudio && s.Kind != KindVideo {
			return nil, fmt.Errorf("%w: kind %q", ErrBadSources, s.Kind)
		}
		if s.SSRC == 0 || byssrc[s.SSRC] != nil {
			return nil, fmt.Errorf("%w: ssrc %d zero or repeated", ErrBadSources, s.SSRC)
		}
		if s.Name != "" && !isToken(s.Name) {
			return nil, fmt.Errorf("%w: source name %q", ErrBadSources, s.Name)
		}
		byssrc[s.SSRC] = s
	}
	c.mu.Lock()
	for _, e := range c.endpoints {
		if e.id == owner {
			continue
		}
		for _, src := range e.sources {
			for _, l := range src.layers {
				if byssrc[l.ssrc] != nil {
					c.mu.Unlock()
					return nil, fmt.Errorf("%w: ssrc %d belongs to %s", ErrBadSources, l.ssrc, e.id)
				}
			}
		}
		for ssrc := range *e.inbound.Load() {
			if byssrc[ssrc] != nil {
				c.mu.Unlock()
				return nil, fmt.Errorf("%w: ssrc %d belongs to %s", ErrBadSources, ssrc, e.id)
			}
		}
	}
	c.mu.Unlock()

	rtxOf := map[uint32]uint32{} // rtx ssrc → primary
	layersOf := map[uint32][]uint32{}
	inSIM := map[uint32]bool{}
	for _, g := range groups {
		for _, ssrc := range g.SSRCs {
			if byssrc[ssrc] == nil {
				return nil, fmt.Errorf("%w: group %s names unknown ssrc %d", ErrBadSources, g.Semantics, ssrc)
			}
		}
		switch g.Semantics {
		case GroupFID:
			if len(g.SSRCs) != 2 || byssrc[g.SSRCs[0]].Kind != KindVideo || g.SSRCs[0] == g.SSRCs[1] {
				return nil, fmt.Errorf("%w: bad FID group", ErrBadSources)
			}
			if _, dup := rtxOf[g.SSRCs[1]]; dup {
				return nil, fmt.Errorf("%w: ssrc %d in two FID groups", ErrBadSources, g.SSRCs[1])
			}
			rtxOf[g.SSRCs[1]] = g.SSRCs[0]
		case GroupSIM:
			if len(g.SSRCs) < 1 || len(g.SSRCs) > 3 {
				return nil, fmt.Errorf("%w: SIM group of %d", ErrBadSources, len(g.SSRCs))
			}
			for _, ssrc := range g.SSRCs {
				if inSIM[ssrc] || byssrc[ssrc].Kind != KindVideo {
					return nil, fmt.Errorf("%w: bad SIM group", ErrBadSources)
				}
				inSIM[ssrc] = true
			}
			layersOf[g.SSRCs[0]] = g.SSRCs
		default:
			// Other semantics (FEC-FR, …) are ignored.
		}
	}
	for rtx, prim := range rtxOf {
		if _, isRTX := rtxOf[prim]; isRTX || inSIM[rtx] {
			return nil, fmt.Errorf("%w: rtx ssrc %d misused", ErrBadSources, rtx)
		}
	}

	var out []*source
	names := map[string]bool{}
	streams := map[uint32]*inStream{}
	counts := map[string]int{}
	for i := range in {
		s := &in[i]
		if _, isRTX := rtxOf[s.SSRC]; isRTX {
			continue
		}
		if inSIM[s.SSRC] && layersOf[s.SSRC] == nil {
			continue // a higher layer: part of the source its SIM group starts with
		}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("%s-%c%d", owner, s.Kind[0], counts[s.Kind])
		}
		counts[s.Kind]++
		if names[name] {
			return nil, fmt.Errorf("%w: source name %q repeated", ErrBadSources, name)
		}
		names[name] = true
		src := &source{key: owner + "/" + name, name: name, kind: s.Kind, videoType: strings.ToLower(s.VideoType),
			senderHeight: senderUnsent}
		ssrcs := layersOf[s.SSRC]
		if ssrcs == nil {
			ssrcs = []uint32{s.SSRC}
		}
		for i, ssrc := range ssrcs {
			st := newInStream(ssrc, src, i)
			src.layers = append(src.layers, st)
			streams[ssrc] = st
		}
		out = append(out, src)
	}
	for rtx, prim := range rtxOf {
		p := streams[prim]
		if p == nil {
			return nil, fmt.Errorf("%w: rtx ssrc %d repairs no primary", ErrBadSources, rtx)
		}
		st := newInStream(rtx, p.src, p.layer)
		st.rtx, st.prim = true, p
		streams[rtx] = st
		p.src.rtx = append(p.src.rtx, st)
	}
	return out, nil
}

// setSources makes srcs the endpoint's sources: the packet path sees the new SSRC table, and the slots
// of every receiver are reassigned. A published source and its streams are never changed (the packet
// path reads them without a lock): a source signalled again unchanged keeps its object, so nothing
// about it changes for slots, projections or its sender; a changed one is replaced by the new object,
// whose streams share the state (cache, statistics) of the streams that keep their SSRC.
func (c *Conference) setSources(e *Endpoint, srcs []*source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endpoints[e.id] != e && !c.relayedLocked(e) {
		return
	}
	old := *e.inbound.Load()
	prev := make(map[string]*source, len(e.sources))
	for _, src := range e.sources {
		prev[src.key] = src
	}
	table := make(map[uint32]*inStream, len(old))
	for i, src := range srcs {
		if o := prev[src.key]; o != nil && o.sameAs(src) {
			srcs[i], src = o, o
		} else {
			src.owner = e
			for _, streams := range [][]*inStream{src.layers, src.rtx} {
				for _, l := range streams {
					if o := old[l.ssrc]; o != nil && o.rtx == l.rtx && o.src.key == src.key && o.src.kind == src.kind {
						l.streamState = o.streamState // l is not published yet; o's state is only shared
					} else if src.kind == KindVideo && !l.rtx {
						l.cache = packetcache.New(c.b.cfg.PacketCacheSize)
						l.nack = &nackTracker{}
					}
				}
			}
		}
		for _, l := range src.layers {
			table[l.ssrc] = l
		}
		for _, l := range src.rtx {
			table[l.ssrc] = l
		}
	}
	e.sources = srcs
	e.inbound.Store(&table)
	c.reassignLocked()
}

// sameAs reports whether n (not yet published) signals what src already is: kind, video type and the
// same SSRCs in the same roles.
func (src *source) sameAs(n *source) bool {
	if src.kind != n.kind || src.videoType != n.videoType ||
		len(src.layers) != len(n.layers) || len(src.rtx) != len(n.rtx) {
		return false
	}
	for i, l := range src.layers {
		if l.ssrc != n.layers[i].ssrc {
			return false
		}
	}
	for _, r := range n.rtx {
		if !slices.ContainsFunc(src.rtx, func(o *inStream) bool { return o.ssrc == r.ssrc && o.layer == r.layer }) {
			return false
		}
	}
	return true
}

// endpointConnected sends what a newly connected endpoint needs: key frames for the sources it receives.
func (c *Conference) endpointConnected(e *Endpoint) {
	for _, sl := range e.videoSlots {
		e.sendMu.Lock()
		src := sl.src
		e.sendMu.Unlock()
		if src != nil {
			src.requestKeyframe(time.Now().UnixNano())
		}
	}
}
