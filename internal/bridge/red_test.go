package bridge

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/pionlog"
	"github.com/pion/transport/v5/vnet"
)

// writeRED repeats the slot's previous payloads that immediately precede the primary, oldest first, and
// primaryOfRED finds the primary again; copies that are not the previous packets, too old or too big to
// fit are left out.
func TestREDWriteAndPrimary(t *testing.T) {
	var h redHistory
	var buf [2048]byte
	p := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 40+i) }

	n := h.writeRED(buf[:], p(0), 100, 960*100, PayloadTypeOpus, 2)
	if n != 1+len(p(0)) || buf[0] != PayloadTypeOpus {
		t.Fatalf("first packet: %d bytes %x, want only the primary", n, buf[:4])
	}
	h.remember(100, 960*100, p(0))
	h.remember(101, 960*101, p(1))
	n = h.writeRED(buf[:], p(2), 102, 960*102, PayloadTypeOpus, 2)
	red := buf[:n]
	// Two block headers (4 bytes each) and the final one, then the copies oldest first, then the primary.
	if red[0] != 0x80|PayloadTypeOpus || red[4] != 0x80|PayloadTypeOpus || red[8] != PayloadTypeOpus {
		t.Fatalf("headers %x", red[:9])
	}
	off0, len0 := (uint32(red[1])<<16|uint32(red[2])<<8|uint32(red[3]))>>10, int(red[2]&3)<<8|int(red[3])
	if off0 != 1920 || len0 != len(p(0)) {
		t.Fatalf("oldest block: offset %d length %d", off0, len0)
	}
	body := red[9:]
	if !bytes.Equal(body[:len(p(0))], p(0)) || !bytes.Equal(body[len(p(0)):len(p(0))+len(p(1))], p(1)) {
		t.Fatal("redundant copies out of order")
	}
	pt, prim, ok := primaryOfRED(red)
	if !ok || pt != PayloadTypeOpus || !bytes.Equal(prim, p(2)) {
		t.Fatalf("primary %v %d %x", ok, pt, prim)
	}
	// Level 1 repeats only the packet just before.
	if n := h.writeRED(buf[:], p(2), 102, 960*102, PayloadTypeOpus, 1); n != 4+1+len(p(1))+len(p(2)) {
		t.Fatalf("level 1: %d bytes", n)
	}
	// After a gap in the slot's numbering (silence, another source) nothing is repeated.
	if n := h.writeRED(buf[:], p(3), 110, 960*110, PayloadTypeOpus, 2); n != 1+len(p(3)) {
		t.Fatalf("after a gap: %d bytes", n)
	}
	// Nor from more than 14 bits of timestamp back.
	if n := h.writeRED(buf[:], p(3), 102, 960*101+redMaxOffset+1, PayloadTypeOpus, 2); n > 1+len(p(3))+4+len(p(0))+len(p(1)) || bytes.Contains(buf[:n], p(0)) {
		t.Fatalf("a copy more than 16383 ticks old was repeated")
	}
	// Big payloads: the copies that would not fit in redMaxPayload are left out, newest kept.
	var big redHistory
	big.remember(1, 0, bytes.Repeat([]byte{1}, 600))
	big.remember(2, 960, bytes.Repeat([]byte{2}, 600))
	n = big.writeRED(buf[:], bytes.Repeat([]byte{3}, 300), 3, 1920, PayloadTypeOpus, 2)
	if n > redMaxPayload || !bytes.Contains(buf[:n], bytes.Repeat([]byte{2}, 600)) || bytes.Contains(buf[:n], bytes.Repeat([]byte{1}, 600)) {
		t.Fatalf("big payloads: %d bytes", n)
	}
	// A payload over 1023 bytes cannot be a block and is not kept.
	big.remember(4, 2880, bytes.Repeat([]byte{4}, 1100))
	if n := big.writeRED(buf[:], []byte{5}, 5, 3840, PayloadTypeOpus, 1); n != 2 {
		t.Fatalf("after an oversized payload: %d bytes", n)
	}
}

