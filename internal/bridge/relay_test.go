package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// relayPair connects conference conf's relays between a (controlling) and b the way the focus does,
// and returns a's and b's relays. tamper, when set, changes a's side as b is given it.
func relayPair(t *testing.T, a, b *testBridge, conf string, tamper func(*RelayDescription)) (*relay, *relay) {
	t.Helper()
	da, err := a.AllocateRelay(RelayRequest{ConferenceID: conf, Peer: b.ID(), Controlling: true})
	must(t, err)
	if tamper != nil {
		tamper(da)
	}
	db, err := b.AllocateRelay(RelayRequest{ConferenceID: conf, Peer: a.ID(), Remote: da})
	must(t, err)
	must(t, a.ConnectRelay(RelayConnect{ConferenceID: conf, Peer: b.ID(), Remote: *db}))
	ra, err := a.relayOf(conf, b.ID())
	must(t, err)
	rb, err := b.relayOf(conf, a.ID())
	must(t, err)
	return ra, rb
}

// relayed is what the focus tells a bridge of a participant behind a relay.
func (c *client) relayed() RelayedEndpoint {
	ans := c.answerFor("", c.pc.LocalDescription().SDP)
	return RelayedEndpoint{ID: c.id, Sources: ans.Sources, Groups: ans.Groups}
}

func relayBridges(t *testing.T) (*testBridge, *testBridge) {
	ca, cb := testConfig(), testConfig()
	ca.ID, cb.ID = "bridge-a", "bridge-b"
	// A relay that fails its handshake without hearing why ends when this runs out.
	ca.ConnectTimeout, cb.ConnectTimeout = 3*time.Second, 3*time.Second
	return newTestBridge(t, ca), newTestBridge(t, cb)
}

// TestRelayCascade: a conference spans two bridges joined by a relay (ICE + DTLS-SRTP between the
// bridges). Alice on bridge A and Bob and Carol on bridge B receive each other's audio and video as
// decodable streams; A sends each of Alice's packets once over the relay although B has two receivers
// for them.
func TestRelayCascade(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	alice := newClient(t, ta, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{})
	carol := newClient(t, tb, "room", "carol", clientOpts{})
	ra, rb := relayPair(t, ta, tb, "room", nil)
	must(t, ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: []RelayedEndpoint{bob.relayed(), carol.relayed()}}))
	must(t, tb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: ta.ID(), Endpoints: []RelayedEndpoint{alice.relayed()}}))

	enough := func(ssrcs ...uint32) func(*recorder) bool {
		return func(r *recorder) bool {
			for _, s := range ssrcs {
				if r.count(s) < 60 {
					return false
				}
			}
			return true
		}
	}
	for _, rx := range []*client{bob, carol} {
		av, aa := slotOf(t, rx, "alice-v0"), slotOf(t, rx, "alice-a0")
		rx.rec.wait(t, rx.id+" receives alice across the relay", enough(av, aa))
		checkDecodable(t, rx.id+"←alice video", rx.rec.snapshot(av), true)
		checkDecodable(t, rx.id+"←alice audio", rx.rec.snapshot(aa), false)
	}
	bv, cv := slotOf(t, alice, "bob-v0"), slotOf(t, alice, "carol-v0")
	ba, ca := slotOf(t, alice, "bob-a0"), slotOf(t, alice, "carol-a0")
	alice.rec.wait(t, "alice receives bob and carol across the relay", enough(bv, cv, ba, ca))
	checkDecodable(t, "alice←bob video", alice.rec.snapshot(bv), true)
	checkDecodable(t, "alice←carol audio", alice.rec.snapshot(ca), false)

	// One copy per source over the relay: what A sent of Alice's audio is about what each of Bob and
	// Carol received of it, not their sum.
	aliceAudio := alice.relayed().Sources[0].SSRC
	ra.sendMu.Lock()
	sent := ra.sent[aliceAudio]
	ra.sendMu.Unlock()
	got := bob.rec.n(slotOf(t, bob, "alice-a0")) + carol.rec.n(slotOf(t, carol, "alice-a0"))
	if sent == 0 || float64(sent) > 0.75*float64(got) {
		t.Fatalf("relay sent %d packets of alice's audio for %d received by bob and carol together", sent, got)
	}
	if rb.received.Load() == 0 {
		t.Fatal("bridge B counted nothing received over the relay")
	}
	d := ta.Debug()
	if len(d.Conferences) != 1 || len(d.Conferences[0].Relays) != 1 || !d.Conferences[0].Relays[0].Connected ||
		strings.Join(d.Conferences[0].Relays[0].Endpoints, ",") != "bob,carol" {
		t.Fatalf("debug of bridge A: %+v", d.Conferences)
	}
	tb.Bridge.mu.Lock()
	conf := tb.Bridge.conferences["room"]
	tb.Bridge.mu.Unlock()

	// Expiring the relay takes Alice's sources off Bob's and Carol's slots.
	must(t, tb.ExpireRelay(RelayExpire{ConferenceID: "room", Peer: ta.ID()}))
	<-rb.done
	if _, err := tb.relayOf("room", ta.ID()); !errors.Is(err, ErrRelayNotFound) {
		t.Fatalf("relay after expiry: %v", err)
	}
	conf.mu.Lock()
	n := len(conf.relayedSourcesLocked())
	conf.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d relayed sources left after expiry", n)
	}
	// The peer's side ends when bridge B's says it closes, not at its ICE timeout.
	select {
	case <-ra.done:
	case <-time.After(5 * time.Second):
		t.Fatal("bridge A's relay outlived bridge B's")
	}
	for _, c := range []*client{alice, bob, carol} {
		c.close()
	}
	_ = ta.Close()
	_ = tb.Close()
}

