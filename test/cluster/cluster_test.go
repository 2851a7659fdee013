// Package cluster_test runs Parley as a cluster on loopback: a signal node embedding NATS and bridge
// nodes in their own App instances, connected only through NATS, with bots and raw XMPP clients as
// participants (docs/architecture.md "More than one machine").
package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// startSignal runs a signal node that embeds NATS on loopback; mutate, when given, changes its
// configuration further.
func startSignal(t testing.TB, mutate ...func(*config.Config)) *xmpptest.Server {
	t.Helper()
	return xmpptest.Start(t, func(c *config.Config) {
		c.Role = config.RoleSignal
		c.ClusterListen = "127.0.0.1:0"
		for _, m := range mutate {
			m(c)
		}
	})
}

// bridgeConfig is a bridge node's configuration for the signal node's cluster.
func bridgeConfig(t testing.TB, signal *xmpptest.Server, region string) config.Config {
	cfg := config.Default()
	cfg.Role = config.RoleBridge
	cfg.Cluster = []string{signal.App.ClusterURL()}
	cfg.ClusterCreds = cluster.BridgeCredsFile(signal.Config.Data)
	cfg.Region = region
	cfg.HTTP, cfg.Media = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.LogLevel = "warn"
	cfg.Bridge.IncludeLoopback = true
	return cfg
}

// startBridge runs a bridge node in region and waits until the signal node knows it.
func startBridge(t testing.TB, signal *xmpptest.Server, region string) *app.App {
	t.Helper()
	b, err := app.New(bridgeConfig(t, signal, region), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, b) })
	waitFor(t, "the signal node to know bridge "+b.Bridge.ID(), func() bool {
		return slices.ContainsFunc(signal.App.ClusterBridges(), func(h cluster.Heartbeat) bool { return h.Bridge == b.Bridge.ID() })
	})
	return b
}

func shutdown(t testing.TB, a *app.App) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// conferences is how many conferences a bridge node holds.
func conferences(b *app.App) int { return len(b.Bridge.Debug().Conferences) }

// Bots that join through the signal node get their media through a bridge node that only NATS
// connects to the focus, the one of the region on their URL (?region=us): ICE, DTLS and the bridge
// channel go to the bridge node's own ports, and everyone receives everyone. Every role answers
// /healthz.
func TestBotsMeetOnABridgeOverNATS(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var bots []*bot.Bot
	for range 3 {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + signal.HTTP + "/standup?region=us", Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bots = append(bots, b)
	}
	for _, me := range bots {
		if err := me.Wait(ctx, hearsAll(me, bots)); err != nil {
			t.Fatalf("%s: %v", me.EndpointID(), err)
		}
	}
	if n, m := conferences(eu), conferences(us); n != 0 || m != 1 {
		t.Fatalf("conferences on eu: %d, on us: %d; want the bots' region us to hold it", n, m)
	}
	if signal.App.Bridge != nil {
		t.Fatal("the signal node runs a bridge")
	}
	for _, addr := range []string{signal.HTTP, eu.HTTPAddr().String(), us.HTTPAddr().String()} {
		res, err := xmpptest.HTTPClient().Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s/healthz: %s", addr, res.Status)
		}
	}
}

// hearsAll reports whether me receives audio and video from every other bot.
func hearsAll(me *bot.Bot, all []*bot.Bot) func(map[string]bot.Remote) bool {
	return func(got map[string]bot.Remote) bool {
		for _, b := range all {
			if b == me {
				continue
			}
			if r := got[b.EndpointID()]; r.AudioPackets < 10 || r.VideoFrames < 5 {
				return false
			}
		}
		return true
	}
}

// joinInRegion joins room as nick with a <jitsi_participant_region/> and returns the focus's
// session-initiate.
func joinInRegion(t *testing.T, signal *xmpptest.Server, room, nick, region string) *stanza.Element {
	t.Helper()
	c := signal.DialWS(t, "")
	c.Login("", "")
	c.Send(fmt.Sprintf(`<iq type="set" id="conf" to="focus.localhost"><conference xmlns="http://jitsi.org/protocol/focus" room="%s@conference.localhost"/></iq>`, room))
	c.ExpectSkip("conference result", xmpptest.IsResult("conf"))
	hint := ""
	if region != "" {
		hint = "<jitsi_participant_region>" + region + "</jitsi_participant_region>"
	}
	c.Send(fmt.Sprintf(`<presence to="%s@conference.localhost/%s"><x xmlns="http://jabber.org/protocol/muc"/>%s</presence>`, room, nick, hint))
	disco := c.ExpectSkip("disco#info", func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("type") == "get" && e.Child(stanza.NSDiscoInf, "query") != nil
	})
	c.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"><query xmlns="%s"><feature var="urn:xmpp:jingle:apps:rtp:audio"/><feature var="urn:xmpp:jingle:apps:rtp:video"/></query></iq>`,
		disco.Get("id"), disco.Get("from"), stanza.NSDiscoInf))
	return c.ExpectSkip("session-initiate", func(e *stanza.Element) bool {
		j := e.Child("urn:xmpp:jingle:1", "jingle")
		return j != nil && j.Get("action") == "session-initiate"
	})
}

