package bot

import (
	"bytes"
	"testing"

	"github.com/pion/rtp/codecs"

	"github.com/parley-im/parley/internal/testmedia"
)

// The descriptor reads back, with Pion's depacketizer, as what the
// camera's frames are: consecutive picture IDs, TL0PICIDX counting TL0
// frames, each frame's temporal layer and sync bit, S on the first packet
// only, and the frame whole.
func TestVP8PayloaderDescriptor(t *testing.T) {
	var p vp8Payloader
	frame := bytes.Repeat([]byte{0xab}, 2500)
	var tl0 uint8
	for i := range 9 {
		tid, sync := testmedia.Temporal(i)
		p.next(tid, sync)
		pkts := p.Payload(1200, frame)
		if len(pkts) != 3 {
			t.Fatalf("frame %d: %d packets, want 3", i, len(pkts))
		}
		if i > 0 && tid == 0 {
			tl0++
		}
		var whole []byte
		for j, pkt := range pkts {
			var d codecs.VP8Packet
			if _, err := d.Unmarshal(pkt); err != nil {
				t.Fatal(err)
			}
			if d.PictureID != uint16(i) || d.TL0PICIDX != tl0 || d.TID != tid || (d.Y == 1) != sync || (d.S == 1) != (j == 0) || d.PID != 0 {
				t.Fatalf("frame %d packet %d: %+v; want picture ID %d, TL0PICIDX %d, TID %d, sync %v", i, j, d, i, tl0, tid, sync)
			}
			whole = append(whole, d.Payload...)
		}
		if !bytes.Equal(whole, frame) {
			t.Fatalf("frame %d does not read back whole", i)
		}
	}
}

// The picture ID wraps at 15 bits.
func TestVP8PayloaderPictureIDWraps(t *testing.T) {
	p := vp8Payloader{picID: 0x7fff, begun: true}
	p.next(2, true)
	var d codecs.VP8Packet
	if _, err := d.Unmarshal(p.Payload(1200, []byte{1, 2, 3})[0]); err != nil || d.PictureID != 0 {
		t.Fatalf("picture ID %d (%v), want 0", d.PictureID, err)
	}
}
