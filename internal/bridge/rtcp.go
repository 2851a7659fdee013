package bridge

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtcp"
)

// RTCP on each leg is terminated by the bridge (dialect §11.4):
//   - from a receiver, about the bridge's slots: NACK → retransmission from the packet cache (RTX when
//     negotiated), PLI/FIR → throttled PLI to the sender of the slot's source, receiver report blocks →
//     RTT when they answer a sender report the bridge passed on;
//   - from a sender, about its sources: sender reports → passed on to each receiver of the source with
//     the slot's SSRC, RTP time and counts;
//   - toward senders: receiver reports (housekeeping), PLIs, and transport-cc feedback and NACKs for
//     losses before the bridge (feedback.go).

// maxRTCPPackets bounds the packets handled from one compound; maxNACKsPerCompound the sequence numbers
// one compound can ask for (threats §5.1 item 22).
const (
	maxRTCPPackets      = 32
	maxNACKsPerCompound = 64
)

// handleRTCP decrypts and dispatches one SRTCP compound packet (reader goroutine only).
func (e *Endpoint) handleRTCP(pkt []byte) {
	if !e.srtpReady.Load() {
		e.b.metrics.dropped.WithLabelValues(dropNotReady).Inc()
		return
	}
	dec, err := e.srtpIn.DecryptRTCP(e.rtcpDec[:0], pkt, nil)
	if err != nil {
		e.b.metrics.dropped.WithLabelValues(dropSRTP).Inc()
		return
	}
	pkts, err := rtcp.Unmarshal(dec)
	if err != nil {
		e.b.metrics.dropped.WithLabelValues(dropMalformed).Inc()
		return
	}
	if len(pkts) > maxRTCPPackets {
		pkts = pkts[:maxRTCPPackets]
	}
	now := time.Now().UnixNano()
	nacks := 0
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			e.onSenderReport(p, now)
			e.onReportBlocks(p.Reports, now)
		case *rtcp.ReceiverReport:
			e.onReportBlocks(p.Reports, now)
		case *rtcp.TransportLayerNack:
			nacks = e.onNACK(p, nacks, now)
		case *rtcp.PictureLossIndication:
			e.onKeyframeRequest(p.MediaSSRC, now)
		case *rtcp.TransportLayerCC:
			e.onTransportCC(p, now)
		case *rtcp.FullIntraRequest:
			for i, f := range p.FIR {
				if i >= 4 {
					break
				}
				e.onKeyframeRequest(f.SSRC, now)
			}
		}
	}
}

// slotFor finds the slot with the given SSRC (or RTX SSRC) and its current source.
func (e *Endpoint) slotFor(ssrc uint32) *slot { return e.slotBySSRC[ssrc] }

// onKeyframeRequest relays a receiver's PLI/FIR for one of its slots to the sender, throttled per source.
func (e *Endpoint) onKeyframeRequest(ssrc uint32, now int64) {
	sl := e.slotFor(ssrc)
	if sl == nil {
		return
	}
	e.b.metrics.keyframeReqIn.Inc()
	e.sendMu.Lock()
	src, cur := sl.src, sl.proj.stream
	e.sendMu.Unlock()
	if src != nil {
		if cur != nil && cur.src == src {
			src.wantLayer(cur.layer) // the layer this receiver is decoding
		}
		src.requestKeyframe(now)
	}
}

// sendPLI asks this endpoint (the sender of src) for a key frame.
func (e *Endpoint) sendPLI(src *source) {
	var pkts []rtcp.Packet
	want := src.kfLayers.Swap(0)
	for i, l := range src.layers {
		if want == 0 || i < 32 && want&(1<<i) != 0 {
			pkts = append(pkts, &rtcp.PictureLossIndication{SenderSSRC: e.feedbackVideo, MediaSSRC: l.ssrc})
		}
	}
	e.b.metrics.keyframeReqOut.Add(float64(len(pkts)))
	e.sendRTCP(pkts...)
}

// onNACK answers a receiver's generic NACK (RFC 4585 §6.2.1) for one of its video slots. nacks counts
// the sequence numbers already handled in this compound.
func (e *Endpoint) onNACK(p *rtcp.TransportLayerNack, nacks int, now int64) int {
	sl := e.slotFor(p.MediaSSRC)
	if sl == nil || sl.kind != KindVideo || sl.ssrc != p.MediaSSRC {
		return nacks
	}
	for _, pair := range p.Nacks {
		for _, seq := range pair.PacketList() {
			if nacks >= maxNACKsPerCompound {
				return nacks
			}
			nacks++
			e.b.metrics.nacksIn.Inc()
			e.retransmit(sl, seq, now)
		}
	}
	return nacks
}

