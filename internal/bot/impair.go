package bot

import (
	"encoding/binary"
	"strings"

	"github.com/pion/interceptor"
)

// dropper is the interceptor factory behind Options.dropReceived and
// dropReceivedAudio: it drops received packets before Pion's NACK generator and RTX handling see
// them, as a lossy link would, so that tests can watch the bot's frames,
// repairs and keyframe requests under loss. It must be the first
// interceptor of the chain (the closest to the network).
type dropper struct {
	drop      func(rtx bool, seq uint16) bool // video; nil keeps every packet
	dropAudio func(seq uint16) bool           // audio; nil keeps every packet
}

func (d dropper) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &dropStream{d: d}, nil
}

type dropStream struct {
	interceptor.NoOp
	d dropper
}

func (d *dropStream) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	mime := strings.ToLower(info.MimeType)
	var drop func(seq uint16) bool
	switch {
	case strings.HasPrefix(mime, "video/") && d.d.drop != nil:
		rtx := mime == "video/rtx"
		drop = func(seq uint16) bool { return d.d.drop(rtx, seq) }
	case strings.HasPrefix(mime, "audio/") && d.d.dropAudio != nil:
		drop = d.d.dropAudio
	default:
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(b, a)
			if err != nil || n < 4 || !drop(binary.BigEndian.Uint16(b[2:4])) {
				return n, attr, err
			}
		}
	})
}
