package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/turn"
	"github.com/parley-im/parley/internal/web"
)

// The cluster (docs/architecture.md "More than one machine"): with no cluster flags nothing here runs
// and the focus calls the bridge in this process. With them, the focus reaches every bridge (its own
// too, in role all) through NATS, and a bridge node serves its bridge there.

// clusterParts are what a clustered process runs besides its components.
type clusterParts struct {
	nats *cluster.Server // the embedded NATS server (--cluster-listen), or nil
	nc   *nats.Conn
	pool *cluster.Pool // the focus's bridges (signal and all roles), or nil
	node *cluster.Node // this process's bridge in the cluster (bridge and all roles), or nil
	// relays answers the focus's relay requests for this process's bridge (cascading), or nil
	relays *cluster.RelayService
}

// clusterBridgeID gives a clustered bridge that kept the default ID one of its own: the ID names the
// bridge in the cluster's subjects and channel URLs, so two bridges must not share it.
func clusterBridgeID(cfg *config.Config) {
	if cfg.Clustered() && cfg.Role != config.RoleSignal && cfg.Bridge.ID == bridge.Default().ID {
		b := make([]byte, 4)
		rand.Read(b)
		cfg.Bridge.ID = "bridge-" + hex.EncodeToString(b)
	}
}

// newClusterParts prepares the pool and the bridge's node; nothing connects until startCluster.
func (a *App) newClusterParts() {
	if !a.cfg.Clustered() {
		return
	}
	if a.cfg.Role != config.RoleBridge {
		a.cluster.pool = cluster.NewPool(nil, a.log)
		a.bridges = a.cluster.pool
	}
	if a.Bridge != nil {
		a.cluster.node = cluster.NewNode(a.Bridge, cluster.NodeOptions{
			Region: a.cfg.Region, Version: Version, Load: cluster.LoadFrom(a.reg), Log: a.log,
		})
	}
}

// channelBase is the wss://HOST[:PORT] of this process's bridge channel: public-url's host, else the
// domain with the HTTPS listener's port.
func (a *App) channelBase() string {
	if p := a.publicBase(); p != "" {
		return "wss://" + strings.TrimPrefix(p, "https://")
	}
	_, port, _ := net.SplitHostPort(a.httpLn.Addr().String())
	return "wss://" + net.JoinHostPort(a.cfg.Domain, port)
}

// startCluster starts the embedded NATS server if asked, connects, and starts the pool and the node.
// It runs after the listeners and the bridge are up, so the first heartbeat names a working bridge.
func (a *App) startCluster() error {
	if !a.cfg.Clustered() {
		return nil
	}
	urls, creds := a.cfg.Cluster, a.cfg.ClusterCreds
	if a.cfg.ClusterListen != "" {
		s, err := cluster.StartServer(a.cfg.ClusterListen, a.cfg.Data, a.log)
		if err != nil {
			return err
		}
		a.cluster.nats = s
		a.log.Info("cluster: NATS embedded", "url", s.URL(), "signal credentials", s.CredsFile(),
			"bridge credentials", s.BridgeCredsFile())
		if len(urls) == 0 {
			urls = []string{s.URL()}
		}
		if creds == "" {
			creds = s.CredsFile()
		}
	}
	if creds != "" {
		// A bridge node signs in with the bridge nodes' key, whose NATS permissions let it serve its
		// bridge and nothing else; signal and all nodes, which ask bridges, with the signal nodes' key.
		role := cluster.RoleSignal
		if a.cfg.Role == config.RoleBridge {
			role = cluster.RoleBridge
		}
		if err := cluster.CheckCreds(creds, role); err != nil {
			a.stopCluster()
			return err
		}
	}
	nc, err := cluster.Dial(urls, creds, "parley "+a.cfg.Role+" "+a.cfg.Domain)
	if err != nil {
		a.stopCluster()
		return err
	}
	a.cluster.nc = nc
	if a.cluster.node != nil {
		a.cluster.node.SetChannelBase(a.channelBase())
		a.cluster.node.SetTURN(a.turnAnnouncement())
		if err := a.cluster.node.Start(nc); err != nil {
			a.stopCluster()
			return err
		}
		if a.cluster.relays, err = cluster.ServeRelays(nc, a.Bridge); err != nil {
			a.stopCluster()
			return err
		}
	}
	if a.cluster.pool != nil {
		if err := a.cluster.pool.Start(nc); err != nil {
			a.stopCluster()
			return err
		}
	}
	a.log.Info("cluster: joined", "role", a.cfg.Role, "nats", nc.ConnectedUrlRedacted(), "region", a.cfg.Region)
	return nil
}

// stopCluster tells the cluster this process's bridge is gone and disconnects.
func (a *App) stopCluster() {
	if r := a.cluster.relays; r != nil {
		r.Close()
	}
	if n := a.cluster.node; n != nil {
		n.Close()
	}
	if p := a.cluster.pool; p != nil {
		p.Close()
	}
	if a.cluster.nc != nil {
		a.cluster.nc.Close()
	}
	if a.cluster.nats != nil {
		a.cluster.nats.Close()
	}
	a.cluster = clusterParts{pool: a.cluster.pool, node: a.cluster.node}
}

