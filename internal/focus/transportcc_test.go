package focus

import (
	"testing"

	"github.com/parley-im/parley/internal/xmpp/jingle"
)

// The bridge numbers its packets toward a participant only when the answer accepted both the
// extension and transport-cc feedback, under the id the answer gives.
func TestTransportCCExt(t *testing.T) {
	ext := []jingle.HdrExt{{ID: 3, URI: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"}, {ID: 7, URI: uriTransportCC}}
	fb := []jingle.RTCPFB{{Type: "nack"}, {Type: "transport-cc"}}
	cases := []struct {
		name string
		d    jingle.Description
		want int
	}{
		{"both, feedback per payload type", jingle.Description{HdrExts: ext, PayloadTypes: []jingle.PayloadType{{Name: "VP8", RTCPFB: fb}}}, 7},
		{"both, feedback for every payload type", jingle.Description{HdrExts: ext, RTCPFB: fb}, 7},
		{"extension without feedback", jingle.Description{HdrExts: ext, PayloadTypes: []jingle.PayloadType{{Name: "VP8", RTCPFB: fb[:1]}}}, 0},
		{"feedback without extension", jingle.Description{HdrExts: ext[:1], RTCPFB: fb}, 0},
		{"two-byte-header id", jingle.Description{HdrExts: []jingle.HdrExt{{ID: 15, URI: uriTransportCC}}, RTCPFB: fb}, 0},
	}
	for _, c := range cases {
		if got := transportCCExt(&c.d); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