// retransmit resends the packet that went out on sl with sequence number outSeq as RTX, if the cache
// still has it and the receiver's retransmission budget allows. A receiver that negotiated no RTX gets
// nothing: the packet again on its own SSRC and sequence number would be encrypted with the SRTP nonce
// of the first copy, over a header that differs (its transport-wide number), and with AES-GCM two
// messages under one nonce give away the authentication key (an attacker on the path drops packets
// to collect such pairs); its SRTP replay window refuses such a copy anyway once the first arrived.
func (e *Endpoint) retransmit(sl *slot, outSeq uint16, now int64) {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if !e.rtx {
		e.b.metrics.dropped.WithLabelValues(dropNACKNoRTX).Inc()
		return
	}
	s := sl.proj.stream
	if s == nil || s.cache == nil || e.srtpOut == nil {
		return
	}
	if !e.rtxBudget.take(now, e.b.cfg) {
		e.b.metrics.dropped.WithLabelValues(dropNACKLimit).Inc()
		return
	}
	if e.est != nil && !e.est.RoomFor(time.Unix(0, now)) {
		e.b.metrics.dropped.WithLabelValues(dropNACKFull).Inc()
		return
	}
	if sl.resent == nil {
		sl.resent = new(resendLog)
	}
	if sl.resent.tooSoon(outSeq, now, max(e.rtt.Load(), int64(minResendInterval))) {
		e.b.metrics.dropped.WithLabelValues(dropNACKRepeat).Inc()
		return
	}
	in, ok := sl.proj.input(outSeq)
	if !ok {
		return
	}
	n, ok := s.cache.Get(in, e.cacheBuf[:])
	if !ok {
		return
	}
	pkt := e.cacheBuf[:n]
	lay, ok := parseRTPLayout(pkt, false)
	if !ok {
		return
	}
	var d *vp8Desc
	if pkt[1]&0x7f == PayloadTypeVP8 {
		vd, ok := parseVP8(pkt[lay.hdrLen:lay.end])
		if !ok {
			return
		}
		d = &vd
	}
	if sl.proj.lateDropped.has(in) {
		return // a packet of a frame left out for its temporal layer, whose place stayed empty (temporal.go)
	}
	out, ok := sl.proj.mapOld(s, binary.BigEndian.Uint16(pkt[2:]), binary.BigEndian.Uint32(pkt[4:]), d)
	if !ok || out.seq != outSeq {
		return
	}
	// Behind a paced link the retransmission waits its turn with the video (pacer.go), numbered when it
	// leaves.
	held := e.holdVideoLocked(n+20, now)
	buf, tcc := e.packetBufferLocked(held)
	// RFC 4588 §4: RTX packet on the slot's RTX SSRC with its own sequence numbers; the payload is the
	// original sequence number followed by the original payload.
	h := 12 + tcc.len()
	n = buildRTP(buf[2:], pkt, lay, sl.ssrc, out, d, tcc) + 2
	copy(buf[:h], buf[2:2+h])
	binary.BigEndian.PutUint16(buf[h:], out.seq)
	buf[1] = buf[1]&0x80 | PayloadTypeVP8RTX
	binary.BigEndian.PutUint16(buf[2:], sl.rtxSeq)
	binary.BigEndian.PutUint32(buf[8:], sl.rtxSSRC)
	sl.rtxSeq++
	e.b.metrics.retransmits.Inc()
	if held {
		e.queueLocked(buf[:n], true, sl.stream)
		return
	}
	e.sendRetransmissionLocked(buf[:n], now, sl.stream)
}

// minResendInterval is the least time between two retransmissions of one packet, when the round trip
// is shorter or not known.
const minResendInterval = 20 * time.Millisecond

// retransmitBudget is a token bucket of RetransmitRate retransmissions per second, RetransmitBurst
// deep: a receiver's (Endpoint.sendMu) and a relay's, for its peer's NACKs (relay.sendMu).
type retransmitBudget struct {
	tokens float64
	refill int64 // unix ns of the last take, 0 before the first
}

func newRetransmitBudget(cfg Config) retransmitBudget {
	return retransmitBudget{tokens: float64(cfg.RetransmitBurst)}
}