// newBridgeRole builds a bridge node: the bridge, its HTTPS front (/colibri-ws/, /healthz, /metrics,
// /debug/bridge), TURN when the node has the cluster's TURN secret (turn.go), and its place in the
// cluster; no XMPP, rooms or focus.
func (a *App) newBridgeRole() error {
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bcfg := a.cfg.Bridge
	bcfg.MediaAddr = a.cfg.Media
	if a.cfg.PublicIP != "" {
		bcfg.PublicIP = a.cfg.PublicIP
	}
	var err error
	if a.Bridge, err = bridge.New(bcfg, a.log, a.reg); err != nil {
		return err
	}
	withTURN, err := bridgeRunsTURN(a.cfg)
	if err != nil {
		return err
	}
	if withTURN {
		if a.TURN, err = turn.New(a.cfg.TURNConfig(), turn.Options{TLS: a.tls, DataDir: a.cfg.Data, Registerer: a.reg, Logger: a.log}); err != nil {
			return err
		}
	}
	metricsAllow, err := allowList(a.cfg.MetricsAllow)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/colibri-ws/", a.Bridge.ChannelHandler(a.wsOrigins()...))
	mux.Handle("GET /metrics", web.OnlyFrom(metricsAllow, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})))
	mux.Handle("GET /debug/bridge", web.OnlyFrom(metricsAllow, a.Bridge.DebugHandler()))
	a.http = &http.Server{
		Handler:           mux,
		TLSConfig:         a.tls,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	a.newClusterParts()
	return nil
}

// startBridgeRole opens a bridge node's HTTPS port, media socket and TURN ports, and joins the cluster.
func (a *App) startBridgeRole() error {
	var err error
	if a.httpLn, err = net.Listen("tcp", a.cfg.HTTP); err != nil {
		return fmt.Errorf("https listener: %w", err)
	}
	if err := a.Bridge.Start(); err != nil {
		a.httpLn.Close()
		return err
	}
	serve := func() error { return a.http.ServeTLS(a.httpLn, "", "") }
	if a.TURN != nil {
		media, _ := netip.ParseAddrPort(a.Bridge.MediaAddr().String())
		if err := a.TURN.Start(media); err != nil {
			a.httpLn.Close()
			a.Bridge.Close()
			return err
		}
		// TURN over TLS on the HTTPS port too, as a process of role all serves it.
		shared := a.TURN.ShareTLS(a.httpLn, a.tls)
		serve = func() error { return a.http.Serve(shared) }
	}
	if err := a.startCluster(); err != nil {
		a.httpLn.Close()
		if a.TURN != nil {
			a.TURN.Close()
		}
		a.Bridge.Close()
		return err
	}
	a.serve(func() error {
		err := serve()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	a.ready.Store(true)
	if a.publicBase() == "" && a.cfg.Domain == config.Default().Domain {
		a.log.Warn("the bridge channel is announced as "+a.channelBase()+"; set --public-url to the https:// address clients reach this bridge by",
			"bridge", a.Bridge.ID())
	}
	a.log.Info("parley bridge serving", "bridge", a.Bridge.ID(), "region", a.cfg.Region, "https", a.httpLn.Addr().String(),
		"media", a.Bridge.MediaAddr().String(), "version", Version)
	return nil
}

// Drain lets a clustered bridge node's participants move before it stops (SIGTERM or SIGINT, in
// Run): the bridge takes no new endpoints and says it drains, the focus moves its participants to
// other bridges, and Drain returns once the bridge holds no endpoint, or with ctx's error. Other
// processes have nothing to drain and return at once.
func (a *App) Drain(ctx context.Context) error {
	n := a.cluster.node
	if a.cfg.Role != config.RoleBridge || n == nil {
		return nil
	}
	a.log.Info("bridge draining", "bridge", a.Bridge.ID())
	n.Drain()
	select {
	case <-n.Drained():
		a.log.Info("bridge drained", "bridge", a.Bridge.ID())
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bridge %s: drain: %w", a.Bridge.ID(), ctx.Err())
	}
}

// shutdownBridgeRole leaves the cluster first (the signal nodes stop placing participants here), then
// stops serving.
func (a *App) shutdownBridgeRole(ctx context.Context) error {
	a.ready.Store(false)
	a.stopCluster()
	err := a.http.Shutdown(ctx)
	a.wg.Wait()
	if a.TURN != nil {
		err = errors.Join(err, a.TURN.Close())
	}
	return errors.Join(err, a.Bridge.Close())
}

// ClusterURL is the URL of the NATS server this process embeds (--cluster-listen), "" when none.
func (a *App) ClusterURL() string {
	if a.cluster.nats == nil {
		return ""
	}
	return a.cluster.nats.URL()
}

// ClusterBridges lists the bridges a signal node knows, as last heard; nil on other nodes.
func (a *App) ClusterBridges() []cluster.Heartbeat {
	if a.cluster.pool == nil {
		return nil
	}
	return a.cluster.pool.Registry().Bridges()
}

// bridgeOrigins are the wss://HOST:PORT of the bridge channels of the bridges a signal node knows,
// which its pages may connect to; nil without a cluster. A bridge that joins after a page loaded is
// not among them: a participant moved there has its media but no bridge channel until it reloads.
func (a *App) bridgeOrigins() []string {
	var out []string
	for _, hb := range a.ClusterBridges() {
		if hb.ChannelBase != "" {
			out = append(out, hb.ChannelBase)
		}
	}
	return out
}

// clusterDebug is GET /debug/cluster on a signal node: the bridges it knows, as last heard (JSON).
func (a *App) clusterDebug() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Bridges []cluster.Heartbeat `json:"bridges"`
		}{a.ClusterBridges()})
	})
}
