package bridge

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/bridge/bwe"
	"github.com/pion/rtcp"
)

// Send-side congestion control toward each receiver (sfu-quality.md §7.3): every packet the bridge sends
// to a receiver that accepted the transport-wide sequence number extension carries the bridge's own
// number for that leg (one counter per receiver, across all its slots, retransmissions and probes); the
// receiver's transport-cc feedback says which arrived and when, and the receiver's estimator
// (sendSide.est) turns that into the bit rate its link carries.

// transportSeq is the transport-wide sequence number one outgoing packet carries; id 0 means none.
type transportSeq struct {
	id  uint8
	seq uint16
}

// len is the number of header bytes the extension takes: the RFC 8285 one-byte-header block (4 bytes)
// with one 2-byte element padded to a word.
func (t transportSeq) len() int {
	if t.id == 0 {
		return 0
	}
	return 8
}

// write puts the extension after the 12-byte fixed header in pkt and sets the X bit; it returns the
// bytes written.
func (t transportSeq) write(pkt []byte) int {
	if t.id == 0 {
		return 0
	}
	pkt[0] |= 0x10
	binary.BigEndian.PutUint16(pkt[12:], 0xBEDE) // RFC 8285 §4.2 one-byte header
	binary.BigEndian.PutUint16(pkt[14:], 1)      // one 32-bit word follows
	pkt[16] = t.id<<4 | 1                        // ID, length−1 = 1 (two bytes)
	binary.BigEndian.PutUint16(pkt[17:], t.seq)
	pkt[19] = 0
	return 8
}

// readTransportSeq finds the transport-wide sequence number a packet built by buildRTP carries.
func readTransportSeq(pkt []byte, id uint8) (uint16, bool) {
	if id == 0 || len(pkt) < 20 || pkt[0]&0x10 == 0 || pkt[0]&0x0f != 0 ||
		binary.BigEndian.Uint16(pkt[12:]) != 0xBEDE || pkt[16] != id<<4|1 {
		return 0, false
	}
	return binary.BigEndian.Uint16(pkt[17:]), true
}

// nextTransportSeqLocked numbers the next packet toward r, or returns none when r did not accept the
// extension; sendMu is held.
func (r *Endpoint) nextTransportSeqLocked() transportSeq {
	if r.tccExt == 0 {
		return transportSeq{}
	}
	r.tccSeq++
	return transportSeq{id: r.tccExt, seq: r.tccSeq}
}

// noteSentLocked records a packet just sent toward r for its estimator: size is its protected (wire)
// size; sendMu is held. stream is the slot's (slot.stream: its SSRC and RTX SSRC), which the receiver
// sets up only once a sources map names the slot; 0 for the probes' SSRC, which is in the offer.
func (r *Endpoint) noteSentLocked(plain []byte, size int, now int64, probe bool, stream uint16) {
	if r.est == nil {
		return
	}
	if seq, ok := readTransportSeq(plain, r.tccExt); ok {
		r.est.OnSentStream(seq, stream, size+udpIPOverhead, time.Unix(0, now), probe)
	}
}

// udpIPOverhead is what a packet costs on the link beyond its UDP payload (IPv4 20 + UDP 8 bytes): the
// estimate is of the link, so each packet is counted as the link carries it.
const udpIPOverhead = 28

// maxFeedbackStatuses bounds the statuses taken from one feedback packet (a 16-bit count could claim
// 65535; a real receiver reports what arrived in about 100 ms).
const maxFeedbackStatuses = 4096

// expandTransportCC lists the packet statuses of a transport-cc feedback packet
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) in sequence order, appending to out. The
// receive deltas are consumed in order by the packets reported received; a packet that claims more
// received packets than it carries deltas ends the list there.
func expandTransportCC(p *rtcp.TransportLayerCC, out []bwe.Arrival) []bwe.Arrival {
	count := min(int(p.PacketStatusCount), maxFeedbackStatuses)
	at := time.Duration(p.ReferenceTime) * 64 * time.Millisecond
	seq := p.BaseSequenceNumber
	deltas := p.RecvDeltas
	add := func(symbol uint16) bool {
		if count == 0 {
			return false
		}
		count--
		a := bwe.Arrival{Seq: seq}
		seq++
		if symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta {
			if len(deltas) == 0 {
				count = 0
				return false
			}
			at += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
			a.Received, a.At = true, at
		}
		out = append(out, a)
		return true
	}
	for _, c := range p.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range c.RunLength {
				if !add(c.PacketStatusSymbol) {
					return out
				}
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				if !add(sym) {
					return out
				}
			}
		}
	}
	return out
}

