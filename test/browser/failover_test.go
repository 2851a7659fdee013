package browser_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestBrowserFailover runs failover.test.js against a cluster on loopback: a signal node embedding
// NATS and two bridge nodes, each an App of its own. A POST to PARLEY_FAILOVER_CONTROL shuts down the
// bridge that holds a conference, as an operator stops a bridge process, and answers once it is gone.
func TestBrowserFailover(t *testing.T) {
	node, chromium := nodetest.Chromium(t, "node_modules", "playwright-core")
	if testing.Short() {
		t.Skip("browser tests take a minute; skipped with -short")
	}
	signal := xmpptest.Start(t, func(c *config.Config) {
		c.Role = config.RoleSignal
		c.ClusterListen = "127.0.0.1:0"
	})
	var mu sync.Mutex
	var bridges []*app.App
	for _, region := range []string{"eu", "us"} {
		cfg := config.Default()
		cfg.Role = config.RoleBridge
		cfg.Cluster = []string{signal.App.ClusterURL()}
		cfg.ClusterCreds = cluster.BridgeCredsFile(signal.Config.Data)
		cfg.Region = region
		// Its own public URL names the bridge node in channel URLs, as in a real cluster.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.HTTP, cfg.Media = ln.Addr().String(), "127.0.0.1:0"
		ln.Close()
		cfg.PublicURL = "https://" + cfg.HTTP
		cfg.Data = t.TempDir()
		cfg.LogLevel = "warn"
		cfg.Bridge.IncludeLoopback = true
		// The page comes from the signal node's origin; its bridge channel goes to the bridge node.
		cfg.C2S.AllowedWSOrigins = []string{"127.0.0.1:*"}
		b, err := app.New(cfg, slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stopApp(t, b) })
		bridges = append(bridges, b)
	}
	for deadline := time.Now().Add(10 * time.Second); len(signal.App.ClusterBridges()) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the signal node does not know both bridges")
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctl := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST stops the bridge holding a conference", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		i := slices.IndexFunc(bridges, func(b *app.App) bool { return len(b.Bridge.Debug().Conferences) > 0 })
		if i < 0 {
			http.Error(w, "no bridge holds a conference", http.StatusConflict)
			return
		}
		stopApp(t, bridges[i])
		fmt.Fprintln(w, "stopped", bridges[i].Bridge.ID())
		bridges = slices.Delete(bridges, i, i+1)
	})}
	go ctl.Serve(ln)
	t.Cleanup(func() { ctl.Close() })

	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "failover.test.js")
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+signal.HTTP,
		"PARLEY_FAILOVER_URL=https://"+signal.HTTP,
		"PARLEY_FAILOVER_CONTROL=http://"+ln.Addr().String()+"/stop-bridge",
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	took, err := nodetest.Run(t, cmd)
	if err != nil {
		t.Fatalf("failover.test.js failed after %v: %v (screenshots in %s)", took.Round(time.Millisecond), err, artifacts)
	}
}

// stopApp shuts a bridge node down; a second call does nothing more.
func stopApp(t *testing.T, a *app.App) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
