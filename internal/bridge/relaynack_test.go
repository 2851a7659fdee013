package bridge

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/pion/transport/v5/vnet"

	"github.com/parley-im/parley/internal/pionlog"
)

// Addresses of the relay NACK tests' vnet: two bridges, a sender behind A, a receiver behind B.
const (
	vnetBridgeA = "10.0.0.1:10000"
	vnetBridgeB = "10.0.0.4:10000"
	vnetAlice   = "10.0.0.2"
	vnetBob     = "10.0.0.3"
)

// lossyLink drops chosen RTP packets on one leg of a vnet, once armed: from the address from to the
// host to (an address or an IP), of the SSRC ssrc (0: any video packet, by its payload type), those
// whose sequence number makes pick true, at most max of them. The RTP header is in the clear in
// SRTP, so the filter reads it off the wire.
type lossyLink struct {
	from, to string
	mu       sync.Mutex
	ssrc     uint32
	max      int
	pick     func(seq uint16) bool
	armed    bool // nothing is dropped before
	dropped  map[uint16]bool
}

func (l *lossyLink) filter(c vnet.Chunk) bool {
	src, dst := c.SourceAddr().String(), c.DestinationAddr().String()
	if src != l.from || dst != l.to && !hostIs(dst, l.to) {
		return true
	}
	b := c.UserData()
	if len(b) < 12 || b[0]>>6 != 2 || b[1] >= 192 && b[1] <= 223 {
		return true
	}
	ssrc := binary.BigEndian.Uint32(b[8:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ssrc != 0 && ssrc != l.ssrc || l.ssrc == 0 && b[1]&0x7f != PayloadTypeVP8 || len(l.dropped) >= l.max || !l.armed {
		return true
	}
	seq := binary.BigEndian.Uint16(b[2:])
	if l.dropped[seq] || !l.pick(seq) {
		return true // a retransmission on the primary SSRC (none is expected) passes
	}
	l.dropped[seq] = true
	return false
}

// hostIs reports whether the address addr ("ip:port") is on host ip.
func hostIs(addr, ip string) bool {
	return len(addr) > len(ip) && addr[:len(ip)] == ip && addr[len(ip)] == ':'
}

func (l *lossyLink) lost() map[uint16]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[uint16]bool, len(l.dropped))
	for s := range l.dropped {
		out[s] = true
	}
	return out
}

// vnetCascade is a conference "room" across two bridges on a Pion vnet: Alice sends on bridge A, Bob
// receives on bridge B, the bridges joined by a relay; links are the vnet's packet filters.
type vnetCascade struct {
	ta, tb     *testBridge
	ra, rb     *relay
	alice, bob *client
}

func newVnetCascade(t *testing.T, links ...*lossyLink) *vnetCascade {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.New(testLogger())})
	must(t, err)
	nets := map[string]*vnet.Net{}
	for name, ip := range map[string]string{"a": "10.0.0.1", "b": "10.0.0.4", "alice": vnetAlice, "bob": vnetBob} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		must(t, err)
		must(t, router.AddNet(n))
		nets[name] = n
	}
	for _, l := range links {
		l.dropped = map[uint16]bool{}
		router.AddChunkFilter(l.filter)
	}
	must(t, router.Start())
	t.Cleanup(func() { _ = router.Stop() })

	ca, cb := testConfig(), testConfig()
	ca.ID, cb.ID = "bridge-a", "bridge-b"
	ca.MediaAddr, cb.MediaAddr = vnetBridgeA, vnetBridgeB
	ca.IncludeLoopback, cb.IncludeLoopback = false, false
	v := &vnetCascade{}
	v.ta = newTestBridge(t, ca, WithNet(nets["a"]))
	v.tb = newTestBridge(t, cb, WithNet(nets["b"]))
	v.alice = newClient(t, v.ta, "room", "alice", clientOpts{net: nets["alice"]})
	v.bob = newClient(t, v.tb, "room", "bob", clientOpts{net: nets["bob"], noSend: true})
	v.ra, v.rb = relayPair(t, v.ta, v.tb, "room", nil)
	must(t, v.ta.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: v.tb.ID(), Endpoints: []RelayedEndpoint{v.bob.relayed()}}))
	must(t, v.tb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: v.ta.ID(), Endpoints: []RelayedEndpoint{v.alice.relayed()}}))
	return v
}

func (v *vnetCascade) close() {
	v.alice.close()
	v.bob.close()
	_ = v.ta.Close()
	_ = v.tb.Close()
}

