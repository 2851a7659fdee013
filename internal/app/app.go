// Package app builds every Parley component from one Config, starts them in
// order and stops them in reverse. It is the only package that imports all
// of them; cmd/parley and the end-to-end tests use it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/focus"
	"github.com/parley-im/parley/internal/turn"
	"github.com/parley-im/parley/internal/web"
	"github.com/parley-im/parley/internal/xmpp/avmoderation"
	"github.com/parley-im/parley/internal/xmpp/c2s"
	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/extdisco"
	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/ping"
	"github.com/parley-im/parley/internal/xmpp/router"
	"github.com/parley-im/parley/internal/xmpp/sasl"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Version is set at build time with -ldflags "-X …/app.Version=…".
var Version = "dev"

// App is a running (or ready to run) Parley server.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	tls   *tls.Config
	store *auth.Store
	// selfSigned: no tls-cert was given, so the certificate is Parley's own.
	selfSigned bool

	Router *router.Router
	C2S    *c2s.Server
	Disco  *disco.Info
	Bridge *bridge.Bridge
	TURN   *turn.Server
	MUC    *muc.Service
	Focus  *focus.Focus
	reg    *prometheus.Registry

	// bridges is how the focus reaches the bridges: the one in this
	// process, or a cluster's over NATS (cluster.go).
	bridges bridgeapi.Bridges
	cluster clusterParts
	// clusterTURN hands out the bridge nodes' TURN servers (turn.go); nil without a cluster.
	clusterTURN *clusterTURN

	// AVModeration is avmoderation.<domain> (moderation.go).
	AVModeration *avmoderation.Component

	http   *http.Server
	xmppLn net.Listener
	httpLn net.Listener
	ready  atomic.Bool
	wg     sync.WaitGroup
	errc   chan error
}

// AccountsFile is where accounts live inside the data directory.
func AccountsFile(dataDir string) string { return filepath.Join(dataDir, "accounts.db") }