// TestRelayFingerprintMismatch: a relay whose peer's certificate does not match the fingerprint the
// focus carried is refused, and goes away on both bridges.
func TestRelayFingerprintMismatch(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	newClient(t, ta, "room", "alice", clientOpts{noSend: true, noChannel: true})
	newClient(t, tb, "room", "bob", clientOpts{noSend: true, noChannel: true})
	closed := make(chan string, 1)
	tb.OnRelayClosed(func(conf, peer, _, reason string) {
		select {
		case closed <- conf + " " + peer + ": " + reason:
		default:
		}
	})
	ra, rb := relayPair(t, ta, tb, "room", func(d *RelayDescription) {
		// Another certificate's fingerprint: the flipped first byte keeps the form valid.
		fp := []byte(d.DTLS.Fingerprint)
		if fp[0] == 'A' {
			fp[0] = 'B'
		} else {
			fp[0] = 'A'
		}
		d.DTLS.Fingerprint = string(fp)
	})
	for _, r := range []*relay{ra, rb} {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("relay to %s still up", r.peer)
		}
		if r.ready.Load() {
			t.Fatalf("relay to %s carried media", r.peer)
		}
	}
	if err := *rb.err.Load(); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("bridge B's relay ended with %v, want a fingerprint mismatch", err)
	}
	if got, want := <-closed, "room bridge-a: "+ErrFingerprintMismatch.Error(); got != want {
		t.Fatalf("relay-closed hook: %q, want %q", got, want)
	}
	for _, x := range []*testBridge{ta, tb} {
		for _, c := range x.Debug().Conferences {
			if len(c.Relays) != 0 {
				t.Fatalf("%s still lists relays %+v", x.ID(), c.Relays)
			}
		}
	}
}

