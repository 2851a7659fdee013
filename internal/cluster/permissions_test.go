package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// A node holding the bridge nodes' key plays the attacker on the embedded server: it cannot send a
// bridge any request (the focus's side), read the heartbeats, events or the replies to the signal
// node's requests, nor answer a request it was not sent; NATS refuses each with a permission
// violation, and the cluster keeps working for the signal node and the real bridge.
func TestBridgeKeyPermissions(t *testing.T) {
	s := startNATS(t)
	attackBridgeKey(t, []string{s.URL()}, s.CredsFile(), s.BridgeCredsFile())
}

// The same attacks on a nats-server run from the configuration `parley cluster-creds` writes
// (skipped, saying so, where nats-server is not installed).
func TestBridgeKeyPermissionsNATSServer(t *testing.T) {
	exe, err := exec.LookPath("nats-server")
	if err != nil {
		exe, err = exec.LookPath("/usr/sbin/nats-server") // Debian's, outside a user's PATH
	}
	if err != nil {
		t.Skip("nats-server is not installed: the nats-server variant does not run")
	}
	dir := t.TempDir()
	keys, err := WriteCredentials(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := TLSFiles(dir)
	// The server picks its ports and says which in its ports file.
	srv := NATSServer{Name: "parley-nats-1", Listen: "127.0.0.1:-1", RouteListen: "127.0.0.1:-1", Cert: cert, Key: key, Keys: keys}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(srv.Config()+"ports_file_dir: "+strconv.Quote(dir)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-c", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	var url string
	waitFor(t, "nats-server's ports file", func() bool {
		select {
		case <-done:
			t.Fatalf("nats-server ended:\n%s", out.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, "nats-server_"+strconv.Itoa(cmd.Process.Pid)+".ports"))
		if err != nil {
			return false
		}
		var ports struct{ Nats []string }
		if json.Unmarshal(b, &ports) != nil || len(ports.Nats) == 0 {
			return false
		}
		url = ports.Nats[0]
		return true
	})
	attackBridgeKey(t, []string{url}, CredsFile(dir), BridgeCredsFile(dir))
}

// attackBridgeKey runs a signal node's pool (signalCreds) and a bridge "v1" with its relays
// (bridgeCreds) on the cluster at urls, then attacks them from another connection with bridgeCreds.
func attackBridgeKey(t *testing.T, urls []string, signalCreds, bridgeCreds string) {
	dialAs := func(creds, name string) *nats.Conn {
		t.Helper()
		nc, err := Dial(urls, creds, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	p, events := startPool(t, dialAs(signalCreds, "signal"))
	victimConn := dialAs(bridgeCreds, "v1")
	v1, _ := startBridge(t, victimConn, "v1", "eu")
	rs, err := ServeRelays(victimConn, v1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	waitBridges(t, p, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e1", Region: "eu"}); err != nil {
		t.Fatal(err)
	}

	attacker := dialAs(bridgeCreds, "attacker")
	violations := make(chan error, 16)
	attacker.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err })
	refused := func(what, subject string) {
		t.Helper()
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `"`+subject+`"`) {
				t.Fatalf("%s: %v, want a permission violation on %q", what, err, subject)
			}
		case <-ctx.Done():
			t.Fatalf("%s: no permission violation: NATS let the bridge key do it", what)
		}
	}

	// The focus's side: expire the victim's endpoint, ask it for a relay, allocate on it.
	for _, op := range []string{opExpire, opRelayAllocate, opAllocate} {
		subject := requestSubject("v1", op)
		if err := attacker.Publish(subject, mustJSON(bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"})); err != nil {
			t.Fatal(err)
		}
		refused("a request to another bridge", subject)
	}
	// A request of its own needs a reply inbox it may not read.
	if _, err := attacker.Request(requestSubject("v1", opExpire), nil, time.Second); err == nil {
		t.Fatal("the bridge key made a request and got an answer")
	}
	for range 2 { // the inbox subscription and the request itself, in either order
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("a request: %v, want a permission violation", err)
			}
		case <-ctx.Done():
			t.Fatal("a request: no permission violation")
		}
	}

	// Reading what the signal node hears or is told: heartbeats, events, every reply.
	for _, subject := range []string{subjectHeartbeat, subjectEvents, "_INBOX.>", ">"} {
		if _, err := attacker.Subscribe(subject, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		refused("a subscription", subject)
	}

	// Answering an allocation the signal node asked v1 for, on a reply subject the attacker learnt:
	// its forged answer is refused, and the first reply is v1's.
	inbox := nats.NewInbox()
	sig := dialAs(signalCreds, "signal asks")
	replies, err := sig.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Flush(); err != nil {
		t.Fatal(err)
	}
	forged := reply{Allocated: &bridgeapi.Allocated{Bridge: "v1", ChannelBase: "wss://attacker.example",
		Allocation: &bridge.Allocation{}}}
	if err := attacker.Publish(inbox, mustJSON(forged)); err != nil {
		t.Fatal(err)
	}
	refused("an answer to a request it was not sent", inbox)
	if err := sig.PublishRequest(requestSubject("v1", opAllocate), inbox,
		mustJSON(bridgeapi.AllocateRequest{ConferenceID: "c1", EndpointID: "e2"})); err != nil {
		t.Fatal(err)
	}
	m, err := replies.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Allocated == nil || r.Allocated.ChannelBase != "wss://v1.example" ||
		r.Allocated.Allocation == nil || r.Allocated.Allocation.ICE.Ufrag == "" {
		t.Fatalf("the first answer is not v1's: %s (%v)", m.Data, err)
	}

	// The cluster works for everyone else: the victim still holds its endpoint, the pool allocates,
	// passes requests, and hears v1's events.
	if _, err := v1.Settings("c1", "e1"); err != nil {
		t.Fatalf("the victim lost its endpoint: %v", err)
	}
	if a, err := p.Allocate(ctx, bridgeapi.AllocateRequest{ConferenceID: "c2", EndpointID: "e1", Region: "eu"}); err != nil || a.Bridge != "v1" {
		t.Fatalf("allocated on %q (%v) after the attacks, want v1", a.Bridge, err)
	}
	if err := p.Expire(ctx, "v1", bridge.ExpireRequest{ConferenceID: "c1", EndpointID: "e1"}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind == bridgeapi.EndpointExpired && ev.Bridge == "v1" && ev.EndpointID == "e1" {
				if !attacker.IsConnected() {
					t.Fatal("the attacker's connection closed: each refusal should be of its message only")
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no endpoint-expired from v1 after the attacks")
		}
	}
}

// A folder holding an older Parley's single cluster.creds: the embedded server makes that key the
// bridge nodes' (a bridge node holding the old file joins, with a bridge's permissions only), gives
// cluster.creds a new signal key, and a signal node refuses the old file with a clear error; each
// role refuses the other's file.
func TestOldSingleCredsMigrated(t *testing.T) {
	dir := t.TempDir()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	oldPub, _ := kp.PublicKey()
	old := "# Parley cluster credentials: the NATS nkey seed every node of this cluster signs in with,\n" + string(seed) + "\n"
	if err := os.WriteFile(CredsFile(dir), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := loadOrCreateServerTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := pinCertificate(CredsFile(dir), cert); err != nil {
		t.Fatal(err)
	}
	oldFile := filepath.Join(t.TempDir(), "old.creds") // a bridge node's copy
	data, _ := os.ReadFile(CredsFile(dir))
	os.WriteFile(oldFile, data, 0o600)
	if err := CheckCreds(oldFile, RoleSignal); !errors.Is(err, errOldCreds) {
		t.Fatalf("a signal node with the old file: %v", err)
	}
	if err := CheckCreds(oldFile, RoleBridge); err != nil {
		t.Fatalf("a bridge node with the old file: %v", err)
	}

	s, err := StartServer("127.0.0.1:0", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if pub, err := LoadOrCreateCreds(s.BridgeCredsFile(), RoleBridge); err != nil || pub != oldPub {
		t.Fatalf("bridge key %q (%v), want the old key %q", pub, err, oldPub)
	}
	if pub, err := LoadOrCreateCreds(s.CredsFile(), RoleSignal); err != nil || pub == oldPub {
		t.Fatalf("signal key %q (%v), want a new one", pub, err)
	}
	for file, role := range map[string]string{s.CredsFile(): RoleBridge, s.BridgeCredsFile(): RoleSignal} {
		if err := CheckCreds(file, role); err == nil || !strings.Contains(err.Error(), "nodes'") {
			t.Fatalf("a %s node with %s: %v", role, filepath.Base(file), err)
		}
	}
	// The old copy signs in, as a bridge: it may not ask a bridge for anything.
	nc := dial(t, s, oldFile)
	violations := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err })
	nc.Publish(requestSubject("v1", opExpire), nil)
	select {
	case err := <-violations:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old key kept the signal node's permissions")
	}
	dial(t, s, s.CredsFile())
	// A restart keeps the migrated files.
	s.Close()
	s2, err := StartServer("127.0.0.1:0", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if pub, _ := LoadOrCreateCreds(s2.BridgeCredsFile(), RoleBridge); pub != oldPub {
		t.Fatal("the restart changed the bridge key")
	}
}
