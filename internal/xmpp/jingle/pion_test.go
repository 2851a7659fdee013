package jingle

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestPionAnswersOffer plays the Go participant: the focus's session-initiate becomes a remote offer
// for a Pion PeerConnection, and Pion's answer becomes a session-accept the focus accepts.
func TestPionAnswersOffer(t *testing.T) {
	el := golden(t, "session-initiate.xml")
	offer, err := parseText(t, el)
	if err != nil {
		t.Fatal(err)
	}
	lim := OfferLimits()
	offerSDP, err := ToSDPString(offer, SDPOptions{Split: true, SessionID: 42, SessionVersion: 2, Limits: &lim})
	if err != nil {
		t.Fatal(err)
	}

	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		t.Fatalf("Pion refuses the offer: %v\n%s", err, offerSDP)
	}
	// One remote track per m-line: the bridge's slots are separate transceivers.
	if n := len(pc.GetTransceivers()); n != 6 {
		t.Fatalf("got %d transceivers, want 6 (3 audio, 3 video m-lines)", n)
	}
	audio, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "bot-audio")
	video, _ := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "bot-video")
	for _, tr := range []webrtc.TrackLocal{audio, video} {
		if _, err := pc.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}

	accept, err := FromSDPString(answer.SDP, SDPOptions{Responder: true, ByKind: true})
	if err != nil {
		t.Fatalf("FromSDP(Pion's answer): %v\n%s", err, answer.SDP)
	}
	accept.SID, accept.Initiator, accept.Responder = offer.SID, "room@conference.example.com/focus", "bot@example.com/r"
	if _, err := Parse(accept.Element(), DefaultLimits()); err != nil {
		t.Fatalf("the focus would refuse the session-accept: %v\n%s", err, accept.Element())
	}
	if got := strings.Join(accept.Bundle(), " "); got != "audio video data" {
		t.Errorf("BUNDLE %q, want audio video data", got)
	}
	for _, kind := range []string{"audio", "video"} {
		c := accept.Content(kind)
		if c == nil || c.Description == nil || len(c.Description.Sources) == 0 {
			t.Fatalf("no %s sources in the session-accept:\n%s", kind, accept.Element())
		}
		if c.Transport == nil || len(c.Transport.Fingerprints) == 0 || c.Transport.Fingerprints[0].Setup != "active" {
			t.Errorf("%s transport lacks an active DTLS fingerprint", kind)
		}
	}
	if d := accept.Content("data"); d == nil || d.Transport == nil || d.Transport.SCTP == nil || d.Transport.SCTP.Number != 5000 {
		t.Errorf("no SCTP data content in the session-accept")
	}
}