// TestRelayHostile: relay requests for an unknown conference, or with garbage parameters, or that
// would clash with the bridge's own endpoints, are refused with the error that says why, and change
// nothing.
func TestRelayHostile(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	alice := newClient(t, ta, "room", "alice", clientOpts{noSend: true, noChannel: true})
	newClient(t, tb, "room", "bob", clientOpts{noSend: true, noChannel: true})

	if _, err := ta.AllocateRelay(RelayRequest{ConferenceID: "nowhere", Peer: tb.ID()}); !errors.Is(err, ErrConferenceNotFound) {
		t.Fatalf("relay for an unknown conference: %v", err)
	}
	for _, peer := range []string{"", ta.ID(), "a b", strings.Repeat("x", 65)} {
		if _, err := ta.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: peer}); !errors.Is(err, ErrBadPeer) {
			t.Fatalf("relay to %q: %v", peer, err)
		}
	}
	if _, err := ta.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: tb.ID(), Session: "a b"}); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("relay with a bad session name: %v", err)
	}
	good, err := tb.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: ta.ID()})
	must(t, err)
	if _, err := tb.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: ta.ID()}); !errors.Is(err, ErrRelayExists) {
		t.Fatalf("second relay to one peer: %v", err)
	}
	_, err = ta.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: tb.ID(), Controlling: true})
	must(t, err)
	bad := []struct {
		name   string
		change func(*RelayDescription)
		want   error
	}{
		{"short ufrag", func(d *RelayDescription) { d.ICE.Ufrag = "ab" }, ErrBadICECredentials},
		{"pwd with a space", func(d *RelayDescription) { d.ICE.Pwd = "not a valid password at all" }, ErrBadICECredentials},
		{"no fingerprint", func(d *RelayDescription) { d.DTLS.Fingerprint = "" }, ErrBadFingerprint},
		{"md5", func(d *RelayDescription) { d.DTLS.Hash = "md5" }, ErrBadFingerprint},
		{"garbage fingerprint", func(d *RelayDescription) { d.DTLS.Fingerprint = strings.Repeat("ZZ:", 31) + "ZZ" }, ErrBadFingerprint},
		{"same role", func(d *RelayDescription) { d.DTLS.Setup = "active" }, ErrBadSetup},
		{"too many candidates", func(d *RelayDescription) {
			d.ICE.Candidates = make([]Candidate, 1000)
		}, ErrBadICECredentials},
	}
	for _, tc := range bad {
		d := *good
		d.ICE.Candidates = append([]Candidate(nil), good.ICE.Candidates...)
		tc.change(&d)
		if err := ta.ConnectRelay(RelayConnect{ConferenceID: "room", Peer: tb.ID(), Remote: d}); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	ra, err := ta.relayOf("room", tb.ID())
	must(t, err)
	if ra.started.Load() {
		t.Fatal("a refused remote side started the relay")
	}
	if err := ta.ConnectRelay(RelayConnect{ConferenceID: "nowhere", Peer: tb.ID(), Remote: *good}); !errors.Is(err, ErrConferenceNotFound) {
		t.Fatalf("connect in an unknown conference: %v", err)
	}
	if err := ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: "bridge-z"}); !errors.Is(err, ErrRelayNotFound) {
		t.Fatalf("update of an unknown relay: %v", err)
	}

	carolSources := []Source{{Kind: KindAudio, SSRC: 4242, Name: "carol-a0"}}
	aliceSSRC := alice.relayed().Sources[0].SSRC
	updates := []struct {
		name string
		eps  []RelayedEndpoint
		want error
	}{
		{"a local endpoint's id", []RelayedEndpoint{{ID: "alice", Sources: carolSources}}, ErrEndpointExists},
		{"a local endpoint's ssrc", []RelayedEndpoint{{ID: "carol", Sources: []Source{{Kind: KindAudio, SSRC: aliceSSRC}}}}, ErrBadSources},
		{"an id twice", []RelayedEndpoint{{ID: "carol"}, {ID: "carol"}}, ErrInvalidID},
		{"a bad id", []RelayedEndpoint{{ID: "carol/../x"}}, ErrInvalidID},
		{"an ssrc twice", []RelayedEndpoint{{ID: "carol", Sources: carolSources}, {ID: "dave", Sources: carolSources}}, ErrBadSources},
		{"a bad kind", []RelayedEndpoint{{ID: "carol", Sources: []Source{{Kind: "text", SSRC: 7}}}}, ErrBadSources},
		{"a bad group", []RelayedEndpoint{{ID: "carol", Sources: carolSources, Groups: []Group{{Semantics: GroupFID, SSRCs: []uint32{4242, 99}}}}}, ErrBadSources},
	}
	for _, tc := range updates {
		if err := ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: tc.eps}); !errors.Is(err, tc.want) {
			t.Fatalf("relayed endpoints with %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	d := ta.Debug()
	if rs := d.Conferences[0].Relays; len(rs) != 1 || len(rs[0].Endpoints) != 0 || rs[0].Connected {
		t.Fatalf("refused requests changed the relay: %+v", rs)
	}
	// A good update then takes, and the relay's removal undoes it.
	must(t, ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: []RelayedEndpoint{{ID: "carol", Sources: carolSources}}}))
	if rs := ta.Debug().Conferences[0].Relays; len(rs) != 1 || strings.Join(rs[0].Endpoints, ",") != "carol" {
		t.Fatalf("relay after a good update: %+v", rs)
	}
}

