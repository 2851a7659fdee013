package focus

import (
	"slices"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/xmpp/jingle"
)

// offer builds the session-initiate for one participant (jitsi-dialect.md
// §5.2 and §11): audio (Opus), video (VP8 with RTX), one BUNDLEd ICE-UDP
// transport to the bridge with its fingerprint and bridge-channel URL, and
// as the bridge's sources only its two feedback sources (jvb-a0, jvb-v0,
// msid mixedmslabel), as Jicofo offers a client with SSRC rewriting
// (§5.5). The fixed slots the bridge rewrites other senders onto are not
// signalled: the client learns each slot's SSRC, and whose media it
// carries, from the bridge channel's VideoSourcesMap and AudioSourcesMap
// (§6.2) and adds it to its remote description then. Listing the slots
// here too makes lib-jitsi-meet add them twice (Chromium: "Duplicate
// a=msid lines detected").
//
// Only VP8 and Opus are offered: the bridge switches simulcast layers and
// rewrites picture ids for VP8 only, and forwards every packet with the
// sender's payload type, so everyone must agree on one codec per kind.
//
// channelBase is where the endpoint's bridge serves its channel
// (wss://HOST:PORT), "" for the focus's own front (cfg.PublicURL).
func offer(cfg Config, a *bridge.Allocation, channelBase, sid, initiator string, features map[string]bool) *jingle.Jingle {
	j := &jingle.Jingle{Action: "session-initiate", SID: sid, Initiator: initiator}
	tr := func() *jingle.Transport {
		t := &jingle.Transport{Ufrag: a.ICE.Ufrag, Pwd: a.ICE.Pwd, RTCPMux: true}
		t.Fingerprints = []jingle.Fingerprint{{Hash: a.DTLS.Hash, Setup: a.DTLS.Setup, Value: a.DTLS.Fingerprint}}
		for i, c := range a.ICE.Candidates {
			t.Candidates = append(t.Candidates, jingle.Candidate{
				Component: c.Component, Foundation: c.Foundation, Generation: c.Generation, ID: "c" + itoa(i),
				Priority: c.Priority, Protocol: c.Protocol, Type: c.Type, IP: c.IP, Port: c.Port,
				RelAddr: c.RelAddr, RelPort: c.RelPort,
			})
		}
		if channelBase == "" && cfg.PublicURL != nil {
			channelBase = cfg.PublicURL()
		}
		if channelBase != "" && a.Channel.Path != "" {
			t.WebSockets = []string{a.Channel.URL(channelBase)}
		}
		return t
	}
	tcc := features[featureTCC]
	hdr := func(ids ...int) []jingle.HdrExt {
		uris := map[int]string{
			1:  "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
			3:  "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
			5:  uriTransportCC,
			10: "urn:ietf:params:rtp-hdrext:sdes:mid",
		}
		var out []jingle.HdrExt
		for _, id := range ids {
			if id == 5 && !tcc {
				continue
			}
			out = append(out, jingle.HdrExt{ID: id, URI: uris[id]})
		}
		return out
	}
	fb := func(video bool) []jingle.RTCPFB {
		var out []jingle.RTCPFB
		if video {
			out = append(out, jingle.RTCPFB{Type: "ccm", Subtype: "fir"}, jingle.RTCPFB{Type: "nack"}, jingle.RTCPFB{Type: "nack", Subtype: "pli"})
		}
		if tcc {
			out = append(out, jingle.RTCPFB{Type: "transport-cc"})
		}
		return out
	}

	audio := &jingle.Description{Media: "audio", MaxPtime: 60, RTCPMux: true, ExtmapAllowMixed: true,
		PayloadTypes: []jingle.PayloadType{
			{ID: bridge.PayloadTypeOpus, Name: "opus", ClockRate: 48000, Channels: 2, RTCPFB: fb(false),
				Params: []jingle.Parameter{{Name: "minptime", Value: "10"}, {Name: "useinbandfec", Value: "1"}}},
			{ID: 126, Name: "telephone-event", ClockRate: 8000},
		},
		HdrExts: hdr(1, 5, 10),
	}
	if features[featureRED] {
		// After Opus, so that senders send plain Opus; the bridge adds redundancy per receiver (red.go).
		audio.PayloadTypes = slices.Insert(audio.PayloadTypes, 1, jingle.PayloadType{ID: bridge.PayloadTypeRED, Name: "red",
			ClockRate: 48000, Channels: 2, Params: []jingle.Parameter{{Value: itoa(bridge.PayloadTypeOpus) + "/" + itoa(bridge.PayloadTypeOpus)}}})
	}
	video := &jingle.Description{Media: "video", RTCPMux: true, ExtmapAllowMixed: true,
		PayloadTypes: []jingle.PayloadType{
			{ID: bridge.PayloadTypeVP8, Name: "VP8", ClockRate: 90000, RTCPFB: fb(true)},
		},
		HdrExts: hdr(3, 5, 10),
	}
	if features[featureRTX] || len(features) <= 2 {
		video.PayloadTypes = append(video.PayloadTypes, jingle.PayloadType{ID: bridge.PayloadTypeVP8RTX, Name: "rtx", ClockRate: 90000,
			Params: []jingle.Parameter{{Name: "apt", Value: itoa(bridge.PayloadTypeVP8)}},
			RTCPFB: []jingle.RTCPFB{{Type: "ccm", Subtype: "fir"}, {Type: "nack"}, {Type: "nack", Subtype: "pli"}}})
	}
	for _, s := range a.Feedback {
		d := audio
		if s.Kind == bridge.KindVideo {
			d = video
		}
		d.Sources = append(d.Sources, jingle.Source{SSRC: s.SSRC, Name: s.Name, MSID: s.MSID, Owner: "jvb"})
	}
	// The data content carries the bridge channel over SCTP (port 5000 on
	// the same DTLS connection), which Jitsi's client prefers to the
	// WebSocket named in the transport.
	data := tr()
	data.SCTP = &jingle.SCTPMap{Number: 5000, Protocol: "webrtc-datachannel", Streams: 1024}
	j.Contents = []*jingle.Content{
		{Creator: "initiator", Name: "audio", Senders: "both", Description: audio, Transport: tr()},
		{Creator: "initiator", Name: "video", Senders: "both", Description: video, Transport: tr()},
		{Creator: "initiator", Name: "data", Senders: "both", Description: &jingle.Description{Media: "application"}, Transport: data},
	}
	j.Groups = []jingle.Group{{Semantics: "BUNDLE", Contents: []string{"audio", "video", "data"}}}
	j.BridgeSession = &jingle.BridgeSession{ID: a.ConferenceID}
	return j
}