// New builds every component; nothing listens yet.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Auth.Mode == auth.ModeAccounts || cfg.Auth.Mode == auth.ModeJWT {
		// A secure domain: only account or token holders start rooms;
		// guests join rooms that have been started.
		cfg.MUC.RestrictCreation = true
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	clusterBridgeID(&cfg)
	a := &App{cfg: cfg, log: log, errc: make(chan error, 4), selfSigned: cfg.TLSCert == ""}
	var err error
	if a.tls, err = loadTLS(cfg.TLSCert, cfg.TLSKey, cfg.Data, cfg.Domain); err != nil {
		return nil, cfg.Named(err)
	}
	if cfg.Role == config.RoleBridge {
		if err := a.newBridgeRole(); err != nil {
			return nil, err
		}
		return a, nil
	}
	if a.store, err = auth.Open(AccountsFile(cfg.Data)); err != nil {
		return nil, err
	}
	a.Router = router.New(cfg.Domain, log)
	a.Disco = disco.New(disco.Identity{Category: "server", Type: "im", Name: "Parley"})
	m := mux.New()
	a.Disco.Register(m)
	a.Disco.SetItems(func() []disco.Item {
		var items []disco.Item
		for _, d := range a.Router.Components() {
			items = append(items, disco.Item{JID: d})
		}
		return items
	})
	ping.Register(m, a.Disco)
	extdisco.Register(m, a.Disco, a.turnServices)
	a.Router.AddComponent(cfg.Domain, router.ComponentFunc(func(el *stanza.Element) {
		m.Route(context.Background(), el, a.Router.Route)
	}))

	saslCfg := sasl.Config{AllowAnonymous: cfg.C2S.AllowAnonymous, Store: a.store, Domain: cfg.Domain}
	if cfg.Auth.Mode == auth.ModeJWT {
		// Token users and (with [auth] guests) guests come through
		// ANONYMOUS; c2s allow-anonymous does not open it to guests.
		if saslCfg.Tokens, err = auth.NewVerifier(cfg.JWT, cfg.Domain); err != nil {
			a.store.Close()
			return nil, err
		}
		saslCfg.AllowAnonymous, saslCfg.Guests = false, cfg.Auth.Guests
	}
	saslSrv := sasl.NewServer(saslCfg)
	c2sCfg := cfg.C2S
	c2sCfg.AllowedWSOrigins = a.wsOrigins()
	a.C2S, err = c2s.New(c2s.Options{
		Domain: cfg.Domain, Config: c2sCfg, TLS: a.tls, Router: a.Router, SASL: saslSrv, Logger: log,
	})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	if err := a.newMUC(); err != nil {
		a.store.Close()
		return nil, err
	}
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerXMPPMetrics(a.reg, a.C2S, a.Router)
	if cfg.Role == config.RoleAll {
		// A signal node runs no bridge and so no TURN: its relays could reach no media port.
		bcfg := cfg.Bridge
		bcfg.MediaAddr = cfg.Media
		if cfg.PublicIP != "" {
			bcfg.PublicIP = cfg.PublicIP
		}
		if a.Bridge, err = bridge.New(bcfg, log, a.reg); err != nil {
			a.store.Close()
			return nil, err
		}
		if a.TURN, err = turn.New(cfg.TURNConfig(), turn.Options{TLS: a.tls, DataDir: cfg.Data, Registerer: a.reg, Logger: log}); err != nil {
			a.store.Close()
			return nil, err
		}
		a.bridges = bridgeapi.NewLocal(a.Bridge)
	}
	a.newClusterParts()
	if err := a.newClusterTURN(); err != nil {
		a.store.Close()
		return nil, err
	}
	if err := a.newFocus(); err != nil {
		a.store.Close()
		return nil, err
	}
	a.newModeration()
	metricsAllow, err := allowList(cfg.MetricsAllow)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	extra := map[string]http.Handler{
		"GET /metrics": web.OnlyFrom(metricsAllow, promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})),
	}
	if a.Bridge != nil {
		extra["/colibri-ws/"] = a.Bridge.ChannelHandler(a.wsOrigins()...)
		// What the bridge does for each receiver (estimate, allocation, layers): from where
		// /metrics may be read, as it names every conference and participant.
		extra["GET /debug/bridge"] = web.OnlyFrom(metricsAllow, a.Bridge.DebugHandler())
	}
	if a.cluster.pool != nil {
		extra["GET /debug/cluster"] = web.OnlyFrom(metricsAllow, a.clusterDebug())
	}
	a.http = &http.Server{
		Handler: web.New(web.Options{
			Domain: cfg.Domain,
			Public: a.publicBase(),
			XMPP:   a.C2S,
			Ready:  a.ready.Load,
			Extra:  extra,
			// A cluster's bridge nodes serve their bridge channels themselves (cluster.go).
			ConnectSrc: a.bridgeOrigins,
		}),
		TLSConfig:         a.tls,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return a, nil
}

