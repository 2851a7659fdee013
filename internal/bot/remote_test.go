package bot

import (
	"os"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TestAddRemoteSection: a slot a sources map names becomes one more m-line
// of the focus's (split) offer, sent by the bridge, with its SSRC and RTX
// partner, in the BUNDLE group, the rest unchanged; Pion takes the
// renegotiated offer and answers it with a receiver on the new mid.
func TestAddRemoteSection(t *testing.T) {
	b, err := os.ReadFile("../xmpp/jingle/testdata/session-initiate.sdp")
	if err != nil {
		t.Fatal(err)
	}
	offer := string(b)
	next, mid, err := addRemoteSection(offer, "video", 7000, 7001)
	if err != nil {
		t.Fatal(err)
	}
	var before, after sdp.SessionDescription
	if err := before.UnmarshalString(offer); err != nil {
		t.Fatal(err)
	}
	if err := after.UnmarshalString(next); err != nil {
		t.Fatal(err)
	}
	n := len(before.MediaDescriptions)
	if len(after.MediaDescriptions) != n+1 || mid != "7" {
		t.Fatalf("%d m-lines, mid %q; want %d and 7", len(after.MediaDescriptions), mid, n+1)
	}
	if after.Origin.SessionVersion != before.Origin.SessionVersion+1 {
		t.Errorf("version %d after %d", after.Origin.SessionVersion, before.Origin.SessionVersion)
	}
	if g, _ := after.Attribute("group"); !strings.HasSuffix(g, " 7") {
		t.Errorf("BUNDLE %q lacks the new mid", g)
	}
	m := after.MediaDescriptions[n]
	got := map[string][]string{}
	for _, a := range m.Attributes {
		got[a.Key] = append(got[a.Key], a.Value)
	}
	if m.MediaName.Media != "video" || got["mid"][0] != "7" || got["sendonly"] == nil || got["sendrecv"] != nil ||
		strings.Join(got["ssrc-group"], ",") != "FID 7000 7001" ||
		strings.Join(got["ssrc"], ",") != "7000 cname:jvb,7000 msid:remote-video-7000 remote-video-7000,7001 cname:jvb,7001 msid:remote-video-7000 remote-video-7000" ||
		got["rtpmap"] == nil || got["ice-ufrag"] == nil {
		t.Errorf("added m-line: %v %v", m.MediaName, got)
	}
	if _, _, err := addRemoteSection(offer, "text", 1, 0); err == nil {
		t.Error("an m-line of a kind the offer lacks was added")
	}

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for i, o := range []string{offer, next} {
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o}); err != nil {
			t.Fatalf("offer %d: %v", i, err)
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if err := pc.SetLocalDescription(answer); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	var found bool
	for _, tr := range pc.GetTransceivers() {
		if tr.Mid() == "7" {
			found = tr.Direction() == webrtc.RTPTransceiverDirectionRecvonly
		}
	}
	if !found {
		t.Error("no receive-only transceiver on the new mid")
	}
}