// onTransportCC feeds a receiver's transport-cc feedback about the bridge's packets to its estimator
// (reader goroutine only).
func (e *Endpoint) onTransportCC(p *rtcp.TransportLayerCC, now int64) {
	if e.est == nil {
		return
	}
	e.arrivals = expandTransportCC(p, e.arrivals[:0])
	e.tccReports.Add(1)
	e.b.metrics.tccFeedbackIn.Inc()
	e.est.OnFeedback(time.Unix(0, now), e.arrivals)
}

// newEstimator starts the estimate toward a new receiver at bwe's initial 1 Mbit/s, within its bounds
// (bwe's defaults; a test may set others).
func (b *Bridge) newEstimator() *bwe.Estimator { return bwe.New(b.estCfg) }

// The congestion loop (one goroutine per bridge) runs every probeTick: it sends each receiver the probe
// bytes its estimator asks for and, every allocTick, measures each incoming layer's bit rate and
// re-allocates each receiver's video to its estimate (allocation.go).
const (
	probeTick  = 15 * time.Millisecond // Jitsi's padding period
	allocTicks = 7                     // allocation every 7 probe ticks, about 100 ms
	rateWindow = 10                    // rate samples (allocation ticks) in a layer's measured bit rate
	maxPadding = 255                   // padding bytes in one probe packet (RFC 3550 §5.1: a count byte)
	// paddingOverhead is what a padding packet carries on the link besides its padding: the RTP header
	// 12, the transport-cc extension 8, the SRTP tag 10, UDP and IPv4 28.
	paddingOverhead = 12 + 8 + 10 + udpIPOverhead
	probePT         = PayloadTypeVP8       // probes are padding-only packets on the bridge's own video SSRC
	probeClock      = uint32(90000 / 1000) // RTP ticks per ms of the probe stream
)

func (b *Bridge) congestionLoop() {
	defer b.wg.Done()
	t := time.NewTicker(probeTick)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			for _, c := range b.conferenceList() {
				members := c.members()
				if n%allocTicks == 0 {
					c.measureRates(members)
					for _, r := range members {
						r.allocate(now)
					}
				}
				for _, r := range members {
					r.probe(now)
				}
			}
		}
	}
}

// conferenceList is a snapshot of the bridge's conferences.
func (b *Bridge) conferenceList() []*Conference {
	b.mu.Lock()
	defer b.mu.Unlock()
	confs := make([]*Conference, 0, len(b.conferences))
	for _, c := range b.conferences {
		confs = append(confs, c)
	}
	return confs
}

// rateMeter is a stream's received bit rate over the last rateWindow allocation ticks, from its byte
// counter sampled once per tick (congestion loop only).
type rateMeter struct {
	samples [rateWindow + 1]uint64
	n       int
	bps     atomic.Int64
}

func (m *rateMeter) sample(total uint64, tick time.Duration) {
	m.samples[m.n%len(m.samples)] = total
	m.n++
	span := min(m.n-1, rateWindow)
	if span == 0 {
		return
	}
	oldest := m.samples[(m.n-1-span)%len(m.samples)]
	m.bps.Store(int64(float64(total-oldest) * 8 / (float64(span) * tick.Seconds())))
}

// measureRates samples the byte counters of every stream the members send.
func (c *Conference) measureRates(members []*Endpoint) {
	for _, e := range append(members[:len(members):len(members)], c.relayedEndpoints()...) {
		for _, s := range *e.inbound.Load() {
			if !s.rtx {
				s.rate.sample(s.bytes.Load(), probeTick*allocTicks)
				if s.layered.Load() {
					for t := range s.tidRate {
						s.tidRate[t].sample(s.tidBytes[t].Load(), probeTick*allocTicks)
					}
				}
			}
		}
	}
}

