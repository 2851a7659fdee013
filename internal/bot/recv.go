package bot

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-im/parley/internal/e2ee"
)

// What the bot received, by remote source. The bridge sends each remote
// source on one of its slots (an SSRC), and the sources maps say which
// source a slot carries (jitsi-dialect.md §5.5, §6.2). A slot's packets
// often come before its map (RTP over UDP overtakes the bridge channel);
// Pion keeps them until the map adds the slot's m-line, then hands them
// over at once. The bot ties the slot to its source before it adds the
// m-line (it used to after, and lost those first packets); a packet of a
// slot no map has named all the same is held, the last pendingFor or
// pendingMax of each slot, and counted once a map names the slot. Nothing
// that waited longer than pendingFor since it arrived, in Pion's buffer
// (arrival.go) or the bot's, is counted: such packets are dropped unread
// as kept back (arrived, mapSlot), as a receiver would have dropped them.

// Bounds of what is held of a slot no map has named yet.
const (
	pendingFor   = 2 * time.Second
	pendingMax   = 400 // packets per slot
	pendingSlots = 128 // slots held at once
)

// keyFrameInterval is the least time between two keyframe requests the
// bot sends for one source.
const keyFrameInterval = 500 * time.Millisecond

// feedback is the RTCP the bot owes the bridge: keyframe requests for
// slots, and NACKs (seq.go) of the packets missing on a slot.
type feedback struct {
	plis  []uint32
	nacks []nackRequest
}

// nackRequest asks for the packets seqs of slot ssrc again.
type nackRequest struct {
	ssrc uint32
	seqs []uint16
}

func (f *feedback) add(g feedback) {
	f.plis = append(f.plis, g.plis...)
	f.nacks = append(f.nacks, g.nacks...)
}

// Clock rates of the bot's codecs.
const (
	videoClock = 90000
	audioClock = 48000
)

// inbound is the bot's receive bookkeeping. Not safe for concurrent use:
// the bot guards it with its mu.
type inbound struct {
	sources map[string]*sourceState // by source name, for the bot's life
	slots   map[uint32]*sourceState // the session's slot SSRC → the source the maps say it carries
	pending map[uint32][]heldPacket // the session's slots no map has named yet
	// live holds the session's slots whose track has read a packet that
	// had not waited in Pion's buffer longer than pendingFor (arrived).
	live map[uint32]bool
	// open, with end-to-end encryption, decrypts a received frame (e2ee.go);
	// false drops it.
	open func(codec e2ee.Codec, frame []byte) bool
}

func newInbound() *inbound {
	return &inbound{sources: map[string]*sourceState{}, slots: map[uint32]*sourceState{}, pending: map[uint32][]heldPacket{}, live: map[uint32]bool{}}
}

// heldPacket is a packet of a slot no map named yet.
type heldPacket struct {
	pkt      rtp.Packet // its payload a copy
	repaired bool
	at       time.Time
}

// sourceState is what arrived of one remote source.
type sourceState struct {
	name, owner, kind string
	ssrc              uint32 // its slot in this session; 0 when none

	seq *seqTracker     // the current slot's stream; nil before its first packet there
	asm *frameAssembler // video: the current stream's frames

	first, last time.Time
	packets     int
	repaired    int
	lostBefore  int     // on earlier streams
	jitterMs    float64 // of the last stream

	frames, keyFrames, dropped, decodeErrors int
	picJumps                                 int
	decrypted, decryptFailed                 int
	keptBack                                 int // packets Pion kept back too long, dropped unread (arrived)
	width, height                            int
	freeze                                   freezeDetector
	needKey                                  bool      // a frame was not decodable since the last key frame
	lastPLI                                  time.Time // zero: none yet
	plis                                     int
}

// endStream closes the source's current stream: a new slot or session
// starts its sequence numbers and frames afresh.
func (s *sourceState) endStream() {
	if s.seq != nil {
		s.lostBefore += s.seq.lost()
		s.jitterMs = s.seq.jitterMs()
	}
	s.seq, s.asm = nil, nil
}

// newSession forgets the slots of the session that ended; what the sources
// received stays.
func (in *inbound) newSession() {
	for _, s := range in.sources {
		s.endStream()
		s.ssrc = 0
	}
	clear(in.slots)
	clear(in.pending)
	clear(in.live)
}

