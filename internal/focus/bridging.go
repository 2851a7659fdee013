package focus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// How long the focus waits for a bridge: allocation may gather ICE candidates for up to 5 s and cross
// the cluster; the other requests only change state.
const (
	allocateTimeout = 10 * time.Second
	requestTimeout  = 5 * time.Second
)

// lane runs one participant's bridge requests in order on a goroutine of its own, so that a slow bridge
// (ICE gathering, a cluster round trip) never holds the conference goroutine, and an answer can never
// overtake the allocation it answers, nor an allocation the expiry before it (a restart, or the same
// nick joining again: the lane outlives its participant, see keepLane). Results come back to the
// conference goroutine through post.
type lane struct {
	f *Focus

	mu      sync.Mutex
	ops     []func() // guarded by mu: requests waiting, in order
	running bool     // guarded by mu: a goroutine is working through ops

	// bridge is the bridge the participant's endpoint lives on, "" when it has none. Only the running
	// op touches it: ops run one at a time.
	bridge string
}

// busy reports whether requests are queued or running.
func (l *lane) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// laneKept is how long a participant's lane outlives it, at the least: one who joins again with the
// same nick (a client that lost its connection and joins as the same endpoint) queues its allocation
// behind the expiry of its old endpoint, which a bridge would otherwise still hold (ErrEndpointExists).
const laneKept = 30 * time.Second

// keepLane keeps a gone participant's lane for its nick until it has been idle laneKept.
func (c *conference) keepLane(nick string, l *lane) {
	c.leftLanes[nick] = l
	c.after(laneKept, func() {
		switch {
		case c.leftLanes[nick] != l:
		case l.busy():
			c.keepLane(nick, l)
		default:
			delete(c.leftLanes, nick)
		}
	})
}

// laneFor is the lane of a participant joining as nick: the one its predecessor left, or a new one.
func (c *conference) laneFor(nick string) *lane {
	if l := c.leftLanes[nick]; l != nil {
		delete(c.leftLanes, nick)
		return l
	}
	return &lane{f: c.f}
}

// do queues op behind the participant's earlier requests.
func (l *lane) do(op func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
	if l.running {
		return
	}
	l.running = true
	l.f.wg.Add(1)
	go l.run()
}

func (l *lane) run() {
	defer l.f.wg.Done()
	for {
		l.mu.Lock()
		if len(l.ops) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		op := l.ops[0]
		l.ops = l.ops[1:]
		l.mu.Unlock()
		op()
	}
}

// allocate asks the bridges for the participant's endpoint, then offers the session.
func (p *participant) allocate() {
	if p.allocating || p.move != nil {
		return // the move off a lost bridge (move.go) allocates
	}
	p.allocating = true
	p.requestEndpoint(p.allocated)
}

// requestEndpoint asks the bridges for an endpoint for the participant on its lane, and hands the
// answer to done on the conference goroutine with the participant's generation at the request.
func (p *participant) requestEndpoint(done func(gen int, a bridgeapi.Allocated, err error)) {
	c, gen := p.c, p.gen
	req := bridgeapi.AllocateRequest{ConferenceID: c.id, EndpointID: p.nick, Region: p.region}
	p.lane.do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), allocateTimeout)
		a, err := c.f.bridge.Allocate(ctx, req)
		cancel()
		if err == nil {
			p.lane.bridge = a.Bridge
		}
		c.post(func() { done(gen, a, err) })
	})
}

// allocated takes the bridge's answer on the conference goroutine. An endpoint expired while it was
// being allocated (the participant left, or restarted) is gone already: the lane ran the expiry after
// the allocation. A restarted participant then asks for a new one.
func (p *participant) allocated(gen int, a bridgeapi.Allocated, err error) {
	p.allocating = false
	if p.gone {
		return
	}
	if gen != p.gen {
		p.allocate()
		return
	}
	if err != nil {
		p.c.f.log.Warn("bridge allocation failed", "room", p.c.room.String(), "endpoint", p.nick, "err", err)
		p.retryAllocation(err)
		return
	}
	p.retries = 0
	p.alloc = &a
	p.offerSession()
	if gone, leaving := p.c.f.leaving(a.Bridge); leaving {
		p.moveOff(gone) // the bridge went or drains since it answered
	}
}

// Allocations that fail for want of a bridge (none known yet, the one picked went away or drains, no
// answer in time) are tried again after 1, 2, 4, 8 and 16 s: bridges join a cluster after its signal
// node, and come back after a restart.
const maxAllocateRetries = 5

