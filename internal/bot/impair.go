package bot

import (
	"encoding/binary"
	"strings"

	"github.com/pion/interceptor"
)

// dropper is the interceptor factory behind Options.dropReceived: it drops
// received video packets before Pion's NACK generator and RTX handling see
// them, as a lossy link would, so that tests can watch the bot's frames,
// repairs and keyframe requests under loss. It must be the first
// interceptor of the chain (the closest to the network).
type dropper struct {
	drop func(rtx bool, seq uint16) bool
}

func (d dropper) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &dropStream{drop: d.drop}, nil
}

type dropStream struct {
	interceptor.NoOp
	drop func(rtx bool, seq uint16) bool
}

func (d *dropStream) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	mime := strings.ToLower(info.MimeType)
	if !strings.HasPrefix(mime, "video/") {
		return r
	}
	rtx := mime == "video/rtx"
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(b, a)
			if err != nil || n < 4 || !d.drop(rtx, binary.BigEndian.Uint16(b[2:4])) {
				return n, attr, err
			}
		}
	})
}
