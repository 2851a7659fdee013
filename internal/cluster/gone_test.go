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
	deadConn := dial(t, s, s.BridgeCredsFile())
	startBridge(t, deadConn, "a1", "eu")
	startBridge(t, dial(t, s, s.BridgeCredsFile()), "b1", "us")
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

// A bridge-gone or bridge-draining that names no bridge the pool knows (one taken out already, or a
// stray name) reaches no focus: it has nothing to move, and a stream of made-up names leaves nothing
// behind. Those of a known bridge do, once.
func TestEventsOfUnknownBridgesDropped(t *testing.T) {
	s := startNATS(t)
	nc := dial(t, s, s.CredsFile())
	p, events := startPool(t, nc)
	p.Registry().Heard(Heartbeat{Bridge: "a1", Region: "eu"}) // heard once, as a bridge that then goes quiet
	// The last one, which the pool passes on, says the ones before it were all handled.
	sentinel := bridgeapi.Event{Kind: bridgeapi.EndpointExpired, Bridge: "a1", ConferenceID: "c1", EndpointID: "last"}
	for _, ev := range []bridgeapi.Event{
		{Kind: bridgeapi.BridgeGone, Bridge: "nobody"},
		{Kind: bridgeapi.BridgeDraining, Bridge: "nobody-else"},
		{Kind: bridgeapi.BridgeDraining, Bridge: "a1"},
		{Kind: bridgeapi.BridgeGone, Bridge: "a1", Reason: "shutting down"},
		{Kind: bridgeapi.BridgeGone, Bridge: "a1", Reason: "again"},
		{Kind: bridgeapi.BridgeDraining, Bridge: "a1"},
		sentinel,
	} {
		if err := nc.Publish(subjectEvents, mustJSON(ev)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev == sentinel {
				if len(got) != 2 || got[0] != "bridge-draining a1" || got[1] != "bridge-gone a1" {
					t.Fatalf("events %v, want bridge-draining and bridge-gone of a1 only", got)
				}
				return
			}
			if ev.Kind != bridgeapi.BridgeUp {
				got = append(got, ev.Kind+" "+ev.Bridge)
			}
		case <-deadline:
			t.Fatalf("events %v and no sentinel", got)
		}
	}
}