// repairedRun arms link once Bob receives Alice's video, then waits until Bob has received every
// packet of a run of at least n from the first of the want packets link lost to the last, and returns how many times he received
// each packet of the run.
func (v *vnetCascade) repairedRun(t *testing.T, link *lossyLink, want, n int) map[uint16]int {
	t.Helper()
	slot := slotOf(t, v.bob, "alice-v0")
	v.bob.rec.wait(t, "bob receives alice's video", func(rec *recorder) bool { return len(rec.pkts[slot]) >= 10 })
	link.mu.Lock()
	link.armed = true
	link.mu.Unlock()
	// Bob's sequence numbers are Alice's plus the offset of his slot's projection on bridge B.
	bob := v.tb.conferenceOf(t, "room").endpoint("bob")
	var off uint16
	for _, sl := range bob.videoSlots {
		if sl.ssrc == slot {
			bob.sendMu.Lock()
			off = sl.proj.seqOff
			if sl.proj.switches != 0 {
				t.Errorf("bob's slot re-based %d times", sl.proj.switches)
			}
			bob.sendMu.Unlock()
		}
	}
	var run map[uint16]int
	v.bob.rec.wait(t, "bob receives alice's video with every loss repaired", func(rec *recorder) bool {
		lost := link.lost()
		if len(lost) < want {
			return false
		}
		var first, last uint16
		for seq := range lost {
			if first == 0 || int16(seq-first) < 0 {
				first = seq
			}
			if last == 0 || int16(seq-last) > 0 {
				last = seq
			}
		}
		seen := map[uint16]int{}
		for _, p := range rec.pkts[slot] {
			seen[p.SequenceNumber-off]++
		}
		run = map[uint16]int{}
		for i := range max(n, int(last-first)+1) {
			seq := first + uint16(i)
			if seen[seq] == 0 {
				return false
			}
			run[seq] = seen[seq]
		}
		return true
	})
	return run
}

// conferenceOf returns the bridge's conference id.
func (tb *testBridge) conferenceOf(t *testing.T, id string) *Conference {
	t.Helper()
	tb.Bridge.mu.Lock()
	defer tb.Bridge.mu.Unlock()
	c := tb.Bridge.conferences[id]
	if c == nil {
		t.Fatalf("no conference %s on %s", id, tb.ID())
	}
	return c
}

// TestRelayNACKFromCache: a packet of a source relayed from bridge A that is lost between bridge B and
// its receiver is repaired by bridge B from its own packet cache: the receiver's NACK never reaches
// bridge A, which retransmits nothing.
func TestRelayNACKFromCache(t *testing.T) {
	checkNoLeaks(t)
	link := &lossyLink{from: vnetBridgeB, to: vnetBob, max: 20, pick: func(seq uint16) bool { return seq%3 == 0 }}
	v := newVnetCascade(t, link)
	defer v.close()
	retransmitsA := counterValue(v.ta.metrics.retransmits)
	retransmitsB := counterValue(v.tb.metrics.retransmits)
	v.repairedRun(t, link, 20, 80)
	if n := counterValue(v.tb.metrics.retransmits) - retransmitsB; n < 20 {
		t.Fatalf("bridge B retransmitted %v packets for 20 lost toward bob", n)
	}
	if n := counterValue(v.ta.metrics.retransmits) - retransmitsA; n != 0 {
		t.Fatalf("bridge A retransmitted %v packets though nothing was lost on the relay", n)
	}
}

// TestRelayNACKAcrossRelay: packets of Alice's video lost between bridge A and bridge B are NACKed by
// bridge B over the relay and retransmitted by bridge A from its packet cache as RTX; bridge B forwards
// the repairs, and Bob, who may NACK them too, receives each packet once.
func TestRelayNACKAcrossRelay(t *testing.T) {
	checkNoLeaks(t)
	link := &lossyLink{from: vnetBridgeA, to: vnetBridgeB, max: 20, pick: func(seq uint16) bool { return seq%5 == 0 }}
	v := newVnetCascade(t, link)
	defer v.close()
	video := v.alice.relayed().Sources[1]
	if video.Kind != KindVideo {
		t.Fatalf("alice's second source is %+v", video)
	}
	link.mu.Lock()
	link.ssrc = video.SSRC // the primary only: the retransmissions cross on the RTX SSRC
	link.mu.Unlock()
	seen := v.repairedRun(t, link, 20, 80)
	for seq, n := range seen {
		if n != 1 {
			t.Errorf("bob received packet %d %d times", seq, n)
		}
	}
	if n := counterValue(v.ta.metrics.relayRetransmits); n < 20 {
		t.Fatalf("bridge A retransmitted %v packets over the relay for 20 lost on it", n)
	}
	if n := counterValue(v.tb.metrics.relayNACKsOut); n < 20 {
		t.Fatalf("bridge B NACKed %v sequence numbers over the relay for 20 lost on it", n)
	}
	if n := counterValue(v.ta.metrics.relayNACKsIn); n < 20 {
		t.Fatalf("bridge A heard %v NACKed sequence numbers", n)
	}
}
