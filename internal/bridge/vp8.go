package bridge

// VP8 payload descriptor (RFC 7741 §4.2), the part the bridge reads to find keyframes and rewrites so that a
// slot's picture IDs and TL0PICIDX stay continuous across switches:
//
//	 0 1 2 3 4 5 6 7
//	|X|R|N|S|R| PID |   required
//	|I|L|T|K| RSV   |   X: extension bits
//	|M| PictureID   |   I: 7 or 15 bits (M=1)
//	|   PictureID   |
//	|   TL0PICIDX   |   L
//	|TID|Y| KEYIDX  |   T or K
//
// The first payload byte after the descriptor, in the first packet of a partition 0 (S=1, PID=0), is the
// VP8 payload header whose low bit P is 0 for a key frame (RFC 7741 §4.3). A key frame's header goes on
// with the start code 9d 01 2a and two little-endian 16-bit fields, width and height, each a 14-bit size
// under a 2-bit scale (RFC 6386 §9.1); the bridge reads the height to know each simulcast layer's size.

// vp8Desc holds what parseVP8 found; offsets are into the RTP payload.
type vp8Desc struct {
	start    bool // S=1 and PID=0: first packet of a frame
	keyframe bool // start and the payload header says key frame
	picOff   int  // offset of the picture ID, 0 if absent
	picLen   int  // 1 (7-bit) or 2 (15-bit)
	picID    uint16
	tl0Off   int // offset of TL0PICIDX, 0 if absent
	tl0      uint8
	hasTID   bool   // T: the frame's temporal layer is known
	tid      uint8  // temporal layer id (TID), when hasTID
	sync     bool   // Y: a layer sync frame (it depends only on TL0 frames)
	height   uint16 // frame height from a key frame's header, 0 when not known
}

// parseVP8 parses the descriptor at the start of payload. It reports false for a payload too short for
// the descriptor it announces; such packets are dropped.
func parseVP8(payload []byte) (vp8Desc, bool) {
	var d vp8Desc
	if len(payload) < 1 {
		return d, false
	}
	b0 := payload[0]
	i := 1
	if b0&0x80 != 0 { // X
		if len(payload) < 2 {
			return d, false
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(payload) < i+1 {
				return d, false
			}
			d.picOff = i
			if payload[i]&0x80 != 0 {
				if len(payload) < i+2 {
					return d, false
				}
				d.picLen = 2
				d.picID = uint16(payload[i]&0x7f)<<8 | uint16(payload[i+1])
				i += 2
			} else {
				d.picLen = 1
				d.picID = uint16(payload[i])
				i++
			}
		}
		if x&0x40 != 0 { // L
			if len(payload) < i+1 {
				return d, false
			}
			d.tl0Off = i
			d.tl0 = payload[i]
			i++
		}
		if x&0x30 != 0 { // T or K
			if len(payload) < i+1 {
				return d, false
			}
			if x&0x20 != 0 { // T
				d.hasTID, d.tid, d.sync = true, payload[i]>>6, payload[i]&0x20 != 0
			}
			i++
		}
	}
	d.start = b0&0x10 != 0 && b0&0x07 == 0
	if d.start {
		if len(payload) < i+1 {
			return d, false
		}
		d.keyframe = payload[i]&0x01 == 0
		if h := payload[i:]; d.keyframe && len(h) >= 10 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a {
			d.height = uint16(h[8]) | uint16(h[9]&0x3f)<<8
		}
	}
	return d, true
}

// picMask returns the modulus mask of a picture ID of the given length.
func picMask(picLen int) uint16 {
	if picLen == 2 {
		return 0x7fff
	}
	return 0x7f
}

// writePicID stores id into the descriptor at d.picOff, keeping the original length.
func writePicID(payload []byte, d *vp8Desc, id uint16) {
	if d.picLen == 2 {
		payload[d.picOff] = 0x80 | byte(id>>8)&0x7f
		payload[d.picOff+1] = byte(id)
		return
	}
	payload[d.picOff] = byte(id) & 0x7f
}
