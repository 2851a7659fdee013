package bridge

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// A receiver that accepted the transport-wide sequence number extension gets it on every packet the
// bridge sends it, numbered by one counter across its audio and video slots, and its transport-cc
// feedback reaches the bridge's estimator for it. A receiver that did not accept it gets no extension.
func TestTransportWideNumberingTowardReceivers(t *testing.T) {
	tb := newTestBridge(t, testConfig())
	_ = newClient(t, tb, "tcc-out", "alice", clientOpts{})
	bob := newClient(t, tb, "tcc-out", "bob", clientOpts{tccFeedback: true, noSend: true})
	carol := newClient(t, tb, "tcc-out", "carol", clientOpts{noSend: true})

	audio, video := bob.alloc.AudioSlots[0].SSRC, bob.alloc.VideoSlots[0].SSRC
	bob.rec.wait(t, "bob receives alice's audio and video", func(r *recorder) bool {
		return len(r.pkts[audio]) > 20 && len(r.pkts[video]) > 20
	})
	seqs := map[uint16]bool{}
	for _, ssrc := range []uint32{audio, video} {
		for _, p := range bob.rec.snapshot(ssrc) {
			ext := p.GetExtension(extTransportCC)
			if len(ext) != 2 {
				t.Fatalf("packet %d on %d has no transport-wide sequence number (extensions %v)", p.SequenceNumber, ssrc, p.Extensions)
			}
			seq := uint16(ext[0])<<8 | uint16(ext[1])
			if seqs[seq] {
				t.Fatalf("transport-wide sequence number %d used twice", seq)
			}
			seqs[seq] = true
		}
	}
	// One counter for both kinds: the numbers seen interleave audio and video and are nearly contiguous.
	lo, hi := uint16(0xffff), uint16(0)
	for s := range seqs {
		lo, hi = min(lo, s), max(hi, s)
	}
	if span := int(hi-lo) + 1; span > len(seqs)*2 {
		t.Errorf("transport-wide numbers span %d for %d packets: not one counter", span, len(seqs))
	}

	eb, err := tb.endpoint("tcc-out", "bob")
	must(t, err)
	eventually(t, "transport-cc feedback from bob", func() bool { return eb.tccReports.Load() > 3 })

	carolVideo := carol.alloc.VideoSlots[0].SSRC
	carol.rec.wait(t, "carol receives alice's video", func(r *recorder) bool { return len(r.pkts[carolVideo]) > 5 })
	for _, p := range carol.rec.snapshot(carolVideo) {
		if p.Extension {
			t.Fatalf("carol did not accept transport-cc but got extensions %v", p.Extensions)
		}
	}
}

// expandTransportCC turns run-length and status-vector chunks into per-packet statuses with arrival
// times, and a packet that claims more received packets than it carries deltas (or 65535 statuses) is
// cut short instead of read past its end.
func TestExpandTransportCC(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		BaseSequenceNumber: 65534,
		PacketStatusCount:  5,
		ReferenceTime:      10,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 2},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{
				rtcp.TypeTCCPacketNotReceived, rtcp.TypeTCCPacketReceivedLargeDelta, rtcp.TypeTCCPacketReceivedSmallDelta}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 1000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250},
			{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: -2000},
			{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500},
		},
	}
	got := expandTransportCC(fb, nil)
	base := 640 * time.Millisecond
	want := []tccArrival{
		{seq: 65534, received: true, at: base + 1000*time.Microsecond},
		{seq: 65535, received: true, at: base + 1250*time.Microsecond},
		{seq: 0},
		{seq: 1, received: true, at: base - 750*time.Microsecond},
		{seq: 2, received: true, at: base - 250*time.Microsecond},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statuses %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("status %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	liar := &rtcp.TransportLayerCC{
		PacketStatusCount: 65535,
		PacketChunks:      []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 8191}},
		RecvDeltas:        []*rtcp.RecvDelta{{Delta: 250}, {Delta: 250}},
	}
	if got := expandTransportCC(liar, nil); len(got) != 2 {
		t.Errorf("a packet with 2 deltas for 8191 received packets gave %d statuses, want 2", len(got))
	}
	lost := &rtcp.TransportLayerCC{
		PacketStatusCount: 65535,
		PacketChunks:      []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketNotReceived, RunLength: 8191}},
	}
	if got := expandTransportCC(lost, nil); len(got) != maxFeedbackStatuses {
		t.Errorf("65535 claimed statuses gave %d, want the cap %d", len(got), maxFeedbackStatuses)
	}
}

// buildRTP with a transport-wide number writes an RFC 8285 one-byte-header extension that pion parses,
// and readTransportSeq reads it back; without one the header stays 12 bytes.
func TestBuildRTPTransportSeq(t *testing.T) {
	in := []byte{0x80, 100, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef}
	lay, _ := parseRTPLayout(in, true)
	var buf [64]byte
	n := buildRTP(buf[:], in, lay, 42, projected{seq: 7, ts: 9}, nil, transportSeq{id: 5, seq: 0xabcd})
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if ext := p.GetExtension(5); len(ext) != 2 || ext[0] != 0xab || ext[1] != 0xcd {
		t.Fatalf("extension 5 = %x", ext)
	}
	if string(p.Payload) != "\xde\xad\xbe\xef" || p.SSRC != 42 || p.SequenceNumber != 7 {
		t.Fatalf("packet %+v", p)
	}
	if seq, ok := readTransportSeq(buf[:n], 5); !ok || seq != 0xabcd {
		t.Fatalf("readTransportSeq = %x %v", seq, ok)
	}
	if _, ok := readTransportSeq(buf[:n], 6); ok {
		t.Fatal("read a number under another id")
	}
	if n := buildRTP(buf[:], in, lay, 42, projected{}, nil, transportSeq{}); n != 16 || buf[0]&0x10 != 0 {
		t.Fatalf("without a number: length %d, X bit %v", n, buf[0]&0x10 != 0)
	}
}
