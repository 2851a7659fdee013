package bridge

// slot is one of a receiver's fixed send SSRCs. The conference maps sender sources onto slots; the
// projection rewrites whatever fills the slot into one continuous stream (sfu-quality.md §5.3, §5.4).
type slot struct {
	recv    *Endpoint
	kind    string
	index   int
	ssrc    uint32
	rtxSSRC uint32
	stream  uint16 // its number for the receiver's estimator (bwe.Estimator.OnSentStream), from 1
	name    string
	msid    string

	// Guarded by recv.sendMu.
	src *source // the source mapped onto this slot, nil when free
	// maxHeight is the receiver's limit for src (allocate.go): -1 unlimited, 0 no video.
	maxHeight int
	// maxLayer is the highest layer of src the receiver's bandwidth allows (the allocator's target,
	// congestion.go): noLayerCap without a limit, -1 suspended.
	maxLayer int
	// maxTemporal is the highest temporal layer of that layer to forward (temporal.go): the lower of
	// fpsTemporal, what the receiver's maxFrameRate allows (allocate.go), and allocTemporal, what its
	// bandwidth allows (the allocator's target).
	maxTemporal, fpsTemporal, allocTemporal uint8
	proj                                    projection
	rtxSeq                                  uint16
	red                                     redHistory // audio slots toward a receiver with RED (red.go)
	packets                                 uint32     // sent on ssrc, for sender reports
	octets                                  uint32
	resent                                  *resendLog // retransmissions on this slot, made at the first (rtcp.go)
}

// setTemporal sets the slot's temporal limits from its receiver's frame rate and bandwidth; sendMu is held.
func (sl *slot) setTemporal(fps, bandwidth uint8) {
	sl.fpsTemporal, sl.allocTemporal, sl.maxTemporal = fps, bandwidth, min(fps, bandwidth)
}

// resendLog remembers when the last packets retransmitted on a slot went, so that a NACK repeated within
// a round trip (the receiver has not yet had the time to get the first copy) does not send another:
// libwebrtc's senders do the same, and without it a receiver that NACKs on a timer (Pion's generator
// every 100 ms) gets each lost packet several times over a link it already fills.
type resendLog [resendLogSize]struct {
	seq uint16
	at  int64 // unix ns; 0 = empty
}

const resendLogSize = 64

// tooSoon reports whether outSeq was retransmitted less than rtt before now, and if not, notes that it is
// now.
func (l *resendLog) tooSoon(outSeq uint16, now, rtt int64) bool {
	if l.recent(outSeq, now, rtt) {
		return true
	}
	l[outSeq%resendLogSize].seq, l[outSeq%resendLogSize].at = outSeq, now
	return false
}

// recent reports whether outSeq was retransmitted less than rtt before now, noting nothing.
func (l *resendLog) recent(outSeq uint16, now, rtt int64) bool {
	e := &l[outSeq%resendLogSize]
	return e.at != 0 && e.seq == outSeq && now-e.at < rtt
}

// projection keeps one slot's output numbering continuous while its input changes (another source, or
// another simulcast layer of the same source). It re-bases only at a point the receiver can decode from:
// any packet for audio, the first packet of a key frame for video.
type projection struct {
	clock uint32 // RTP clock rate: 48000 audio, 90000 video

	stream    *inStream // input being projected (inStream.is), nil until the next switch point
	started   bool      // something was sent on the slot
	switchSeq uint16    // first input sequence number of stream
	seqOff    uint16
	tsOff     uint32
	picOff    uint16
	tl0Off    uint8

	lastSeq uint16
	lastTS  uint32
	lastAt  int64 // unix ns when lastTS was sent
	lastPic uint16
	lastTL0 uint8
	hasPic  bool
	hasTL0  bool

	switches      int    // re-bases after the first packet (for tests and logs)
	lastSwitchSeq uint16 // output sequence number of the last re-base

	// Temporal layers (temporal.go): the highest temporal layer forwarded in the current TL0 period, the
	// newest input sequence number seen (forwarded or dropped), and the offsets' history since the
	// re-base, which frames dropped for their temporal layer change.
	tid         uint8
	lastIn      uint16
	dropped     droppedFrame
	lateDropped lateDrops
	offsets     *offsetLog
}

// projected is where one input packet goes on the slot.
type projected struct {
	seq uint16
	ts  uint32
	pic uint16
	tl0 uint8
}

