package bridgeapi

import (
	"context"
	"fmt"
	"sync"

	"github.com/parley-im/parley/internal/bridge"
)

// Local is the in-process transport: direct calls on the one bridge `parley serve` runs by default, no
// NATS anywhere. The calls ignore ctx's deadline (the bridge answers in-process; allocation may gather
// ICE candidates for a few seconds), but run on the caller's goroutine, which the focus keeps off its
// conferences' goroutines.
type Local struct {
	b *bridge.Bridge

	mu      sync.Mutex
	handler func(Event) // guarded by mu
}

// NewLocal serves the focus from b. It registers b's endpoint-expired hook, so call it before b.Start.
func NewLocal(b *bridge.Bridge) *Local {
	l := &Local{b: b}
	b.OnEndpointExpired(func(conferenceID, endpointID, reason string) {
		l.emit(Event{Kind: EndpointExpired, Bridge: b.ID(), ConferenceID: conferenceID, EndpointID: endpointID, Reason: reason})
	})
	b.OnRelayClosed(func(conferenceID, peer, session, reason string) {
		l.emit(Event{Kind: RelayClosed, Bridge: b.ID(), ConferenceID: conferenceID, Peer: peer, Relay: session, Reason: reason})
	})
	return l
}

// Listen sets the handler of the bridge's events.
func (l *Local) Listen(handler func(Event)) {
	l.mu.Lock()
	l.handler = handler
	l.mu.Unlock()
}

func (l *Local) emit(ev Event) {
	l.mu.Lock()
	h := l.handler
	l.mu.Unlock()
	if h != nil {
		h(ev)
	}
}

// Allocate creates the endpoint on the bridge.
func (l *Local) Allocate(_ context.Context, req AllocateRequest) (Allocated, error) {
	a, err := l.b.AllocateEndpoint(bridge.AllocateRequest{ConferenceID: req.ConferenceID, EndpointID: req.EndpointID})
	if err != nil {
		return Allocated{}, err
	}
	return Allocated{Bridge: l.b.ID(), Allocation: a}, nil
}

// SetAnswer passes the participant's answer to the bridge.
func (l *Local) SetAnswer(_ context.Context, bridgeID string, a bridge.Answer) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.SetAnswer(a)
}

// UpdateSources passes the participant's sources to the bridge.
func (l *Local) UpdateSources(_ context.Context, bridgeID string, u bridge.SourcesUpdate) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.UpdateSources(u)
}

// Expire removes the endpoint from the bridge.
func (l *Local) Expire(_ context.Context, bridgeID string, r bridge.ExpireRequest) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.Expire(r)
}

func (l *Local) check(bridgeID string) error {
	if bridgeID != l.b.ID() {
		return fmt.Errorf("%w: %q (this process runs %q)", ErrUnknownBridge, bridgeID, l.b.ID())
	}
	return nil
}