// mapSlot notes that slot ssrc carries source name of owner, of kind
// "audio" or "video", counts what was held of the slot, and returns the
// feedback to send: a video source that is new on its slot asks for a key
// frame at once rather than wait for the sender's next one.
func (in *inbound) mapSlot(ssrc uint32, name, owner, kind string, now time.Time) feedback {
	s := in.sources[name]
	if s == nil {
		s = &sourceState{name: name, owner: owner, kind: kind}
		in.sources[name] = s
	}
	s.owner = owner
	if old := in.slots[ssrc]; old == s {
		return feedback{} // announced again
	} else if old != nil {
		old.endStream()
		old.ssrc = 0
	}
	if s.ssrc != 0 && in.slots[s.ssrc] == s {
		delete(in.slots, s.ssrc) // it moved
	}
	s.endStream()
	s.ssrc = ssrc
	in.slots[ssrc] = s
	var fb feedback
	if s.kind == "video" {
		s.needKey = true
		fb.plis = in.keyFrameRequest(s, now)
	}
	held := in.pending[ssrc]
	delete(in.pending, ssrc)
	for _, h := range held {
		if now.Sub(h.at) > pendingFor {
			s.keptBack++ // the map came long after it: no receiver holds media that old
			continue
		}
		in.deliver(s, &h.pkt, h.repaired, h.at)
	}
	if len(held) > 0 {
		fb.add(in.feedback(s, now))
	}
	return fb
}

// packet takes one packet of slot ssrc (repaired when it came by RTX) and
// returns the feedback to send.
func (in *inbound) packet(ssrc uint32, p *rtp.Packet, repaired bool, now time.Time) feedback {
	if s := in.slots[ssrc]; s != nil {
		in.deliver(s, p, repaired, now)
		return in.feedback(s, now)
	}
	in.hold(ssrc, p, repaired, now)
	return feedback{}
}

// arrived takes a packet a slot's track read at now, which arrived at at
// (zero: not known, as for a repair, which comes by another stream). A
// packet that waited longer than pendingFor is dropped unread and counted
// as kept back: of what a track reads before its first packet that did
// not (Pion kept those back from before the slot had an m-line, see
// arrival.go), and, for audio, any (the bot's reader was starved: a
// receiver's jitter buffer has no use for audio that old either). Video
// read late once the slot is live is taken all the same (its frames and
// repairs count; the freezes show the wait). A packet of a slot no map has
// named yet is held from when it arrived (hold).
func (in *inbound) arrived(ssrc uint32, p *rtp.Packet, repaired bool, at, now time.Time) feedback {
	s := in.slots[ssrc]
	if !repaired && !at.IsZero() {
		switch {
		case now.Sub(at) <= pendingFor:
			in.live[ssrc] = true
		case !in.live[ssrc] || s != nil && s.kind == "audio":
			if s != nil {
				s.keptBack++
			}
			return feedback{}
		}
	}
	if s == nil {
		if at.IsZero() {
			at = now
		}
		in.hold(ssrc, p, repaired, at)
		return feedback{}
	}
	in.deliver(s, p, repaired, now)
	return in.feedback(s, now)
}

// feedback is what the bot owes the bridge about s now: a keyframe request
// when it needs one, NACKs for the packets missing.
func (in *inbound) feedback(s *sourceState, now time.Time) feedback {
	fb := feedback{plis: in.keyFrameRequest(s, now)}
	if s.seq != nil && s.seq.missing != nil && s.ssrc != 0 {
		if seqs := s.seq.nacks(now); len(seqs) > 0 {
			fb.nacks = []nackRequest{{ssrc: s.ssrc, seqs: seqs}}
		}
	}
	return fb
}

// hold keeps a packet of a slot no map has named yet.
func (in *inbound) hold(ssrc uint32, p *rtp.Packet, repaired bool, now time.Time) {
	q, ok := in.pending[ssrc]
	if !ok && len(in.pending) >= pendingSlots {
		return
	}
	c := *p
	c.Payload = append([]byte(nil), p.Payload...)
	c.Header.Extensions = nil // not read
	c.Header.CSRC = nil
	q = append(q, heldPacket{pkt: c, repaired: repaired, at: now})
	drop := 0
	for drop < len(q) && (len(q)-drop > pendingMax || now.Sub(q[drop].at) > pendingFor) {
		drop++
	}
	in.pending[ssrc] = append(q[:0], q[drop:]...)
}

// deliver counts a packet of source s.
func (in *inbound) deliver(s *sourceState, p *rtp.Packet, repaired bool, now time.Time) {
	if s.seq == nil {
		s.seq = newSeqTracker(audioClock)
		if s.kind == "video" {
			s.seq = newNackedTracker(videoClock)
			s.asm = newFrameAssembler()
			if open := in.open; open != nil {
				s.asm.open = func(frame []byte) bool { return open(e2ee.CodecVP8, frame) }
			}
		}
	}
	ext, ok := s.seq.push(p.SequenceNumber, p.Timestamp, repaired, now)
	if !ok {
		return
	}
	if s.asm == nil && in.open != nil {
		// Each audio packet is one Opus frame, a whole SFrame ciphertext.
		if !in.open(e2ee.CodecOpus, p.Payload) {
			s.decryptFailed++
			return
		}
		s.decrypted++
	}
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.packets++
	if repaired {
		s.repaired++
	}
	if s.asm == nil {
		if p.PayloadType == payloadRED {
			in.recoverRED(s, p, now)
		}
		return
	}
	v, ok := parseVP8(p)
	if !ok {
		return
	}
	if s.asm.open != nil {
		v.payload = append([]byte(nil), v.payload...) // the reader's buffer is reused
	} else {
		v.payload = nil
	}
	for _, f := range s.asm.push(ext, v, now) {
		s.noteFrame(f)
	}
}

