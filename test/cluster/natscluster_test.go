package cluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
)

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startNATSCluster runs three nats-server processes clustered on loopback with credentials made by
// cluster.WriteCredentials, waits until a message published on the first reaches a subscriber on the
// third, and returns their client URLs and the signal and bridge nodes' credentials files.
func startNATSCluster(t *testing.T, exe string) (urls []string, creds, bridgeCreds string) {
	t.Helper()
	dir := t.TempDir()
	keys, err := cluster.WriteCredentials(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	creds, bridgeCreds = cluster.CredsFile(dir), cluster.BridgeCredsFile(dir)
	cert, key := cluster.TLSFiles(dir)
	ports := freePorts(t, 6)
	var exited atomic.Int32 // nats-server processes that ended
	client, route := ports[:3], ports[3:]
	for i := range 3 {
		addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
		srv := cluster.NATSServer{Name: fmt.Sprintf("parley-nats-%d", i), Listen: addr(client[i]), RouteListen: addr(route[i]),
			Cert: cert, Key: key, Keys: keys}
		for j := range 3 {
			if j != i {
				srv.Routes = append(srv.Routes, addr(route[j]))
			}
		}
		conf := filepath.Join(dir, fmt.Sprintf("nats-%d.conf", i))
		if err := os.WriteFile(conf, []byte(srv.Config()), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-c", conf)
		cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
			exited.Add(1)
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
		})
		urls = append(urls, "nats://127.0.0.1:"+strconv.Itoa(client[i]))
	}

	// The servers are up when a node can sign in on each, and routed when the first's messages reach
	// the third's subscribers.
	dial := func(url string) *nats.Conn {
		var nc *nats.Conn
		waitFor(t, "nats-server at "+url+" to take a node", func() bool {
			if exited.Load() > 0 {
				t.Fatal("a nats-server process ended (its log is above)")
			}
			var err error
			nc, err = cluster.Dial([]string{url}, creds, "probe")
			return err == nil
		})
		t.Cleanup(nc.Close)
		return nc
	}
	first, third := dial(urls[0]), dial(urls[2])
	ch := make(chan *nats.Msg, 64)
	if _, err := third.ChanSubscribe("parley.probe.routes", ch); err != nil {
		t.Fatal(err)
	}
	if err := third.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for routed := false; !routed; {
		first.Publish("parley.probe.routes", []byte("hello"))
		select {
		case <-ch:
			routed = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("the nats-server cluster did not route a message from the first server to the third within 20 s")
		}
	}
	first.Close()
	third.Close()
	return urls, creds, bridgeCreds
}

// The three-server variant: the nodes meet on a nats-server cluster (three Debian nats-server
// processes on loopback, routed over mutual TLS), each node on another server: the signal node on the
// first, the eu bridge node on the second, the us bridge node on the third. Bots of eu and us in one
// room land on their region's bridge, the bridges cascade, and everyone receives everyone. A bridge
// node with another nkey beside the cluster's certificate is refused by the servers.
func TestNATSServerCluster(t *testing.T) {
	exe, err := exec.LookPath("nats-server")
	if err != nil {
		exe, err = exec.LookPath("/usr/sbin/nats-server") // Debian's, outside a user's PATH
	}
	if err != nil {
		t.Skip("nats-server is not installed (Debian: apt-get install nats-server): the three-server NATS cluster variant does not run")
	}
	urls, creds, bridgeCreds := startNATSCluster(t, exe)
	signal := startSignal(t, func(c *config.Config) {
		c.ClusterListen = ""
		c.Cluster, c.ClusterCreds = []string{urls[0]}, creds
	})
	if signal.App.ClusterURL() != "" {
		t.Fatal("the signal node embeds NATS")
	}
	bridgeOn := func(url, region string) *app.App {
		cfg := bridgeConfig(t, signal, region)
		cfg.Cluster, cfg.ClusterCreds = []string{url}, bridgeCreds
		b, err := app.New(cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { shutdown(t, b) })
		waitFor(t, "the signal node to hear bridge "+b.Bridge.ID()+" through the NATS cluster", func() bool {
			return slices.ContainsFunc(signal.App.ClusterBridges(), func(h cluster.Heartbeat) bool { return h.Bridge == b.Bridge.ID() })
		})
		return b
	}
	eu, us := bridgeOn(urls[1], "eu"), bridgeOn(urls[2], "us")

	intruder := bridgeConfig(t, signal, "eu")
	intruder.Cluster, intruder.ClusterCreds = []string{urls[1]}, wrongCreds(t, bridgeCreds)
	if b, err := app.New(intruder, testLog(t)); err != nil {
		t.Fatal(err)
	} else if err := b.Start(); err == nil {
		shutdown(t, b)
		t.Fatal("a bridge node with another nkey joined the nats-server cluster")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("a bridge node with another nkey: %v, want an authorization error", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	join := func(region string) *bot.Bot {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + signal.HTTP + "/natscluster?region=" + region, Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	all := []*bot.Bot{join("eu"), join("us"), join("eu"), join("us")}
	for _, me := range all {
		if err := me.Wait(ctx, hearsAll(me, all)); err != nil {
			t.Fatalf("%s: %v", me.EndpointID(), err)
		}
	}
	if n, m := conferences(eu), conferences(us); n != 1 || m != 1 {
		t.Fatalf("conferences on eu: %d, on us: %d; want the room on both", n, m)
	}
	for _, b := range []*app.App{eu, us} {
		if rs := relaysOf(b); len(rs) != 1 || !rs[0].Connected || len(rs[0].Endpoints) != 2 {
			t.Fatalf("relays of %s: %+v", b.Bridge.ID(), rs)
		}
	}
}