// A participant's region picks the bridge of that region for a new conference, whatever the load;
// the offer then names that bridge's media port and channel.
func TestRegionPicksTheBridge(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	for _, tc := range []struct {
		room, region string
		want         *app.App
	}{{"euroom", "eu", eu}, {"usroom", "us", us}, {"euroom2", "eu", eu}} {
		si := joinInRegion(t, signal, tc.room, "p"+tc.region, tc.region)
		_, port, _ := strings.Cut(tc.want.Bridge.MediaAddr().String(), ":")
		if !strings.Contains(si.String(), `port="`+port+`"`) || !strings.Contains(si.String(), "/colibri-ws/"+tc.want.Bridge.ID()+"/") {
			t.Fatalf("%s from %s: the offer does not name the %s bridge (media port %s): %s", tc.room, tc.region, tc.region, port, si)
		}
	}
	if conferences(eu) != 2 || conferences(us) != 1 {
		t.Fatalf("eu holds %d conferences, us %d; want 2 and 1", conferences(eu), conferences(us))
	}
}

// A bridge that leaves the cluster is out of the registry, and new conferences go to the other one.
func TestNewConferencesAvoidAGoneBridge(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	shutdown(t, eu)
	waitFor(t, "the eu bridge to leave the registry", func() bool { return len(signal.App.ClusterBridges()) == 1 })
	si := joinInRegion(t, signal, "after", "p1", "eu")
	if !strings.Contains(si.String(), "/colibri-ws/"+us.Bridge.ID()+"/") {
		t.Fatalf("the offer does not name the remaining bridge: %s", si)
	}
}

// A bridge node with another key beside the cluster's certificate, or with no credentials (so no
// pinned certificate), is refused and does not start; so is one given the signal nodes' cluster.creds.
func TestBridgeWithWrongCredentialsRefused(t *testing.T) {
	signal := startSignal(t)
	for _, creds := range []string{wrongCreds(t, cluster.BridgeCredsFile(signal.Config.Data)), ""} {
		cfg := bridgeConfig(t, signal, "eu")
		cfg.ClusterCreds = creds
		b, err := app.New(cfg, testLog(t))
		if err != nil {
			t.Fatal(err)
		}
		err = b.Start()
		if err == nil {
			shutdown(t, b)
			t.Fatalf("a bridge with credentials %q joined the cluster", creds)
		}
		if e := strings.ToLower(err.Error()); !strings.Contains(e, "authorization") && !strings.Contains(e, "certificate") {
			t.Fatalf("with credentials %q: %v, want an authorization or certificate error", creds, err)
		}
	}
	// The signal nodes' key, which may ask every bridge for anything, is not a bridge node's: it says
	// which file to give it instead.
	cfg := bridgeConfig(t, signal, "eu")
	cfg.ClusterCreds = cluster.CredsFile(signal.Config.Data)
	b, err := app.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err == nil {
		shutdown(t, b)
		t.Fatal("a bridge node joined with the signal nodes' credentials")
	} else if !strings.Contains(err.Error(), "cluster-bridge.creds") {
		t.Fatalf("a bridge node with the signal nodes' credentials: %v, want an error naming cluster-bridge.creds", err)
	}
	if n := len(signal.App.ClusterBridges()); n != 0 {
		t.Fatalf("the registry knows %d bridges", n)
	}
}

// wrongCreds writes credentials as an intruder who copied a cluster's pinned certificate
// but not its key would have them: another user nkey beside the certificate of credsFile.
func wrongCreds(t testing.TB, credsFile string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other.creds")
	if _, err := cluster.LoadOrCreateCreds(path, cluster.RoleBridge); err != nil {
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

// With no cluster flags a server is one process as before: its own bridge, no NATS server, no
// registry, no /debug/cluster, and bots meet on the bridge in the same process.
func TestOneMachineHasNoCluster(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	if srv.Config.Role != config.RoleAll || srv.Config.Clustered() || srv.App.ClusterURL() != "" || srv.App.ClusterBridges() != nil || srv.App.Bridge == nil {
		t.Fatalf("default server: role %q, clustered %v, NATS %q, bridges %v", srv.Config.Role, srv.Config.Clustered(), srv.App.ClusterURL(), srv.App.ClusterBridges())
	}
	for _, f := range []string{cluster.CredsFile(srv.Config.Data), cluster.BridgeCredsFile(srv.Config.Data)} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s written without a cluster: %v", filepath.Base(f), err)
		}
	}
	res, err := xmpptest.HTTPClient().Get("https://" + srv.HTTP + "/debug/cluster")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("/debug/cluster on one machine: %s", res.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var bots []*bot.Bot
	for range 2 {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + srv.HTTP + "/alone?region=eu", Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bots = append(bots, b)
	}
	for _, me := range bots {
		if err := me.Wait(ctx, hearsAll(me, bots)); err != nil {
			t.Fatal(err)
		}
	}
	if conferences(srv.App) != 1 {
		t.Fatalf("the server's own bridge holds %d conferences", conferences(srv.App))
	}
}

// A participant whose presence names no region gets the one the signal node's address map gives its
// client address (the longest prefix: 127.0.0.1 is us, the rest of 127/8 eu).
func TestRegionMapPicksTheBridge(t *testing.T) {
	signal := startSignal(t, func(c *config.Config) { c.RegionMap = []string{"127.0.0.0/8=eu", "127.0.0.1/32=us"} })
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	si := joinInRegion(t, signal, "mapped", "p1", "")
	if !strings.Contains(si.String(), "/colibri-ws/"+us.Bridge.ID()+"/") || conferences(us) != 1 || conferences(eu) != 0 {
		t.Fatalf("a client from 127.0.0.1 did not land on the us bridge: %s", si)
	}
}
