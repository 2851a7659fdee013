package bridge

import (
	"testing"
)

func TestParseVP8(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
		want vp8Desc
	}{
		{"minimal key frame", []byte{0x10, 0x00}, true, vp8Desc{start: true, keyframe: true}},
		{"delta frame", []byte{0x10, 0x01}, true, vp8Desc{start: true}},
		{"continuation", []byte{0x00, 0x00}, true, vp8Desc{}},
		{"15-bit pic + tl0 + tid", []byte{0x90, 0xe0, 0x81, 0x02, 9, 0x40, 0x00}, true,
			vp8Desc{start: true, keyframe: true, picOff: 2, picLen: 2, picID: 0x102, tl0Off: 4, tl0: 9, hasTID: true, tid: 1}},
		{"tid 2 with sync, keyidx", []byte{0x80, 0x30, 0xbf, 0x00}, true, vp8Desc{hasTID: true, tid: 2, sync: true}},
		{"keyidx without tid", []byte{0x80, 0x10, 0xff, 0x00}, true, vp8Desc{}},
		{"7-bit pic", []byte{0x90, 0x80, 0x05, 0x01}, true, vp8Desc{start: true, picOff: 2, picLen: 1, picID: 5}},
		{"empty", nil, false, vp8Desc{}},
		{"X without ext byte", []byte{0x80}, false, vp8Desc{}},
		{"15-bit pic cut", []byte{0x80, 0x80, 0x81}, false, vp8Desc{}},
		{"tl0 cut", []byte{0x80, 0x40}, false, vp8Desc{}},
		{"tid cut", []byte{0x80, 0x20}, false, vp8Desc{}},
		{"start without payload header", []byte{0x90, 0x80, 0x05}, false, vp8Desc{}},
		// A key frame's header: frame tag (3 bytes), start code, width and height (14 bits each, under
		// a 2-bit scale that the height read ignores).
		{"key frame 1280x720", []byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0xc2}, true,
			vp8Desc{start: true, keyframe: true, height: 720}},
		{"key frame header cut", []byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0}, true,
			vp8Desc{start: true, keyframe: true}},
		{"key frame without start code", []byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2b, 0x00, 0x05, 0xd0, 0x02}, true,
			vp8Desc{start: true, keyframe: true}},
		{"delta frame with start code bytes", []byte{0x10, 0x01, 0, 0, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}, true,
			vp8Desc{start: true}},
	} {
		got, ok := parseVP8(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestWritePicID(t *testing.T) {
	p := []byte{0x90, 0x80, 0x81, 0x02, 0x00}
	d, _ := parseVP8(p)
	writePicID(p, &d, 0x7fff)
	if d2, _ := parseVP8(p); d2.picID != 0x7fff || d2.picLen != 2 {
		t.Fatalf("got %+v", d2)
	}
}

// TestProjectionSwitch: a slot switching from one stream to another continues sequence numbers, moves
// timestamps forward, continues picture IDs and waits for a key frame.
func TestProjectionSwitch(t *testing.T) {
	p := projection{clock: 90000}
	s1, s2 := newInStream(1, nil, 0), newInStream(2, nil, 0)
	d := func(pic uint16) *vp8Desc {
		return &vp8Desc{picOff: 2, picLen: 2, picID: pic, tl0Off: 4, tl0: uint8(pic)}
	}
	now := int64(1e9)
	out, ok, _ := p.project(s1, 100, 1000, d(7), true, now)
	if !ok || out.seq != 100 || out.ts != 1000 || out.pic != 7 {
		t.Fatalf("first packet %+v %v", out, ok)
	}
	out, ok, _ = p.project(s1, 101, 4000, d(8), false, now+33e6)
	if !ok || out.seq != 101 || out.pic != 8 {
		t.Fatalf("second packet %+v", out)
	}
	if _, ok, need := p.project(s2, 5000, 777, d(300), false, now+66e6); ok || !need {
		t.Fatal("delta frame of a new stream accepted")
	}
	out, ok, _ = p.project(s2, 5001, 800, d(301), true, now+100e6)
	if !ok || out.seq != 102 || out.pic != 9 || out.tl0 != 9 || int32(out.ts-4000) < 5000 {
		t.Fatalf("switch packet %+v", out)
	}
	if _, ok, _ := p.project(s2, 5000, 777, d(300), false, now+110e6); ok {
		t.Fatal("packet from before the switch accepted")
	}
	if _, ok, _ := p.project(s1, 102, 7000, d(9), false, now+120e6); ok {
		t.Fatal("delta frame of the old stream accepted")
	}
	// Sequence numbers keep flowing across 16-bit wrap-around for 70,000 packets.
	for i := range 70000 {
		seq := uint16(5002 + i)
		if _, ok, _ := p.project(s2, seq, 800+uint32(i)*3000, d(uint16(302+i)), false, now); !ok {
			t.Fatalf("packet %d dropped", i)
		}
	}
	last := 5002 + 69999
	if re, ok := p.mapOld(s2, uint16(last), 0, nil); !ok || re.seq != p.lastSeq {
		t.Fatalf("retransmission mapping %+v %v", re, ok)
	}
}

func FuzzParseVP8(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x81, 0x02, 9, 0x40, 0x00})
	f.Add([]byte{0x80, 0x80, 0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := parseVP8(b)
		if !ok {
			return
		}
		if d.picLen > 0 {
			cp := append([]byte(nil), b...)
			writePicID(cp, &d, 0x1234)
		}
		if d.tl0Off >= len(b) && d.tl0Off != 0 {
			t.Fatal("tl0 offset outside payload")
		}
	})
}

func FuzzParseRTPLayout(f *testing.F) {
	f.Add(append(rtpHeader(0x80, 100, 1, 1), 1, 2, 3))
	f.Add(append(rtpHeader(0xa0, 100, 1, 1), 1, 2, 0))
	f.Add(append(rtpHeader(0x90, 100, 1, 1), 0xbe, 0xde, 0xff, 0xff))
	f.Add(rtpHeader(0x8f, 100, 1, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := parseRTPLayout(b, true)
		if ok && (l.hdrLen < 12 || l.hdrLen > l.end || l.end > len(b)) {
			t.Fatalf("layout %+v for %d bytes", l, len(b))
		}
	})
}

// TestKeyframeHeightFromEncoder: the height read from a key frame made by a real encoder (the 320×180
// fixture, libvpx through ffmpeg) is the frame's height.
func TestKeyframeHeightFromEncoder(t *testing.T) {
	f := mustFixtures(t)
	for _, k := range f.keyframes {
		d, ok := parseVP8(append([]byte{0x10}, f.video[k]...)) // S=1, PID=0: a frame's first packet
		if !ok || !d.keyframe || d.height != 180 {
			t.Fatalf("key frame %d: %+v ok=%v, want a key frame 180 high", k, d, ok)
		}
	}
}
