package bridge

// Temporal layers (sfu-quality.md §5.3, §5.4). A VP8 sender with temporal layers (L1T3, as browsers send
// simulcast) marks each frame's layer in the payload descriptor: TID 0 frames at a quarter of the frame
// rate, TID 1 at half, TID 2 the rest, and a frame of layer n depends only on frames of layers below n
// since the last TL0 frame (and the TL0 frame on the TL0 before it). So a slot can forward a lower
// frame rate by dropping the frames above a temporal layer: a move down takes effect at once, a move
// up at the next TL0 frame, where nothing that follows depends on a frame that was not forwarded.
//
// The receiver must not see the dropped frames as losses: it would ask for them again and, in the
// jitter buffer, wait for them. So the projection closes up: each dropped packet takes one off the
// sequence number offset, each dropped frame one off the picture ID offset (TL0PICIDX counts TL0
// frames, which are never dropped). A packet that arrives late, after packets behind it were dropped,
// takes the offsets that held at its place; a receiver's NACK is mapped back to the input the same way.
// offsetLog keeps those changes since the last re-base. A packet the bridge has not seen when later
// ones are dropped keeps its place: if it turns out to be dropped too, that place stays empty, and the
// receiver's NACK for it is answered with nothing, as for a packet the sender lost for good.

// maxTemporal is a slot's temporal target when nothing limits it: every layer.
const maxTemporal = 2

// temporalFor is the highest temporal layer within a receiver's maxFrameRate fps (negative: no limit),
// for the L1T3 senders browsers are at 30 frames a second: TL0 7.5, TL1 15, TL2 30; at least TL0.
func temporalFor(fps float64) uint8 {
	switch {
	case fps < 0 || fps >= 30:
		return maxTemporal
	case fps >= 15:
		return 1
	default:
		return 0
	}
}

// lateDrops remembers the last packets left out after later ones had gone out: their places in the
// output stay empty, and a receiver's NACK for one must not bring it (it would get a piece of a frame
// it cannot complete).
type lateDrops struct {
	seqs [8]uint16
	n    int
}

func (l *lateDrops) add(seq uint16) {
	l.seqs[l.n%len(l.seqs)] = seq
	l.n++
}

func (l *lateDrops) has(seq uint16) bool {
	for i := range min(l.n, len(l.seqs)) {
		if l.seqs[i] == seq {
			return true
		}
	}
	return false
}

// droppedFrame is the last frame the projection dropped, so that its packets close up the picture IDs once.
type droppedFrame struct {
	pic uint16
	set bool
}

// temporal decides whether the VP8 packet with descriptor d (its TID known) of the stream s goes out on
// the slot, forwarding up to temporal layer target: false drops it, closing up the numbering. Packets
// of a stream the slot does not project yet pass (project decides: only a key frame starts one).
func (p *projection) temporal(s *inStream, seq uint16, d *vp8Desc, target uint8) bool {
	projected := p.stream.is(s)
	switch {
	case d.start && d.tid == 0 && (projected || d.keyframe):
		// A TL0 frame of the stream (or a key frame that starts it): nothing after it depends on a
		// frame above target that was dropped. Another stream's TL0 frames come at other times.
		p.tid = target
	case d.start && projected && target < p.tid:
		p.tid = target // down at any frame's start: no lower frame depends on the frames left out
	}
	if !projected || d.tid <= p.tid {
		return true
	}
	if int16(seq-p.lastIn) <= 0 {
		p.lateDropped.add(seq) // late: its place was left open, and stays so
		return false
	}
	p.lastIn = seq
	if p.offsets == nil {
		p.offsets = newOffsetLog(p.switchSeq, p.seqOff, p.picOff)
	}
	p.seqOff--
	if d.picLen > 0 && (!p.dropped.set || p.dropped.pic != d.picID) {
		p.picOff--
		p.dropped = droppedFrame{pic: d.picID, set: true}
	}
	p.offsets.add(seq+1, p.seqOff, p.picOff)
	return false
}

// offsetLog is the projection's sequence number and picture ID offsets since the last re-base, each
// holding from an input sequence number on, oldest first, in a ring: enough for the packets a
// retransmission can still reach (a few seconds of dropped frames).
type offsetLog struct {
	recs  [offsetLogSize]offsetRec
	first int // index of the oldest record
	n     int
}

type offsetRec struct {
	from   uint16 // input sequence number from which the offsets hold
	seqOff uint16
	picOff uint16
}

const offsetLogSize = 256

func newOffsetLog(from, seqOff, picOff uint16) *offsetLog {
	l := &offsetLog{}
	l.recs[0], l.n = offsetRec{from, seqOff, picOff}, 1
	return l
}

// reset forgets every record but the offsets of p from input from on (a re-base); nil does nothing.
func (l *offsetLog) reset(from uint16, p *projection) {
	if l != nil {
		*l = offsetLog{}
		l.recs[0], l.n = offsetRec{from, p.seqOff, p.picOff}, 1
	}
}

func (l *offsetLog) rec(i int) *offsetRec { return &l.recs[(l.first+i)%offsetLogSize] }

// add notes that the offsets change to seqOff and picOff from input from on. A run of dropped packets
// updates its record in place.
func (l *offsetLog) add(from, seqOff, picOff uint16) {
	if last := l.rec(l.n - 1); l.n > 1 && last.from == from-1 {
		*last = offsetRec{from, seqOff, picOff}
		return
	}
	if l.n == offsetLogSize {
		l.first = (l.first + 1) % offsetLogSize
		l.n--
	}
	*l.rec(l.n) = offsetRec{from, seqOff, picOff}
	l.n++
}

// at returns the offsets that held at input seq, false when seq is older than the log.
func (l *offsetLog) at(seq uint16) (seqOff, picOff uint16, ok bool) {
	for i := l.n - 1; i >= 0; i-- {
		if r := l.rec(i); int16(seq-r.from) >= 0 {
			return r.seqOff, r.picOff, true
		}
	}
	return 0, 0, false
}

// input returns the input sequence number sent as outSeq: the newest record whose output range holds
// it (a dropped packet's output number went to the packet after it); false when outSeq is older than the
// log.
func (l *offsetLog) input(outSeq uint16) (uint16, bool) {
	for i := l.n - 1; i >= 0; i-- {
		r := l.rec(i)
		if in := outSeq - r.seqOff; int16(in-r.from) >= 0 {
			return in, true
		}
	}
	return 0, false
}
