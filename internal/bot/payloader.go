package bot

import "github.com/pion/rtp"

// vp8Payloader packetizes the camera's VP8 frames with the payload
// descriptor a browser's encoder writes for temporal layers (RFC 7741
// §4.2): a 15-bit picture ID, TL0PICIDX, and the temporal layer id with
// its layer sync bit, as libwebrtc sends L1T3. The camera calls next
// before each frame with what internal/testmedia says of it; Pion's
// packetizer then calls Payload for that frame, on the same goroutine
// (TrackLocalStaticSample.WriteSample).
type vp8Payloader struct {
	picID uint16 // of the frame being packetized
	tl0   uint8  // TL0PICIDX: counts TL0 frames
	tid   uint8
	sync  bool
	begun bool // a frame was packetized: picID and tl0 advance at next
}

// vp8DescriptorSize is the descriptor's size: the required byte, the
// extension byte, two of picture ID, TL0PICIDX, and TID/Y/KEYIDX.
const vp8DescriptorSize = 6

// next readies the payloader for a frame of temporal layer tid.
func (p *vp8Payloader) next(tid uint8, sync bool) {
	if p.begun {
		p.picID = (p.picID + 1) & 0x7fff
	}
	if tid == 0 && p.begun {
		p.tl0++
	}
	p.begun, p.tid, p.sync = true, tid, sync
}

// Payload splits one frame into packets of at most mtu bytes.
func (p *vp8Payloader) Payload(mtu uint16, frame []byte) [][]byte {
	room := int(mtu) - vp8DescriptorSize
	if room <= 0 || len(frame) == 0 {
		return nil
	}
	var out [][]byte
	for off := 0; off < len(frame); off += room {
		chunk := frame[off:min(off+room, len(frame))]
		pkt := make([]byte, vp8DescriptorSize+len(chunk))
		pkt[0] = 0x80 // X
		if off == 0 {
			pkt[0] |= 0x10 // S, partition 0
		}
		pkt[1] = 0x80 | 0x40 | 0x20 // I, L, T
		pkt[2] = 0x80 | byte(p.picID>>8)
		pkt[3] = byte(p.picID)
		pkt[4] = p.tl0
		pkt[5] = p.tid << 6
		if p.sync {
			pkt[5] |= 0x20
		}
		copy(pkt[vp8DescriptorSize:], chunk)
		out = append(out, pkt)
	}
	return out
}

var _ rtp.Payloader = (*vp8Payloader)(nil)
