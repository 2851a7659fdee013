package bridge

import (
	"encoding/binary"
	"time"

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
// size; sendMu is held.
func (r *Endpoint) noteSentLocked(plain []byte, size int, now int64, probe bool) {
	if r.est == nil {
		return
	}
	if seq, ok := readTransportSeq(plain, r.tccExt); ok {
		r.est.OnSent(seq, size+udpIPOverhead, time.Unix(0, now), probe)
	}
}

// udpIPOverhead is what a packet costs on the link beyond its UDP payload (IPv4 20 + UDP 8 bytes): the
// estimate is of the link, so each packet is counted as the link carries it.
const udpIPOverhead = 28

// tccArrival is one packet's status from a transport-cc feedback packet: whether it arrived and when, on
// the receiver's clock (meaningful only as differences between packets).
type tccArrival struct {
	seq      uint16
	received bool
	at       time.Duration
}

// maxFeedbackStatuses bounds the statuses taken from one feedback packet (a 16-bit count could claim
// 65535; a real receiver reports what arrived in about 100 ms).
const maxFeedbackStatuses = 4096

// expandTransportCC lists the packet statuses of a transport-cc feedback packet
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) in sequence order, appending to out. The
// receive deltas are consumed in order by the packets reported received; a packet that claims more
// received packets than it carries deltas ends the list there.
func expandTransportCC(p *rtcp.TransportLayerCC, out []tccArrival) []tccArrival {
	count := min(int(p.PacketStatusCount), maxFeedbackStatuses)
	at := time.Duration(p.ReferenceTime) * 64 * time.Millisecond
	seq := p.BaseSequenceNumber
	deltas := p.RecvDeltas
	add := func(symbol uint16) bool {
		if count == 0 {
			return false
		}
		count--
		a := tccArrival{seq: seq}
		seq++
		if symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta {
			if len(deltas) == 0 {
				count = 0
				return false
			}
			at += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
			a.received, a.at = true, at
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
