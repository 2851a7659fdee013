package bridge

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/transport/v5/vnet"

	"github.com/parley-im/parley/internal/pionlog"
)

// TestNACKRepairsLossOnVnet: on a Pion vnet link that drops every third video packet from the bridge to
// one receiver, the receiver's NACKs are answered with RTX from the bridge's packet cache and it ends up
// with every packet.
func TestNACKRepairsLossOnVnet(t *testing.T) {
	checkNoLeaks(t)
	tb, nets, dropped := lossyToReceiver(t, nil)
	s := newClient(t, tb, "lossy", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "lossy", "receiver", clientOpts{net: nets["receiver"], noSend: true})
	v := slotOf(t, r, "sender-v0")

	r.rec.wait(t, "a repaired run of 80 packets with 20 losses", func(rec *recorder) bool {
		if dropped.Load() < 20 {
			return false
		}
		got := map[uint16]bool{}
		for _, p := range rec.pkts[v] {
			got[p.SequenceNumber] = true
		}
		if len(rec.pkts[v]) == 0 {
			return false
		}
		first := rec.pkts[v][0].SequenceNumber
		run := 0
		for got[first+uint16(run)] {
			run++
		}
		return run >= 80
	})
	if n := counterValue(tb.metrics.retransmits); n < 20 {
		t.Fatalf("retransmissions = %v, want ≥ 20", n)
	}
	s.close()
	r.close()
	_ = tb.Close()
}

// lossyToReceiver is a bridge (10.0.0.1) on a Pion vnet with a sender and a receiver, whose link to the
// receiver drops every third video packet, 20 in all (the count it returns); see, when set, sees every
// video packet from the bridge to the receiver first.
func lossyToReceiver(t *testing.T, see func(b []byte)) (*testBridge, map[string]*vnet.Net, *atomic.Int64) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: pionlog.New(testLogger())})
	must(t, err)
	nets := map[string]*vnet.Net{}
	for name, ip := range map[string]string{"bridge": "10.0.0.1", "sender": "10.0.0.2", "receiver": "10.0.0.3"} {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		must(t, err)
		must(t, router.AddNet(n))
		nets[name] = n
	}
	var seen, dropped atomic.Int64
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if c.SourceAddr().String() != "10.0.0.1:10000" || c.DestinationAddr().(interface{ String() string }).String()[:9] != "10.0.0.3:" {
			return true
		}
		b := c.UserData()
		if len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7f != PayloadTypeVP8 {
			return true
		}
		if see != nil {
			see(b)
		}
		if seen.Add(1)%3 == 0 && dropped.Load() < 20 {
			dropped.Add(1)
			return false
		}
		return true
	})
	must(t, router.Start())
	t.Cleanup(func() { _ = router.Stop() })
	cfg := testConfig()
	cfg.MediaAddr = "10.0.0.1:10000"
	cfg.IncludeLoopback = false
	return newTestBridge(t, cfg, WithNet(nets["bridge"])), nets, &dropped
}

// TestNACKWithoutRTXResendsNothing: a receiver that negotiated no RTX NACKs what its link lost, and
// the bridge sends nothing again on the slot's own SSRC and sequence number: that copy would go under the
// first one's SRTP nonce with another header (its transport-wide number), which with AES-GCM gives
// the authentication key away. The NACKs are counted as nack_no_rtx.
func TestNACKWithoutRTXResendsNothing(t *testing.T) {
	checkNoLeaks(t)
	var mu sync.Mutex
	sent := map[uint32]map[uint16]int{} // SSRC → sequence number → times on the wire
	tb, nets, dropped := lossyToReceiver(t, func(b []byte) {
		ssrc, seq := binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint16(b[2:])
		mu.Lock()
		if sent[ssrc] == nil {
			sent[ssrc] = map[uint16]int{}
		}
		sent[ssrc][seq]++
		mu.Unlock()
	})
	s := newClient(t, tb, "no-rtx", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "no-rtx", "receiver", clientOpts{net: nets["receiver"], noSend: true, noRTX: true})
	noRTX := tb.metrics.dropped.WithLabelValues(dropNACKNoRTX)
	eventually(t, "the receiver's NACKs for 20 lost packets refused", func() bool { return dropped.Load() >= 20 && counterValue(noRTX) >= 20 })
	mu.Lock()
	for ssrc, seqs := range sent {
		for seq, n := range seqs {
			if n > 1 {
				t.Errorf("SSRC %d sequence number %d went to the receiver %d times", ssrc, seq, n)
			}
		}
	}
	mu.Unlock()
	if n := counterValue(tb.metrics.retransmits); n != 0 {
		t.Errorf("retransmissions = %v toward a receiver without RTX, want 0", n)
	}
	s.close()
	r.close()
	_ = tb.Close()
}