// TestRelaySpeaker: the audio levels (RFC 6464) of a participant on bridge A cross the relay, so bridge
// B's speaker detection names them dominant to B's receivers, and a talker on B is heard by A's.
func TestRelaySpeaker(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	carol := newClient(t, ta, "room", "carol", clientOpts{noSend: true})
	erin := newClient(t, tb, "room", "erin", clientOpts{noSend: true})
	alice := startTalker(t, newRawClient(t, ta, "room", "alice", rawOpts{}))
	bob := startTalker(t, newRawClient(t, tb, "room", "bob", rawOpts{}))
	relayPair(t, ta, tb, "room", nil)
	raw := func(r *rawClient, id string) RelayedEndpoint {
		return RelayedEndpoint{ID: id, Sources: []Source{{Kind: KindVideo, SSRC: r.ssrcV, Name: id + "-v0"}, {Kind: KindAudio, SSRC: r.ssrcA, Name: id + "-a0"}}}
	}
	must(t, ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: []RelayedEndpoint{raw(bob.r, "bob"), erin.relayed()}}))
	must(t, tb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: ta.ID(), Endpoints: []RelayedEndpoint{raw(alice.r, "alice"), carol.relayed()}}))

	alice.talk.Store(true)
	waitDominant(t, erin, "alice")
	waitDominant(t, carol, "alice")
	alice.talk.Store(false)
	bob.talk.Store(true)
	waitDominant(t, carol, "bob", "alice")
	waitDominant(t, erin, "bob", "alice")
}

// lastSenderConstraint is the maxHeight of the last SenderSourceConstraints for source in r's messages
// (r.mu held), ok false before one.
func lastSenderConstraint(r *recorder, source string) (h int, ok bool) {
	for _, m := range r.msgs {
		var msg senderSourceConstraints
		if json.Unmarshal([]byte(m), &msg) == nil && msg.Class == classSenderConstraints && msg.SourceName == source {
			h, ok = msg.MaxHeight, true
		}
	}
	return h, ok
}

// TestRelayConstraints: receiver constraints cross the relay: Alice, alone on bridge A, hears from A the
// tallest height Bob on bridge B wants of her camera, as it changes, and the tallest of what Bob and a
// receiver on A want together.
func TestRelayConstraints(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	alice := newClient(t, ta, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	ra, _ := relayAliceBob(t, ta, tb, alice, bob)
	told := func(want int) {
		t.Helper()
		alice.wsMsgs.wait(t, fmt.Sprintf("alice told maxHeight %d", want), func(r *recorder) bool {
			h, ok := lastSenderConstraint(r, "alice-v0")
			return ok && h == want
		})
	}
	told(720) // bob's channel asks 720 of everyone (connectChannel)
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"constraints":{"alice-v0":{"maxHeight":180}}}`)
	told(180)
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"constraints":{"alice-v0":{"maxHeight":360}}}`)
	told(360)
	carol := newClient(t, ta, "room", "carol", clientOpts{noSend: true}) // 720 on A beats 360 on B
	told(720)
	carol.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":0}}`)
	told(360)

	// Nobody behind the relay wants Alice's camera: A relays none of it, while her audio goes on
	// (Alice, a Pion client, keeps sending video whatever she is told). Wanted again, it comes again.
	var audio, video uint32
	for _, src := range alice.relayed().Sources {
		if src.Kind == KindAudio {
			audio = src.SSRC
		} else if video == 0 {
			video = src.SSRC
		}
	}
	relayed := func() (a, v uint64) {
		ra.sendMu.Lock()
		defer ra.sendMu.Unlock()
		return ra.sent[audio], ra.sent[video]
	}
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"constraints":{"alice-v0":{"maxHeight":0}}}`)
	told(0) // A has B's wants: it tells Alice after it stored them
	a0, v0 := relayed()
	eventually(t, "100 more of alice's audio packets relayed", func() bool { a, _ := relayed(); return a >= a0+100 })
	if _, v := relayed(); v != v0 {
		t.Fatalf("%d packets of alice's video relayed while nobody behind the relay wanted it", v-v0)
	}
	bv := slotOf(t, bob, "alice-v0")
	got := bob.rec.n(bv)
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"constraints":{"alice-v0":{"maxHeight":180}}}`)
	told(180)
	bob.rec.wait(t, "bob receives alice's video again", func(r *recorder) bool { return r.count(bv) >= got+30 })
}

