package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// A request to a bridge whose process died (NATS has no responder for it) takes the bridge out at
// once, before its heartbeats lapse, and the focus hears bridge-gone, once: it moves the bridge's
// participants. Later requests to it fail at once as to an unknown bridge.
func TestRequestToADeadBridgeTakesItOut(t *testing.T) {
	s := startNATS(t)
	p, events := startPool(t, dial(t, s, s.CredsFile()))
	deadConn := dial(t, s, s.CredsFile())
	startBridge(t, deadConn, "a1", "eu")
	startBridge(t, dial(t, s, s.CredsFile()), "b1", "us")
	waitBridges(t, p, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "eu"}); err != nil || a.Bridge != "a1" {
		t.Fatalf("allocated on %q (%v), want a1", a.Bridge, err)
	}
	clients := s.ns.NumClients()
	deadConn.Close()
	waitFor(t, "the server to notice the closed connection", func() bool { return s.ns.NumClients() == clients-1 })

	u := bridge.SourcesUpdate{ConferenceID: "c1", EndpointID: "e1"}
	if err := p.UpdateSources(ctx, "a1", u); !errors.Is(err, bridgeapi.ErrUnknownBridge) {
		t.Fatalf("sources to the dead bridge: %v, want an unknown bridge", err)
	}
	if _, ok := p.Registry().Lookup("a1"); ok {
		t.Fatal("the dead bridge is still in the registry")
	}
	if err := p.Expire(ctx, "a1", bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"}); !errors.Is(err, bridgeapi.ErrUnknownBridge) {
		t.Fatalf("expire on the dead bridge: %v, want an unknown bridge", err)
	}
	gone := 0
	for gone == 0 {
		select {
		case ev := <-events:
			if ev.Kind == bridgeapi.BridgeGone && ev.Bridge == "a1" {
				gone++
			}
		case <-ctx.Done():
			t.Fatal("no bridge-gone for a1")
		}
	}
	for len(events) > 0 {
		if ev := <-events; ev.Kind == bridgeapi.BridgeGone && ev.Bridge == "a1" {
			t.Fatalf("bridge-gone for a1 twice")
		}
	}
}