// project maps an input packet of stream s onto the slot. ok=false drops the packet; needKeyframe asks
// the caller to request a key frame from the sender (the slot waits for one).
func (p *projection) project(s *inStream, seq uint16, ts uint32, d *vp8Desc, keyframe bool, now int64) (out projected, ok, needKeyframe bool) {
	if p.stream != s {
		switch {
		case p.stream.is(s):
			p.stream = s // the same stream in a newer SSRC table (its sources were updated): no switch
		case !keyframe:
			return out, false, true
		default:
			p.rebase(s, seq, ts, d, now) // switchSeq = seq: the checks below pass
		}
	}
	if int16(seq-p.switchSeq) < 0 {
		return out, false, false // older than the switch: its place in the output is taken
	} else if int16(seq-p.switchSeq) > 8192 {
		p.switchSeq = seq - 8192 // trail the input so the comparison above survives wrap-around
	}
	seqOff, picOff := p.seqOff, p.picOff
	if int16(seq-p.lastIn) > 0 {
		p.lastIn = seq
	} else if p.offsets != nil { // late, after frames were dropped: the offsets that held at its place
		var ok bool
		if seqOff, picOff, ok = p.offsets.at(seq); !ok {
			return out, false, false
		}
	}
	out.seq = seq + seqOff
	out.ts = ts + p.tsOff
	if d != nil && d.picLen > 0 {
		out.pic = (d.picID + picOff) & picMask(d.picLen)
	}
	if d != nil && d.tl0Off > 0 {
		out.tl0 = d.tl0 + p.tl0Off
	}
	if !p.started || int16(out.seq-p.lastSeq) > 0 {
		p.lastSeq = out.seq
		if !p.started || int32(out.ts-p.lastTS) > 0 {
			p.lastTS, p.lastAt = out.ts, now
		}
		if d != nil && d.picLen > 0 {
			p.lastPic, p.hasPic = out.pic, true
		}
		if d != nil && d.tl0Off > 0 {
			p.lastTL0, p.hasTL0 = out.tl0, true
		}
		p.started = true
	}
	return out, true, false
}

// rebase starts projecting stream s at packet (seq, ts): sequence numbers continue from the last one sent,
// the timestamp advances by the wall-clock time since the last packet, picture ID and TL0PICIDX by one.
func (p *projection) rebase(s *inStream, seq uint16, ts uint32, d *vp8Desc, now int64) {
	p.stream, p.switchSeq, p.lastIn, p.dropped, p.lateDropped = s, seq, seq, droppedFrame{}, lateDrops{}
	defer p.offsets.reset(seq, p) // the offsets below hold from seq on
	if !p.started {
		p.seqOff, p.tsOff, p.picOff, p.tl0Off = 0, 0, 0, 0
		return
	}
	p.seqOff = p.lastSeq + 1 - seq
	p.switches++
	p.lastSwitchSeq = p.lastSeq + 1
	ticks := uint32(max(now-p.lastAt, 0) * int64(p.clock) / 1e9)
	p.tsOff = p.lastTS + max(ticks, 1) - ts
	if d != nil && d.picLen > 0 {
		if p.hasPic {
			p.picOff = p.lastPic + 1 - d.picID
		} else {
			p.picOff = 0
		}
	}
	if d != nil && d.tl0Off > 0 {
		if p.hasTL0 {
			p.tl0Off = p.lastTL0 + 1 - d.tl0
		} else {
			p.tl0Off = 0
		}
	}
}

// input returns the input sequence number of the packet sent as outSeq, for a retransmission; false
// when it is too old to tell.
func (p *projection) input(outSeq uint16) (uint16, bool) {
	if p.offsets != nil {
		return p.offsets.input(outSeq)
	}
	return outSeq - p.seqOff, true
}

// mapOld maps an already-projected input packet again (a retransmission), without changing state.
func (p *projection) mapOld(s *inStream, seq uint16, ts uint32, d *vp8Desc) (out projected, ok bool) {
	if !p.stream.is(s) || int16(seq-p.switchSeq) < 0 || int16(seq-p.lastIn) > 0 {
		return out, false
	}
	seqOff, picOff := p.seqOff, p.picOff
	if p.offsets != nil {
		if seqOff, picOff, ok = p.offsets.at(seq); !ok {
			return out, false
		}
	}
	if int16(seq+seqOff-p.lastSeq) > 0 {
		return out, false
	}
	out.seq, out.ts = seq+seqOff, ts+p.tsOff
	if d != nil && d.picLen > 0 {
		out.pic = (d.picID + picOff) & picMask(d.picLen)
	}
	if d != nil && d.tl0Off > 0 {
		out.tl0 = d.tl0 + p.tl0Off
	}
	return out, true
}

// reset forgets the input (the slot got another source); numbering continues at the next switch point.
func (p *projection) reset() { p.stream = nil }
