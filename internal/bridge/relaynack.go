package bridge

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/pion/rtcp"
)

// Retransmission across a relay (issue 17). A relayed endpoint's video streams have a packet cache and
// a NACK tracker like a local sender's (Conference.setSources), so:
//   - a packet that the receiving bridge's receiver lost is retransmitted by the receiving bridge from
//     its own cache (rtcp.go), without the origin bridge;
//   - a gap in a relayed video stream (lost between the bridges) is NACKed to the origin bridge over the
//     relay's SRTCP by the feedback goroutine (feedback.go: the relayed endpoint's RTCP goes over the
//     relay), at most nackMaxTries times per sequence number, one round trip of the relay apart (its ICE
//     pair's, relayRTTs; within nackMinInterval and nackMaxInterval); when this bridge's receivers want more of a relayed source, its trackers
//     restart (resumeTrackersLocked), since the layers the peer left out come back with a gap that is
//     no loss;
//   - the origin bridge answers from its packet cache with an RTX packet (RFC 4588) on the RTX SSRC that
//     the sender signalled for the layer (the peer knows it from the relay's sources and groups), with
//     the relay's own RTX sequence numbers: a retransmission on the primary SSRC would encrypt another
//     packet under the SRTP index the original used. The receiving bridge takes it like a sender's RTX
//     (forward.go: unwrapped, the NACK tracker told, cached, forwarded late onto its receivers' slots).
//
// The origin bridge answers only for sequence numbers of its local senders' video streams that crossed
// that relay (relayStream.log: not a layer the peer did not want then, not one it never sent), at most
// RetransmitRate per second (RetransmitBurst at once) per relay, each sequence number at most once per
// round trip of the relay (at least minResendInterval), and no more than maxNACKsPerCompound sequence numbers of one compound; the rest is
// counted in parley_bridge_dropped_packets_total by reason and changes nothing. Housekeeping makes the
// relays forget the streams that are no longer local (pruneRelayStreams).

// relayStream is what a relay remembers of one local video stream it carried; guarded by relay.sendMu.
type relayStream struct {
	log    sentLog
	rtxSeq uint16    // the relay's RTX sequence numbers for the stream's layer
	resent resendLog // retransmissions, against repeated NACKs
}

// sentLogSize is how many sequence numbers behind the newest one sent a relayStream remembers: more than
// nackWindow, the peer's tracker's window.
const sentLogSize = 1024

// sentLog remembers which of the last sentLogSize sequence numbers of a stream went over a relay.
type sentLog struct {
	started bool
	last    uint16
	bits    [sentLogSize / 64]uint64
}

func (l *sentLog) set(seq uint16, on bool) {
	i, m := int(seq%sentLogSize)/64, uint64(1)<<(seq%64)
	if on {
		l.bits[i] |= m
	} else {
		l.bits[i] &^= m
	}
}

// mark records that seq was sent.
func (l *sentLog) mark(seq uint16) {
	d := int(int16(seq - l.last))
	switch {
	case !l.started || d >= sentLogSize:
		clear(l.bits[:])
		l.started, l.last = true, seq
	case d > 0:
		for s := l.last + 1; s != seq; s++ { // what did not cross in between (fewer than sentLogSize)
			l.set(s, false)
		}
		l.last = seq
	case d <= -sentLogSize:
		return
	}
	l.set(seq, true)
}

// has reports whether seq was sent, within the window.
func (l *sentLog) has(seq uint16) bool {
	d := int(int16(l.last - seq))
	return l.started && d >= 0 && d < sentLogSize && l.bits[int(seq%sentLogSize)/64]&(uint64(1)<<(seq%64)) != 0
}

