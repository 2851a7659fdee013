package bridge

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/transport/v5/vnet"

	"github.com/parley-im/parley/internal/bridge/packetcache"
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
	rtx      int // RTX packets seen on the leg (payload type PayloadTypeVP8RTX), dropped or not
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
	if b[1]&0x7f == PayloadTypeVP8RTX {
		l.rtx++
	}
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

func (l *lossyLink) rtxSeen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtx
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
	return newDelayedCascade(t, 0, links...)
}

// newDelayedCascade is newVnetCascade with every datagram on the vnet delayed by delay.
func newDelayedCascade(t *testing.T, delay time.Duration, links ...*lossyLink) *vnetCascade {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: delay, LoggerFactory: pionlog.New(testLogger())})
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
	v.ra, v.rb = relayAliceBob(t, v.ta, v.tb, v.alice, v.bob)
	return v
}

func (v *vnetCascade) close() {
	v.alice.close()
	v.bob.close()
	_ = v.ta.Close()
	_ = v.tb.Close()
}

// repairedRun arms link once Bob receives Alice's video, then waits until Bob has received every
// packet of a run of at least n from the first of the want packets link lost to the last, and returns
// how many times he received each packet of the run. The link's sequence numbers are Alice's, or with
// bobs those of Bob's slot.
func (v *vnetCascade) repairedRun(t *testing.T, link *lossyLink, want, n int, bobs bool) map[uint16]int {
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
			if !bobs {
				off = sl.proj.seqOff
			}
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
	retransmitsB := counterValue(v.tb.metrics.retransmits)
	v.repairedRun(t, link, 20, 80, true)
	if n := counterValue(v.tb.metrics.retransmits) - retransmitsB; n < 20 || link.rtxSeen() < 20 {
		t.Fatalf("bridge B retransmitted %v packets (%d as RTX) for 20 lost toward bob", n, link.rtxSeen())
	}
	if n, m := counterValue(v.tb.metrics.relayNACKsOut), counterValue(v.ta.metrics.relayRetransmits); n != 0 || m != 0 {
		t.Fatalf("bridge B NACKed %v sequence numbers over the relay and bridge A retransmitted %v packets, though nothing was lost on the relay", n, m)
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
	retransmitsB := counterValue(v.tb.metrics.retransmits)
	seen := v.repairedRun(t, link, 20, 80, false)
	// Each packet once, unless bridge B answered NACKs of Bob's with retransmissions, which it does only
	// for a packet Bob lost on his own link (none was dropped there, but the machine may be slow): Pion
	// hands Bob RTX packets as if on the primary stream, but its NACK generator does not see them, and
	// NACKs the packet again every 100 ms, and the bridge answers each once per round trip.
	if n := counterValue(v.tb.metrics.retransmits) - retransmitsB; n == 0 {
		for seq, n := range seen {
			if n != 1 {
				t.Errorf("bob received packet %d %d times", seq, n)
			}
		}
	} else {
		t.Logf("bridge B retransmitted %v packets to bob: not checking that he received each once", n)
	}
	if n := counterValue(v.ta.metrics.relayRetransmits); n < 20 || link.rtxSeen() < 20 {
		t.Fatalf("bridge A retransmitted %v packets over the relay (%d RTX seen on it) for 20 lost on it", n, link.rtxSeen())
	}
	if d := v.ta.Debug(); len(d.Conferences) != 1 || len(d.Conferences[0].Relays) != 1 || d.Conferences[0].Relays[0].Retransmitted < 20 {
		t.Fatalf("debug of bridge A: %+v", d.Conferences)
	}
	if n := counterValue(v.tb.metrics.relayNACKsOut); n < 20 {
		t.Fatalf("bridge B NACKed %v sequence numbers over the relay for 20 lost on it", n)
	}
	if n := counterValue(v.ta.metrics.relayNACKsIn); n < 20 {
		t.Fatalf("bridge A heard %v NACKed sequence numbers", n)
	}
}

// TestRelayNACKLongRoundTrip: across a relay whose round trip (80 ms, every datagram delayed 40 ms) is
// longer than the least NACK interval (50 ms), bridge B repeats a NACK only once the relay's round trip
// (from its ICE pair) has passed, so bridge A retransmits each of the 20 packets lost on the relay about
// once: before, B asked again every 50 ms and A, holding back a repeat only 20 ms, sent most of them
// twice.
func TestRelayNACKLongRoundTrip(t *testing.T) {
	checkNoLeaks(t)
	link := &lossyLink{from: vnetBridgeA, to: vnetBridgeB, max: 20, pick: func(seq uint16) bool { return seq%5 == 0 }}
	v := newDelayedCascade(t, 40*time.Millisecond, link)
	defer v.close()
	video := v.alice.relayed().Sources[1]
	link.mu.Lock()
	link.ssrc = video.SSRC
	link.mu.Unlock()
	cb := v.tb.conferenceOf(t, "room")
	eventually(t, "bridge B knows the relay's round trip", func() bool {
		cb.relayRTTs()
		return v.rb.rtt.Load() >= int64(60*time.Millisecond)
	})
	v.ta.conferenceOf(t, "room").relayRTTs()
	v.repairedRun(t, link, 20, 80, false)
	sent := counterValue(v.ta.metrics.relayRetransmits)
	t.Logf("relay round trip %v; bridge A retransmitted %v packets for 20 lost on the relay; bridge B NACKed %v sequence numbers",
		time.Duration(v.rb.rtt.Load()), sent, counterValue(v.tb.metrics.relayNACKsOut))
	if sent < 20 || sent > 24 {
		t.Fatalf("bridge A retransmitted %v packets for 20 lost on the relay, want 20-24 (each about once)", sent)
	}
}

// TestRelayNACKHostile: a peer bridge's NACKs for SSRCs that never crossed the relay to it, for
// sequence numbers far outside what crossed, and a flood of NACKs are each counted by reason and answer
// nothing, or no more than the relay's retransmission budget; the relay goes on carrying media.
func TestRelayNACKHostile(t *testing.T) {
	checkNoLeaks(t)
	ca, cb := testConfig(), testConfig()
	ca.ID, cb.ID = "bridge-a", "bridge-b"
	ca.RetransmitRate, ca.RetransmitBurst = 100, 50
	ta, tb := newTestBridge(t, ca), newTestBridge(t, cb)
	alice := newClient(t, ta, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{})
	ra, rb := relayAliceBob(t, ta, tb, alice, bob)
	aliceV, bobV := slotOf(t, bob, "alice-v0"), slotOf(t, alice, "bob-v0")
	bob.rec.wait(t, "bob receives alice's video", func(r *recorder) bool { return r.count(aliceV) >= 100 })
	alice.rec.wait(t, "alice receives bob's video", func(r *recorder) bool { return r.count(bobV) >= 30 })

	m := ta.metrics
	drops := func(reason string) float64 { return counterValue(m.dropped.WithLabelValues(reason)) }
	aliceSources := alice.relayed().Sources
	video, audio := aliceSources[1].SSRC, aliceSources[0].SSRC
	ra.sendMu.Lock()
	last := ra.video[video].log.last
	ra.sendMu.Unlock()
	// nack sends bridge A, from bridge B's side of the relay, one compound of NACKs of seqs for each SSRC.
	nack := func(seqs []uint16, ssrcs ...uint32) {
		var pkts []rtcp.Packet
		for _, s := range ssrcs {
			pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: s, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
		}
		raw, err := rtcp.Marshal(pkts)
		must(t, err)
		rb.sendRTCP(raw)
	}
	retransmits := counterValue(m.relayRetransmits)

	// SSRCs that never crossed to bridge B: its own participant's, one nobody has, Alice's audio (not
	// cached: bridges do not retransmit audio).
	unknown := drops(dropRelayNACKUnknown)
	nack([]uint16{last - 3, last - 2}, bob.relayed().Sources[1].SSRC, 0xdeadbeef, audio)
	eventually(t, "6 NACKs for unknown SSRCs counted", func() bool { return drops(dropRelayNACKUnknown) == unknown+6 })

	// Sequence numbers of Alice's video far ahead of and behind what crossed.
	notSent := drops(dropRelayNACKNotSent)
	nack([]uint16{last + 30000, last + 2000, last - 5000})
	nack([]uint16{last + 30000, last + 2000, last - 5000}, video)
	eventually(t, "3 NACKs for sequence numbers that never crossed counted", func() bool { return drops(dropRelayNACKNotSent) == notSent+3 })
	if n := counterValue(m.relayRetransmits); n != retransmits {
		t.Fatalf("%v retransmissions for NACKs of nothing that crossed", n-retransmits)
	}

	// A flood: 200 compounds of 32 NACKs each for the last 64 sequence numbers that crossed, as fast as
	// the relay sends them. Each compound is read for 64 sequence numbers at most, and the relay
	// retransmits no more than its budget allows, each packet once per 20 ms.
	seqs := make([]uint16, 0, 64)
	for i := range 64 {
		seqs = append(seqs, last-63+uint16(i))
	}
	flood := make([]uint32, 32)
	for i := range flood {
		flood[i] = video
	}
	in, limited, repeats := counterValue(m.relayNACKsIn), drops(dropNACKLimit), drops(dropNACKRepeat)
	start := time.Now()
	for range 200 {
		nack(seqs, flood...)
	}
	nack([]uint16{1}, 0xdeadbeef) // read after the flood, if UDP on loopback keeps its order
	eventually(t, "the flood read", func() bool { return drops(dropRelayNACKUnknown) == unknown+7 })
	elapsed := time.Since(start)
	gotIn := counterValue(m.relayNACKsIn) - in
	sent := counterValue(m.relayRetransmits) - retransmits
	budget := float64(ca.RetransmitBurst) + elapsed.Seconds()*float64(ca.RetransmitRate) + 1
	t.Logf("flood: %v sequence numbers read in %v, %v retransmitted (budget %.0f), %v rate-limited, %v repeats",
		gotIn, elapsed, sent, budget, drops(dropNACKLimit)-limited, drops(dropNACKRepeat)-repeats)
	if gotIn > 201*maxNACKsPerCompound || gotIn < 64 {
		t.Errorf("%v NACKed sequence numbers read from 200 compounds", gotIn)
	}
	if sent == 0 || sent > budget {
		t.Errorf("%v retransmissions for the flood, budget %.0f", sent, budget)
	}
	if drops(dropNACKLimit) == limited || drops(dropNACKRepeat) == repeats {
		t.Error("no NACK of the flood was rate-limited or refused as a repeat")
	}
	// The relay goes on: bob still receives alice's video, alice bob's.
	n, nb := bob.rec.n(aliceV), alice.rec.n(bobV)
	bob.rec.wait(t, "bob receives alice's video after the flood", func(r *recorder) bool { return r.count(aliceV) >= n+30 })
	alice.rec.wait(t, "alice receives bob's video after the flood", func(r *recorder) bool { return r.count(bobV) >= nb+30 })
	if !ra.ready.Load() || !rb.ready.Load() {
		t.Fatal("the relay ended")
	}

	// Alice stops her camera: bridge A's relay forgets what crossed of it, and NACKs for it are for an
	// unknown SSRC.
	must(t, ta.UpdateSources(SourcesUpdate{ConferenceID: "room", EndpointID: "alice", Sources: aliceSources[:1]}))
	eventually(t, "the relay forgets alice's camera", func() bool {
		ra.sendMu.Lock()
		defer ra.sendMu.Unlock()
		return ra.video[video] == nil
	})
	unknown = drops(dropRelayNACKUnknown)
	nack([]uint16{last}, video)
	eventually(t, "a NACK for alice's camera after it ended counted", func() bool { return drops(dropRelayNACKUnknown) == unknown+1 })
}

// TestSentLog: the relay's record of what crossed it (relayStream.log) knows each sequence number sent
// within its window, and not those skipped (a layer the peer did not want), too old or ahead, across
// the wrap of the sequence numbers.
func TestSentLog(t *testing.T) {
	var l sentLog
	if l.has(0) {
		t.Fatal("an empty log has 0")
	}
	sent := map[uint16]bool{}
	mark := func(s uint16) { l.mark(s); sent[s] = true }
	for s := uint16(65000); s != 200; s++ {
		if s%100 < 40 || s == 65400 { // a gap of 60 every 100, and one lone packet in a gap
			mark(s)
		}
	}
	mark(65500) // late: inside a gap, within the window
	mark(10)    // late, already marked
	for s := uint16(65000); s != 250; s++ {
		back := int(int16(uint16(199) - s))
		want := sent[s] && back >= 0 && back < sentLogSize
		if l.has(s) != want {
			t.Fatalf("has(%d) = %v, want %v (last %d)", s, l.has(s), want, l.last)
		}
	}
	l.mark(199 + 5000) // a jump past the window forgets everything before it
	if l.has(199) || !l.has(199+5000) || l.has(199+4999) {
		t.Fatal("a jump kept what was before it")
	}
	l.mark(199 + 5000 - sentLogSize) // older than the window: not recorded
	if l.has(199 + 5000 - sentLogSize) {
		t.Fatal("a packet older than the window was recorded")
	}
}

// TestRepairReachesReceiverOnce: a repair (RTX from the sender, as a peer bridge's retransmission comes
// over a relay) of a packet the bridge missed is forwarded to the receiver late, once: a second RTX of
// it is dropped as a duplicate, and the receiver's NACK of it within a round trip is not answered with a
// third copy.
func TestRepairReachesReceiverOnce(t *testing.T) {
	sender, enc, _ := rigConference(t, 1, false, 1)
	c := sender.conf
	srcs, err := c.validateSources(sender.id, []Source{
		{Kind: KindVideo, SSRC: 1234, Name: "sender-v0"},
		{Kind: KindVideo, SSRC: 1244, Name: "sender-v0"},
	}, []Group{{GroupFID, []uint32{1234, 1244}}})
	must(t, err)
	c.setSources(sender, srcs)
	r := c.members()[1]
	w := newLayerWriter(t)
	r.setWriter(w)
	r.rtt.Store(int64(10 * time.Second)) // a NACK within a round trip, however slow the test runs
	send := func(plain []byte) {
		pkt, err := enc.EncryptRTP(nil, plain, nil)
		must(t, err)
		sender.receive(pkt, time.Now())
	}
	rtxSeq := uint16(7)
	repair := func(seq uint16) {
		orig := vp8Packet(seq, uint32(seq)*3000)
		p := make([]byte, 0, len(orig)+2)
		p = append(p, orig[:12]...)
		p = append(p, byte(seq>>8), byte(seq))
		p = append(p, orig[12:]...)
		p[1] = PayloadTypeVP8RTX
		binary.BigEndian.PutUint16(p[2:], rtxSeq)
		binary.BigEndian.PutUint32(p[8:], 1244)
		rtxSeq++
		send(p)
	}
	for seq := uint16(100); seq <= 110; seq++ {
		if seq != 105 {
			send(vp8Packet(seq, uint32(seq)*3000))
		}
	}
	dup := counterValue(c.b.metrics.dropped.WithLabelValues(dropDuplicate))
	repair(105)
	repair(105)
	var sl *slot
	for _, s := range r.videoSlots {
		if s.src != nil {
			sl = s
		}
	}
	r.sendMu.Lock()
	out := 105 + sl.proj.seqOff
	r.sendMu.Unlock()
	r.onNACK(&rtcp.TransportLayerNack{MediaSSRC: sl.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{out})}, 0, time.Now().UnixNano())
	_, seqs, _ := w.take()
	n := 0
	for _, s := range seqs {
		if s == out {
			n++
		}
	}
	if n != 1 || len(seqs) != 11 {
		t.Fatalf("the receiver got %v: packet %d %d times", seqs, out, n)
	}
	if d := counterValue(c.b.metrics.dropped.WithLabelValues(dropDuplicate)) - dup; d != 1 {
		t.Fatalf("%v duplicates dropped, want the second repair", d)
	}
}

