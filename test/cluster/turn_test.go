package cluster_test

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/pionlog"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const turnSecret = "cluster-turn-secret-0123456789"

// startTURNBridge runs a bridge node in region with TURN on loopback (the cluster's TURN secret
// secret), whose relays may reach 127.0.0.2 besides its bridge, and waits until the signal node knows
// its TURN server.
func startTURNBridge(t *testing.T, signal *xmpptest.Server, region, secret string) *app.App {
	t.Helper()
	cfg := bridgeConfig(t, signal, region)
	cfg.TURN, cfg.TURNSecret, cfg.TURNAllowPeers = "127.0.0.1:0", secret, []string{"127.0.0.2/32"}
	b, err := app.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, b) })
	if b.TURN == nil {
		t.Fatal("a bridge node with a TURN secret runs no TURN")
	}
	waitFor(t, "the signal node to know the TURN server of bridge "+b.Bridge.ID(), func() bool {
		return slices.ContainsFunc(signal.App.ClusterBridges(), func(h cluster.Heartbeat) bool { return h.Bridge == b.Bridge.ID() && h.TURN != nil })
	})
	return b
}

// services asks for the external services over c (region: the hint, "" for none) and returns them.
func services(t *testing.T, c *xmpptest.Client, domain, region string) []*stanza.Element {
	t.Helper()
	hint := ""
	if region != "" {
		hint = `<region xmlns="urn:parley:region:0">` + region + `</region>`
	}
	id := fmt.Sprintf("s%d", time.Now().UnixNano())
	c.Send(`<iq type="get" id="` + id + `" to="` + domain + `"><services xmlns="urn:xmpp:extdisco:2">` + hint + `</services></iq>`)
	res := c.ExpectSkip("services", xmpptest.IsResult(id))
	s := res.Child("urn:xmpp:extdisco:2", "services")
	if s == nil {
		t.Fatalf("no <services/> in %s", res)
	}
	return s.Children
}

// udpPort is the port of a TURN server's UDP listener.
func udpPort(b *app.App) string {
	_, p, _ := net.SplitHostPort(b.TURN.UDPAddr().String())
	return p
}

// onlyTURNOf checks that every service in got is a port of b's TURN server, the first one its UDP port.
func onlyTURNOf(t *testing.T, who string, got []*stanza.Element, b *app.App, region string) {
	t.Helper()
	ports := map[string]bool{udpPort(b): true}
	_, tcp, _ := net.SplitHostPort(b.TURN.TCPAddr().String())
	ports[tcp] = true
	if a := b.TURN.TLSAddr(); a != nil {
		_, p, _ := net.SplitHostPort(a.String())
		ports[p] = true
	}
	_, https, _ := net.SplitHostPort(b.HTTPAddr().String())
	ports[https] = true
	if len(got) == 0 {
		t.Fatalf("%s: no services", who)
	}
	if len(got) > 4 {
		t.Errorf("%s: %d services, want at most 4", who, len(got))
	}
	first := got[0]
	if first.Get("type") != "turn" || first.Get("transport") != "udp" || first.Get("port") != udpPort(b) {
		t.Errorf("%s: the first service is not the %s bridge's TURN/UDP (port %s): %s", who, region, udpPort(b), first)
	}
	for _, s := range got {
		if s.Get("host") != "127.0.0.1" || !ports[s.Get("port")] {
			t.Errorf("%s: %s is not a port of the %s bridge's TURN server", who, s, region)
		}
		if s.Get("type") != "stun" && (s.Get("username") == "" || s.Get("password") == "") {
			t.Errorf("%s: %s has no credentials", who, s)
		}
	}
}

// relays allocates on the TURN/UDP service s with its credentials (on b's TURN server) and sends a
// datagram through the relay to a peer on 127.0.0.2, which answers through it.
func relays(t *testing.T, s *stanza.Element, b *app.App) {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	server := net.JoinHostPort(s.Get("host"), s.Get("port"))
	client, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: server, STUNServerAddr: server, Conn: pc,
		Username: s.Get("username"), Password: s.Get("password"), LoggerFactory: pionlog.Quiet(testLog(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("allocate on %s with the handed-out credentials: %v", server, err)
	}
	defer relay.Close()
	if n := b.TURN.Allocations(); n != 1 {
		t.Errorf("the bridge's TURN server holds %d allocations, want 1", n)
	}
	if _, err := relay.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("the peer got nothing through the relay: %v", err)
	}
	if from.String() != relay.LocalAddr().String() {
		t.Errorf("the datagram came from %s, not the relayed address %s", from, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, from, err := relay.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer through the relay: %v", err)
		}
		if from.String() == peer.LocalAddr().String() && string(buf[:n]) == "pong" {
			return
		}
	}
}

// TURN near users: bridge nodes in eu and us run TURN; the signal node hands each client the TURN
// server of its region only, by its address (127.0.0.1 is us, the rest of 127/8 eu) or by the region
// it names, and the credentials it hands out relay. A bridge node whose TURN secret is not the signal
// node's is never handed out, and a hint that is no region name is a bad request.
func TestTURNNearUsers(t *testing.T) {
	signal := startSignal(t, func(c *config.Config) {
		c.RegionMap = []string{"127.0.0.0/8=eu", "127.0.0.1/32=us"}
		c.TURNSecret = turnSecret
	})
	eu, us := startTURNBridge(t, signal, "eu", turnSecret), startTURNBridge(t, signal, "us", turnSecret)
	other := startTURNBridge(t, signal, "ap", "another-secret-0123456789")

	fromUS := signal.DialTCPFrom(t, "127.0.0.1")
	fromUS.Login("", "")
	fromEU := signal.DialTCPFrom(t, "127.0.0.2")
	fromEU.Login("", "")
	euServices := services(t, fromEU, signal.Domain, "")
	onlyTURNOf(t, "a client from 127.0.0.2", euServices, eu, "eu")
	onlyTURNOf(t, "a client from 127.0.0.1", services(t, fromUS, signal.Domain, ""), us, "us")
	onlyTURNOf(t, "a client from 127.0.0.2 naming us", services(t, fromEU, signal.Domain, "us"), us, "us")
	onlyTURNOf(t, "a client from 127.0.0.1 naming eu", services(t, fromUS, signal.Domain, "eu"), eu, "eu")
	ws := signal.DialWS(t, "")
	ws.Login("", "")
	onlyTURNOf(t, "a WebSocket client naming us", services(t, ws, signal.Domain, "us"), us, "us")

	// ap's only TURN server has another secret: an ap client gets every region's usable ones.
	apServices := services(t, fromEU, signal.Domain, "ap")
	for _, s := range apServices {
		if p := s.Get("port"); p == udpPort(other) {
			t.Errorf("the TURN server with another secret is handed out: %s", s)
		}
	}
	if len(apServices) == 0 {
		t.Error("a client of a region without a usable TURN server gets none")
	}

	fromEU.Send(`<iq type="get" id="bad" to="` + signal.Domain + `"><services xmlns="urn:xmpp:extdisco:2"><region xmlns="urn:parley:region:0">e u</region></services></iq>`)
	fromEU.ExpectSkip("bad-request", xmpptest.IsError("bad", "bad-request"))

	var udp *stanza.Element
	for _, s := range euServices {
		if s.Get("type") == "turn" && s.Get("transport") == "udp" {
			udp = s
		}
	}
	relays(t, udp, eu)
}