// noteVideoLocked records that pkt, of local stream s, crossed the relay, when s is a video stream the
// bridge caches (the only ones it can retransmit); sendMu is held.
func (r *relay) noteVideoLocked(ssrc uint32, pkt []byte, s *inStream) {
	if s == nil || s.cache == nil {
		return
	}
	v := r.video[ssrc]
	if v == nil {
		var b [2]byte
		_, _ = rand.Read(b[:])
		v = &relayStream{rtxSeq: binary.BigEndian.Uint16(b[:])}
		r.video[ssrc] = v
	}
	v.log.mark(binary.BigEndian.Uint16(pkt[2:]))
}

// onNACK answers the peer's generic NACK (RFC 4585 §6.2.1) for a local video stream (relay's reader,
// rxMu held). nacks counts the sequence numbers already handled in this compound.
func (r *relay) onNACK(p *rtcp.TransportLayerNack, nacks int, now int64) int {
	var (
		s      *inStream
		rtx    uint32
		looked bool
	)
	for _, pair := range p.Nacks {
		for _, seq := range pair.PacketList() {
			if nacks >= maxNACKsPerCompound {
				return nacks
			}
			nacks++
			r.b.metrics.relayNACKsIn.Inc()
			if why := r.mayRetransmit(p.MediaSSRC, seq, now); why != "" {
				r.b.metrics.dropped.WithLabelValues(why).Inc()
				continue
			}
			if !looked { // once per NACK, and only for one that passed the checks above
				s, rtx = r.c.localVideoStream(p.MediaSSRC)
				looked = true
			}
			if why := r.retransmit(s, rtx, seq); why != "" {
				r.b.metrics.dropped.WithLabelValues(why).Inc()
			}
		}
	}
	return nacks
}

// mayRetransmit checks a NACKed sequence number of ssrc against what crossed the relay, the relay's
// retransmission budget and the packet's last retransmission; it returns why not, or "".
func (r *relay) mayRetransmit(ssrc uint32, seq uint16, now int64) string {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	v := r.video[ssrc]
	switch {
	case v == nil:
		return dropRelayNACKUnknown
	case !v.log.has(seq):
		return dropRelayNACKNotSent
	case v.resent.recent(seq, now, max(r.rtt.Load(), int64(minResendInterval))):
		return dropNACKRepeat // before the budget: a repeat spends none of it
	case !r.rtxBudget.take(now, r.b.cfg):
		return dropNACKLimit
	}
	v.resent.tooSoon(seq, now, 0) // notes it
	return ""
}

// retransmit sends packet seq of local stream s again over the relay, as RTX on rtx; it returns why
// not, or "" (relay's reader).
func (r *relay) retransmit(s *inStream, rtx uint32, seq uint16) string {
	if s == nil {
		return dropRelayNACKUnknown
	}
	if rtx == 0 {
		return dropRelayNACKNoRTX
	}
	n, ok := s.cache.Get(seq, r.nackBuf[:])
	if !ok {
		return dropRelayNACKNotSent
	}
	pkt := r.nackBuf[:n]
	lay, ok := parseRTPLayout(pkt, false)
	if !ok {
		return dropMalformed
	}
	// RFC 4588 §4, built in place: the original header (its extensions too, as the relay carries them)
	// on the RTX SSRC with the relay's RTX sequence number; the payload is the original sequence number
	// followed by the original payload (the cache keeps it without padding).
	h := lay.hdrLen
	m := h + 2 + copy(r.nackBuf[h+2:], pkt[h:])
	buf := r.nackBuf[:m]
	buf[0] &^= 0x20
	buf[1] = buf[1]&0x80 | PayloadTypeVP8RTX
	binary.BigEndian.PutUint32(buf[8:], rtx)
	binary.BigEndian.PutUint16(buf[h:], seq)
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	v := r.video[s.ssrc]
	if v == nil || r.srtpOut == nil {
		return dropRelayNACKUnknown
	}
	binary.BigEndian.PutUint16(buf[2:], v.rtxSeq)
	v.rtxSeq++
	enc, err := r.srtpOut.EncryptRTP(r.encBuf[:0], buf, nil)
	if err != nil {
		return dropMalformed
	}
	if _, err := r.conn.Write(enc); err == nil {
		r.resent++
		r.b.metrics.relayRetransmits.Inc()
	}
	return ""
}

