package bot

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// What a viewer would see of one remote VP8 source: the packets are put
// back together into frames as a receiver's jitter buffer does. A frame is
// complete when every packet from its first (the VP8 payload descriptor's
// S bit with partition 0, RFC 7741 §4.2) to the RTP marker arrived, with
// no sequence number missing; it is decodable when it is a key frame or
// every frame since the last key frame was decodable. A gap waits lossWait
// for NACK and RTX to fill it (Pion asks, the bridge repairs), then the
// frames it touches are given up and the frames after them are not
// decodable until the next key frame: a decoder would show garbage or
// nothing, so those count as decode errors and ask for a key frame.

// lossWait is how long a sequence gap may stay open, while later packets
// arrive, before the frame it is in is given up: long enough for a NACK
// and its RTX repair over a loaded link, short enough that a viewer would
// not wait longer.
const lossWait = 300 * time.Millisecond

// maxBuffered bounds the packets an assembler holds behind a gap.
const maxBuffered = 2000

// vp8Packet is what the frame assembler needs of one RTP packet.
type vp8Packet struct {
	ts      uint32
	marker  bool
	start   bool // first packet of a frame: S bit set, partition 0
	key     bool // the first packet of a key frame
	width   int  // from a key frame's header, else 0
	height  int
	padding bool   // no payload (a bandwidth probe): part of no frame
	payload []byte // the VP8 payload after the descriptor, kept only to decrypt
	pic     int    // the 15-bit picture ID, -1 when the descriptor has none or a 7-bit one
}

// parseVP8 reads the payload descriptor and, on a key frame's first
// packet, the frame size; false when the payload is not VP8.
func parseVP8(p *rtp.Packet) (vp8Packet, bool) {
	v := vp8Packet{ts: p.Timestamp, marker: p.Marker, pic: -1}
	if len(p.Payload) == 0 {
		v.padding = true
		return v, true
	}
	var d codecs.VP8Packet
	if _, err := d.Unmarshal(p.Payload); err != nil {
		return v, false
	}
	v.start = d.S == 1 && d.PID == 0
	v.payload = d.Payload
	if d.I == 1 && p.Payload[2]&0x80 != 0 { // I: the picture ID follows the two first bytes; M: 15 bits
		v.pic = int(d.PictureID)
	}
	if v.start && len(d.Payload) > 0 && d.Payload[0]&1 == 0 {
		v.key = true
		v.width, v.height, _ = keyFrameSize(d.Payload)
	}
	return v, true
}

// keyFrameSize reads the width and height of a VP8 key frame from its
// uncompressed header (RFC 6386 §9.1): a 3-byte frame tag, the start code
// 9d 01 2a, then 14-bit width and height, little-endian, each with two
// bits of scaling above.
func keyFrameSize(frame []byte) (w, h int, ok bool) {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	w = int(frame[6]) | int(frame[7]&0x3f)<<8
	h = int(frame[8]) | int(frame[9]&0x3f)<<8
	return w, h, true
}

// frameEvent is one frame the assembler finished with, in sequence order.
type frameEvent struct {
	complete  bool // false: given up, packets missing
	failed    bool // complete, but it did not decrypt: never decoded
	decrypted bool // complete and decrypted
	dropped   int  // frames given up (when not complete)
	decodable bool
	key       bool
	picJump   bool // its picture ID does not follow the previous frame's, though no frame was lost between
	width     int
	height    int
	at        time.Time // when it became complete or was given up
}

// frameAssembler turns one stream's packets (by extended sequence number,
// seqTracker) into frames. Not safe for concurrent use.
type frameAssembler struct {
	pkts     map[uint64]vp8Packet // held packets at or after next
	next     uint64               // the first packet not yet consumed
	started  bool                 // next is set: a frame start arrived
	highest  uint64
	chainOK  bool      // every frame since the last key frame was decodable
	gapSince time.Time // when the assembler started waiting at a gap; zero when not waiting
	// lastPic is the last complete frame's picture ID, -1 when unknown or frames were given up since:
	// a sender numbers its frames one by one, and so must a bridge that leaves some out.
	lastPic int
	// open, with end-to-end encryption, decrypts a complete frame; a frame
	// it refuses is never decoded and breaks the chain to the next key frame.
	open func(frame []byte) bool
}

func newFrameAssembler() *frameAssembler {
	return &frameAssembler{pkts: map[uint64]vp8Packet{}, lastPic: -1}
}

// push adds the packet with extended sequence number ext, arrived at now,
// and returns the frames that are finished with, oldest first. Packets
// before the first frame start, and late ones (their frame already
// finished with), are ignored.
func (a *frameAssembler) push(ext uint64, p vp8Packet, now time.Time) []frameEvent {
	if !a.started {
		if !p.start {
			return nil // joined in the middle of a frame
		}
		a.started, a.next, a.highest = true, ext, ext
	}
	if ext < a.next {
		return nil
	}
	if _, dup := a.pkts[ext]; !dup {
		a.pkts[ext] = p
	}
	a.highest = max(a.highest, ext)
	return a.drain(now)
}

