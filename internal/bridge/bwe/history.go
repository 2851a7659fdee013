package bwe

import "time"

// historySize is the number of send records kept. At 2,300 packets/s toward one receiver (Jitsi's sizing for a
// busy receiver) 8192 records cover 3.5 s, well beyond any feedback interval plus round trip; feedback for a
// packet older than that is stale and ignored.
const historySize = 8192

// packet states in a send record.
const (
	stateEmpty    uint8 = iota // slot never used
	stateSent                  // sent, no feedback yet
	stateLost                  // feedback said not received (may still arrive in later feedback)
	stateReceived              // feedback said received; later reports of it are duplicates
	stateUnseen                // feedback said not received on a stream the receiver has not shown it knows
)

// record is what the bridge remembers of one sent packet: 24 bytes, so a receiver's history is 192 KiB.
type record struct {
	ext     int64         // unwrapped sequence number, to tell a live slot from a stale one
	sent    time.Duration // send time since the estimator's epoch
	size    uint16        // bytes on the wire (a UDP payload fits)
	cluster uint16        // probe cluster id, 0 = none; ids wrap long after a record is overwritten
	stream  uint16        // the RTP stream it went on (Estimator.OnSentStream), 0 = known from the start
	probe   bool
	state   uint8
}

// history is a fixed ring of send records indexed by unwrapped sequence number.
type history struct {
	recs    [historySize]record
	lastExt int64 // unwrapped seq of the newest sent packet; -1 before the first
}

func (h *history) init() { h.lastExt = -1 }

// unwrapSent extends a sequence number the bridge is sending now. Sequence numbers are the bridge's own, so
// they move forward; a jump backwards of less than half the space is taken as a re-send of an older number.
func (h *history) unwrapSent(seq uint16) int64 {
	if h.lastExt < 0 {
		return int64(seq)
	}
	ext := h.lastExt + int64(int16(seq-uint16(h.lastExt)))
	if ext < 0 {
		ext += 1 << 16
	}
	return ext
}

// put stores a record for a packet being sent and returns it so the caller can tag it.
func (h *history) put(seq, stream uint16, size int, sent time.Duration, probe bool) *record {
	ext := h.unwrapSent(seq)
	if ext > h.lastExt {
		h.lastExt = ext
	}
	if size > 65535 {
		size = 65535
	}
	if size < 0 {
		size = 0
	}
	r := &h.recs[ext&(historySize-1)]
	*r = record{ext: ext, sent: sent, size: uint16(size), stream: stream, probe: probe, state: stateSent}
	return r
}

// lookup finds the record of a sequence number named in feedback, or nil when it was never sent, is not
// sent yet (a seq ahead of the newest) or has been overwritten.
func (h *history) lookup(seq uint16) *record {
	if h.lastExt < 0 {
		return nil
	}
	ext := h.lastExt - int64(uint16(uint16(h.lastExt)-seq))
	if ext < 0 || h.lastExt-ext >= historySize {
		return nil
	}
	r := &h.recs[ext&(historySize-1)]
	if r.state == stateEmpty || r.ext != ext {
		return nil
	}
	return r
}