// localVideoStream finds the local sender's video stream with ssrc (a primary the bridge caches) and
// the RTX SSRC its sender signalled for it (0 when none).
func (c *Conference) localVideoStream(ssrc uint32) (*inStream, uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.order {
		s := (*e.inbound.Load())[ssrc]
		if s == nil {
			continue
		}
		if s.rtx || s.cache == nil {
			return nil, 0
		}
		for _, x := range s.src.rtx {
			if x.prim != nil && x.prim.ssrc == ssrc {
				return s, x.ssrc
			}
		}
		return s, 0
	}
	return nil, 0
}

// resumeTrackersLocked restarts the NACK trackers of the relayed video sources of which this bridge's
// receivers now want more than it last told the peer (wants, about to be sent): the peer sends layers
// it left out again, with a gap in their sequence numbers that is no loss. A loss on a layer that kept
// crossing, just then, is not asked for. c.mu is held.
func (r *relay) resumeTrackersLocked(wants map[uint32]int) {
	if r.wantsLast == nil {
		return // the peer sent everything until now
	}
	for _, e := range r.endpoints {
		for _, src := range e.sources {
			if src.kind != KindVideo {
				continue
			}
			ssrc := src.layers[0].ssrc
			was, ok := r.wantsLast[ssrc]
			if !ok {
				was = -1
			}
			if !tallerThan(wants[ssrc], was) {
				continue
			}
			e.fbMu.Lock()
			for _, l := range src.layers {
				if l.nack != nil {
					l.nack.started = false
					l.nack.missing = l.nack.missing[:0]
				}
			}
			e.fbMu.Unlock()
		}
	}
}

// pruneRelayStreams makes each relay forget the local video streams it carried that are no longer
// local (a sender left or changed its sources), so that what relays remember stays bounded by the
// conference's streams (housekeeping).
func (c *Conference) pruneRelayStreams() {
	rs := c.relays.list.Load()
	if rs == nil || len(*rs) == 0 {
		return
	}
	var live map[uint32]bool
	for _, r := range *rs {
		r.sendMu.Lock()
		n := len(r.video)
		r.sendMu.Unlock()
		if n == 0 {
			continue
		}
		if live == nil {
			live = map[uint32]bool{}
			c.mu.Lock()
			for _, e := range c.order {
				for ssrc, s := range *e.inbound.Load() {
					if s.cache != nil && !s.rtx {
						live[ssrc] = true
					}
				}
			}
			c.mu.Unlock()
		}
		if n <= len(live) {
			continue
		}
		r.sendMu.Lock()
		for ssrc := range r.video {
			if !live[ssrc] {
				delete(r.video, ssrc)
			}
		}
		r.sendMu.Unlock()
	}
}

// relayRTTs takes each relay's round trip from its ICE pair (the connectivity checks' and keepalives'
// current round-trip time, pion/ice) and gives it to the relayed endpoints behind it, whose NACKs to the
// peer are then repeated once a round trip (feedback.go) instead of every nackMinInterval: across a
// relay of 100 ms, a NACK repeated every 50 ms made the peer retransmit each lost packet twice
// (housekeeping).
func (c *Conference) relayRTTs() {
	rs := c.relays.list.Load()
	if rs == nil {
		return
	}
	for _, r := range *rs {
		if r.agent == nil {
			continue
		}
		st, ok := r.agent.GetSelectedCandidatePairStats()
		if !ok || st.CurrentRoundTripTime <= 0 {
			continue
		}
		rtt := int64(st.CurrentRoundTripTime * 1e9)
		r.rtt.Store(rtt)
		c.mu.Lock()
		for _, e := range r.endpoints {
			e.rtt.Store(rtt)
		}
		c.mu.Unlock()
	}
}
