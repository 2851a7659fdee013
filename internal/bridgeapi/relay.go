package bridgeapi

import (
	"context"

	"github.com/parley-im/parley/internal/bridge"
)

// Relays is the focus's side of cascading (docs/architecture.md "More than one machine"): the messages
// that join two bridges serving one conference with a relay (bridge/relay.go), carried like the other
// requests (in-process, or over NATS, which is TLS). They carry ICE credentials and certificate
// fingerprints only: the relay's SRTP keys come from the DTLS handshake between the two bridges.
//
//	focus → bridge A  AllocateRelay{conf, peer B, controlling}   → A's side (ICE, fingerprint)
//	focus → bridge B  AllocateRelay{conf, peer A, remote A's}    → B's side
//	focus → bridge A  ConnectRelay{conf, peer B, remote B's}     → ok | error
//	focus → A, B      UpdateRelay{conf, peer, endpoints behind it with their sources}
//	focus → A, B      ExpireRelay{conf, peer}
//
// A Bridges implementation that can cascade implements Relays too; the focus asks with a type assertion.
// A relay that ends is told as an Event of kind RelayClosed naming the bridge, the conference and the
// peer bridge, with the bridge's reason (bridge.ExpiredRelayReason when the focus expired it).
type Relays interface {
	AllocateRelay(ctx context.Context, bridgeID string, r bridge.RelayRequest) (*bridge.RelayDescription, error)
	ConnectRelay(ctx context.Context, bridgeID string, r bridge.RelayConnect) error
	UpdateRelay(ctx context.Context, bridgeID string, u bridge.RelayEndpoints) error
	ExpireRelay(ctx context.Context, bridgeID string, x bridge.RelayExpire) error
}

// RelayClosed is the Event of a relay that ended.
const RelayClosed = "relay-closed"

// AllocateRelay creates a relay on the process's bridge (one bridge cannot cascade with itself; the
// calls exist so that the in-process transport speaks the whole API).
func (l *Local) AllocateRelay(_ context.Context, bridgeID string, r bridge.RelayRequest) (*bridge.RelayDescription, error) {
	if err := l.check(bridgeID); err != nil {
		return nil, err
	}
	return l.b.AllocateRelay(r)
}

// ConnectRelay gives the bridge's relay the peer's side.
func (l *Local) ConnectRelay(_ context.Context, bridgeID string, r bridge.RelayConnect) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.ConnectRelay(r)
}

// UpdateRelay replaces the participants behind the bridge's relay.
func (l *Local) UpdateRelay(_ context.Context, bridgeID string, u bridge.RelayEndpoints) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.UpdateRelay(u)
}

// ExpireRelay closes the bridge's relay.
func (l *Local) ExpireRelay(_ context.Context, bridgeID string, x bridge.RelayExpire) error {
	if err := l.check(bridgeID); err != nil {
		return err
	}
	return l.b.ExpireRelay(x)
}
