package bridge

import (
	"testing"
)

// l1t3 is a sender's frame pattern with temporal layers: TL0, TL2 (sync), TL1 (sync), TL2.
var l1t3 = [4]struct {
	tid  uint8
	sync bool
}{{0, false}, {2, true}, {1, true}, {2, false}}

// temporalFeed sends frames of two packets each through a slot's projection, as forward does, and keeps
// what went out.
type temporalFeed struct {
	t     *testing.T
	p     projection
	s     *inStream
	seq   uint16
	frame int
	now   int64
	sent  []sentPacket // in output order
}

type sentPacket struct {
	in, out      uint16
	pic, tl0     uint16
	tid          uint8
	frame, index int
}

func newTemporalFeed(t *testing.T) *temporalFeed {
	return &temporalFeed{t: t, p: projection{clock: 90000}, s: newInStream(1, nil, 0), seq: 65000, now: 1e9}
}

func (f *temporalFeed) desc(frame, index int) *vp8Desc {
	pat := l1t3[frame%4]
	return &vp8Desc{start: index == 0, keyframe: index == 0 && frame == 0, picOff: 2, picLen: 2, picID: uint16(frame+30000) & 0x7fff,
		tl0Off: 4, tl0: uint8(frame/4 + 200), hasTID: true, tid: pat.tid, sync: pat.sync}
}

// packet offers input packet (frame, index) with sequence number seq at target; it reports whether it went out.
func (f *temporalFeed) packet(frame, index int, seq uint16, target uint8) bool {
	d := f.desc(frame, index)
	if !f.p.temporal(f.s, seq, d, target) {
		return false
	}
	out, ok, _ := f.p.project(f.s, seq, uint32(frame*3000), d, d.keyframe, f.now)
	if !ok {
		return false
	}
	f.sent = append(f.sent, sentPacket{in: seq, out: out.seq, pic: out.pic, tl0: uint16(out.tl0), tid: d.tid, frame: frame, index: index})
	return true
}

// frames sends n frames of two packets in order at target.
func (f *temporalFeed) frames(n int, target uint8) {
	for range n {
		for i := range 2 {
			f.packet(f.frame, i, f.seq, target)
			f.seq++
		}
		f.frame++
		f.now += 33e6
	}
}

// check: the output is gapless in sequence numbers, each frame's picture ID follows the last one's,
// TL0PICIDX counts TL0 frames, and every output number maps back to its input for a retransmission.
func (f *temporalFeed) check() {
	t := f.t
	t.Helper()
	for i := 1; i < len(f.sent); i++ {
		a, b := f.sent[i-1], f.sent[i]
		if b.out != a.out+1 {
			t.Fatalf("output sequence %d after %d (input %d after %d)", b.out, a.out, b.in, a.in)
		}
		if b.frame != a.frame && b.pic != (a.pic+1)&0x7fff {
			t.Fatalf("frame %d has picture ID %d after %d", b.frame, b.pic, a.pic)
		}
		if b.frame == a.frame && b.pic != a.pic {
			t.Fatalf("frame %d split between picture IDs %d and %d", b.frame, a.pic, b.pic)
		}
		if want := uint16(uint8(b.frame/4 + 200)); b.tl0 != want {
			t.Fatalf("frame %d TL0PICIDX %d, want %d", b.frame, b.tl0, want)
		}
	}
	// Retransmissions reach back as far as the offsets' log: 256 runs of dropped packets, here 128
	// periods of four frames at TL1 (17 s at 30 fps), 512 packets forwarded.
	for _, p := range f.sent[max(len(f.sent)-500, 0):] {
		if in, ok := f.p.input(p.out); !ok || in != p.in {
			t.Fatalf("output %d maps back to input %d (%v), want %d", p.out, in, ok, p.in)
		}
		d := f.desc(p.frame, p.index)
		if out, ok := f.p.mapOld(f.s, p.in, uint32(p.frame*3000), d); !ok || out.seq != p.out || out.pic != p.pic {
			t.Fatalf("retransmission of input %d: %+v %v, want output %d picture %d", p.in, out, ok, p.out, p.pic)
		}
	}
}

// tids counts the frames sent per temporal layer since frame from.
func (f *temporalFeed) tids(from int) [3]int {
	var n [3]int
	for _, p := range f.sent {
		if p.frame >= from && p.index == 0 {
			n[p.tid]++
		}
	}
	return n
}

// A slot forwarding up to TL1 leaves out every TL2 frame and the receiver sees a gapless stream at
// half the frame rate; down to TL0 takes effect at once, up to TL2 only at the next TL0 frame.
func TestTemporalDropClosesUp(t *testing.T) {
	f := newTemporalFeed(t)
	f.frames(8, 1)
	if n := f.tids(0); n != [3]int{2, 2, 0} {
		t.Fatalf("frames per layer at TL1: %v", n)
	}
	// Down to TL0 mid-period (frame 8 is TL0: go to frame 9 first): at once.
	f.frames(1, 1)
	f.frames(4, 0) // frames 9-12
	if n := f.tids(9); n != [3]int{1, 0, 0} {
		t.Fatalf("frames per layer at TL0: %v", n)
	}
	// Up to TL2 between TL0 frames: frames 13-15 stay out until the TL0 frame 16.
	f.frames(3, 2)
	if n := f.tids(13); n != [3]int{} {
		t.Fatalf("frames per layer before the next TL0 frame: %v", n)
	}
	f.frames(8, 2)
	if n := f.tids(16); n != [3]int{2, 2, 4} {
		t.Fatalf("frames per layer going up: %v", n)
	}
	f.check()
	// 70,000 more packets, across the 16-bit wrap-around of the input and output numbers, at TL1.
	f.frames(35000, 1)
	f.check()
}

// A packet of a forwarded frame that arrives after later frames were left out takes its place in the
// output, and a left-out packet that arrives late changes nothing.
func TestTemporalLatePacket(t *testing.T) {
	f := newTemporalFeed(t)
	f.frames(4, 1) // frames 0-3
	// Frame 4 (TL0) packet 1 is late; frame 5 (TL2) is left out; frame 6 (TL1) is forwarded.
	base := f.seq
	f.packet(4, 0, base, 1)
	f.packet(5, 0, base+2, 1)
	f.packet(5, 1, base+3, 1)
	f.packet(6, 0, base+4, 1)
	f.packet(6, 1, base+5, 1)
	if !f.packet(4, 1, base+1, 1) {
		t.Fatal("the late packet of a forwarded frame was dropped")
	}
	if f.packet(5, 0, base+2, 1) {
		t.Fatal("a left-out packet offered again went out")
	}
	late := f.sent[len(f.sent)-1]
	if late.out != f.sent[len(f.sent)-4].out+1 {
		t.Fatalf("late packet got output %d, want the place after %d", late.out, f.sent[len(f.sent)-4].out)
	}
	// In output order the stream is gapless again.
	sent := f.sent
	sent[len(sent)-3], sent[len(sent)-2], sent[len(sent)-1] = sent[len(sent)-1], sent[len(sent)-3], sent[len(sent)-2]
	f.frame, f.seq = 7, base+6
	f.frames(1, 1)
	f.check()
}

// A slot whose target is every layer forwards every frame and never changes its offsets.
func TestTemporalAllLayers(t *testing.T) {
	f := newTemporalFeed(t)
	f.frames(40, maxTemporal)
	if n := f.tids(0); n != [3]int{10, 10, 20} || f.p.offsets != nil {
		t.Fatalf("frames per layer %v, offsets log %v", n, f.p.offsets != nil)
	}
	f.check()
}