// retryAllocation schedules another allocation after a failure a bridge may soon lift.
func (p *participant) retryAllocation(err error) {
	transient := errors.Is(err, bridgeapi.ErrNoBridge) || errors.Is(err, bridgeapi.ErrUnknownBridge) ||
		errors.Is(err, bridgeapi.ErrDraining) || errors.Is(err, context.DeadlineExceeded)
	if !transient || p.retries >= maxAllocateRetries {
		return
	}
	delay := time.Second << p.retries
	p.retries++
	p.c.after(delay, func() {
		if !p.gone && p.alloc == nil {
			p.allocate()
		}
	})
}

// expireEndpoint gives the participant's endpoint back to its bridge, if it has one by the time the
// lane gets there.
func (p *participant) expireEndpoint() {
	c := p.c
	p.alloc = nil
	p.gen++
	if mv := p.move; mv != nil {
		// Left or restarted during a move: the endpoint it was leaving goes now (its conference may
		// end before the move's answer), the new one with the expiry below.
		p.move = nil
		p.expireOn(mv.from)
	}
	p.lane.do(func() {
		if p.lane.bridge == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		err := c.f.bridge.Expire(ctx, p.lane.bridge, bridge.ExpireRequest{ConferenceID: c.id, EndpointID: p.nick})
		cancel()
		p.lane.bridge = ""
		if err != nil && !errors.Is(err, bridge.ErrEndpointNotFound) && !errors.Is(err, bridge.ErrConferenceNotFound) {
			c.f.log.Debug("expire", "endpoint", p.nick, "err", err)
		}
	})
}

// bridgeCall runs call on the participant's lane and hands its error to done on the conference
// goroutine.
func (p *participant) bridgeCall(call func(ctx context.Context, bridgeID string) error, done func(error)) {
	c := p.c
	p.lane.do(func() {
		err := bridgeapi.ErrUnknownBridge
		if p.lane.bridge != "" {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			err = call(ctx, p.lane.bridge)
			cancel()
		}
		c.post(func() { done(err) })
	})
}

// regionOf is where a joining participant is: its presence's <jitsi_participant_region/>, else what
// the address map says of its real JID.
func (c *conference) regionOf(presence *stanza.Element, real string) string {
	if r := presence.ChildText(stanza.NSClient, "jitsi_participant_region"); r != "" {
		return r
	}
	if c.f.cfg.Region != nil && real != "" {
		return c.f.cfg.Region(real)
	}
	return ""
}

// onBridgeEvent takes what a bridge says unasked to the conference it concerns.
func (f *Focus) onBridgeEvent(ev bridgeapi.Event) {
	f.noteBridge(ev)
	f.mu.Lock()
	var confs []*conference
	for _, c := range f.confs {
		if ev.ConferenceID == "" || c.id == ev.ConferenceID {
			confs = append(confs, c)
		}
	}
	f.mu.Unlock()
	for _, c := range confs {
		c.post(func() { c.onBridgeEvent(ev) })
	}
}

// onBridgeEvent moves the participants of a bridge that is gone or draining to another bridge at
// once, without waiting for their ICE to fail (move.go), and gives those waiting for a bridge one
// that joined.
func (c *conference) onBridgeEvent(ev bridgeapi.Event) {
	switch ev.Kind {
	case bridgeapi.RelayClosed:
		c.relayClosed(ev) // relay.go
	case bridgeapi.EndpointExpired:
		if p := c.parts[ev.EndpointID]; p != nil && p.alloc != nil && p.alloc.Bridge == ev.Bridge && ev.Reason != bridge.ExpiredByFocus {
			c.f.log.Info("bridge expired an endpoint", "room", c.room.String(), "endpoint", ev.EndpointID, "bridge", ev.Bridge, "reason", ev.Reason)
		}
	case bridgeapi.BridgeGone:
		c.moveOff(ev.Bridge, true)
	case bridgeapi.BridgeDraining:
		c.moveOff(ev.Bridge, false)
	case bridgeapi.BridgeUp:
		c.retryWaiting()
	}
}

// bridgeError is a bridge's refusal as the participant sees it; nil stays nil.
func bridgeError(err error) error {
	if err == nil {
		return nil
	}
	return stanza.ErrBadRequest.WithText("%v", err)
}
