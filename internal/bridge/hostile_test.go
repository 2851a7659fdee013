package bridge

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtcp"
)

// eventually polls cond (for counters, which have no notification) until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func rtpHeader(b0 byte, pt byte, seq uint16, ssrc uint32) []byte {
	h := make([]byte, 12)
	h[0], h[1] = b0, pt
	binary.BigEndian.PutUint16(h[2:], seq)
	binary.BigEndian.PutUint32(h[4:], uint32(seq)*3000)
	binary.BigEndian.PutUint32(h[8:], ssrc)
	return h
}

// TestHostileMedia sends the RTP/RTCP/SRTP attacks of threats-and-tests.md §5.1 items 20, 22, 23 and 24
// from an authenticated endpoint, while alice sends to bob. Each attack is counted and dropped (or
// bounded); nothing panics, and bob's stream from alice stays continuous.
func TestHostileMedia(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig()
	cfg.RetransmitRate, cfg.RetransmitBurst = 100, 50
	tb := newTestBridge(t, cfg)
	alice := newClient(t, tb, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	av := slotOf(t, bob, "alice-v0")
	bob.rec.wait(t, "bob receives alice", func(r *recorder) bool { return r.count(av) > 20 })

	// Mallory negotiates RTX, so that its NACKs reach the retransmission limits (without RTX none is
	// answered: TestNACKWithoutRTXResendsNothing).
	r := newRawClient(t, tb, "room", "mallory", rawOpts{setup: func(a *Answer) { a.RTX = true }})
	ws, _, err := websocket.Dial(context.Background(), r.alloc.Channel.URL("ws://"+tb.http.Listener.Addr().String()), nil)
	must(t, err)
	defer ws.CloseNow()
	must(t, ws.Write(context.Background(), websocket.MessageText, []byte(`{"colibriClass":"ReceiverVideoConstraints"}`)))
	em, err := tb.endpoint("room", "mallory")
	must(t, err)
	slot := em.videoSlots[0]
	eventually(t, "mallory's slot forwarding alice", func() bool {
		em.sendMu.Lock()
		defer em.sendMu.Unlock()
		return slot.proj.started
	})

	m := tb.metrics
	drops := func(reason string) float64 { return counterValue(m.dropped.WithLabelValues(reason)) }
	expectDrops := func(reason string, before float64, n int) {
		t.Helper()
		eventually(t, reason+" drops", func() bool { return drops(reason) >= before+float64(n) })
	}

	t.Run("item20-malformed-rtp", func(t *testing.T) {
		before := drops(dropMalformed)
		// CSRC count past the end, and an extension length past the end (plain bytes: cannot be encrypted).
		r.write(rtpHeader(0x8f, PayloadTypeVP8, 1, r.ssrcV))
		r.write(append(rtpHeader(0x90, PayloadTypeVP8, 2, r.ssrcV), 0xbe, 0xde, 0xff, 0xff))
		// Padding with pad length 0, and pad length beyond the payload (inside the encrypted part).
		r.rtp(append(rtpHeader(0xa0, PayloadTypeVP8, 3, r.ssrcV), 0x10, 0x00, 0x00))
		r.rtp(append(rtpHeader(0xa0, PayloadTypeVP8, 4, r.ssrcV), 0x10, 0x00, 0xff))
		// A VP8 descriptor announcing more than the payload holds.
		r.rtp(append(rtpHeader(0x80, PayloadTypeVP8, 5, r.ssrcV), 0x80, 0x80))
		expectDrops(dropMalformed, before, 5)
		// One-byte header extension with id 15 and an RTP payload that is only padding: accepted, harmless.
		r.rtp(append(rtpHeader(0x90, PayloadTypeVP8, 6, r.ssrcV), 0xbe, 0xde, 0x00, 0x01, 0xf0, 0, 0, 0, 0x10, 0x00))
	})
	t.Run("item24-unsignalled-ssrc", func(t *testing.T) {
		before := drops(dropUnsignalled)
		r.rtp(append(rtpHeader(0x80, PayloadTypeVP8, 1, 0x12345678), 0x10, 0x00))
		aliceSSRC := uint32(alice.vs.GetParameters().Encodings[0].SSRC)
		r.rtp(append(rtpHeader(0x80, PayloadTypeVP8, 1, aliceSSRC), 0x10, 0x00)) // another participant's
		expectDrops(dropUnsignalled, before, 2)
	})
	t.Run("item23-srtp-replay-and-auth", func(t *testing.T) {
		before := drops(dropSRTP)
		enc := r.rtp(append(rtpHeader(0x80, PayloadTypeOpus, 100, r.ssrcA), 1, 2, 3))
		r.write(enc) // replayed SRTP
		bad, err := r.out.EncryptRTP(nil, append(rtpHeader(0x80, PayloadTypeOpus, 101, r.ssrcA), 1, 2, 3), nil)
		must(t, err)
		bad[len(bad)-1] ^= 0xff // bad auth tag
		r.write(bad)
		rr, err := (&rtcp.ReceiverReport{SSRC: r.ssrcV}).Marshal()
		must(t, err)
		encRTCP := r.rtcp(rr)
		r.write(encRTCP) // replayed SRTCP (index rollback)
		expectDrops(dropSRTP, before, 3)
	})
	t.Run("item22-malformed-rtcp", func(t *testing.T) {
		before := drops(dropMalformed)
		// Length 0 with more bytes following, and a length beyond the datagram.
		r.rtcp([]byte{0x80, 201, 0x00, 0x00, 1, 2, 3, 4, 0x80, 201, 0x00, 0x01})
		r.rtcp([]byte{0x80, 201, 0x00, 0x40, 1, 2, 3, 4})
		// Transport-wide CC feedback claiming 65535 packet statuses in no chunks.
		r.rtcp([]byte{0x8f, 205, 0x00, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0xff, 0xff, 0, 0, 0, 0})
		expectDrops(dropMalformed, before, 2)
	})
	t.Run("item22-nack-flood", func(t *testing.T) {
		nacksBefore := counterValue(m.nacksIn)
		rtxBefore := counterValue(m.retransmits)
		limitedBefore := drops(dropNACKLimit)
		em.sendMu.Lock()
		last := slot.proj.lastSeq
		em.sendMu.Unlock()
		start := time.Now()
		nack := &rtcp.TransportLayerNack{SenderSSRC: r.ssrcV, MediaSSRC: slot.ssrc}
		for i := range 100 { // 1,700 sequence numbers per packet
			nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: last - uint16(i*17), LostPackets: 0xffff})
		}
		raw, err := nack.Marshal()
		must(t, err)
		const compounds = 20
		for range compounds {
			r.rtcp(raw)
		}
		eventually(t, "NACKs handled", func() bool {
			return counterValue(m.nacksIn) >= nacksBefore+compounds*maxNACKsPerCompound
		})
		if got := counterValue(m.nacksIn) - nacksBefore; got != compounds*maxNACKsPerCompound {
			t.Errorf("%v NACKed sequence numbers handled, want the cap %d", got, compounds*maxNACKsPerCompound)
		}
		budget := float64(cfg.RetransmitBurst) + time.Since(start).Seconds()*float64(cfg.RetransmitRate) + 1
		if got := counterValue(m.retransmits) - rtxBefore; got > budget {
			t.Errorf("%v retransmissions, budget %v", got, budget)
		}
		if drops(dropNACKLimit) <= limitedBefore {
			t.Error("no retransmission was refused by the rate limit")
		}
	})
	t.Run("item22-pli-flood", func(t *testing.T) {
		before := counterValue(m.keyframeReqIn)
		plisBefore := alice.rec.plis()
		start := time.Now()
		var raw []byte
		for range 10 {
			b, err := (&rtcp.PictureLossIndication{SenderSSRC: r.ssrcV, MediaSSRC: slot.ssrc}).Marshal()
			must(t, err)
			raw = append(raw, b...)
		}
		for range 50 {
			r.rtcp(raw)
		}
		eventually(t, "PLIs handled", func() bool { return counterValue(m.keyframeReqIn) >= before+500 })
		allowed := int(time.Since(start)/cfg.KeyframeInterval) + 2
		if got := alice.rec.plis() - plisBefore; got > allowed {
			t.Errorf("alice got %d PLIs from 500 requests in %v, allowed %d", got, time.Since(start), allowed)
		}
	})

	// Bob's stream from alice went on undisturbed.
	n := bob.rec.n(av)
	bob.rec.wait(t, "bob still receives alice", func(r *recorder) bool { return r.count(av) > n+30 })
	checkDecodable(t, "bob←alice during attacks", bob.rec.snapshot(av), true)
	if _, err := tb.endpoint("room", "mallory"); err != nil {
		t.Errorf("attacker endpoint gone: %v (bad packets must be dropped, not fatal)", err)
	}
	alice.close()
	bob.close()
}

