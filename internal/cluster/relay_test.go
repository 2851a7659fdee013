package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// Over NATS, the focus's relay messages reach the bridges they name: two bridges of one conference get
// a relay that connects (ICE and DTLS between the bridges, keyed by neither the focus nor NATS), learn
// the participants behind it, and lose it on expiry; a relay for an unknown conference, a garbage
// remote side or a second relay to one peer are refused with errors that keep their identity across
// the wire, and change nothing.
func TestRelayOverNATS(t *testing.T) {
	s := startNATS(t)
	eu, _ := startBridge(t, dial(t, s, s.BridgeCredsFile()), "eu1", "eu")
	us, _ := startBridge(t, dial(t, s, s.BridgeCredsFile()), "us1", "us")
	for _, b := range []*bridge.Bridge{eu, us} {
		rs, err := ServeRelays(dial(t, s, s.BridgeCredsFile()), b)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rs.Close)
	}
	p, _ := startPool(t, dial(t, s, s.CredsFile()))
	waitBridges(t, p, 2)
	var relays bridgeapi.Relays = p

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, req := range []bridgeapi.AllocateRequest{{ConferenceID: "c1", EndpointID: "anna", Region: "eu"}, {ConferenceID: "c1", EndpointID: "bert", Region: "us"}} {
		if _, err := p.Allocate(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := relays.AllocateRelay(ctx, "eu1", bridge.RelayRequest{ConferenceID: "nowhere", Peer: "us1"}); !errors.Is(err, bridge.ErrConferenceNotFound) {
		t.Fatalf("relay for an unknown conference: %v", err)
	}
	if _, err := relays.AllocateRelay(ctx, "eu1", bridge.RelayRequest{ConferenceID: "c1", Peer: "eu1"}); !errors.Is(err, bridge.ErrBadPeer) {
		t.Fatalf("relay to itself: %v", err)
	}
	if _, err := relays.AllocateRelay(ctx, "mars1", bridge.RelayRequest{ConferenceID: "c1", Peer: "eu1"}); !errors.Is(err, bridgeapi.ErrUnknownBridge) {
		t.Fatalf("relay on an unknown bridge: %v", err)
	}
	de, err := relays.AllocateRelay(ctx, "eu1", bridge.RelayRequest{ConferenceID: "c1", Peer: "us1", Controlling: true})
	if err != nil {
		t.Fatal(err)
	}
	if de.DTLS.Setup != "active" || de.ICE.Ufrag == "" || len(de.ICE.Candidates) == 0 {
		t.Fatalf("eu1's side: %+v", de)
	}
	if _, err := relays.AllocateRelay(ctx, "eu1", bridge.RelayRequest{ConferenceID: "c1", Peer: "us1"}); !errors.Is(err, bridge.ErrRelayExists) {
		t.Fatalf("a second relay to one peer: %v", err)
	}
	garbage := *de
	garbage.DTLS.Fingerprint = "not a fingerprint"
	if _, err := relays.AllocateRelay(ctx, "us1", bridge.RelayRequest{ConferenceID: "c1", Peer: "eu1", Remote: &garbage}); !errors.Is(err, bridge.ErrBadFingerprint) {
		t.Fatalf("a garbage remote side: %v", err)
	}
	du, err := relays.AllocateRelay(ctx, "us1", bridge.RelayRequest{ConferenceID: "c1", Peer: "eu1", Remote: de})
	if err != nil {
		t.Fatal(err)
	}
	if err := relays.ConnectRelay(ctx, "eu1", bridge.RelayConnect{ConferenceID: "c1", Peer: "us1", Remote: *du}); err != nil {
		t.Fatal(err)
	}
	if err := relays.ConnectRelay(ctx, "eu1", bridge.RelayConnect{ConferenceID: "c1", Peer: "us1", Remote: *du}); !errors.Is(err, bridge.ErrRelayConnected) {
		t.Fatalf("connecting twice: %v", err)
	}
	relayOf := func(b *bridge.Bridge) []bridge.RelayDebug {
		for _, c := range b.Debug().Conferences {
			if c.ID == "c1" {
				return c.Relays
			}
		}
		return nil
	}
	waitFor(t, "the relay to connect on both bridges", func() bool {
		e, u := relayOf(eu), relayOf(us)
		return len(e) == 1 && e[0].Connected && len(u) == 1 && u[0].Connected
	})
	bert := bridge.RelayedEndpoint{ID: "bert", Sources: []bridge.Source{{Kind: bridge.KindAudio, SSRC: 11, Name: "bert-a0"}}}
	if err := relays.UpdateRelay(ctx, "eu1", bridge.RelayEndpoints{ConferenceID: "c1", Peer: "us1", Endpoints: []bridge.RelayedEndpoint{{ID: "anna"}}}); !errors.Is(err, bridge.ErrEndpointExists) {
		t.Fatalf("a local endpoint behind the relay: %v", err)
	}
	if err := relays.UpdateRelay(ctx, "eu1", bridge.RelayEndpoints{ConferenceID: "c1", Peer: "us1", Endpoints: []bridge.RelayedEndpoint{bert}}); err != nil {
		t.Fatal(err)
	}
	if r := relayOf(eu); len(r) != 1 || len(r[0].Endpoints) != 1 || r[0].Endpoints[0] != "bert" {
		t.Fatalf("eu1's relay: %+v", r)
	}
	if err := relays.ExpireRelay(ctx, "eu1", bridge.RelayExpire{ConferenceID: "c1", Peer: "us1"}); err != nil {
		t.Fatal(err)
	}
	if err := relays.ExpireRelay(ctx, "eu1", bridge.RelayExpire{ConferenceID: "c1", Peer: "us1"}); !errors.Is(err, bridge.ErrRelayNotFound) {
		t.Fatalf("expiring twice: %v", err)
	}
	// The peer's relay ends with the association.
	waitFor(t, "us1's relay to end", func() bool { return len(relayOf(us)) == 0 })
}
