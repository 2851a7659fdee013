package bridge

import (
	"fmt"
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

// The allocator sees an encoding with temporal layers as one layer per temporal layer within the
// receiver's frame rate, at 7.5, 15 and 30 fps with the rates up to each; a target names the
// encoding and the temporal layer the slot then forwards.
func TestTemporalLayersAllocated(t *testing.T) {
	now := int64(10e9)
	src := &source{name: "a-v0", owner: &Endpoint{id: "a"}, kind: KindVideo}
	for i := range 3 {
		s := newInStream(uint32(i+1), src, i)
		s.seen.Store(now)
		s.height.Store(int32(180 << i))
		s.rate.bps.Store(int64(100_000 << i))
		if i < 2 { // the top encoding sends no temporal layers
			s.layered.Store(true)
			for tid, bps := range []int64{40_000, 20_000, 40_000} {
				s.tidRate[tid].bps.Store(bps << i)
			}
		}
		src.layers = append(src.layers, s)
	}
	sl := &slot{kind: KindVideo, src: src, maxHeight: -1, maxLayer: noLayerCap}
	sl.setTemporal(maxTemporal, maxTemporal)
	ba := &bwAlloc{heights: map[string]int{}}
	ba.collect([]*slot{sl}, now)
	type layer struct {
		enc, tid int
		fps      float64
		bps      int64
	}
	var got []layer
	for _, l := range ba.sources[0].Layers {
		got = append(got, layer{l.Encoding, l.Temporal, l.FPS, l.Bps})
	}
	want := []layer{{0, 0, 7.5, 40_000}, {0, 1, 15, 60_000}, {0, 2, 30, 100_000},
		{1, 0, 7.5, 80_000}, {1, 1, 15, 120_000}, {1, 2, 30, 200_000}, {2, 2, 30, 400_000}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("layers\n got %v\nwant %v", got, want)
	}
	// A receiver asking for at most 15 fps: the 30 fps layers are not offered.
	sl.setTemporal(temporalFor(15), maxTemporal)
	ba.collect([]*slot{sl}, now)
	if n := len(ba.sources[0].Layers); n != 5 {
		t.Fatalf("%d layers at 15 fps, want 5 (two of each layered encoding, the top one)", n)
	}
	// The target 360p at 15 fps: encoding 1, temporal layer 1, within the frame rate's TL1.
	layers := ba.sources[0].Layers
	if sl.applyTarget(layers, 3) || sl.maxLayer != 1 || sl.maxTemporal != 1 {
		t.Fatalf("target 360p/15: maxLayer %d, temporal %d", sl.maxLayer, sl.maxTemporal)
	}
	sl.setTemporal(temporalFor(-1), sl.allocTemporal) // the frame rate limit lifted: bandwidth still says TL1
	if !sl.applyTarget(layers, 2) || sl.maxLayer != 1 || sl.maxTemporal != 0 {
		t.Fatalf("target 360p/7.5: maxLayer %d, temporal %d", sl.maxLayer, sl.maxTemporal)
	}
	if !sl.applyTarget(layers, -1) || sl.maxLayer != -1 {
		t.Fatalf("suspended: maxLayer %d", sl.maxLayer)
	}
}
