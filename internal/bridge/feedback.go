package bridge

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// Feedback toward senders about the sender→bridge leg, sent by one feedback goroutine per bridge every
// feedbackInterval:
//   - transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01):
//     the reader goroutine records each packet's transport-wide sequence number (header extension id
//     extTransportCC, as the focus's offer numbers it, only to participants that announce
//     http://jitsi.org/tcc) and arrival time in a pion/interceptor twcc.Recorder; the tick turns them
//     into RTCP TransportLayerCC packets, so the sender's own bandwidth estimator sees this leg;
//   - generic NACKs (RFC 4585 §6.2.1) for gaps in each video stream's sequence numbers, so that losses
//     before the bridge are repaired by the sender's RTX before the packets are forwarded. The window
//     is bounded (nackWindow sequence numbers, nackMaxMissing gaps per stream), each sequence number is
//     asked for at most nackMaxTries times, no more often than once per RTT (nackMinInterval before
//     one is measured), and one tick asks for at most nackMaxPerTick sequence numbers per stream.
//
// Endpoint.fbMu guards the recorder and every stream's nackTracker; the reader goroutine takes it once
// per RTP packet, the feedback goroutine once per tick.

const (
	// extTransportCC is the transport-wide sequence number extension's id in the focus's offer
	// (internal/focus/offer.go).
	extTransportCC = 5

	feedbackInterval = 50 * time.Millisecond
	twccMaxReports   = 8 // TransportLayerCC packets per endpoint and tick

	nackWindow      = 512 // sequence numbers behind the highest one that are still asked for
	nackMaxMissing  = 128 // gaps tracked per stream; a larger burst keeps the newest
	nackMaxTries    = 4
	nackMaxPerTick  = 64
	nackReorderWait = int64(5 * time.Millisecond) // a gap this young may be reordering, not loss
	nackMinInterval = int64(50 * time.Millisecond)
	nackMaxInterval = int64(500 * time.Millisecond)
)

// recordTransportCCLocked notes the transport-wide sequence number of an authenticated packet, if it has one
// (reader goroutine, fbMu held; e.inHdr holds the packet's header).
func (e *Endpoint) recordTransportCCLocked(ssrc uint32, now int64) {
	ext := e.inHdr.GetExtension(extTransportCC)
	if len(ext) < 2 || e.via != nil { // a relayed sender's numbers are its own bridge's business
		return
	}
	if e.twcc == nil {
		e.twcc = twcc.NewRecorder(e.feedbackVideo)
	}
	e.twcc.Record(ssrc, binary.BigEndian.Uint16(ext), now/1e3)
	e.twccPending = true
}

// nackTracker finds gaps in one stream's sequence numbers. Guarded by the sender's fbMu.
type nackTracker struct {
	started bool
	highest uint16
	missing []missingSeq // ascending by age of loss; capacity nackMaxMissing, never grown
}

type missingSeq struct {
	seq        uint16
	lostAt     int64 // unix ns when the gap was seen
	lastNacked int64
	tries      uint8
}

// note records the arrival of seq (an original packet, or one rebuilt from RTX).
func (t *nackTracker) note(seq uint16, now int64) {
	if !t.started {
		t.started, t.highest = true, seq
		if t.missing == nil {
			t.missing = make([]missingSeq, 0, nackMaxMissing)
		}
		return
	}
	d := int(int16(seq - t.highest))
	switch {
	case d > 0:
		if d > nackWindow {
			t.missing = t.missing[:0] // a jump (sender restart or long outage): nothing to repair
		} else {
			for s := t.highest + 1; s != seq; s++ {
				if len(t.missing) == cap(t.missing) {
					copy(t.missing, t.missing[1:])
					t.missing = t.missing[:len(t.missing)-1]
				}
				t.missing = append(t.missing, missingSeq{seq: s, lostAt: now})
			}
		}
		t.highest = seq
	case d < 0:
		for i := range t.missing {
			if t.missing[i].seq == seq {
				t.missing = append(t.missing[:i], t.missing[i+1:]...)
				break
			}
		}
	}
}

// due returns the sequence numbers to ask for now (appended to dst) and forgets those that are too old
// or were asked for nackMaxTries times.
func (t *nackTracker) due(dst []uint16, now, interval int64) []uint16 {
	keep := t.missing[:0]
	for _, m := range t.missing {
		if int(int16(t.highest-m.seq)) > nackWindow || m.tries >= nackMaxTries {
			continue
		}
		if len(dst) < nackMaxPerTick && now-m.lostAt >= nackReorderWait && (m.tries == 0 || now-m.lastNacked >= interval) {
			dst = append(dst, m.seq)
			m.tries++
			m.lastNacked = now
		}
		keep = append(keep, m)
	}
	t.missing = keep
	return dst
}

// sendFeedback sends this endpoint's TWCC feedback and NACKs (feedback goroutine). A relayed
// endpoint's NACKs go over its relay to the origin bridge (relaynack.go), once the relay carries media;
// it has no TWCC of its own.
func (e *Endpoint) sendFeedback(now time.Time) {
	nacksOut := e.b.metrics.nacksOut
	if e.via != nil {
		if !e.via.ready.Load() {
			return
		}
		nacksOut = e.b.metrics.relayNACKsOut
	} else if !e.connected.Load() {
		return
	}
	interval := min(max(e.rtt.Load(), nackMinInterval), nackMaxInterval)
	var pkts []rtcp.Packet
	e.fbMu.Lock()
	if e.twccPending {
		e.twccPending = false
		pkts = e.twcc.BuildFeedbackPacket()
		// A sender that jumps around its transport-wide sequence numbers makes many reports; they go
		// only to that sender, but bound the work.
		pkts = pkts[:min(len(pkts), twccMaxReports)]
	}
	for _, s := range *e.inbound.Load() {
		if s.nack == nil {
			continue
		}
		seqs := s.nack.due(e.nackSeqs[:0], now.UnixNano(), interval)
		if len(seqs) > 0 {
			pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: e.feedbackVideo, MediaSSRC: s.ssrc,
				Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
			nacksOut.Add(float64(len(seqs)))
		}
	}
	e.fbMu.Unlock()
	// One RTCP packet per datagram: a TWCC report can be large (pion/interceptor#416).
	for _, p := range pkts {
		e.sendRTCP(p)
	}
}

// feedbackLoop is the bridge's feedback goroutine.
func (b *Bridge) feedbackLoop() {
	defer b.wg.Done()
	t := time.NewTicker(feedbackInterval)
	defer t.Stop()
	var confs []*Conference
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.mu.Lock()
			confs = confs[:0]
			for _, c := range b.conferences {
				confs = append(confs, c)
			}
			b.mu.Unlock()
			for _, c := range confs {
				for _, e := range c.members() {
					e.sendFeedback(now)
				}
				if rs := c.relays.list.Load(); rs != nil && len(*rs) > 0 {
					for _, e := range c.relayedEndpoints() {
						e.sendFeedback(now)
					}
				}
			}
			clear(confs)
		}
	}
}

// fbState is the part of Endpoint that fbMu guards.
type fbState struct {
	fbMu        sync.Mutex
	twcc        *twcc.Recorder // created at the first packet with the extension
	twccPending bool           // packets recorded since the last report
	nackSeqs    [nackMaxPerTick]uint16
}
