package bot

import (
	"slices"
	"time"
)

// seqTracker follows one RTP stream's sequence numbers and arrival times:
// it extends the 16-bit sequence number across wraparound, drops
// duplicates (a retransmission of a packet that came after all), counts
// the packets lost as RFC 3550 §6.4.1 does (expected from the highest
// sequence number, minus received; a packet NACK and RTX brought back
// counts as received) and keeps the interarrival jitter (§6.4.1, A.8).
// For video it also keeps the packets missing, to ask for them again
// (nacks). Not safe for concurrent use.
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

	// missing are the packets to ask again for, by extended sequence
	// number; nil when the stream is not NACKed.
	missing map[uint64]*nackState
}

// nackState is a missing packet: when the gap was seen, how often and
// when it was last asked for.
type nackState struct {
	since, last time.Time
	asked       int
}

// The bot asks for a missing packet (RFC 4585 §6.2.1 generic NACK) when it
// sees the gap, then again every nackRetry, at most maxNacks times, and
// not after lossWait, when the frame it is in is given up. Pion's own
// NACK generator cannot be used: it does not see the packets RTX brought
// back (they arrive on the RTX SSRC) and asks for them every 100 ms for
// as long as they are in its window, which drains the bridge's budget for
// retransmissions and leaves later losses unrepaired.
const (
	nackRetry  = 100 * time.Millisecond
	maxNacks   = 3
	maxMissing = 512 // missing packets kept at most; of a longer gap, only its last ones
)

// dedupWindow is how far back a duplicate is recognised.
const dedupWindow = 4096

func newSeqTracker(clock float64) *seqTracker { return &seqTracker{clock: clock} }

// newNackedTracker is a seqTracker that keeps the missing packets.
func newNackedTracker(clock float64) *seqTracker {
	return &seqTracker{clock: clock, missing: map[uint64]*nackState{}}
}

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
		if t.missing != nil {
			for s := max(t.highest+1, ext-min(ext, maxMissing)); s < ext && len(t.missing) < maxMissing; s++ {
				t.missing[s] = &nackState{since: now}
			}
		}
		t.highest = ext
	} else if t.has(ext) {
		return 0, false
	}
	delete(t.missing, ext)
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

// nacks returns the missing packets to ask for now, and forgets those
// asked maxNacks times or missing longer than lossWait.
func (t *seqTracker) nacks(now time.Time) []uint16 {
	var due []uint64
	for ext, m := range t.missing {
		if now.Sub(m.since) >= lossWait || m.asked >= maxNacks {
			delete(t.missing, ext)
			continue
		}
		if m.asked == 0 || now.Sub(m.last) >= nackRetry {
			m.asked++
			m.last = now
			due = append(due, ext)
		}
	}
	slices.Sort(due) // NACK pairs are built in order
	out := make([]uint16, len(due))
	for i, ext := range due {
		out[i] = uint16(ext)
	}
	return out
}
