package bridge

import "encoding/binary"

// Audio redundancy (RFC 2198 RED) toward receivers on lossy links. A receiver whose answer accepted
// red/48000/2 (Answer.RED) gets each Opus packet wrapped with copies of the one or two packets before it
// when its link loses packets (redLevel, from its estimator's loss fraction): a lost packet is then
// rebuilt from the next one, at the cost of one or two more Opus payloads per packet (audio is a few
// percent of a call's bits; losing it is what people notice first). Senders send plain Opus (the offer
// lists Opus first); a sender that sends RED anyway has its packets reduced to the primary on the way
// in, so every receiver is served by the same rules.

// PayloadTypeRED is RED's payload type in the focus's offer (Jicofo's default).
const PayloadTypeRED = 112

// Redundancy limits: RFC 2198 §3 gives a block 10 bits of length and 14 bits of timestamp offset.
// A RED payload stays under redMaxPayload bytes (the oldest copies are left out to fit), so that a
// large Opus packet cannot make a packet the path would fragment, or overflow the send buffer.
const (
	redMaxLevel   = 2
	redMaxBlock   = 1023
	redMaxOffset  = 1<<14 - 1
	redMaxPayload = 1100
)

// redHistory keeps the last payloads sent on an audio slot, for the next packets' redundancy; guarded
// by the receiver's sendMu.
type redHistory struct {
	next int
	ent  [redMaxLevel]redEntry
}

type redEntry struct {
	valid bool
	seq   uint16
	ts    uint32
	n     int
	buf   [redMaxBlock]byte
}

// remember stores the payload just sent with output numbers seq and ts.
func (h *redHistory) remember(seq uint16, ts uint32, payload []byte) {
	e := &h.ent[h.next]
	h.next = (h.next + 1) % len(h.ent)
	if len(payload) > redMaxBlock {
		e.valid = false
		return
	}
	e.valid, e.seq, e.ts, e.n = true, seq, ts, copy(e.buf[:], payload)
}

// writeRED writes the RED payload for a primary payload with output numbers seq and ts into dst: up to
// level earlier payloads of the slot that immediately precede it (sequence numbers seq−level … seq−1,
// oldest first, within the 14-bit timestamp offset), then the primary. pt is the primary's payload type.
// It returns the bytes written; dst must hold max(len(primary)+1, redMaxPayload).
func (h *redHistory) writeRED(dst []byte, primary []byte, seq uint16, ts uint32, pt byte, level int) int {
	var blocks [redMaxLevel]*redEntry
	nb, size := 0, 1+len(primary)
	for d := 1; d <= min(level, redMaxLevel); d++ { // newest first, so the oldest are left out to fit
		for i := range h.ent {
			e := &h.ent[i]
			if e.valid && e.seq == seq-uint16(d) && ts-e.ts <= redMaxOffset && int32(ts-e.ts) >= 0 && size+4+e.n <= redMaxPayload {
				blocks[nb] = e
				nb++
				size += 4 + e.n
				break
			}
		}
	}
	for i, j := 0, nb-1; i < j; i, j = i+1, j-1 { // oldest first on the wire
		blocks[i], blocks[j] = blocks[j], blocks[i]
	}
	n := 0
	for _, e := range blocks[:nb] {
		off := ts - e.ts
		dst[n] = 0x80 | pt&0x7f
		v := off<<10 | uint32(e.n)
		dst[n+1], dst[n+2], dst[n+3] = byte(v>>16), byte(v>>8), byte(v)
		n += 4
	}
	dst[n] = pt & 0x7f
	n++
	for _, e := range blocks[:nb] {
		n += copy(dst[n:], e.buf[:e.n])
	}
	return n + copy(dst[n:], primary)
}

// primaryOfRED finds the primary block of a RED payload (RFC 2198 §3): its payload type and its bytes.
// ok is false for a payload whose headers run past its end or whose block lengths do not add up.
func primaryOfRED(payload []byte) (pt byte, primary []byte, ok bool) {
	i, skip := 0, 0
	for {
		if i >= len(payload) {
			return 0, nil, false
		}
		if payload[i]&0x80 == 0 {
			pt = payload[i] & 0x7f
			i++
			break
		}
		if i+4 > len(payload) {
			return 0, nil, false
		}
		skip += int(binary.BigEndian.Uint16(payload[i+2:]) & 0x3ff)
		i += 4
	}
	if i+skip > len(payload) {
		return 0, nil, false
	}
	return pt, payload[i+skip:], true
}

// unwrapRED rewrites a plaintext RED packet as its primary (an Opus packet) into dst; it returns the
// new packet and its layout, or ok=false when the payload is malformed or its primary is not Opus.
func unwrapRED(dst, pkt []byte, lay rtpLayout) ([]byte, rtpLayout, bool) {
	pt, primary, ok := primaryOfRED(pkt[lay.hdrLen:lay.end])
	if !ok || pt != PayloadTypeOpus {
		return nil, lay, false
	}
	n := copy(dst, pkt[:lay.hdrLen])
	n += copy(dst[n:], primary)
	dst[0] &^= 0x20 // padding removed
	dst[1] = dst[1]&0x80 | PayloadTypeOpus
	return dst[:n], rtpLayout{hdrLen: lay.hdrLen, end: n}, true
}

// Redundancy levels by the receiver's loss (its estimator's loss fraction): one copy from 0.5%, two
// from 5%; a level holds redHold after the loss that called for it, so a link that loses in bursts
// keeps its protection between them.
const (
	redLossOne = 0.005
	redLossTwo = 0.05
	redHold    = int64(10e9)
)

// redShare is the most of a receiver's estimate its audio may take with its RED copies: on a link too
// thin for that, copies would add the congestion they are meant to ride out.
const redShare = 0.5

// updateRedLevel sets r's redundancy from its link's loss, and as far as its estimate leaves room beside
// audio (bps, without copies) (congestion loop). A level the loss no longer calls for is held for
// redHold; one the estimate no longer has room for goes at once (the estimate starts high, and a link
// found thin must not carry copies for another 10 s).
func (r *Endpoint) updateRedLevel(loss float64, audio, estimate int64, now int64) {
	fits := func(level int32) bool { return float64(audio*int64(1+level)) <= redShare*float64(estimate) }
	want := int32(0)
	switch {
	case loss >= redLossTwo:
		want = 2
	case loss >= redLossOne:
		want = 1
	}
	for want > 0 && !fits(want) {
		want--
	}
	cur := r.redLevel.Load()
	switch {
	case want >= cur:
		r.redLevel.Store(want)
		if want > 0 {
			r.bw.redSince = now
		}
	case !fits(cur), now-r.bw.redSince >= redHold:
		r.redLevel.Store(want)
		r.bw.redSince = now
	}
}
