package focus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// chanRouter hands every stanza the focus sends to the test.
type chanRouter chan *stanza.Element

func (r chanRouter) Route(el *stanza.Element) { r <- el }

// heldBridges is a pool whose allocations wait until the test releases them.
type heldBridges struct {
	asked   chan bridgeapi.AllocateRequest
	release chan struct{}
	expired chan bridge.ExpireRequest
}

func (h *heldBridges) Allocate(ctx context.Context, req bridgeapi.AllocateRequest) (bridgeapi.Allocated, error) {
	h.asked <- req
	select {
	case <-h.release:
	case <-ctx.Done():
		return bridgeapi.Allocated{}, ctx.Err()
	}
	return bridgeapi.Allocated{Bridge: "b1", Allocation: &bridge.Allocation{
		ConferenceID: req.ConferenceID, EndpointID: req.EndpointID,
		ICE:     bridge.ICE{Ufrag: "uf" + req.EndpointID, Pwd: "0123456789012345678901"},
		DTLS:    bridge.DTLS{Hash: "sha-256", Fingerprint: "AB:CD", Setup: "actpass"},
		Channel: bridge.Channel{Path: "/colibri-ws/b1/" + req.ConferenceID + "/" + req.EndpointID, Password: "pw"},
	}, ChannelBase: "wss://bridge1.example:8443"}, nil
}
func (h *heldBridges) SetAnswer(context.Context, string, bridge.Answer) error { return nil }
func (h *heldBridges) UpdateSources(context.Context, string, bridge.SourcesUpdate) error {
	return nil
}
func (h *heldBridges) Expire(_ context.Context, _ string, r bridge.ExpireRequest) error {
	select {
	case h.expired <- r:
	default: // a test that does not look
	}
	return nil
}
func (h *heldBridges) Listen(func(bridgeapi.Event)) {}

// expectStanza waits for the next stanza the focus sends that match accepts.
func expectStanza(t *testing.T, r chanRouter, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case el := <-r:
			if match(el) {
				return el
			}
		case <-deadline:
			t.Fatalf("no %s from the focus", what)
		}
	}
}

func occupantPresence(room, nick, region string) *stanza.Element {
	p := stanza.New(stanza.NSClient, stanza.Presence, "from", room+"/"+nick, "to", "focus@auth.localhost/focus")
	x := stanza.New(NSMUCUser, "x")
	x.Add(stanza.New(NSMUCUser, "item", "jid", nick+"@localhost/r", "role", "participant"))
	p.Add(x)
	if region != "" {
		p.Add(stanza.New(stanza.NSClient, "jitsi_participant_region").SetText(region))
	}
	return p
}

const room = "r1@conference.localhost"

