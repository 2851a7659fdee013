package bridgeapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// The in-process transport allocates on its bridge, refuses requests for another bridge, and reports
// an expiry as an event naming who expired the endpoint.
func TestLocal(t *testing.T) {
	cfg := bridge.Default()
	cfg.MediaAddr = "127.0.0.1:0"
	cfg.IncludeLoopback = true
	b, err := bridge.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := bridgeapi.NewLocal(b)
	events := make(chan bridgeapi.Event, 4)
	l.Listen(func(ev bridgeapi.Event) { events <- ev })
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ctx := context.Background()
	a, err := l.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Bridge != cfg.ID || a.Allocation == nil || a.Allocation.ICE.Ufrag == "" || a.ChannelBase != "" {
		t.Fatalf("allocated %+v", a)
	}
	if err := l.Expire(ctx, "elsewhere", bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"}); !errors.Is(err, bridgeapi.ErrUnknownBridge) {
		t.Fatalf("expire on another bridge: %v", err)
	}
	if err := l.Expire(ctx, a.Bridge, bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		want := bridgeapi.Event{Kind: bridgeapi.EndpointExpired, Bridge: cfg.ID, ConferenceID: "c1", EndpointID: "e1", Reason: bridge.ExpiredByFocus}
		if ev != want {
			t.Fatalf("event %+v, want %+v", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no endpoint-expired event")
	}
	if err := l.SetAnswer(ctx, a.Bridge, bridge.Answer{ConferenceID: "c1", EndpointID: "e1"}); !errors.Is(err, bridge.ErrConferenceNotFound) && !errors.Is(err, bridge.ErrEndpointNotFound) {
		t.Fatalf("answer for an expired endpoint: %v", err)
	}
}
