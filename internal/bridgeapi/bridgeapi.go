// Package bridgeapi is the focus–bridge API as messages (DESIGN.md "Scale"): the same values whether
// the bridge runs in the focus's process or on another machine behind NATS (internal/cluster).
//
// The focus asks; a bridge answers each request once, and tells the focus what happened on its own:
//
//	focus → bridges   Allocate{conference, endpoint, region}  → Allocated{bridge, allocation, channel base}
//	focus → bridge B  Answer (session-accept)                  → ok | error
//	focus → bridge B  Sources (source-add / source-remove)     → ok | error
//	focus → bridge B  Expire                                   → ok | error
//	bridge → focus    Event endpoint-expired{B, conference, endpoint, reason}
//	bridge → focus    Event bridge-draining{B} | bridge-gone{B} | bridge-up{B}
//
// Allocate is addressed to the pool, which picks the bridge (in a cluster: a bridge of the participant's
// region, else the conference's bridge while it has room, then the least loaded; a conference on more
// than one bridge is cascaded with relays, relay.go); every later request names the
// bridge the allocation came from. Calls block their caller until the answer or ctx's deadline, so the
// focus makes them from its own goroutines, never from a conference's (internal/focus bridging.go).
package bridgeapi

import (
	"context"
	"errors"

	"github.com/parley-im/parley/internal/bridge"
)

// AllocateRequest asks the pool for a new endpoint of a conference.
type AllocateRequest struct {
	ConferenceID string `json:"conferenceId"`
	EndpointID   string `json:"endpointId"`
	// Region is the participant's region hint (<jitsi_participant_region/>), "" when unknown.
	Region string `json:"region,omitempty"`
}

// Allocated is the pool's answer: where the endpoint lives and the bridge's side of the session.
type Allocated struct {
	// Bridge is the ID of the bridge holding the endpoint; later requests for the endpoint name it.
	Bridge     string             `json:"bridge"`
	Allocation *bridge.Allocation `json:"allocation"`
	// ChannelBase is the wss://HOST[:PORT] the bridge serves its channel on, "" when it is the focus's
	// own HTTPS front (a bridge in the same process).
	ChannelBase string `json:"channelBase,omitempty"`
}

// Kinds of Event.
const (
	// EndpointExpired: the bridge removed an endpoint (the focus asked, or it timed out, or ICE failed).
	EndpointExpired = "endpoint-expired"
	// BridgeDraining: the bridge takes no new endpoints; those it has keep running.
	BridgeDraining = "bridge-draining"
	// BridgeGone: the bridge stopped or missed its heartbeats; its endpoints are lost.
	BridgeGone = "bridge-gone"
	// BridgeUp: a bridge joined (or came back); participants waiting for a bridge may have one now.
	BridgeUp = "bridge-up"
)

// Event is what a bridge tells the focus without being asked.
type Event struct {
	Kind         string `json:"kind"`
	Bridge       string `json:"bridge"`
	ConferenceID string `json:"conferenceId,omitempty"`
	EndpointID   string `json:"endpointId,omitempty"`
	Peer         string `json:"peer,omitempty"`  // relay-closed: the bridge at the relay's other end
	Relay        string `json:"relay,omitempty"` // relay-closed: the session its RelayRequest named
	Reason       string `json:"reason,omitempty"`
}

// Bridges is the focus's side of the API. Implementations are safe for concurrent use; a call returns
// when the bridge answered, or with ctx's error. Listen's handler is called from the implementation's
// goroutines and must not block.
type Bridges interface {
	Allocate(ctx context.Context, req AllocateRequest) (Allocated, error)
	SetAnswer(ctx context.Context, bridgeID string, a bridge.Answer) error
	UpdateSources(ctx context.Context, bridgeID string, u bridge.SourcesUpdate) error
	Expire(ctx context.Context, bridgeID string, r bridge.ExpireRequest) error
	Listen(handler func(Event))
}

// Errors of the pool, beside the bridge's own (bridge.ErrEndpointNotFound and the rest), which keep
// their identity across a network (internal/cluster).
var (
	// ErrNoBridge: no healthy bridge with room is known.
	ErrNoBridge = errors.New("bridgeapi: no bridge available")
	// ErrUnknownBridge: a request names a bridge the pool does not know (it went away).
	ErrUnknownBridge = errors.New("bridgeapi: unknown bridge")
	// ErrDraining: the bridge takes no new endpoints.
	ErrDraining = errors.New("bridgeapi: bridge is draining")
)
