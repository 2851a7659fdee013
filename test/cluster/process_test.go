package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// parleyBinary builds cmd/parley once for the process tests.
var parleyBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "parley-cluster-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "parley")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/parley-im/parley/cmd/parley").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// freePort returns a loopback port nothing listens on now (TCP or UDP).
func freePort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}
	return addr
}

// node is one `parley serve` process.
type node struct {
	name string
	cmd  *exec.Cmd
	http string // HTTPS host:port
	data string
	log  string // its stderr, kept in a file
	done chan error
}

// serve starts `parley serve args…` with its HTTPS port on loopback; its log is shown if the test fails.
func serve(t *testing.T, name string, args ...string) *node {
	t.Helper()
	bin, err := parleyBinary()
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, http: freePort(t, "tcp"), data: t.TempDir(), done: make(chan error, 1)}
	n.log = filepath.Join(n.data, "stderr.log")
	logf, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback candidates, as in every in-process test; only a bridge reads it.
	conf := filepath.Join(n.data, "parley.toml")
	os.WriteFile(conf, []byte("[bridge]\ninclude-loopback = true\n"), 0o600)
	args = append([]string{"serve", "--config", conf, "--http", n.http, "--data", n.data, "--log-level", "info"}, args...)
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stderr, n.cmd.Stdout = logf, logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("%s's log:\n%s", n.name, b)
		}
	})
	return n
}

// stop ends the process gracefully (SIGTERM), or kills it after 10 s.
func (n *node) stop() {
	if n.cmd.ProcessState != nil {
		return
	}
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// getJSON reads https://node/path into v.
func (n *node) getJSON(path string, v any) error {
	res, err := xmpptest.HTTPClient().Get("https://" + n.http + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		io.Copy(io.Discard, res.Body)
		return fmt.Errorf("%s: %s", path, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// waitHealthy waits for /healthz, or for the process to exit.
func (n *node) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := xmpptest.HTTPClient().Get("https://" + n.http + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-n.done:
			n.done <- err
			b, _ := os.ReadFile(n.log)
			t.Fatalf("%s exited (%v):\n%s", n.name, err, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became healthy", n.name)
		}
	}
}

// bridgesKnown is the IDs of the bridges the signal node's /debug/cluster lists.
func bridgesKnown(t *testing.T, signal *node) []cluster.Heartbeat {
	var v struct{ Bridges []cluster.Heartbeat }
	if err := signal.getJSON("/debug/cluster", &v); err != nil {
		t.Fatal(err)
	}
	return v.Bridges
}

// bridgeID is the ID of the bridge in region, as the signal node knows it.
func bridgeID(t *testing.T, signal *node, region string) string {
	for _, hb := range bridgesKnown(t, signal) {
		if hb.Region == region {
			return hb.Bridge
		}
	}
	return ""
}

// joinBots joins n bots to room and waits until each receives the others.
func joinBots(t *testing.T, ctx context.Context, url string, n int) []*bot.Bot {
	t.Helper()
	var bots []*bot.Bot
	for range n {
		b, err := bot.Join(ctx, bot.Options{URL: url, Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bots = append(bots, b)
	}
	for _, me := range bots {
		if err := me.Wait(ctx, hearsAll(me, bots)); err != nil {
			t.Fatalf("%s in %s: %v", me.EndpointID(), url, err)
		}
	}
	return bots
}

// processCluster is a signal node, as a `parley serve` process, that embeds the cluster's NATS server.
type processCluster struct {
	signal *node
	nats   string // the embedded NATS server's address
	creds  string // the cluster-bridge.creds it wrote, which bridge nodes sign in with
}

func startProcessCluster(t *testing.T) *processCluster {
	t.Helper()
	natsAddr := freePort(t, "tcp")
	signal := serve(t, "signal", "--role", "signal", "--cluster-listen", natsAddr, "--xmpp", freePort(t, "tcp"))
	signal.waitHealthy(t)
	return &processCluster{signal: signal, nats: natsAddr, creds: cluster.BridgeCredsFile(signal.data)}
}

// bridge starts a bridge node of region in the cluster (extra flags after the usual ones) and waits
// until it is healthy.
func (pc *processCluster) bridge(t *testing.T, region string, extra ...string) *node {
	t.Helper()
	args := append([]string{"--role", "bridge", "--cluster", "nats://" + pc.nats, "--cluster-creds", pc.creds,
		"--region", region, "--media", freePort(t, "udp")}, extra...)
	n := serve(t, region+" bridge", args...)
	n.waitHealthy(t)
	return n
}

// Three `parley serve` processes connected only through the NATS server the signal node embeds:
// bots of region eu meet on the eu bridge; after `kill -9` of that bridge the signal node takes it
// out within MissedAfter of its last heartbeat, the focus moves the bots to the other bridge, and a
// new conference of region eu meets there too. A bridge process with the cluster's certificate but
// another key is refused and exits.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs parley serve processes")
	}
	pc := startProcessCluster(t)
	signal := pc.signal
	eu, us := pc.bridge(t, "eu"), pc.bridge(t, "us")
	waitFor(t, "the signal node to know both bridges", func() bool { return len(bridgesKnown(t, signal)) == 2 })
	euID := bridgeID(t, signal, "eu")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	joinBots(t, ctx, "https://"+signal.http+"/before?region=eu", 2)
	var dbg struct{ Conferences []struct{ ID string } }
	if err := eu.getJSON("/debug/bridge", &dbg); err != nil || len(dbg.Conferences) != 1 {
		t.Fatalf("the eu bridge holds %d conferences (%v), want 1", len(dbg.Conferences), err)
	}

	// The eu bridge's heartbeats carry its load while the bots' media goes through it.
	waitFor(t, "the eu bridge's heartbeat to show its endpoints, packets and CPU", func() bool {
		for _, hb := range bridgesKnown(t, signal) {
			if hb.Bridge == euID {
				return hb.Endpoints == 2 && hb.Conferences == 1 && hb.PacketsPerSecond > 50 && hb.CPU > 0 && hb.Version != ""
			}
		}
		return false
	})

	eu.cmd.Process.Kill()
	killed := time.Now()
	<-eu.done
	eu.done <- nil
	waitFor(t, "the signal node to take the killed bridge out", func() bool {
		return !slices.ContainsFunc(bridgesKnown(t, signal), func(hb cluster.Heartbeat) bool { return hb.Bridge == euID })
	})
	if took := time.Since(killed); took > cluster.MissedAfter+500*time.Millisecond {
		t.Fatalf("the killed bridge was taken out after %v, want within %v", took, cluster.MissedAfter)
	}
	joinBots(t, ctx, "https://"+signal.http+"/after?region=eu", 2)
	if err := us.getJSON("/debug/bridge", &dbg); err != nil || len(dbg.Conferences) != 2 {
		t.Fatalf("the us bridge holds %d conferences (%v), want the one moved off the killed bridge and the new one", len(dbg.Conferences), err)
	}

	other := wrongCreds(t, pc.creds)
	intruder := serve(t, "intruder", "--role", "bridge", "--cluster", "nats://"+pc.nats, "--cluster-creds", other, "--media", freePort(t, "udp"))
	select {
	case err := <-intruder.done:
		intruder.done <- err
		b, _ := os.ReadFile(intruder.log)
		if err == nil || !strings.Contains(strings.ToLower(string(b)), "authorization") {
			t.Fatalf("the intruder exited with %v:\n%s", err, b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a bridge with another cluster's credentials kept running")
	}
	if n := len(bridgesKnown(t, signal)); n != 1 {
		t.Fatalf("the signal node knows %d bridges, want 1", n)
	}
}