// TestHostileDTLS: DTLS junk, zero-length fragments, a DTLS 1.0 hello and a handshake that never
// finishes (threats §5.1 item 25), and a certificate that does not match the signalled fingerprint
// (item 16): each endpoint is expired; the others are not disturbed.
func TestHostileDTLS(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig()
	cfg.ConnectTimeout = time.Second
	b, err := New(cfg, testLogger(), nil)
	must(t, err)
	expired := make(chan string, 16)
	b.expiredHook = func(_, ep, reason string) { expired <- ep + ": " + reason }
	must(t, b.Start())
	srv := newChannelServer(b)
	tb := &testBridge{Bridge: b, http: srv}
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); _ = b.Close() })

	alice := newClient(t, tb, "room", "alice", clientOpts{})
	bob := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	av := slotOf(t, bob, "alice-v0")
	bob.rec.wait(t, "bob receives alice", func(r *recorder) bool { return r.count(av) > 10 })

	junk := newRawClient(t, tb, "room", "junk", rawOpts{noHandshake: true})
	// Record header: type 22 handshake, version, epoch 0, seq, length; then a fragment.
	zeroFrag := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12,
		1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // ClientHello, length 0, fragment length 0
	dtls10 := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 12, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	junk.write(zeroFrag)
	junk.write(dtls10)
	// A fragment flood, in bursts the bridge has read before the next: 1,000 datagrams at once would
	// overflow the socket's receive buffer where the kernel caps it (208 KiB by default), and the kernel
	// would drop Alice's packets too, which is loss, not the bridge's doing.
	for burst := range 10 {
		read := demuxedCount(b)
		for i := range 100 {
			junk.write([]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, byte(burst), byte(i), 0, 100, 1, 0, 0, 100, 0, 1, 0, 0, 0, 0, 0, 100})
		}
		eventually(t, "the bridge reads the burst", func() bool { return demuxedCount(b) >= read+100 })
	}
	junk.write([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3}) // application data, wrong epoch

	wrong := newRawClient(t, tb, "room", "wrongcert", rawOpts{wrongCert: true})
	gone := map[string]string{}
	for len(gone) < 2 {
		select {
		case s := <-expired:
			ep, reason, _ := strings.Cut(s, ": ")
			gone[ep] = reason
		case <-time.After(10 * time.Second):
			t.Fatalf("expired so far: %v", gone)
		}
	}
	if !strings.Contains(gone["junk"], "dtls") && !strings.Contains(gone["junk"], "not connected") {
		t.Errorf("junk expired for %q", gone["junk"])
	}
	if !strings.Contains(gone["wrongcert"], "dtls") {
		t.Errorf("wrongcert expired for %q", gone["wrongcert"])
	}
	n := bob.rec.n(av)
	bob.rec.wait(t, "bob still receives alice", func(r *recorder) bool { return r.count(av) > n+20 })
	checkDecodable(t, "bob←alice", bob.rec.snapshot(av), true)
	junk.close()
	wrong.close()
	alice.close()
	bob.close()
}
