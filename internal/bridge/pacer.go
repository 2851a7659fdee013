package bridge

import (
	"encoding/binary"
	"time"
)

// Pacing toward one receiver. A key frame leaves the sender as a burst of packets, and the bridge
// forwards them as they come: behind a link with a short queue (a home router, tc tbf) the end of the
// burst is dropped, the receiver cannot decode the frame, asks for another key frame, and the next burst
// is dropped the same way. So, once the receiver's bandwidth is estimated, video packets leave at most at
// pacingFactor × the estimate (libwebrtc's pacer runs at 2.5 × its target), with a burst of
// pacingBurst of that rate; what exceeds it waits, in order, and goes out as the tokens return (at the
// next forwarded packet, or a timer set for when the next packet's tokens are there). Retransmissions
// wait with the video; audio never waits, though it spends tokens; padding is only sent while nothing
// waits, but for a probe cluster's (below).
//
// While the last window of feedback lost more than the link's own loss (bwe.Estimator.Losing), the bursts
// still overflow a queue on the path, and video leaves at pacingLossFactor × the estimate instead: behind a
// 1 Mbit/s link with a 3.5 kB queue the estimate settles near 800 kbit/s, and 2.5 × that sent key frames at
// twice the link, losing their tails (4 of 187 packets for good, where 1.25 × lost none).
//
// While a probe cluster of the estimator is open (bwe.Estimator.ProbeRate), video leaves at the
// cluster's rate instead, and the waiting video is the probe: the congestion loop pads only what it does
// not fill, and that padding spends the tokens (congestion.go, probe). So a probe goes out while video
// waits, when the estimate is under what the allocator still sends (it keeps a layer up to 2 s above a
// falling estimate), and the link sees the cluster's rate, not the pacer's on top of it.
//
// A held packet gets its transport-wide sequence number when it leaves, so the numbers follow the order
// the packets are sent in, which is what the estimator's delay measurement relies on.
const (
	pacingFactor     = 2.5
	pacingLossFactor = 1.25 // while the path loses what is sent
	pacingBurst      = 20 * time.Millisecond
	pacingMinBurst   = 2500                   // bytes: two full packets go out together however low the rate
	pacingMaxDelay   = 500 * time.Millisecond // more than this at the pacing rate is dropped (the newest)
	pacingMinQueue   = 64 << 10               // bytes always allowed to wait, however low the rate

	pacedPacketSize = 1600 // as Endpoint.outBuf
)

// pacer is the token bucket and the queue of one receiver's video; sendMu guards it, except rate.
type pacer struct {
	tokens float64 // bytes
	last   int64   // unix ns of the last refill
	q      []pacedPacket
	head   int // index of the oldest waiting packet in q
	bytes  int // waiting
	free   [][]byte
	timer  *time.Timer // set while packets wait: drains them when their tokens are there
	armed  bool
}

// pacedPacket is a plaintext RTP packet waiting to be sent, with its transport-wide number left to write.
type pacedPacket struct {
	buf        []byte
	retransmit bool   // counted as a retransmission when it leaves (/debug/bridge)
	stream     uint16 // its slot's stream for the estimator (slot.stream)
}

// waiting reports whether packets wait.
func (p *pacer) waiting() bool { return p.head < len(p.q) }

// refill adds the tokens earned since the last call at rate bytes per second.
func (p *pacer) refill(rate float64, now int64) {
	if p.last != 0 && now > p.last {
		burst := max(rate*pacingBurst.Seconds(), pacingMinBurst)
		p.tokens = min(p.tokens+rate*float64(now-p.last)/1e9, burst)
	}
	p.last = now
}

// buffer returns a buffer for a packet about to be held.
func (p *pacer) buffer() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:cap(b)]
	}
	return make([]byte, pacedPacketSize)
}

// push holds pkt (a buffer from buffer()); it reports false, keeping nothing, when the queue is over
// limit bytes.
func (p *pacer) push(pkt []byte, retransmit bool, stream uint16, limit int) bool {
	if p.bytes+len(pkt) > limit {
		p.free = append(p.free, pkt)
		return false
	}
	if p.head > 0 && p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	}
	p.q = append(p.q, pacedPacket{buf: pkt, retransmit: retransmit, stream: stream})
	p.bytes += len(pkt)
	return true
}

// pop returns the oldest waiting packet; give its buffer back with recycle.
func (p *pacer) pop() pacedPacket {
	pkt := p.q[p.head]
	p.q[p.head] = pacedPacket{}
	p.head++
	p.bytes -= len(pkt.buf)
	return pkt
}

func (p *pacer) recycle(b []byte) { p.free = append(p.free, b) }

// pacingRate is the rate video may leave at toward r, bytes per second: a probe cluster's while one is
// open; 0 when r is not paced (no transport-cc feedback yet, so no estimate).
func (r *Endpoint) pacingRate() float64 {
	if c := r.paceProbeRate.Load(); c > 0 {
		return float64(c) / 8
	}
	return float64(r.paceRate.Load()) / 8
}

