package cluster

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/bridgeapi"
)

// HeartbeatInterval is how often a bridge reports itself; MissedAfter is how long the registry waits
// for the next report before it takes the bridge out.
const (
	HeartbeatInterval = time.Second
	MissedAfter       = 3 * time.Second
)

// Registry is the signal node's view of the bridges, from their heartbeats, and which bridge each
// conference uses. It is safe for concurrent use.
type Registry struct {
	now func() time.Time

	mu      sync.Mutex
	bridges map[string]*known      // guarded by mu: by bridge ID
	confs   map[string]*conference // guarded by mu: by conference ID
}

// known is one bridge as last heard.
type known struct {
	hb    Heartbeat
	heard time.Time
}

// conference is where one conference's endpoints live: by bridge, the endpoints there. A conference
// spans bridges (they cascade, bridge/relay.go) when its participants are in different regions or its
// bridge is full.
type conference struct {
	bridges map[string]map[string]bool
}

// NewRegistry returns an empty registry reading time from now (time.Now when nil).
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, bridges: map[string]*known{}, confs: map[string]*conference{}}
}

// Heard records a heartbeat; it reports whether the bridge was new to the registry.
func (r *Registry) Heard(hb Heartbeat) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.bridges[hb.Bridge]
	if !ok {
		k = &known{}
		r.bridges[hb.Bridge] = k
	}
	k.hb, k.heard = hb, r.now()
	return !ok
}

// Sweep takes out the bridges not heard from for MissedAfter and returns their IDs.
func (r *Registry) Sweep() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []string
	now := r.now()
	for id, k := range r.bridges {
		if now.Sub(k.heard) >= MissedAfter {
			gone = append(gone, id)
		}
	}
	for _, id := range gone {
		r.removeLocked(id)
	}
	slices.Sort(gone)
	return gone
}

// Remove takes a bridge out at once (it said it is gone).
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(id)
}

func (r *Registry) removeLocked(id string) {
	delete(r.bridges, id)
	for cid, c := range r.confs {
		delete(c.bridges, id)
		if len(c.bridges) == 0 {
			delete(r.confs, cid)
		}
	}
}

// draining marks a bridge as draining until its next heartbeat says otherwise.
func (r *Registry) draining(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := r.bridges[id]; k != nil {
		k.hb.Draining = true
	}
}

// Bridges returns the last heartbeat of every bridge in the registry, by ID.
func (r *Registry) Bridges() []Heartbeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Heartbeat, 0, len(r.bridges))
	for _, k := range r.bridges {
		out = append(out, k.hb)
	}
	slices.SortFunc(out, func(a, b Heartbeat) int { return cmp.Compare(a.Bridge, b.Bridge) })
	return out
}

// Lookup returns a bridge's last heartbeat.
func (r *Registry) Lookup(id string) (Heartbeat, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.bridges[id]
	if !ok {
		return Heartbeat{}, false
	}
	return k.hb, true
}

// Select picks the bridge for a new endpoint of conference conf whose participant is in region ("" if
// unknown), among the bridges that are not draining:
//
//  1. a bridge in the participant's region with room (Stress below stressThreshold), one the
//     conference already uses first, else the least loaded: the conference spans regions;
//  2. else a bridge the conference already uses that has room, the least loaded: a conference stays
//     on its bridge while the bridge has room;
//  3. else the least loaded bridge with room: a full bridge makes the conference span;
//  4. else the least loaded: a full bridge serves better than none.
//
// The focus cascades the conference's bridges (relays between each pair) as they get participants.
func (r *Registry) Select(conf, region string) (Heartbeat, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.confs[conf]
	uses := func(hb Heartbeat) bool { return c != nil && c.bridges[hb.Bridge] != nil }
	var open, roomy, local, localUsed, used []Heartbeat
	for _, k := range r.bridges {
		if k.hb.Draining {
			continue
		}
		open = append(open, k.hb)
		if k.hb.Stress() >= stressThreshold {
			continue
		}
		roomy = append(roomy, k.hb)
		if uses(k.hb) {
			used = append(used, k.hb)
		}
		if region != "" && k.hb.Region == region {
			local = append(local, k.hb)
			if uses(k.hb) {
				localUsed = append(localUsed, k.hb)
			}
		}
	}
	for _, set := range [][]Heartbeat{localUsed, local, used, roomy, open} {
		if len(set) > 0 {
			return slices.MinFunc(set, lessLoaded), nil
		}
	}
	return Heartbeat{}, fmt.Errorf("%w: %d bridges known, all draining", bridgeapi.ErrNoBridge, len(r.bridges))
}

// lessLoaded orders bridges by stress, then endpoints, then ID (so that equal bridges are picked the
// same way every time).
func lessLoaded(a, b Heartbeat) int {
	if c := cmp.Compare(a.Stress(), b.Stress()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Endpoints, b.Endpoints); c != 0 {
		return c
	}
	return cmp.Compare(a.Bridge, b.Bridge)
}

// Placed records that endpoint of conf lives on bridge.
func (r *Registry) Placed(conf, endpoint, bridge string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.confs[conf]
	if c == nil {
		c = &conference{bridges: map[string]map[string]bool{}}
		r.confs[conf] = c
	}
	if c.bridges[bridge] == nil {
		c.bridges[bridge] = map[string]bool{}
	}
	c.bridges[bridge][endpoint] = true
}

// Gone records that endpoint of conf left bridge; the conference's last endpoint on a bridge leaving
// frees the conference from that bridge.
func (r *Registry) Gone(conf, endpoint, bridge string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.confs[conf]
	if c == nil || c.bridges[bridge] == nil {
		return
	}
	delete(c.bridges[bridge], endpoint)
	if len(c.bridges[bridge]) == 0 {
		delete(c.bridges, bridge)
	}
	if len(c.bridges) == 0 {
		delete(r.confs, conf)
	}
}

// TURNFor returns the bridges whose nodes run TURN with the secret secretID names, for a client in
// region ("" if unknown), the least loaded first: only the region's when it has any, else every one (a
// far TURN server relays better than none). Draining bridges are left out: their nodes are about to go.
func (r *Registry) TURNFor(region, secretID string) []Heartbeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all, local []Heartbeat
	for _, k := range r.bridges {
		if k.hb.TURN == nil || k.hb.TURN.SecretID != secretID || k.hb.Draining {
			continue
		}
		all = append(all, k.hb)
		if region != "" && k.hb.Region == region {
			local = append(local, k.hb)
		}
	}
	if len(local) > 0 {
		all = local
	}
	slices.SortFunc(all, lessLoaded)
	return all
}
