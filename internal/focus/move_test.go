package focus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// liveBridges is a pool of named bridges the test takes away and adds, as a cluster's registry does:
// an allocation goes to the first live one and, while the test holds allocations, waits for its
// word (an error, as a bridge that died while asked, or the bridge it lands on).
type liveBridges struct {
	mu      sync.Mutex
	live    []string              // guarded by mu
	held    chan chan held        // guarded by mu; nil: allocations answer at once
	handler func(bridgeapi.Event) // guarded by mu
	asked   chan bridgeapi.AllocateRequest
	expired chan string // "bridge/endpoint"
}

// held is the test's word on a held allocation: its error, else the bridge it lands on ("": the
// first live one).
type held struct {
	bridge string
	err    error
}

func newLiveBridges(live ...string) *liveBridges {
	return &liveBridges{live: live, asked: make(chan bridgeapi.AllocateRequest, 16), expired: make(chan string, 16)}
}

func (l *liveBridges) Allocate(ctx context.Context, req bridgeapi.AllocateRequest) (bridgeapi.Allocated, error) {
	l.asked <- req
	l.mu.Lock()
	hold := l.held
	l.mu.Unlock()
	var b string
	if hold != nil {
		answer := make(chan held)
		hold <- answer
		select {
		case h := <-answer:
			if h.err != nil {
				return bridgeapi.Allocated{}, h.err
			}
			b = h.bridge
		case <-ctx.Done():
			return bridgeapi.Allocated{}, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b == "" && len(l.live) == 0 {
		return bridgeapi.Allocated{}, bridgeapi.ErrNoBridge
	}
	if b == "" {
		b = l.live[0]
	}
	return bridgeapi.Allocated{Bridge: b, Allocation: &bridge.Allocation{
		ConferenceID: req.ConferenceID, EndpointID: req.EndpointID,
		ICE:     bridge.ICE{Ufrag: "uf" + req.EndpointID, Pwd: "0123456789012345678901"},
		DTLS:    bridge.DTLS{Hash: "sha-256", Fingerprint: "AB:CD", Setup: "actpass"},
		Channel: bridge.Channel{Path: "/colibri-ws/" + b + "/" + req.ConferenceID + "/" + req.EndpointID, Password: "pw"},
	}, ChannelBase: "wss://" + b + ".example:8443"}, nil
}

func (l *liveBridges) SetAnswer(context.Context, string, bridge.Answer) error { return nil }
func (l *liveBridges) UpdateSources(context.Context, string, bridge.SourcesUpdate) error {
	return nil
}
func (l *liveBridges) Expire(_ context.Context, b string, r bridge.ExpireRequest) error {
	l.expired <- b + "/" + r.EndpointID
	return nil
}
func (l *liveBridges) Listen(h func(bridgeapi.Event)) {
	l.mu.Lock()
	l.handler = h
	l.mu.Unlock()
}

// event takes bridge b out (gone, draining) or adds it (up), and tells the focus.
func (l *liveBridges) event(kind, b string) {
	l.mu.Lock()
	switch kind {
	case bridgeapi.BridgeGone, bridgeapi.BridgeDraining:
		for i, x := range l.live {
			if x == b {
				l.live = append(l.live[:i:i], l.live[i+1:]...)
				break
			}
		}
	case bridgeapi.BridgeUp:
		l.live = append(l.live, b)
	}
	h := l.handler
	l.mu.Unlock()
	h(bridgeapi.Event{Kind: kind, Bridge: b})
}

// hold makes the next allocations wait for the test (nil: answer at once again); the returned
// channel hands each one's answer.
func (l *liveBridges) hold(on bool) chan chan held {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = nil
	if on {
		l.held = make(chan chan held)
	}
	return l.held
}

// jingleTo waits for the focus's next Jingle request of action to nick.
func jingleTo(t *testing.T, r chanRouter, nick, action string) *stanza.Element {
	t.Helper()
	el := expectStanza(t, r, action+" to "+nick, func(el *stanza.Element) bool {
		j := el.Child(NSJingle, "jingle")
		return el.Get("to") == room+"/"+nick && j != nil && j.Get("action") == action
	})
	return el.Child(NSJingle, "jingle")
}

// expectExpired waits for the expiries of want ("bridge/endpoint"), in any order.
func expectExpired(t *testing.T, l *liveBridges, want ...string) {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range want {
		missing[w] = true
	}
	deadline := time.After(5 * time.Second)
	for len(missing) > 0 {
		select {
		case e := <-l.expired:
			delete(missing, e)
		case <-deadline:
			t.Fatalf("not expired: %v", missing)
		}
	}
}

// joinAlice joins alice and returns her first offer's jingle.
func joinAlice(t *testing.T, f *Focus, r chanRouter) *stanza.Element {
	t.Helper()
	f.RouteUser(occupantPresence(room, "alice", ""))
	d := expectDisco(t, r, "alice")
	f.RouteUser(stanza.NewIQ("result", d.Get("id"), room+"/alice", "focus@auth.localhost/focus", nil))
	return jingleTo(t, r, "alice", "session-initiate")
}

func channelOf(j *stanza.Element) string {
	s := j.String()
	i := strings.Index(s, "/colibri-ws/")
	if i < 0 {
		return ""
	}
	rest := s[i+len("/colibri-ws/"):]
	return rest[:strings.IndexByte(rest, '/')]
}

// A participant whose bridge is gone or drains is moved at once, as Jicofo's RestartJingle does:
// session-terminate of its session (reason success), a new session-initiate with another sid on a
// live bridge, and its endpoint on the old bridge given back.
func TestParticipantMovedOffALeavingBridge(t *testing.T) {
	for _, kind := range []string{bridgeapi.BridgeGone, bridgeapi.BridgeDraining} {
		t.Run(kind, func(t *testing.T) {
			l := newLiveBridges("b1", "b2")
			f, r := startConference(t, l)
			first := joinAlice(t, f, r)
			if channelOf(first) != "b1" {
				t.Fatalf("first offer on %q, want b1", channelOf(first))
			}
			l.event(kind, "b1")
			term := jingleTo(t, r, "alice", "session-terminate")
			if term.Get("sid") != first.Get("sid") || !strings.Contains(term.String(), "<success") {
				t.Fatalf("terminate %s, want sid %s with reason success", term, first.Get("sid"))
			}
			next := jingleTo(t, r, "alice", "session-initiate")
			if next.Get("sid") == first.Get("sid") || channelOf(next) != "b2" {
				t.Fatalf("new offer sid %s on %q, want a new sid on b2", next.Get("sid"), channelOf(next))
			}
			expectExpired(t, l, "b1/alice")
			// The old session is over for the focus.
			f.RouteUser(stanza.NewIQ("set", "late", room+"/alice", "focus@auth.localhost/focus",
				stanza.New(NSJingle, "jingle", "action", "source-add", "sid", first.Get("sid"))))
			reply := expectStanza(t, r, "the old session's refusal", func(el *stanza.Element) bool { return el.Get("id") == "late" })
			if reply.Get("type") != "error" {
				t.Fatalf("the old session still answered: %s", reply)
			}
		})
	}
}

// Hostile moves: the bridge a participant moves to dies during the move (its allocation fails, then
// the last bridge goes too), so the participant waits without a session and is moved once a bridge
// joins; one moved to a bridge that went while it was allocated is moved again; one that leaves
// during its move has both endpoints given back and no offer. Nothing is left running.
func TestMovesWhenBridgesKeepGoing(t *testing.T) {
	before := goleak.IgnoreCurrent()
	l := newLiveBridges("b1", "b2")
	f, r := startConference(t, l)
	first := joinAlice(t, f, r)

	// b1 goes; b2 dies while asked for the move, and its allocation fails.
	hold := l.hold(true)
	l.event(bridgeapi.BridgeGone, "b1")
	answer := <-hold
	l.event(bridgeapi.BridgeGone, "b2")
	answer <- held{err: bridgeapi.ErrUnknownBridge}
	if term := jingleTo(t, r, "alice", "session-terminate"); term.Get("sid") != first.Get("sid") {
		t.Fatalf("terminate of %s, want %s", term.Get("sid"), first.Get("sid"))
	}
	expectExpired(t, l, "b1/alice")

	// No bridge is left: alice waits until b3 joins, which takes her at once.
	l.hold(false)
	l.event(bridgeapi.BridgeUp, "b3")
	if j := jingleTo(t, r, "alice", "session-initiate"); channelOf(j) != "b3" {
		t.Fatalf("offer on %q, want b3", channelOf(j))
	}

	// b3 drains; alice's new endpoint is allocated on b4, which went meanwhile: she moves on to b5.
	l.event(bridgeapi.BridgeUp, "b4")
	l.event(bridgeapi.BridgeUp, "b5")
	hold = l.hold(true)
	l.event(bridgeapi.BridgeDraining, "b3")
	answer = <-hold
	l.hold(false)
	l.event(bridgeapi.BridgeGone, "b4")
	answer <- held{bridge: "b4"}
	jingleTo(t, r, "alice", "session-terminate")
	if j := jingleTo(t, r, "alice", "session-initiate"); channelOf(j) != "b4" {
		t.Fatalf("offer on %q, want b4", channelOf(j))
	}
	jingleTo(t, r, "alice", "session-terminate")
	if j := jingleTo(t, r, "alice", "session-initiate"); channelOf(j) != "b5" {
		t.Fatalf("offer on %q, want b5", channelOf(j))
	}
	expectExpired(t, l, "b3/alice", "b4/alice")

	// Alice leaves while her move off b5 waits for its allocation: both endpoints go, no offer follows.
	hold = l.hold(true)
	l.event(bridgeapi.BridgeUp, "b6")
	l.event(bridgeapi.BridgeDraining, "b5")
	answer = <-hold
	left := occupantPresence(room, "alice", "")
	left.Set("type", "unavailable")
	f.RouteUser(left)
	answer <- held{bridge: "b6"}
	expectExpired(t, l, "b5/alice", "b6/alice")
	for len(r) > 0 { // an offer would have gone out before the old endpoint's expiry
		if j := (<-r).Child(NSJingle, "jingle"); j != nil && j.Get("action") == "session-initiate" {
			t.Fatalf("an offer to a participant that left: %s", j)
		}
	}

	f.Close()
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left: %v", err)
	}
}

// The focus forgets a gone bridge leavingMemory after it went (clustered bridges take a new ID at each
// start, so the bridges that ever went would pile up), and keeps it until then: an allocation under
// way when it went still moves off it. A draining bridge is remembered until it goes or comes back.
func TestGoneBridgesForgotten(t *testing.T) {
	l := newLiveBridges("b1", "b2")
	f, _ := startConference(t, l)
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	f.mu.Lock()
	f.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f.mu.Unlock()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	known := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var ids []string
		for id := range f.leavingBridges {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}

	for i := range 50 {
		l.event(bridgeapi.BridgeGone, fmt.Sprintf("old%02d", i))
		advance(10 * time.Second)
	}
	if got := len(known()); got > int(leavingMemory/(10*time.Second))+1 {
		t.Fatalf("the focus remembers %d gone bridges, want those of the last %v", got, leavingMemory)
	}
	l.event(bridgeapi.BridgeDraining, "d1")
	l.event(bridgeapi.BridgeGone, "g1")
	advance(leavingMemory - time.Second)
	if gone, leaving := f.leaving("g1"); !gone || !leaving {
		t.Fatalf("g1 forgotten within %v of going", leavingMemory)
	}
	advance(time.Second)
	l.event(bridgeapi.BridgeUp, "b3")
	if got := known(); !slices.Equal(got, []string{"d1"}) {
		t.Fatalf("remembered %v %v after the last gone bridge went, want only the draining d1", got, leavingMemory)
	}
	if gone, leaving := f.leaving("d1"); gone || !leaving {
		t.Fatalf("d1: gone %v, leaving %v; want draining", gone, leaving)
	}
	l.event(bridgeapi.BridgeGone, "d1")
	advance(leavingMemory)
	l.event(bridgeapi.BridgeUp, "b4")
	if got := known(); len(got) != 0 {
		t.Fatalf("remembered %v", got)
	}
}