// probe sends what r's estimator wants of padding now (congestion loop). ProbeBytes comes first: a probe
// cluster it opens sets the pacer's rate (pacer.go), and the video waiting in the pacer is the probe,
// with padding for what the cluster still needs of its bytes and packets. That padding goes before the
// pacer's turn and spends its tokens: the video waits for it, the link sees the cluster's rate, and a
// cluster starts with a small packet (one that started with a 1,250-byte video packet among a few of
// padding read a receive rate well under its send rate through a 3 Mbit/s path, the receive rate
// leaving out the first packet to arrive, and the climb below waited 5 s). Other padding goes only
// while no video waits. Before, no padding and no probe went out while video waited, when the
// estimate was under what the allocator still sent: behind 3 Mbit/s from an estimate of 40 kbit/s,
// the estimate crept up at 8% a second until the backlog was gone.
func (r *Endpoint) probe(now time.Time) {
	if !r.connected.Load() || r.est == nil { // connected first: est is set before the transport starts
		return
	}
	target, ideal := r.allocTarget.Load(), r.allocIdeal.Load()
	n, size := r.est.ProbeBytes(now, target, ideal)
	r.setPacingRate(now)
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if r.srtpOut == nil {
		return
	}
	at := now.UnixNano()
	rate := r.pacingRate()
	if size == 0 && rate > 0 && r.pace.waiting() {
		n -= r.drainLocked(rate, at)
		r.armPacerLocked(rate)
		if r.pace.waiting() {
			return // video waits for the link: no padding on top
		}
	}
	for n > 0 {
		pad := min(n, maxPadding)
		if size > 0 {
			pad = min(max(size-paddingOverhead, 1), maxPadding)
		}
		sent := r.sendPaddingLocked(pad, at)
		if sent == 0 {
			break
		}
		// n counts bytes on the link. Without size, only the padding is counted (the headers add 58
		// bytes to a full packet's 255, and the padding rates were measured so); with it (a probe
		// cluster is open, its bytes planned on the link), each packet counts whole and spends the
		// pacer's tokens: at a low rate the headers are most of each (a cluster at 80 kbit/s plans 450
		// bytes in 45 ms and asks for at most 45 a packet; the smallest, 1 byte of padding, takes 59).
		if size > 0 {
			n -= sent
			r.spendLocked(sent, at)
		} else {
			n -= pad
		}
		r.b.metrics.probeBytes.Add(float64(pad))
	}
	if size > 0 && rate > 0 && r.pace.waiting() {
		r.drainLocked(rate, at)
		r.armPacerLocked(rate)
	}
}

// sendPaddingLocked sends one padding-only RTP packet (RFC 3550 §5.1) of pad padding bytes on the
// bridge's own video SSRC (jvb-v0, in every offer) with its own sequence and time, numbered for
// transport-cc like every other packet toward r; sendMu is held. It returns the packet's size on the link,
// 0 when it could not be sent.
func (r *Endpoint) sendPaddingLocked(pad int, now int64) int {
	buf := r.outBuf[:]
	buf[0] = 0x80 | 0x20 // padding
	buf[1] = probePT
	r.padSeq++
	binary.BigEndian.PutUint16(buf[2:], r.padSeq)
	binary.BigEndian.PutUint32(buf[4:], uint32(now/1e6)*probeClock)
	binary.BigEndian.PutUint32(buf[8:], r.feedbackVideo)
	h := 12 + r.nextTransportSeqLocked().write(buf)
	clear(buf[h : h+pad-1])
	buf[h+pad-1] = byte(pad)
	plain := buf[:h+pad]
	enc, err := r.srtpOut.EncryptRTP(r.encBuf[:0], plain, &r.outHdr)
	if err != nil {
		return 0
	}
	r.writeLocked(enc)
	r.egress.total += int64(len(enc))
	r.egress.padding += int64(len(enc))
	r.noteSentLocked(plain, len(enc), now, true, 0)
	return len(enc) + udpIPOverhead
}