// setPacingRate follows r's estimate while it is trusted, and its probe cluster while one is open
// (congestion loop).
func (r *Endpoint) setPacingRate(now time.Time) {
	switch {
	case r.estimateTrusted(now.UnixNano()):
		f := pacingFactor
		if r.est.Losing() {
			f = pacingLossFactor
		}
		r.paceRate.Store(int64(f * float64(r.est.Estimate())))
		r.paceProbeRate.Store(r.est.ProbeRate())
	case r.est != nil:
		r.paceRate.Store(0)
		r.paceProbeRate.Store(0)
	}
}

// holdVideoLocked reports whether a video packet of about size bytes must wait for the pacer (and then
// the caller builds it into r.pace.buffer() and calls queueLocked), after sending what may go now;
// sendMu is held.
func (r *Endpoint) holdVideoLocked(size int, now int64) bool {
	rate := r.pacingRate()
	if rate <= 0 {
		return false
	}
	r.drainLocked(rate, now)
	if r.pace.waiting() || r.pace.tokens <= 0 {
		return true
	}
	r.pace.tokens -= float64(size)
	return false
}

// spendLocked charges a packet that does not wait (audio, a retransmission) to the pacer; sendMu is held.
func (r *Endpoint) spendLocked(size int, now int64) {
	if rate := r.pacingRate(); rate > 0 {
		r.pace.refill(rate, now)
		r.pace.tokens -= float64(size)
	}
}

// packetBufferLocked is where to build the next packet toward r and its transport-wide number: for a
// packet that must wait (held), a pacer buffer and a number written when it leaves; otherwise outBuf and
// the next number. sendMu is held.
func (r *Endpoint) packetBufferLocked(held bool) ([]byte, transportSeq) {
	if held {
		return r.pace.buffer(), transportSeq{id: r.tccExt}
	}
	return r.outBuf[:], r.nextTransportSeqLocked()
}

// queueLocked holds pkt, built into packetBufferLocked(true), or drops it when the queue is full;
// sendMu is held.
func (r *Endpoint) queueLocked(pkt []byte, retransmit bool, stream uint16) {
	rate := r.pacingRate()
	// The limit follows the estimate's pacing rate, not a probe cluster's, which is often lower.
	limit := max(int(max(rate, float64(r.paceRate.Load())/8)*pacingMaxDelay.Seconds()), pacingMinQueue)
	if !r.pace.push(pkt, retransmit, stream, limit) {
		r.b.metrics.dropped.WithLabelValues(dropPacerFull).Inc()
		return
	}
	r.armPacerLocked(rate)
}

// armPacerLocked sets the timer for when the tokens for the oldest waiting packet are there, unless it
// is set; sendMu is held.
func (r *Endpoint) armPacerLocked(rate float64) {
	if r.pace.armed || !r.pace.waiting() || rate <= 0 || r.expired.Load() {
		return
	}
	wait := time.Millisecond
	if deficit := -r.pace.tokens; deficit > 0 {
		wait = max(time.Duration(deficit/rate*1e9), time.Millisecond)
	}
	r.pace.armed = true
	if r.pace.timer == nil {
		r.pace.timer = time.AfterFunc(wait, r.onPacerTimer)
	} else {
		r.pace.timer.Reset(wait)
	}
}

// onPacerTimer sends what may go now and sets the timer again while packets wait.
func (r *Endpoint) onPacerTimer() {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	r.pace.armed = false
	rate := r.pacingRate()
	if r.srtpOut == nil || r.expired.Load() {
		return
	}
	r.drainLocked(rate, time.Now().UnixNano())
	r.armPacerLocked(rate)
}

// drainLocked sends waiting packets while tokens last and returns their bytes on the link; sendMu is
// held. (Without a rate, when the estimate is gone, everything waiting goes.)
func (r *Endpoint) drainLocked(rate float64, now int64) int {
	r.pace.refill(rate, now)
	before, n := r.egress.total, 0
	for r.pace.waiting() && (r.pace.tokens > 0 || rate <= 0) {
		n++
		pkt := r.pace.pop()
		if tcc := r.nextTransportSeqLocked(); tcc.id != 0 && len(pkt.buf) >= 20 {
			binary.BigEndian.PutUint16(pkt.buf[17:], tcc.seq)
		}
		r.pace.tokens -= float64(len(pkt.buf))
		if pkt.retransmit {
			r.sendRetransmissionLocked(pkt.buf, now, pkt.stream)
		} else {
			r.sendPacketLocked(pkt.buf, now, nil, pkt.stream)
		}
		r.pace.recycle(pkt.buf)
	}
	return int(r.egress.total-before) + n*udpIPOverhead
}
