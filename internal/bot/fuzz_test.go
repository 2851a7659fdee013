package bot

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzParseVP8: any payload parses or is refused without a panic, and a
// frame size is only read from a key frame's first packet.
func FuzzParseVP8(f *testing.F) {
	f.Add([]byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00})
	f.Add([]byte{0x90, 0x80, 0x12, 0x01})
	f.Add([]byte{0x10})
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, ok := parseVP8(&rtp.Packet{Payload: payload})
		if ok && v.height > 0 && !(v.key && v.start) {
			t.Fatalf("a frame size from a packet that starts no key frame: %+v", v)
		}
	})
}

// FuzzFrameAssembler: packets in any order, with any flags, never panic,
// never finish a frame twice, and the assembler holds a bounded number.
func FuzzFrameAssembler(f *testing.F) {
	f.Add([]byte{0, 7, 1, 2, 2, 0, 3, 3})
	f.Add([]byte{0, 5, 255, 4, 1, 6, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		a := newFrameAssembler()
		now := time.Unix(1000, 0)
		ext := uint64(1 << 20)
		finished := 0
		for i := 0; i+1 < len(ops); i += 2 {
			ext = uint64(int64(ext) + int64(int8(ops[i])))
			flags := ops[i+1]
			p := vp8Packet{ts: uint32(ext / 3), start: flags&1 != 0, marker: flags&2 != 0, key: flags&5 == 5, padding: flags&8 != 0}
			now = now.Add(time.Duration(flags>>4) * 30 * time.Millisecond)
			for _, ev := range a.push(ext, p, now) {
				if ev.complete == (ev.dropped > 0) {
					t.Fatalf("event %+v", ev)
				}
				finished++
			}
			if len(a.pkts) > maxBuffered+1 {
				t.Fatalf("%d packets held", len(a.pkts))
			}
		}
		if finished > len(ops) {
			t.Fatalf("%d frames from %d packets", finished, len(ops)/2)
		}
	})
}