// take spends a token at now, if there is one.
func (b *retransmitBudget) take(now int64, cfg Config) bool {
	if b.refill != 0 {
		b.tokens += float64(now-b.refill) / 1e9 * float64(cfg.RetransmitRate)
		b.tokens = min(b.tokens, float64(cfg.RetransmitBurst))
	}
	b.refill = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// onSenderReport records a sender's SR for our receiver reports and passes it on to every receiver of
// the source, translated onto the receiver's slot (RFC 3550 §6.4.1, §7.2 translator behaviour).
func (e *Endpoint) onSenderReport(sr *rtcp.SenderReport, now int64) {
	s := (*e.inbound.Load())[sr.SSRC]
	if s == nil || s.rtx {
		return
	}
	mid := uint32(sr.NTPTime >> 16)
	s.lastSR.Store(uint64(mid)<<32 | uint64(uint32(now/1e6)))
	subs := s.src.subscribers.Load()
	if subs == nil {
		return
	}
	for _, sl := range *subs {
		sl.recv.passSenderReport(sl, s, sr, mid, now)
	}
}

func (r *Endpoint) passSenderReport(sl *slot, s *inStream, sr *rtcp.SenderReport, mid uint32, now int64) {
	r.sendMu.Lock()
	if !sl.proj.stream.is(s) || sl.src != s.src {
		r.sendMu.Unlock()
		return
	}
	out := &rtcp.SenderReport{
		SSRC:        sl.ssrc,
		NTPTime:     sr.NTPTime,
		RTPTime:     sr.RTPTime + sl.proj.tsOff,
		PacketCount: sl.packets,
		OctetCount:  sl.octets,
	}
	r.srSent[r.srNext] = srRecord{mid: mid, sentAt: now}
	r.srNext = (r.srNext + 1) % len(r.srSent)
	r.sendMu.Unlock()
	r.sendRTCP(out)
}

// onReportBlocks measures RTT from report blocks that answer a sender report the bridge sent on a slot
// (RFC 3550 §6.4.1: RTT = now − LSR − DLSR).
func (e *Endpoint) onReportBlocks(blocks []rtcp.ReceptionReport, now int64) {
	for _, rb := range blocks {
		if rb.LastSenderReport == 0 || e.slotFor(rb.SSRC) == nil {
			continue
		}
		e.sendMu.Lock()
		var sentAt int64
		for _, rec := range e.srSent {
			if rec.mid == rb.LastSenderReport {
				sentAt = rec.sentAt
			}
		}
		e.sendMu.Unlock()
		if sentAt == 0 {
			continue
		}
		rtt := now - sentAt - int64(rb.Delay)*1e9/65536
		if rtt < 0 {
			rtt = 0
		}
		e.rtt.Store(rtt)
		e.b.metrics.rtt.Observe(float64(rtt) / 1e9)
		if e.connected.Load() && e.est != nil {
			e.est.OnRTT(time.Duration(rtt), time.Unix(0, now))
		}
	}
}

// sendReceiverReports reports reception of every primary stream this endpoint sends (housekeeping).
func (e *Endpoint) sendReceiverReports(now time.Time) {
	rr := &rtcp.ReceiverReport{SSRC: e.feedbackVideo}
	for _, s := range *e.inbound.Load() {
		base := s.baseSeq.Load()
		if base == 0 || len(rr.Reports) == 31 {
			continue
		}
		extMax := s.extMax.Load()
		expected := uint64(extMax-(base-1)) + 1
		received := s.received.Load()
		lost := int64(expected) - int64(received)
		expInt := expected - s.priorExpected
		recInt := received - s.priorReceived
		s.priorExpected, s.priorReceived = expected, received
		var fraction uint8
		if expInt > 0 && recInt < expInt {
			fraction = uint8((expInt - recInt) << 8 / expInt)
		}
		block := rtcp.ReceptionReport{
			SSRC:               s.ssrc,
			FractionLost:       fraction,
			TotalLost:          uint32(max(min(lost, 0x7fffff), 0)),
			LastSequenceNumber: extMax,
		}
		if sr := s.lastSR.Load(); sr != 0 {
			block.LastSenderReport = uint32(sr >> 32)
			elapsedMs := uint32(now.UnixMilli()) - uint32(sr)
			block.Delay = uint32(uint64(elapsedMs) * 65536 / 1000)
		}
		rr.Reports = append(rr.Reports, block)
	}
	if len(rr.Reports) > 0 {
		e.sendRTCP(rr)
	}
}
