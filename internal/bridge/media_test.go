package bridge

import (
	"testing"

	"github.com/pion/rtp"
)

// slotOf returns the SSRC of r's slot that carries the source named name, from the bridge channel map.
func slotOf(t *testing.T, r *client, name string) uint32 {
	t.Helper()
	var ssrc uint32
	r.wsMsgs.wait(t, "mapping of "+name, func(rec *recorder) bool {
		rec.mu.Unlock()
		defer rec.mu.Lock()
		for s, n := range rec.mapped() {
			if n == name {
				ssrc = s
				return true
			}
		}
		return false
	})
	return ssrc
}

// checkDecodable asserts that pkts, as received on one video slot, form one stream a decoder can play:
// the first packet starts a VP8 key frame, sequence numbers have no gap or repeat, timestamps never go
// back, and picture IDs advance by one per frame.
func checkDecodable(t *testing.T, what string, pkts []rtp.Packet, video bool) {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatalf("%s: nothing received", what)
	}
	if video {
		d, ok := parseVP8(pkts[0].Payload)
		if !ok || !d.keyframe {
			t.Fatalf("%s: first packet is not the start of a key frame", what)
		}
	}
	var lastPic uint16
	for i := 1; i < len(pkts); i++ {
		p, q := pkts[i-1], pkts[i]
		if q.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("%s: packet %d: sequence %d after %d", what, i, q.SequenceNumber, p.SequenceNumber)
		}
		if int32(q.Timestamp-p.Timestamp) < 0 {
			t.Fatalf("%s: packet %d: timestamp %d after %d", what, i, q.Timestamp, p.Timestamp)
		}
		if !video {
			continue
		}
		d, ok := parseVP8(q.Payload)
		if !ok {
			t.Fatalf("%s: packet %d: bad VP8 descriptor", what, i)
		}
		pd, _ := parseVP8(p.Payload)
		if i == 1 {
			lastPic = pd.picID
		}
		if d.start && q.Timestamp != p.Timestamp {
			if d.picLen > 0 && d.picID != (lastPic+1)&picMask(d.picLen) {
				t.Fatalf("%s: packet %d: picture id %d after %d", what, i, d.picID, lastPic)
			}
			lastPic = d.picID
		}
	}
}

func TestTwoEndpointsExchangeMedia(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "room1", "alice", clientOpts{})
	b := newClient(t, tb, "room1", "bob", clientOpts{})

	av := slotOf(t, b, "alice-v0")
	aa := slotOf(t, b, "alice-a0")
	bv := slotOf(t, a, "bob-v0")
	ba := slotOf(t, a, "bob-a0")
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
	b.rec.wait(t, "bob receives alice", enough(av, aa))
	a.rec.wait(t, "alice receives bob", enough(bv, ba))
	checkDecodable(t, "bob←alice video", b.rec.snapshot(av), true)
	checkDecodable(t, "bob←alice audio", b.rec.snapshot(aa), false)
	checkDecodable(t, "alice←bob video", a.rec.snapshot(bv), true)
	checkDecodable(t, "alice←bob audio", a.rec.snapshot(ba), false)
	a.close()
	b.close()
	_ = tb.Close()
}

// TestSlotSwitch: three endpoints each receive the other two; when one leaves and another joins, the
// freed slot carries the newcomer, and the slot stays one decodable stream across the switch (which
// happens at a key frame).
func TestSlotSwitch(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	cs := map[string]*client{}
	for _, id := range []string{"a", "b", "c"} {
		cs[id] = newClient(t, tb, "room", id, clientOpts{})
	}
	enough := func(n int, ssrcs ...uint32) func(*recorder) bool {
		return func(r *recorder) bool {
			for _, s := range ssrcs {
				if r.count(s) < n {
					return false
				}
			}
			return true
		}
	}
	for r, rc := range cs {
		for s := range cs {
			if s == r {
				continue
			}
			v, a := slotOf(t, rc, s+"-v0"), slotOf(t, rc, s+"-a0")
			rc.rec.wait(t, r+" receives "+s, enough(30, v, a))
		}
	}
	cSlotAtA := slotOf(t, cs["a"], "c-v0")
	before := cs["a"].rec.n(cSlotAtA)

	must(t, tb.Expire(ExpireRequest{ConferenceID: "room", EndpointID: "c"}))
	cs["c"].close()
	d := newClient(t, tb, "room", "d", clientOpts{})
	cs["d"] = d

	if got := slotOf(t, cs["a"], "d-v0"); got != cSlotAtA {
		t.Fatalf("d took slot %d at a, want c's freed slot %d", got, cSlotAtA)
	}
	cs["a"].rec.wait(t, "a receives d on c's slot", enough(before+60, cSlotAtA))
	for _, s := range []string{"a", "b"} {
		v, a := slotOf(t, d, s+"-v0"), slotOf(t, d, s+"-a0")
		d.rec.wait(t, "d receives "+s, enough(30, v, a))
		checkDecodable(t, "d←"+s+" video", d.rec.snapshot(v), true)
		checkDecodable(t, "d←"+s+" audio", d.rec.snapshot(a), false)
	}
	pkts := cs["a"].rec.snapshot(cSlotAtA)
	checkDecodable(t, "a's slot c→d", pkts, true)

	// White box: the slot re-based once, at the first packet of a key frame.
	ea, err := tb.endpoint("room", "a")
	must(t, err)
	sl := ea.slotBySSRC[cSlotAtA]
	ea.sendMu.Lock()
	switches, at := sl.proj.switches, sl.proj.lastSwitchSeq
	ea.sendMu.Unlock()
	if switches != 1 {
		t.Fatalf("slot re-based %d times, want 1", switches)
	}
	found := false
	for _, p := range pkts {
		if p.SequenceNumber == at {
			dsc, _ := parseVP8(p.Payload)
			if !dsc.keyframe {
				t.Fatal("switch packet is not a key frame start")
			}
			found = true
		}
	}
	if !found {
		t.Fatal("switch packet not received")
	}
	for _, c := range cs {
		c.close()
	}
}
