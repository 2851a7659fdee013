package focus

import (
	"testing"

	"github.com/parley-im/parley/internal/bridge"
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

// RED is offered after Opus, and only to a participant that announces http://jitsi.org/opus-red, with
// the fmtp value naming Opus as its primary and redundant encoding.
func TestREDOffered(t *testing.T) {
	a := &bridge.Allocation{DTLS: bridge.DTLS{Hash: "sha-256", Fingerprint: "AB", Setup: "actpass"}}
	audioPTs := func(features map[string]bool) []jingle.PayloadType {
		for _, ct := range offer(Config{}, a, "", "sid", "focus@x/focus", features).Contents {
			if ct.Description != nil && ct.Description.Media == "audio" {
				return ct.Description.PayloadTypes
			}
		}
		return nil
	}
	pts := audioPTs(map[string]bool{featureAudio: true, featureVideo: true, featureRED: true})
	if len(pts) < 2 || pts[0].Name != "opus" || pts[1].Name != "red" || pts[1].ID != bridge.PayloadTypeRED ||
		len(pts[1].Params) != 1 || pts[1].Params[0].Name != "" || pts[1].Params[0].Value != "111/111" {
		t.Fatalf("audio payload types with opus-red: %+v", pts)
	}
	for _, pt := range audioPTs(map[string]bool{featureAudio: true, featureVideo: true}) {
		if pt.Name == "red" {
			t.Fatal("RED offered to a participant that did not announce it")
		}
	}
}