// drain finishes every frame it can at now.
func (a *frameAssembler) drain(now time.Time) []frameEvent {
	var out []frameEvent
	for {
		ev, ok := a.nextFrame(now)
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

// nextFrame finishes the frame at a.next: complete when all its packets
// are there, given up when a gap in it has waited lossWait (or too many
// packets are held); false when it must wait.
func (a *frameAssembler) nextFrame(now time.Time) (frameEvent, bool) {
	for {
		p, ok := a.pkts[a.next]
		if ok && p.padding {
			delete(a.pkts, a.next)
			a.next++
			continue
		}
		if !ok || !p.start {
			return a.giveUp(now)
		}
		for s := a.next; s <= a.highest; s++ {
			q, ok := a.pkts[s]
			if !ok {
				return a.giveUp(now)
			}
			if s > a.next && (q.start || q.ts != p.ts) {
				// The next frame began without this one's marker, and no
				// packet is missing in between: it was cut (a sender or the
				// bridge switching layers drops the rest of a frame). No
				// repair can complete it.
				return a.drop(s, now), true
			}
			if q.marker {
				return a.complete(p, s, now), true
			}
		}
		return frameEvent{}, false
	}
}

// complete consumes the frame from a.next to last, whose first packet is first.
func (a *frameAssembler) complete(first vp8Packet, last uint64, now time.Time) frameEvent {
	var frame []byte
	for s := a.next; s <= last; s++ {
		if a.open != nil {
			frame = append(frame, a.pkts[s].payload...)
		}
		delete(a.pkts, s)
	}
	a.next, a.gapSince = last+1, time.Time{}
	if a.open != nil {
		if !a.open(frame) {
			a.chainOK = false
			return frameEvent{complete: true, failed: true, at: now}
		}
	}
	ev := frameEvent{complete: true, decrypted: a.open != nil, key: first.key, width: first.width, height: first.height, at: now}
	ev.picJump = a.lastPic >= 0 && first.pic >= 0 && first.pic != (a.lastPic+1)&0x7fff
	a.lastPic = first.pic
	if first.key {
		a.chainOK = true
	}
	ev.decodable = a.chainOK
	return ev
}

// keyArriving reports whether the frame being put together is a key frame
// (its first packet is there): no need to ask for one.
func (a *frameAssembler) keyArriving() bool {
	p, ok := a.pkts[a.next]
	return ok && p.key
}

// laterStart is the first held frame start after a.next. It looks at the
// packets held, not at the sequence numbers between: a jump in them costs
// nothing.
func (a *frameAssembler) laterStart() (uint64, bool) {
	first, found := uint64(0), false
	for s, q := range a.pkts {
		if s > a.next && q.start && (!found || s < first) {
			first, found = s, true
		}
	}
	return first, found
}

// giveUp waits at a gap until lossWait has passed since it was first seen
// (or too many packets are held), then drops the packets from a.next up
// to the next frame start held.
func (a *frameAssembler) giveUp(now time.Time) (frameEvent, bool) {
	if len(a.pkts) == 0 {
		return frameEvent{}, false // nothing after the gap yet
	}
	if a.gapSince.IsZero() {
		a.gapSince = now
	}
	if now.Sub(a.gapSince) < lossWait && len(a.pkts) < maxBuffered {
		return frameEvent{}, false
	}
	to, ok := a.laterStart()
	if !ok {
		if len(a.pkts) < maxBuffered {
			return frameEvent{}, false // the next frame's start has not come yet
		}
		to = a.highest + 1
	}
	return a.drop(to, now), true
}

// drop gives up the packets from a.next to before to, and the chain to
// the next key frame. The event counts the frames dropped: those whose
// packets were held, at least one.
func (a *frameAssembler) drop(to uint64, now time.Time) frameEvent {
	seen := map[uint32]bool{}
	for s, p := range a.pkts {
		if s < to {
			if !p.padding {
				seen[p.ts] = true
			}
			delete(a.pkts, s)
		}
	}
	a.next, a.gapSince, a.chainOK, a.lastPic = to, time.Time{}, false, -1
	return frameEvent{at: now, dropped: max(len(seen), 1)}
}

// freezeWindow is how many inter-frame intervals the mean is taken over
// (W3C webrtc-stats, freezeCount: the last 30 rendered frames).
const freezeWindow = 30

// minFreezeSamples is how many intervals must be known before a freeze can
// be told from the usual pace (libwebrtc waits for 5 as well).
const minFreezeSamples = 5

// freezeDetector counts freezes as W3C webrtc-stats defines them: an
// interval between two rendered (here: decodable) frames of at least
// max(3 × mean, mean + 150 ms), the mean over the last 30 intervals.
type freezeDetector struct {
	last      time.Time
	intervals []time.Duration // the last freezeWindow, oldest first
	count     int
	total     time.Duration
	recent    []Freeze // the latest maxFreezeLog freezes, oldest first
}

// maxFreezeLog is how many freezes of a source VideoStats.FreezeLog keeps.
const maxFreezeLog = 32

// frame notes a decodable frame at t.
func (f *freezeDetector) frame(t time.Time) {
	if f.last.IsZero() {
		f.last = t
		return
	}
	d := t.Sub(f.last)
	f.last = t
	if len(f.intervals) >= minFreezeSamples {
		var sum time.Duration
		for _, x := range f.intervals {
			sum += x
		}
		mean := sum / time.Duration(len(f.intervals))
		if d >= max(3*mean, mean+150*time.Millisecond) {
			f.count++
			f.total += d
			if len(f.recent) == maxFreezeLog {
				f.recent = f.recent[1:]
			}
			f.recent = append(f.recent, Freeze{End: t, Ms: float64(d) / float64(time.Millisecond)})
		}
	}
	if len(f.intervals) == freezeWindow {
		f.intervals = f.intervals[1:]
	}
	f.intervals = append(f.intervals, d)
}
