package cluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// startNATS runs the embedded server on loopback with its credentials in a fresh folder.
func startNATS(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer("127.0.0.1:0", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func dial(t *testing.T, s *Server, creds string) *nats.Conn {
	t.Helper()
	nc, err := Dial([]string{s.URL()}, creds, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startBridge runs a bridge on loopback served to the cluster as id in region.
func startBridge(t *testing.T, nc *nats.Conn, id, region string) (*bridge.Bridge, *Node) {
	t.Helper()
	cfg := bridge.Default()
	cfg.ID, cfg.MediaAddr, cfg.IncludeLoopback = id, "127.0.0.1:0", true
	reg := prometheus.NewRegistry()
	b, err := bridge.New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	n := NewNode(b, NodeOptions{Region: region, Version: "test", ChannelBase: "wss://" + id + ".example",
		Interval: 100 * time.Millisecond, Load: LoadFrom(reg)})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(); b.Close() })
	return b, n
}

// startPool runs a signal node's pool whose events arrive on the returned channel.
func startPool(t *testing.T, nc *nats.Conn) (*Pool, chan bridgeapi.Event) {
	t.Helper()
	p := NewPool(nil, nil)
	events := make(chan bridgeapi.Event, 64)
	p.Listen(func(ev bridgeapi.Event) { events <- ev })
	if err := p.Start(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, events
}

// waitBridges waits until the pool's registry knows n bridges.
func waitBridges(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.Registry().Bridges()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("registry knows %v, want %d bridges", p.Registry().Bridges(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The embedded server writes its credentials once, one file per role, readable by its owner only,
// and keeps them across restarts; it refuses a client without them, or with other ones.
func TestEmbeddedServerCredentials(t *testing.T) {
	s := startNATS(t)
	for file, role := range map[string]string{s.CredsFile(): RoleSignal, s.BridgeCredsFile(): RoleBridge} {
		info, err := os.Stat(file)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("credentials file %s: %v %v", file, info, err)
		}
		pub1, err := LoadOrCreateCreds(file, role)
		if err != nil {
			t.Fatal(err)
		}
		pub2, _ := LoadOrCreateCreds(file, role)
		if pub1 != pub2 || !nkeys.IsValidPublicUserKey(pub1) {
			t.Fatalf("credentials changed or invalid: %q %q", pub1, pub2)
		}
		dial(t, s, file)
	}
	sig, _ := LoadOrCreateCreds(s.CredsFile(), RoleSignal)
	br, _ := LoadOrCreateCreds(s.BridgeCredsFile(), RoleBridge)
	if sig == br {
		t.Fatal("signal and bridge nodes share one key")
	}
	if _, err := LoadOrCreateCreds(s.CredsFile(), RoleBridge); err == nil {
		t.Fatal("the signal nodes' credentials pass as a bridge's")
	}
	if !strings.HasPrefix(s.URL(), "tls://") {
		t.Fatalf("the server does not require TLS: %s", s.URL())
	}

	// Without the pinned certificate the node does not trust the server.
	if _, err := Dial([]string{s.URL()}, "", "no creds"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without credentials: %v", err)
	}
	// The certificate without the key, or with another cluster's key, does not sign in.
	data, _ := os.ReadFile(s.CredsFile())
	cert := data[bytes.Index(data, []byte("-----BEGIN CERTIFICATE")):]
	certOnly := filepath.Join(t.TempDir(), "cert-only.creds")
	os.WriteFile(certOnly, cert, 0o600)
	other := wrongCreds(t, s.CredsFile())
	for _, creds := range []string{certOnly, other} {
		if _, err := Dial([]string{s.URL()}, creds, "wrong creds"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("with %s: %v", filepath.Base(creds), err)
		}
	}
}

// Over NATS, the pool allocates on a bridge of the participant's region, passes answers and expiries
// to the bridge the endpoint is on, keeps the bridge's errors recognisable, and hears its expiries.
func TestPoolOverNATS(t *testing.T) {
	s := startNATS(t)
	nc := dial(t, s, s.CredsFile())
	startBridge(t, dial(t, s, s.BridgeCredsFile()), "eu1", "eu")
	us, _ := startBridge(t, dial(t, s, s.BridgeCredsFile()), "us1", "us")
	p, events := startPool(t, nc)
	waitBridges(t, p, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "us"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Bridge != "us1" || a.ChannelBase != "wss://us1.example" || a.Allocation.ICE.Ufrag == "" || len(a.Allocation.ICE.Candidates) == 0 {
		t.Fatalf("allocated %+v", a)
	}
	if _, err := us.Settings("c1", "e1"); err != nil {
		t.Fatalf("the us bridge does not hold the endpoint: %v", err)
	}
	// A second endpoint of the conference follows it when its region has no bridge of its own.
	if b, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e2", Region: "ap"}); err != nil || b.Bridge != "us1" {
		t.Fatalf("second endpoint on %q (%v), want us1", b.Bridge, err)
	}
	// The heartbeats carry the bridge's region, version and load.
	waitFor(t, "us1's heartbeat to count its endpoints", func() bool {
		hb, _ := p.Registry().Lookup("us1")
		return hb.Endpoints == 2 && hb.Conferences == 1 && hb.Region == "us" && hb.Version == "test"
	})
	if _, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1"}); !errors.Is(err, bridge.ErrEndpointExists) {
		t.Fatalf("allocating e1 twice: %v", err)
	}
	if err := p.SetAnswer(ctx, "us1", bridge.Answer{ConferenceID: "c1", EndpointID: "nobody"}); !errors.Is(err, bridge.ErrEndpointNotFound) {
		t.Fatalf("answer for an unknown endpoint: %v", err)
	}
	if err := p.SetAnswer(ctx, "mars1", bridge.Answer{ConferenceID: "c1", EndpointID: "e1"}); !errors.Is(err, bridgeapi.ErrUnknownBridge) {
		t.Fatalf("answer to an unknown bridge: %v", err)
	}
	if err := p.Expire(ctx, "us1", bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind != bridgeapi.EndpointExpired {
				continue
			}
			if ev.Bridge != "us1" || ev.ConferenceID != "c1" || ev.EndpointID != "e1" || ev.Reason != bridge.ExpiredByFocus {
				t.Fatalf("event %+v", ev)
			}
			return
		case <-ctx.Done():
			t.Fatal("no endpoint-expired event")
		}
	}
}

// A bridge that stops its heartbeats (its process hangs or its link fails, no goodbye) is taken out
// within MissedAfter and the focus hears bridge-gone; new conferences go to the other bridge. One
// that shuts down says so and is taken out at once.
func TestSilentBridgeTakenOut(t *testing.T) {
	s := startNATS(t)
	p, events := startPool(t, dial(t, s, s.CredsFile()))
	silentConn := dial(t, s, s.BridgeCredsFile())
	startBridge(t, silentConn, "a1", "")
	_, other := startBridge(t, dial(t, s, s.BridgeCredsFile()), "b1", "")
	waitBridges(t, p, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Make a1 the obvious choice, then silence it.
	p.Registry().Heard(Heartbeat{Bridge: "b1", CPU: 0.5})
	if a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "before", EndpointID: "e1"}); err != nil || a.Bridge != "a1" {
		t.Fatalf("allocated on %q (%v), want a1", a.Bridge, err)
	}
	silentConn.Close()
	silenced := time.Now()
	for gone := false; !gone; {
		select {
		case ev := <-events:
			gone = ev.Kind == bridgeapi.BridgeGone && ev.Bridge == "a1"
		case <-ctx.Done():
			t.Fatal("a1 never taken out")
		}
	}
	if took := time.Since(silenced); took > MissedAfter+500*time.Millisecond {
		t.Fatalf("a1 taken out after %v, want within %v of its last heartbeat", took, MissedAfter)
	}
	if a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "after", EndpointID: "e1"}); err != nil || a.Bridge != "b1" {
		t.Fatalf("new conference on %q (%v), want b1", a.Bridge, err)
	}

	other.Close()
	for {
		select {
		case ev := <-events:
			if ev.Kind == bridgeapi.BridgeGone && ev.Bridge == "b1" {
				if _, ok := p.Registry().Lookup("b1"); ok {
					t.Fatal("b1 said it is gone but is still in the registry")
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no bridge-gone from b1's shutdown")
		}
	}
}

// A bridge whose process died is skipped at once when NATS has no responder for it, before its
// heartbeats lapse: the allocation goes to the next bridge and the focus hears bridge-gone.
func TestDeadBridgeSkipped(t *testing.T) {
	s := startNATS(t)
	p, events := startPool(t, dial(t, s, s.CredsFile()))
	deadConn := dial(t, s, s.BridgeCredsFile())
	startBridge(t, deadConn, "a1", "eu")
	startBridge(t, dial(t, s, s.BridgeCredsFile()), "b1", "us")
	waitBridges(t, p, 2)
	clients := s.ns.NumClients()
	deadConn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.ns.NumClients() != clients-1 {
		if time.Now().After(deadline) {
			t.Fatal("the server did not notice the closed connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "eu"})
	if err != nil || a.Bridge != "b1" {
		t.Fatalf("allocated on %q (%v), want b1", a.Bridge, err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind == bridgeapi.BridgeGone && ev.Bridge == "a1" {
				return
			}
		case <-ctx.Done():
			t.Fatal("no bridge-gone for a1")
		}
	}
}

// wrongCreds writes credentials as an intruder who copied a cluster's pinned certificate
// but not its key would have them: another user nkey beside the certificate of credsFile.
func wrongCreds(t testing.TB, credsFile string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.creds")
	if _, err := LoadOrCreateCreds(path, RoleBridge); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(credsFile)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("-----BEGIN CERTIFICATE"))
	if i < 0 {
		t.Fatalf("%s pins no certificate", credsFile)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data[i:]); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls ok until it holds or 5 s passed.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A draining bridge tells the focus, takes no new endpoint, and new conferences go elsewhere, even
// before its next heartbeat.
func TestDrainingBridgeSkipped(t *testing.T) {
	s := startNATS(t)
	p, events := startPool(t, dial(t, s, s.CredsFile()))
	_, a1 := startBridge(t, dial(t, s, s.BridgeCredsFile()), "a1", "eu")
	startBridge(t, dial(t, s, s.BridgeCredsFile()), "b1", "us")
	waitBridges(t, p, 2)
	a1.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "eu"})
	if err != nil || a.Bridge != "b1" {
		t.Fatalf("allocated on %q (%v), want b1", a.Bridge, err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind == bridgeapi.BridgeDraining && ev.Bridge == "a1" {
				return
			}
		case <-ctx.Done():
			t.Fatal("no bridge-draining from a1")
		}
	}
}