// Start opens the listeners and serves in the background.
func (a *App) Start() error {
	if a.cfg.Role == config.RoleBridge {
		return a.startBridgeRole()
	}
	var err error
	if a.xmppLn, err = net.Listen("tcp", a.cfg.XMPP); err != nil {
		return fmt.Errorf("xmpp listener: %w", err)
	}
	if a.httpLn, err = net.Listen("tcp", a.cfg.HTTP); err != nil {
		a.xmppLn.Close()
		return fmt.Errorf("https listener: %w", err)
	}
	if a.Bridge != nil {
		if err := a.Bridge.Start(); err != nil {
			a.xmppLn.Close()
			a.httpLn.Close()
			return err
		}
		media, _ := netip.ParseAddrPort(a.Bridge.MediaAddr().String())
		if err := a.TURN.Start(media); err != nil {
			a.xmppLn.Close()
			a.httpLn.Close()
			a.Bridge.Close()
			return err
		}
	}
	// TURN over TLS on the HTTPS port: known before the cluster hears of this process's TURN server.
	var shared net.Listener
	if a.TURN != nil {
		shared = a.TURN.ShareTLS(a.httpLn, a.tls)
	}
	if err := a.startCluster(); err != nil {
		a.xmppLn.Close()
		a.httpLn.Close()
		if a.Bridge != nil {
			a.TURN.Close()
			a.Bridge.Close()
		}
		return err
	}
	a.serve(func() error { return a.C2S.Serve(a.xmppLn) })
	a.serve(func() error {
		var err error
		if shared != nil {
			err = a.http.Serve(shared)
		} else {
			err = a.http.ServeTLS(a.httpLn, "", "")
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	a.ready.Store(true)
	media := "none (role signal)"
	if a.Bridge != nil {
		media = a.Bridge.MediaAddr().String()
	}
	a.log.Info("parley serving", "domain", a.cfg.Domain, "role", a.cfg.Role, "https", a.httpLn.Addr().String(),
		"xmpp", a.xmppLn.Addr().String(), "media", media, "version", Version)
	a.log.Info(a.openLine())
	return nil
}

// URL is the address to open in a browser: public-url when set, else
// https://DOMAIN with the HTTPS listener's port (left out when 443), the
// name the certificate is for.
func (a *App) URL() string {
	if p := a.publicBase(); p != "" {
		return p + "/"
	}
	_, port, _ := net.SplitHostPort(a.httpLn.Addr().String())
	host := a.cfg.Domain
	if port != "443" {
		host = net.JoinHostPort(host, port)
	}
	return "https://" + host + "/"
}

// openLine is the one startup line a person reads: where to go, and that a
// self-signed certificate needs accepting once in the browser.
func (a *App) openLine() string {
	line := "open " + a.URL() + " in a browser"
	if a.selfSigned {
		line += "; the certificate is self-signed (" + filepath.Join(a.cfg.Data, "tls-cert.pem") +
			"), so the browser warns once: accept it there (set --tls-cert and --tls-key for a real one)"
	}
	return line
}

func (a *App) serve(f func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := f(); err != nil {
			a.errc <- err
		}
	}()
}

// maxICEServers is the most XEP-0215 entries handed out: each becomes one ICE server URL, and Firefox
// warns that five or more slow down candidate gathering.
const maxICEServers = 4

// Err reports a component that stopped serving on its own.
func (a *App) Err() <-chan error { return a.errc }

// XMPPAddr is the c2s TCP address actually bound.
func (a *App) XMPPAddr() net.Addr { return a.xmppLn.Addr() }

// HTTPAddr is the HTTPS address actually bound.
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// Store returns the accounts store.
func (a *App) Store() *auth.Store { return a.store }

// Shutdown stops accepting, ends every stream with system-shutdown, and
// closes the store. It waits for the serving goroutines until ctx is done.
func (a *App) Shutdown(ctx context.Context) error {
	if a.cfg.Role == config.RoleBridge {
		return a.shutdownBridgeRole(ctx)
	}
	a.ready.Store(false)
	var errs []error
	a.xmppLn.Close()
	errs = append(errs, a.C2S.Shutdown(ctx))
	a.Focus.Close()
	a.MUC.Close()
	a.stopCluster()
	errs = append(errs, a.http.Shutdown(ctx))
	a.wg.Wait()
	if a.Bridge != nil {
		errs = append(errs, a.TURN.Close(), a.Bridge.Close())
	}
	errs = append(errs, a.store.Close())
	return errors.Join(errs...)
}

// Run serves until ctx is cancelled (SIGINT/SIGTERM in main), then shuts
// down gracefully within 10 seconds; a clustered bridge node drains first,
// for up to cfg.DrainTimeout (Drain).
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	a, err := New(cfg, log)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		if a.store != nil {
			a.store.Close()
		}
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		if cfg.DrainTimeout > 0 {
			dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
			if err := a.Drain(dctx); err != nil {
				log.Warn("exiting before the bridge drained", "err", err)
			}
			cancel()
		}
	case serveErr = <-a.Err():
		log.Error("component stopped", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(serveErr, a.Shutdown(sctx))
}