// noteFrame counts a frame the assembler finished with.
func (s *sourceState) noteFrame(f frameEvent) {
	if f.decrypted {
		s.decrypted++
	}
	if f.picJump {
		s.picJumps++
	}
	switch {
	case f.failed:
		s.decryptFailed++
		s.needKey = true
	case !f.complete:
		s.dropped += f.dropped
		s.needKey = true
	case !f.decodable:
		s.decodeErrors++
		s.needKey = true
	default:
		s.frames++
		s.freeze.frame(f.at)
		if f.key {
			s.keyFrames++
			s.needKey = false
			if f.height > 0 {
				s.width, s.height = f.width, f.height
			}
		}
	}
}

// keyFrameRequest returns s's slot when s needs a key frame, none is
// arriving and the last request is keyFrameInterval old, and counts the
// request.
func (in *inbound) keyFrameRequest(s *sourceState, now time.Time) []uint32 {
	if !s.needKey || s.ssrc == 0 || !s.lastPLI.IsZero() && now.Sub(s.lastPLI) < keyFrameInterval ||
		s.asm != nil && s.asm.keyArriving() {
		return nil
	}
	s.lastPLI = now
	s.plis++
	return []uint32{s.ssrc}
}

// stats is what arrived of s.
func (s *sourceState) stats() SourceStats {
	st := SourceStats{Kind: s.kind, SSRC: s.ssrc, FirstPacket: s.first, LastPacket: s.last,
		Packets: s.packets, PacketsLost: s.lostBefore, PacketsRepaired: s.repaired, JitterMs: s.jitterMs,
		Decrypted: s.decrypted, DecryptFailed: s.decryptFailed, KeptBack: s.keptBack}
	if s.seq != nil {
		st.PacketsLost += s.seq.lost()
		st.JitterMs = s.seq.jitterMs()
	}
	if s.kind != "video" {
		return st
	}
	v := &VideoStats{Frames: s.frames, KeyFrames: s.keyFrames, FramesDropped: s.dropped, DecodeErrors: s.decodeErrors, PictureIDJumps: s.picJumps,
		Freezes: s.freeze.count, FreezeMs: float64(s.freeze.total) / float64(time.Millisecond),
		Width: s.width, Height: s.height, KeyFrameRequests: s.plis}
	v.FreezeLog = append([]Freeze(nil), s.freeze.recent...)
	if d := s.last.Sub(s.first); d > 0 {
		v.FramesPerSecond = float64(s.frames) / d.Seconds()
	}
	st.Video = v
	return st
}

// remotes is what arrived, by remote endpoint: every source a map named,
// even when nothing of it came.
func (in *inbound) remotes() map[string]Remote {
	out := map[string]Remote{}
	for name, s := range in.sources {
		r := out[s.owner]
		if r.Sources == nil {
			r.Sources = map[string]SourceStats{}
		}
		st := s.stats()
		r.Sources[name] = st
		if st.Video != nil {
			r.VideoFrames += st.Video.Frames
		} else {
			r.AudioPackets += st.Packets
		}
		out[s.owner] = r
	}
	return out
}

// payloadRED is RED's payload type in the focus's offer.
const payloadRED = 112

// recoverRED counts the earlier packets a RED packet repeats (RFC 2198 §3:
// one 4-byte header per repeated block, the sequence numbers just before the
// primary's, oldest first) as received and repaired, when they were lost.
func (in *inbound) recoverRED(s *sourceState, p *rtp.Packet, now time.Time) {
	blocks := 0
	for i := 0; i+4 <= len(p.Payload) && p.Payload[i]&0x80 != 0; i += 4 {
		blocks++
	}
	for d := 1; d <= blocks; d++ {
		off := uint32(binary.BigEndian.Uint16(p.Payload[4*(blocks-d)+1:]))<<8 | uint32(p.Payload[4*(blocks-d)+3])
		if _, ok := s.seq.push(p.SequenceNumber-uint16(d), p.Timestamp-off>>10, true, now); ok {
			s.packets++
			s.repaired++
		}
	}
}