// TestRelayWantsLayer: a bridge relays a simulcast source's layers up to the lowest one as tall as the
// tallest height the peer's receivers want (what their slots can pick), none when they want none, all
// before the peer said; audio always.
func TestRelayWantsLayer(t *testing.T) {
	sender, _, _ := benchConference(t, 1)
	c := sender.conf
	srcs, err := c.validateSources("sender", []Source{
		{Kind: KindVideo, SSRC: 1234, Name: "sender-v0"}, {Kind: KindVideo, SSRC: 1235, Name: "sender-v0"},
		{Kind: KindVideo, SSRC: 1236, Name: "sender-v0"}, {Kind: KindAudio, SSRC: 99, Name: "sender-a0"},
	}, []Group{{GroupSIM, []uint32{1234, 1235, 1236}}})
	must(t, err)
	var video, audio *source
	for _, src := range srcs {
		if src.kind == KindVideo {
			video = src
		} else {
			audio = src
		}
	}
	r := &relay{}
	relays := func() string {
		var b strings.Builder
		for _, s := range video.layers {
			if r.wantsLayer(s) {
				fmt.Fprint(&b, s.layer)
			}
		}
		if !r.wantsLayer(audio.layers[0]) {
			b.WriteString(" no audio")
		}
		return b.String()
	}
	if got := relays(); got != "012" {
		t.Fatalf("before the peer's wants: layers %q, want all", got)
	}
	for _, tc := range []struct {
		wants map[uint32]int
		want  string
	}{
		{map[uint32]int{1234: -1}, "012"},
		{map[uint32]int{1234: 720}, "012"},
		{map[uint32]int{1234: 400}, "01"}, // a slot limited to 400 takes 360p
		{map[uint32]int{1234: 360}, "01"},
		{map[uint32]int{1234: 180}, "0"},
		{map[uint32]int{1234: 90}, "0"}, // below every layer: the lowest
		{map[uint32]int{1234: 0}, ""},
		{map[uint32]int{4321: 0}, "012"}, // another source's want says nothing of this one
	} {
		r.wantsIn.Store(&tc.wants)
		if got := relays(); got != tc.want {
			t.Errorf("peer wants %v: layers %q relayed, want %q", tc.wants, got, tc.want)
		}
	}
	// Heights from the layers' key frames replace the usual ladder.
	video.layers[1].height.Store(540)
	r.wantsIn.Store(&map[uint32]int{1234: 400})
	if got := relays(); got != "0" {
		t.Errorf("layers of 180/540/720, peer wants 400: layers %q relayed, want \"0\"", got)
	}
}

// TestRelayMesh: a conference on three bridges, a relay between each pair: each participant receives
// the other two, each from its own bridge's relay (nothing is relayed twice).
func TestRelayMesh(t *testing.T) {
	checkNoLeaks(t)
	var bridges []*testBridge
	var clients []*client
	for _, id := range []string{"bridge-a", "bridge-b", "bridge-c"} {
		cfg := testConfig()
		cfg.ID = id
		tb := newTestBridge(t, cfg)
		bridges = append(bridges, tb)
		clients = append(clients, newClient(t, tb, "room", "p-"+id, clientOpts{}))
	}
	for i := range bridges {
		for j := i + 1; j < len(bridges); j++ {
			relayPair(t, bridges[i], bridges[j], "room", nil)
			must(t, bridges[i].UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: bridges[j].ID(), Endpoints: []RelayedEndpoint{clients[j].relayed()}}))
			must(t, bridges[j].UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: bridges[i].ID(), Endpoints: []RelayedEndpoint{clients[i].relayed()}}))
		}
	}
	for i, rx := range clients {
		for j, tx := range clients {
			if i == j {
				continue
			}
			v, a := slotOf(t, rx, tx.id+"-v0"), slotOf(t, rx, tx.id+"-a0")
			rx.rec.wait(t, rx.id+" receives "+tx.id, func(r *recorder) bool { return r.count(v) >= 30 && r.count(a) >= 30 })
		}
	}
	// Bridge B sends over each relay only its own participant's packets.
	own := map[uint32]bool{}
	for _, s := range clients[1].relayed().Sources {
		own[s.SSRC] = true
	}
	for _, peer := range []string{"bridge-a", "bridge-c"} {
		r, err := bridges[1].relayOf("room", peer)
		must(t, err)
		r.sendMu.Lock()
		for ssrc, n := range r.sent {
			if !own[ssrc] {
				r.sendMu.Unlock()
				t.Fatalf("bridge B relayed %d packets of ssrc %d, not its participant's, to %s", n, ssrc, peer)
			}
		}
		r.sendMu.Unlock()
	}
	for _, c := range clients {
		c.close()
	}
	for _, b := range bridges {
		_ = b.Close()
	}
}

// relayAliceBob joins bridges ta and tb by a relay for conference "room" and tells each who is behind
// it: alice on ta, bob on tb.
func relayAliceBob(t *testing.T, ta, tb *testBridge, alice, bob *client) (ra, rb *relay) {
	t.Helper()
	ra, rb = relayPair(t, ta, tb, "room", nil)
	must(t, ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: []RelayedEndpoint{bob.relayed()}}))
	must(t, tb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: ta.ID(), Endpoints: []RelayedEndpoint{alice.relayed()}}))
	return ra, rb
}
