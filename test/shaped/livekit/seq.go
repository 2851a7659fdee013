package main

// This file is the counting part of internal/bot/seq.go (extended sequence
// numbers, duplicates, RFC 3550 loss and jitter), so that LiveKit's receivers
// count as `parley bot` does: Go does not let another module import internal/.
// The NACK bookkeeping of the original is left out: LiveKit's SDK sends NACKs.

import "time"

// seqTracker follows one RTP stream's sequence numbers and arrival times:
// it extends the 16-bit sequence number across wraparound, drops
// duplicates (a retransmission of a packet that came after all), counts
// the packets lost as RFC 3550 §6.4.1 does (expected from the highest
// sequence number, minus received; a packet NACK and RTX brought back
// counts as received) and keeps the interarrival jitter (§6.4.1, A.8).
// Not safe for concurrent use.
type seqTracker struct {
	clock    float64 // RTP clock rate, Hz
	started  bool
	first    uint64 // extended sequence number of the first packet
	highest  uint64
	received int
	// seen has bit (ext % dedupWindow) set for the packets received of the
	// last dedupWindow sequence numbers up to highest.
	seen [dedupWindow / 64]uint64

	transit float64 // arrival minus RTP time of the last packet, in clock units
	jitter  float64 // in clock units
	hasJit  bool
}

// dedupWindow is how far back a duplicate is recognised.
const dedupWindow = 4096

func newSeqTracker(clock float64) *seqTracker { return &seqTracker{clock: clock} }

// push notes a packet and returns its extended sequence number; false for
// a duplicate or a packet too old to place. Jitter is taken from packets
// that arrived as sent, not from repairs.
func (t *seqTracker) push(seq uint16, ts uint32, repaired bool, now time.Time) (uint64, bool) {
	var ext uint64
	if !t.started {
		ext = uint64(seq) + 1<<16 // room to go back for a reordered packet
		t.started, t.first, t.highest = true, ext, ext
	} else {
		ext = uint64(int64(t.highest) + int64(int16(seq-uint16(t.highest))))
		if ext+dedupWindow <= t.highest {
			return 0, false
		}
	}
	if ext > t.highest {
		for s := t.highest + 1; s <= ext && s <= t.highest+dedupWindow; s++ {
			t.clear(s)
		}
		t.highest = ext
	} else if t.has(ext) {
		return 0, false
	}
	t.mark(ext)
	t.first = min(t.first, ext)
	t.received++
	if !repaired {
		t.noteJitter(ts, now)
	}
	return ext, true
}

func (t *seqTracker) has(ext uint64) bool { return t.seen[ext/64%(dedupWindow/64)]&(1<<(ext%64)) != 0 }
func (t *seqTracker) mark(ext uint64)     { t.seen[ext/64%(dedupWindow/64)] |= 1 << (ext % 64) }
func (t *seqTracker) clear(ext uint64)    { t.seen[ext/64%(dedupWindow/64)] &^= 1 << (ext % 64) }

// noteJitter updates the interarrival jitter with a packet of RTP time ts.
func (t *seqTracker) noteJitter(ts uint32, now time.Time) {
	arrival := float64(now.UnixNano()) / 1e9 * t.clock
	transit := arrival - float64(ts)
	if t.hasJit {
		d := transit - t.transit
		// RTP time wraps at 2^32: a jump of half of it is a wrap, not jitter.
		if d > 1<<31 {
			d -= 1 << 32
		} else if d < -(1 << 31) {
			d += 1 << 32
		}
		if d < 0 {
			d = -d
		}
		t.jitter += (d - t.jitter) / 16
	}
	t.transit, t.hasJit = transit, true
}

// lost is the packets expected and not received (never below zero).
func (t *seqTracker) lost() int {
	if !t.started {
		return 0
	}
	return max(int(t.highest-t.first+1)-t.received, 0)
}

// jitterMs is the interarrival jitter in milliseconds.
func (t *seqTracker) jitterMs() float64 {
	if t.clock == 0 {
		return 0
	}
	return t.jitter / t.clock * 1000
}