// Malformed RED from a sender is refused, never read past its end.
func TestPrimaryOfREDHostile(t *testing.T) {
	for name, payload := range map[string][]byte{
		"empty":                    {},
		"only block headers":       {0x80 | 111, 0, 0, 10},
		"truncated block header":   {0x80 | 111, 0, 0},
		"lengths past the end":     {0x80 | 111, 0, 0x03, 0xff, 111, 1, 2, 3},
		"no final header, all F=1": bytes.Repeat([]byte{0xff}, 64),
	} {
		if _, _, ok := primaryOfRED(payload); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if pt, prim, ok := primaryOfRED([]byte{111, 9, 9}); !ok || pt != 111 || len(prim) != 2 {
		t.Errorf("a primary alone: %v %d %v", ok, pt, prim)
	}
}

// The level rises with the loss at once and falls only after redHold without it.
func TestREDLevelFollowsLoss(t *testing.T) {
	e := &Endpoint{}
	steps := []struct {
		at   int64
		loss float64
		want int32
	}{
		{0, 0, 0},
		{1e9, 0.01, 1},
		{2e9, 0.08, 2},
		{3e9, 0, 2},
		{11e9, 0.01, 2}, // 9 s after the 8% loss: still held
		{12e9 + 1, 0.01, 1},
		{30e9, 0, 0},
	}
	// On a thin link the copies are held to what half the estimate carries beside the audio.
	for _, s := range steps {
		e.updateRedLevel(s.loss, 40_000, 1_000_000, s.at)
		if got := e.redLevel.Load(); got != s.want {
			t.Fatalf("at %v s with loss %.2f: level %d, want %d", float64(s.at)/1e9, s.loss, got, s.want)
		}
	}
	thin := &Endpoint{}
	thin.updateRedLevel(0.1, 40_000, 200_000, 0)
	if got := thin.redLevel.Load(); got != 1 {
		t.Fatalf("10%% loss, 40 kbit/s of audio on a 200 kbit/s estimate: level %d, want 1", got)
	}
	thin.updateRedLevel(0.1, 40_000, 120_000, 20e9)
	if got := thin.redLevel.Load(); got != 0 {
		t.Fatalf("on a 120 kbit/s estimate: level %d, want 0", got)
	}
	// The first estimate is high; when the link turns out thin, the copies it has no room for go at once,
	// not after the hold.
	early := &Endpoint{}
	early.updateRedLevel(0.1, 40_000, 2_500_000, 0)
	early.updateRedLevel(0.1, 40_000, 200_000, 1e9)
	if got := early.redLevel.Load(); got != 1 {
		t.Fatalf("10%% loss, the estimate down from 2.5 Mbit/s to 200 kbit/s a second later: level %d, want 1 at once", got)
	}
}

// TestREDRepairsLossOnVnet: a receiver that accepted RED, on a Pion vnet link that drops every
// twelfth audio packet from the bridge, gets its audio as RED; every dropped packet but a few at the
// start (before its loss is measured) is in a later packet's redundancy, and the level rises to two.
func TestREDRepairsLossOnVnet(t *testing.T) {
	checkNoLeaks(t)
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.New(testLogger())})
	must(t, err)
	nets := map[string]*vnet.Net{}
	for name, ip := range map[string]string{"bridge": "10.0.0.1", "sender": "10.0.0.2", "receiver": "10.0.0.3"} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		must(t, err)
		must(t, router.AddNet(n))
		nets[name] = n
	}
	var mu sync.Mutex
	dropped := map[uint16]bool{}
	audioSeen := 0
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if c.SourceAddr().String() != "10.0.0.1:10000" || !strings.HasPrefix(c.DestinationAddr().String(), "10.0.0.3:") {
			return true
		}
		b := c.UserData()
		if len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7f != PayloadTypeRED {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		if audioSeen++; audioSeen%12 == 0 {
			dropped[binary.BigEndian.Uint16(b[2:])] = true
			return false
		}
		return true
	})
	must(t, router.Start())
	t.Cleanup(func() { _ = router.Stop() })

	cfg := testConfig()
	cfg.MediaAddr = "10.0.0.1:10000"
	cfg.IncludeLoopback = false
	tb := newTestBridge(t, cfg, WithNet(nets["bridge"]))
	s := newClient(t, tb, "red", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "red", "receiver", clientOpts{net: nets["receiver"], noSend: true, tccFeedback: true, red: true})
	a := slotOf(t, r, "sender-a0")
	er, err := tb.endpoint("red", "receiver")
	must(t, err)

	waitLong(t, 20*time.Second, "redundancy level 2 at 8% loss", func() bool { return er.redLevel.Load() == 2 })
	start := r.rec.n(a)
	r.rec.wait(t, "250 more audio packets", func(rec *recorder) bool { return len(rec.pkts[a]) > start+250 })

	// Which packets the receiver has, directly or from a later packet's redundancy.
	pkts := r.rec.snapshot(a)[start:]
	have := map[uint16]bool{}
	for _, p := range pkts {
		if p.PayloadType != PayloadTypeRED {
			t.Fatalf("audio with payload type %d toward a RED receiver", p.PayloadType)
		}
		have[p.SequenceNumber] = true
		blocks := 0
		for i := 0; i < len(p.Payload) && p.Payload[i]&0x80 != 0; i += 4 {
			blocks++
		}
		for d := 1; d <= blocks; d++ {
			have[p.SequenceNumber-uint16(d)] = true
		}
		if _, prim, ok := primaryOfRED(p.Payload); !ok || len(prim) == 0 {
			t.Fatalf("packet %d: malformed RED %x", p.SequenceNumber, p.Payload)
		}
	}
	first, last := pkts[0].SequenceNumber, pkts[len(pkts)-1].SequenceNumber
	mu.Lock()
	lost, unrepaired := 0, 0
	for seq := range dropped {
		if int16(seq-first) > 0 && int16(last-seq) > 2 {
			lost++
			if !have[seq] {
				unrepaired++
			}
		}
	}
	mu.Unlock()
	if lost < 15 || unrepaired > 0 {
		t.Fatalf("%d audio packets dropped in the window, %d not repaired by RED", lost, unrepaired)
	}
	s.close()
	r.close()
	_ = tb.Close()
}

// A sender's RED packet is reduced to its Opus primary, header kept, payload type Opus.
func TestUnwrapRED(t *testing.T) {
	pkt := []byte{0x80, 0x80 | PayloadTypeRED, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1,
		0x80 | 111, 0, 0x3c, 0x02, 111, 0xaa, 0xbb, 0xcc, 0xdd} // one 2-byte copy at offset 15, primary cc dd
	lay, _ := parseRTPLayout(pkt, true)
	var buf [64]byte
	out, ol, ok := unwrapRED(buf[:], pkt, lay)
	if !ok || out[1] != 0x80|PayloadTypeOpus || !bytes.Equal(out[ol.hdrLen:ol.end], []byte{0xcc, 0xdd}) || !bytes.Equal(out[2:12], pkt[2:12]) {
		t.Fatalf("unwrapped %v %x", ok, out)
	}
	notOpus := append([]byte(nil), pkt...)
	notOpus[16] = 100
	if _, _, ok := unwrapRED(buf[:], notOpus, lay); ok {
		t.Fatal("a RED primary that is not Opus was accepted")
	}
}