// TestRelayNACKResumedLayer: a layer that stopped crossing the relay while bridge B's receivers did not
// want it comes back with a gap in its sequence numbers, which is no loss: bridge B asks bridge A for
// none of it.
func TestRelayNACKResumedLayer(t *testing.T) {
	checkNoLeaks(t)
	ta, tb := relayBridges(t)
	alice := newClient(t, ta, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	ra, _ := relayAliceBob(t, ta, tb, alice, bob)
	slot := slotOf(t, bob, "alice-v0")
	bob.rec.wait(t, "bob receives alice's video", func(r *recorder) bool { return r.count(slot) >= 30 })

	video := alice.relayed().Sources[1].SSRC
	aliceStream := (*ta.conferenceOf(t, "room").endpoint("alice").inbound.Load())[video]
	crossed := func() uint16 {
		ra.sendMu.Lock()
		defer ra.sendMu.Unlock()
		return ra.video[video].log.last
	}
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":0}}`)
	eventually(t, "40 of alice's video packets left out of the relay", func() bool {
		return int16(uint16(aliceStream.extMax.Load())-crossed()) >= 40
	})
	nacks, notSent := counterValue(tb.metrics.relayNACKsOut), counterValue(ta.metrics.dropped.WithLabelValues(dropRelayNACKNotSent))
	n := bob.rec.n(slot)
	bob.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":720}}`)
	bob.rec.wait(t, "bob receives alice's video again", func(r *recorder) bool { return r.count(slot) >= n+30 })
	if d := counterValue(tb.metrics.relayNACKsOut) - nacks; d != 0 {
		t.Fatalf("bridge B NACKed %v sequence numbers of a layer that resumed", d)
	}
	if d := counterValue(ta.metrics.dropped.WithLabelValues(dropRelayNACKNotSent)) - notSent; d != 0 {
		t.Fatalf("bridge A refused %v NACKs for what did not cross", d)
	}
}

// BenchmarkRelayNoteVideo measures what recording a video packet that crosses a relay costs the packet
// path (relay.noteVideoLocked, under the relay's sendMu, once per packet and relay).
func BenchmarkRelayNoteVideo(b *testing.B) {
	r := &relay{video: map[uint32]*relayStream{}}
	s := newInStream(1234, nil, 0)
	s.cache = packetcache.New(16)
	pkt := vp8Packet(0, 0)
	seq := uint16(0)
	for b.Loop() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		seq++
		r.noteVideoLocked(1234, pkt, s)
	}
}