// startConference runs a focus on bridges with the conference in room started and joined; mutate,
// when not nil, changes the focus's configuration first.
func startConference(t *testing.T, bridges bridgeapi.Bridges, mutate ...func(*Config)) (*Focus, chanRouter) {
	t.Helper()
	r := make(chanRouter, 64)
	cfg := DefaultConfig("localhost")
	for _, m := range mutate {
		m(&cfg)
	}
	f, err := New(cfg, r, bridges, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	f.RouteService(stanza.NewIQ("set", "c1", "u@localhost/x", "focus.localhost", stanza.New(NSFocus, "conference", "room", room)))
	join := expectStanza(t, r, "room join", func(el *stanza.Element) bool { return el.Name.Local == stanza.Presence })
	self := stanza.New(stanza.NSClient, stanza.Presence, "from", join.Get("to"), "to", "focus@auth.localhost/focus")
	self.Add(stanza.New(NSMUCUser, "x").Add(stanza.New(NSMUCUser, "status", "code", "110")))
	f.RouteUser(self)
	expectStanza(t, r, "conference result", func(el *stanza.Element) bool { return el.Get("id") == "c1" })
	return f, r
}

func expectDisco(t *testing.T, r chanRouter, nick string) *stanza.Element {
	t.Helper()
	return expectStanza(t, r, "disco#info to "+nick, func(el *stanza.Element) bool {
		return el.Get("to") == room+"/"+nick && el.Child(stanza.NSDiscoInf, "query") != nil
	})
}

// A slow allocation (ICE gathering, a cluster round trip) holds neither the conference nor the next
// participant: while alice's endpoint is being allocated, bob joins and is asked for his features;
// alice's offer follows once her allocation is done, with the bridge's own channel URL, and her region
// went with the request.
func TestAllocationDoesNotBlockTheConference(t *testing.T) {
	hb := &heldBridges{asked: make(chan bridgeapi.AllocateRequest, 4), release: make(chan struct{}), expired: make(chan bridge.ExpireRequest, 4)}
	f, r := startConference(t, hb)
	discoOf := func(nick string) *stanza.Element { return expectDisco(t, r, nick) }
	f.RouteUser(occupantPresence(room, "alice", "eu"))
	d := discoOf("alice")
	f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/alice", "focus@auth.localhost/focus", nil))
	if req := <-hb.asked; req.EndpointID != "alice" || req.Region != "eu" {
		t.Fatalf("allocation request %+v, want alice in eu", req)
	}

	f.RouteUser(occupantPresence(room, "bob", ""))
	discoOf("bob") // the conference goroutine is free while alice's allocation waits

	close(hb.release)
	si := expectStanza(t, r, "alice's session-initiate", func(el *stanza.Element) bool {
		j := el.Child(NSJingle, "jingle")
		return el.Get("to") == room+"/alice" && j != nil && j.Get("action") == "session-initiate"
	})
	if !strings.Contains(si.String(), "wss://bridge1.example:8443/colibri-ws/b1/") {
		t.Fatalf("offer does not name the bridge's channel: %s", si)
	}

	// Leaving gives the endpoint back on the bridge it came from.
	gone := occupantPresence(room, "alice", "")
	gone.Set("type", "unavailable")
	f.RouteUser(gone)
	select {
	case e := <-hb.expired:
		if e.EndpointID != "alice" {
			t.Fatalf("expired %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's endpoint was not expired")
	}
}

// noBridgeYet refuses the first allocation for want of a bridge, as a cluster's signal node does
// before any bridge joined, and allocates afterwards.
type noBridgeYet struct {
	heldBridges
	calls int
}

func (n *noBridgeYet) Allocate(ctx context.Context, req bridgeapi.AllocateRequest) (bridgeapi.Allocated, error) {
	n.calls++ // one lane: the calls come one after another
	if n.calls == 1 {
		return bridgeapi.Allocated{}, bridgeapi.ErrNoBridge
	}
	return n.heldBridges.Allocate(ctx, req)
}

// A participant who joined while no bridge was known gets its session once one is: the focus tries
// the allocation again.
func TestAllocationRetriedWithoutBridge(t *testing.T) {
	nb := &noBridgeYet{heldBridges: heldBridges{asked: make(chan bridgeapi.AllocateRequest, 4), release: make(chan struct{})}}
	close(nb.release)
	f, r := startConference(t, nb)
	f.RouteUser(occupantPresence(room, "alice", ""))
	d := expectDisco(t, r, "alice")
	f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/alice", "focus@auth.localhost/focus", nil))
	expectStanza(t, r, "alice's session-initiate after the retry", func(el *stanza.Element) bool {
		j := el.Child(NSJingle, "jingle")
		return el.Get("to") == room+"/alice" && j != nil && j.Get("action") == "session-initiate"
	})
	if nb.calls != 2 {
		t.Fatalf("%d allocation calls, want 2", nb.calls)
	}
}

// A participant's region is its presence's <jitsi_participant_region/>, else what the address map
// says of its real JID.
func TestRegionOfAParticipant(t *testing.T) {
	hb := &heldBridges{asked: make(chan bridgeapi.AllocateRequest, 4), release: make(chan struct{})}
	close(hb.release)
	var asked []string
	f, r := startConference(t, hb, func(c *Config) {
		c.Region = func(real string) string {
			asked = append(asked, real) // on the conference goroutine only
			return "ap-south"
		}
	})
	for _, tc := range []struct{ nick, presence, want string }{{"alice", "", "ap-south"}, {"bob", "eu", "eu"}} {
		f.RouteUser(occupantPresence(room, tc.nick, tc.presence))
		d := expectDisco(t, r, tc.nick)
		f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/"+tc.nick, "focus@auth.localhost/focus", nil))
		if req := <-hb.asked; req.EndpointID != tc.nick || req.Region != tc.want {
			t.Fatalf("allocation %+v, want %s in %s", req, tc.nick, tc.want)
		}
	}
	if len(asked) != 1 || asked[0] != "alice@localhost/r" {
		t.Fatalf("the map was asked of %v, want alice@localhost/r only", asked)
	}
}

// An error a room sends the focus for a conference that has ended (the room
// bouncing the focus's last IQ) is not answered, and the focus goes on.
func TestErrorFromAGoneRoomIsNotAnswered(t *testing.T) {
	r := make(chanRouter, 8)
	f, err := New(DefaultConfig("localhost"), r, &heldBridges{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bounce := stanza.NewIQ("error", "q1", "gone@conference.localhost", "focus@auth.localhost/focus", nil)
	bounce.Add(stanza.ErrItemNotFound.Element())
	f.RouteUser(bounce)
	f.RouteUser(stanza.NewIQ("get", "q2", "gone@conference.localhost", "focus@auth.localhost/focus", nil))
	if el := <-r; el == nil || el.Get("id") != "q2" || el.Get("type") != "error" {
		t.Fatalf("first stanza from the focus %v, want only the error for q2", el)
	}
}

// endpointBridges keeps the endpoints it allocated, as a bridge does (a second allocation of one is
// refused with ErrEndpointExists), and holds each expiry until the test releases it.
type endpointBridges struct {
	heldBridges
	mu            sync.Mutex
	have          map[string]bool
	expiringNow   map[string]bool // guarded by mu: an expiry of the endpoint is under way
	early         chan string     // an allocation asked while the endpoint's expiry was under way
	expiring      chan string
	releaseExpiry chan struct{}
}

func (b *endpointBridges) Allocate(ctx context.Context, req bridgeapi.AllocateRequest) (bridgeapi.Allocated, error) {
	b.mu.Lock()
	if b.expiringNow[req.EndpointID] {
		b.early <- req.EndpointID
	}
	if b.have[req.EndpointID] {
		b.mu.Unlock()
		return bridgeapi.Allocated{}, fmt.Errorf("%w: %s", bridge.ErrEndpointExists, req.EndpointID)
	}
	b.have[req.EndpointID] = true
	b.mu.Unlock()
	return b.heldBridges.Allocate(ctx, req)
}

func (b *endpointBridges) Expire(_ context.Context, _ string, r bridge.ExpireRequest) error {
	b.mu.Lock()
	b.expiringNow[r.EndpointID] = true
	b.mu.Unlock()
	b.expiring <- r.EndpointID
	<-b.releaseExpiry
	b.mu.Lock()
	delete(b.have, r.EndpointID)
	delete(b.expiringNow, r.EndpointID)
	b.mu.Unlock()
	return nil
}

// A participant who leaves and joins again with the same nick (a client that lost its connection joins
// as the same endpoint) gets its new endpoint once the old one's expiry is done, however slow the bridge:
// the allocation waits behind the expiry instead of being refused for an endpoint that still exists.
func TestRejoinWaitsForTheOldEndpoint(t *testing.T) {
	eb := &endpointBridges{heldBridges: heldBridges{asked: make(chan bridgeapi.AllocateRequest, 8), release: make(chan struct{})},
		have: map[string]bool{}, expiringNow: map[string]bool{}, early: make(chan string, 4), expiring: make(chan string, 4),
		releaseExpiry: make(chan struct{})}
	close(eb.release)
	f, r := startConference(t, eb)
	releaseExpiry := sync.OnceFunc(func() { close(eb.releaseExpiry) })
	t.Cleanup(releaseExpiry) // before the focus closes, which waits for the lanes
	join := func(nick, what string) {
		f.RouteUser(occupantPresence(room, nick, ""))
		d := expectDisco(t, r, nick)
		f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/"+nick, "focus@auth.localhost/focus", nil))
		expectStanza(t, r, nick+"'s "+what+"session-initiate", func(el *stanza.Element) bool {
			j := el.Child(NSJingle, "jingle")
			return el.Get("to") == room+"/"+nick && j != nil && j.Get("action") == "session-initiate"
		})
	}
	join("bob", "") // stays, so the conference goes on
	join("alice", "")
	gone := occupantPresence(room, "alice", "")
	gone.Set("type", "unavailable")
	f.RouteUser(gone)
	select {
	case id := <-eb.expiring:
		if id != "alice" {
			t.Fatalf("expiring %s", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's endpoint was not expired")
	}
	// Alice is back while the bridge is still expiring her old endpoint.
	f.RouteUser(occupantPresence(room, "alice", ""))
	d := expectDisco(t, r, "alice")
	f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/alice", "focus@auth.localhost/focus", nil))
	// Without the lane kept for her nick, her new allocation would be asked at once, and refused. That it
	// is not can only be seen by waiting a while.
	select {
	case id := <-eb.early:
		t.Fatalf("%s's endpoint allocated while its old one was still being expired", id)
	case <-time.After(time.Second):
	}
	releaseExpiry()
	expectStanza(t, r, "alice's second session-initiate", func(el *stanza.Element) bool {
		j := el.Child(NSJingle, "jingle")
		return el.Get("to") == room+"/alice" && j != nil && j.Get("action") == "session-initiate"
	})
}
