package bridge

import "testing"

// TestRelayedParticipantMovesHere: Bob is behind the relay to bridge B when he loses his endpoint there
// and the focus gives him one on bridge A, before the relay to B is updated or closed (as when B fails:
// closing waits for B). His new endpoint takes the
// place of the relayed one (same ID, same source names), and Alice on A receives his media from it.
func TestRelayedParticipantMovesHere(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	alice := newClient(t, ta, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{})
	carol := newClient(t, tb, "room", "carol", clientOpts{}) // keeps the conference, and the relay, on B
	relayPair(t, ta, tb, "room", nil)
	must(t, ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: tb.ID(), Endpoints: []RelayedEndpoint{bob.relayed(), carol.relayed()}}))
	must(t, tb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: ta.ID(), Endpoints: []RelayedEndpoint{alice.relayed()}}))
	relayed := slotOf(t, alice, "bob-v0")
	alice.rec.wait(t, "alice receives bob across the relay", func(r *recorder) bool { return r.count(relayed) > 30 })

	bob.close() // his bridge is gone for him; the relay to B stays up, still naming him
	moved := newClient(t, ta, "room", "bob", clientOpts{})
	ta.Bridge.mu.Lock()
	conf := ta.Bridge.conferences["room"]
	ta.Bridge.mu.Unlock()
	for _, e := range conf.relayedEndpoints() {
		if e.id == "bob" {
			t.Fatal("bob is still behind the relay after getting an endpoint on this bridge")
		}
	}
	v := slotOf(t, alice, "bob-v0")
	from := alice.rec.n(v)
	alice.rec.wait(t, "alice receives bob from his new endpoint", func(r *recorder) bool { return r.count(v)-from > 60 })
	checkDecodable(t, "alice←moved bob video", alice.rec.snapshot(v)[from:], true)
	alice.close()
	moved.close()
	carol.close()
	_ = ta.Close()
	_ = tb.Close()
}
