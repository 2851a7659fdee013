package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// Pool is the signal node's side of the focus–bridge API over NATS (bridgeapi.Bridges): it keeps the
// registry from the bridges' heartbeats, picks a bridge for each allocation, and passes the bridges'
// events (and its own bridge-gone, for a bridge that fell silent) to the focus.
type Pool struct {
	reg *Registry
	log *slog.Logger

	mu      sync.Mutex
	nc      *nats.Conn           // guarded by mu: nil before Start
	subs    []*nats.Subscription // guarded by mu
	handler func(bridgeapi.Event)
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// NewPool returns a pool that knows no bridge until Start; reg may be shared with tests (nil: a new one).
func NewPool(reg *Registry, log *slog.Logger) *Pool {
	if reg == nil {
		reg = NewRegistry(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{reg: reg, log: log.With("component", "cluster"), stop: make(chan struct{}), done: make(chan struct{})}
}

// Registry returns the pool's registry of bridges.
func (p *Pool) Registry() *Registry { return p.reg }

// Start listens to the bridges on nc and starts taking out the silent ones.
func (p *Pool) Start(nc *nats.Conn) error {
	hb, err := nc.Subscribe(subjectHeartbeat, p.onHeartbeat)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to heartbeats: %w", err)
	}
	ev, err := nc.Subscribe(subjectEvents, p.onEvent)
	if err != nil {
		hb.Unsubscribe()
		return fmt.Errorf("cluster: subscribe to bridge events: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	p.mu.Lock()
	p.nc, p.subs = nc, []*nats.Subscription{hb, ev}
	p.mu.Unlock()
	go p.sweep()
	return nil
}

// Close stops listening; it does not close the connection. Calling it again does nothing.
func (p *Pool) Close() {
	p.closing.Do(func() {
		p.mu.Lock()
		subs, started := p.subs, p.nc != nil
		p.subs = nil
		p.mu.Unlock()
		for _, s := range subs {
			s.Unsubscribe()
		}
		close(p.stop)
		if started {
			<-p.done
		}
	})
}

// sweep takes out the bridges that missed their heartbeats, several times within MissedAfter so
// that a bridge is gone no later than a quarter second after its third missed beat.
func (p *Pool) sweep() {
	defer close(p.done)
	t := time.NewTicker(MissedAfter / 12)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			for _, id := range p.reg.Sweep() {
				p.log.Warn("bridge missed its heartbeats; taken out", "bridge", id)
				p.emit(bridgeapi.Event{Kind: bridgeapi.BridgeGone, Bridge: id, Reason: "missed heartbeats"})
			}
		}
	}
}

func (p *Pool) onHeartbeat(m *nats.Msg) {
	var hb Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil || !isSubjectToken(hb.Bridge) {
		p.log.Debug("bad heartbeat", "err", err, "bridge", hb.Bridge)
		return
	}
	if hb.TURN != nil && !hb.TURN.valid() {
		p.log.Debug("bad TURN in a heartbeat: left out", "bridge", hb.Bridge)
		hb.TURN = nil
	}
	if p.reg.Heard(hb) {
		p.log.Info("bridge joined", "bridge", hb.Bridge, "region", hb.Region, "version", hb.Version)
		if !hb.Draining {
			p.emit(bridgeapi.Event{Kind: bridgeapi.BridgeUp, Bridge: hb.Bridge})
		}
	}
}

func (p *Pool) onEvent(m *nats.Msg) {
	var ev bridgeapi.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Bridge == "" {
		p.log.Debug("bad bridge event", "err", err)
		return
	}
	switch ev.Kind {
	case bridgeapi.EndpointExpired:
		p.reg.Gone(ev.ConferenceID, ev.EndpointID, ev.Bridge)
	case bridgeapi.BridgeGone, bridgeapi.BridgeDraining:
		if _, ok := p.reg.Lookup(ev.Bridge); !ok {
			return // taken out already (and said so), or a name no bridge has: nothing to move
		}
		if ev.Kind == bridgeapi.BridgeGone {
			p.log.Info("bridge left", "bridge", ev.Bridge, "reason", ev.Reason)
			p.reg.Remove(ev.Bridge)
		} else {
			p.log.Info("bridge drains", "bridge", ev.Bridge)
			p.reg.draining(ev.Bridge) // before its next heartbeat says so, so that no move goes there
		}
	case bridgeapi.BridgeUp:
		return // the pool's own word, from the heartbeats
	}
	p.emit(ev)
}

// isSubjectToken reports whether a bridge ID can name its subjects: [A-Za-z0-9._-]{1,64} (a bridge's
// ID rule, bridge.Config.Validate), so no NATS wildcard or space.
func isSubjectToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Listen sets the handler of the bridges' events.
func (p *Pool) Listen(handler func(bridgeapi.Event)) {
	p.mu.Lock()
	p.handler = handler
	p.mu.Unlock()
}

func (p *Pool) emit(ev bridgeapi.Event) {
	p.mu.Lock()
	h := p.handler
	p.mu.Unlock()
	if h != nil {
		h(ev)
	}
}

func (p *Pool) conn() (*nats.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nc == nil {
		return nil, fmt.Errorf("%w: not connected to the cluster", bridgeapi.ErrNoBridge)
	}
	return p.nc, nil
}

// Allocate picks a bridge for the conference and asks it for the endpoint. A bridge that no longer
// listens (NATS has no responder for it: its process died before its heartbeats lapsed) is taken out
// at once, one that says it drains is marked so, and the next one is asked.
func (p *Pool) Allocate(ctx context.Context, req bridgeapi.AllocateRequest) (bridgeapi.Allocated, error) {
	nc, err := p.conn()
	if err != nil {
		return bridgeapi.Allocated{}, err
	}
	for range maxAllocateTries {
		var hb Heartbeat
		hb, err = p.reg.Select(req.ConferenceID, req.Region)
		if err != nil {
			return bridgeapi.Allocated{}, err
		}
		var r reply
		r, err = request(ctx, nc, hb.Bridge, opAllocate, req)
		if errors.Is(err, errNoResponders) {
			p.noResponder(hb.Bridge)
			continue
		}
		if errors.Is(err, bridgeapi.ErrDraining) {
			p.reg.draining(hb.Bridge) // before its heartbeat says so
			continue
		}
		if err != nil {
			return bridgeapi.Allocated{}, err
		}
		if r.Allocated == nil || r.Allocated.Allocation == nil || r.Allocated.Bridge != hb.Bridge {
			return bridgeapi.Allocated{}, fmt.Errorf("cluster: bridge %s: allocate: reply without its allocation", hb.Bridge)
		}
		p.reg.Placed(req.ConferenceID, req.EndpointID, hb.Bridge)
		return *r.Allocated, nil
	}
	return bridgeapi.Allocated{}, err
}

// maxAllocateTries bounds how many silent or draining bridges one allocation skips.
const maxAllocateTries = 4

// SetAnswer passes the participant's answer to its bridge.
func (p *Pool) SetAnswer(ctx context.Context, bridgeID string, a bridge.Answer) error {
	return p.call(ctx, bridgeID, opAnswer, a)
}

// UpdateSources passes the participant's sources to its bridge.
func (p *Pool) UpdateSources(ctx context.Context, bridgeID string, u bridge.SourcesUpdate) error {
	return p.call(ctx, bridgeID, opSources, u)
}

// Expire removes the endpoint from its bridge.
func (p *Pool) Expire(ctx context.Context, bridgeID string, r bridge.ExpireRequest) error {
	err := p.call(ctx, bridgeID, opExpire, r)
	if err == nil || errors.Is(err, bridge.ErrEndpointNotFound) || errors.Is(err, bridge.ErrConferenceNotFound) {
		p.reg.Gone(r.ConferenceID, r.EndpointID, bridgeID)
	}
	return err
}

func (p *Pool) call(ctx context.Context, bridgeID, op string, body any) error {
	nc, err := p.conn()
	if err != nil {
		return err
	}
	if _, ok := p.reg.Lookup(bridgeID); !ok {
		return fmt.Errorf("%w: %s", bridgeapi.ErrUnknownBridge, bridgeID)
	}
	_, err = request(ctx, nc, bridgeID, op, body)
	if errors.Is(err, errNoResponders) {
		p.noResponder(bridgeID)
	}
	return err
}

// noResponder takes out a bridge NATS has no responder for (its process died before its heartbeats
// lapsed) and tells the focus, which moves its participants.
func (p *Pool) noResponder(bridgeID string) {
	if _, ok := p.reg.Lookup(bridgeID); !ok {
		return // taken out already
	}
	p.log.Warn("bridge does not answer; taken out", "bridge", bridgeID)
	p.reg.Remove(bridgeID)
	p.emit(bridgeapi.Event{Kind: bridgeapi.BridgeGone, Bridge: bridgeID, Reason: "no responder"})
}

// errNoResponders: nobody listens on the bridge's subjects; it is an unknown bridge to the focus.
var errNoResponders = fmt.Errorf("%w: no responder", bridgeapi.ErrUnknownBridge)

// request sends one request to a bridge and decodes its reply.
func request(ctx context.Context, nc *nats.Conn, bridgeID, op string, body any) (reply, error) {
	m, err := nc.RequestWithContext(ctx, requestSubject(bridgeID, op), mustJSON(body))
	if errors.Is(err, nats.ErrNoResponders) {
		return reply{}, fmt.Errorf("cluster: bridge %s: %s: %w", bridgeID, op, errNoResponders)
	}
	if err != nil {
		return reply{}, fmt.Errorf("cluster: bridge %s: %s: %w", bridgeID, op, err)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return reply{}, fmt.Errorf("cluster: bridge %s: %s: bad reply: %w", bridgeID, op, err)
	}
	return r, r.err()
}
