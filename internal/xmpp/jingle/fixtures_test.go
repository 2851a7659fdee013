package jingle

// The values behind the golden files. Identifiers, addresses and keys are invented; codecs, payload
// types and header-extension IDs are Jicofo's defaults (jitsi-dialect.md §11).

const (
	testFingerprintBridge = "7A:1F:0C:33:9B:5E:21:D4:88:AF:10:6E:C2:47:3B:99:05:DE:71:2A:F0:14:8C:63:B7:5A:E9:02:4D:C8:36:C2"
	testFingerprintClient = "11:AB:5C:90:E2:07:4F:D3:68:1B:A4:C9:3E:72:0D:F5:86:29:BB:40:17:EC:5A:D8:93:6F:02:C1:7E:48:B5:3A"
	uriAudioLevel         = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	uriAbsSendTime        = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
	uriTCC                = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
	uriMid                = "urn:ietf:params:rtp-hdrext:sdes:mid"
	uriDD                 = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"
)

var (
	fbVideo = []RTCPFB{{Type: "ccm", Subtype: "fir"}, {Type: "nack"}, {Type: "nack", Subtype: "pli"}, {Type: "transport-cc"}}
	fbRTX   = []RTCPFB{{Type: "ccm", Subtype: "fir"}, {Type: "nack"}, {Type: "nack", Subtype: "pli"}}
)

func rtx(id, apt uint8, fb []RTCPFB) PayloadType {
	return PayloadType{ID: id, Name: "rtx", ClockRate: 90000, Params: []Parameter{{Name: "apt", Value: itoa(int(apt))}}, RTCPFB: fb}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

func bridgeTransport(data bool) *Transport {
	t := &Transport{
		Ufrag:        "2k9fh1c0",
		Pwd:          "Qw8RtY2uIo4pAs6dFg8hJk0l",
		RTCPMux:      !data,
		Fingerprints: []Fingerprint{{Hash: "sha-256", Setup: "actpass", Value: testFingerprintBridge}},
		Candidates: []Candidate{
			{Component: 1, Foundation: "1", Generation: 0, ID: "c1a2", Network: 0, Priority: 2130706431,
				Protocol: "udp", Type: "host", IP: "10.0.0.5", Port: 10000},
			{Component: 1, Foundation: "2", Generation: 0, ID: "c1a3", Network: 0, Priority: 1694498815,
				Protocol: "udp", Type: "srflx", IP: "203.0.113.10", Port: 10000, RelAddr: "0.0.0.0", RelPort: 9},
		},
		WebSockets: []string{"wss://meet.example.com/colibri-ws/default-id/9d1e77ab/3f2a9c1e?pwd=hT3xk29a"},
	}
	if data {
		t.SCTP = &SCTPMap{Number: 5000, Protocol: "webrtc-datachannel"}
	}
	return t
}

// focusOffer is the focus's session-initiate: Jicofo's codecs (RED enabled), the bridge's transport,
// its feedback sources and two send slots per media type (SSRC rewriting).
func focusOffer() *Jingle {
	audio := &Description{
		Media:    MediaAudio,
		MaxPtime: 60,
		PayloadTypes: []PayloadType{
			{ID: 112, Name: "red", ClockRate: 48000, Channels: 2, Params: []Parameter{{Value: "111/111"}}},
			{ID: 111, Name: "opus", ClockRate: 48000, Channels: 2,
				Params: []Parameter{{Name: "minptime", Value: "10"}, {Name: "useinbandfec", Value: "1"}},
				RTCPFB: []RTCPFB{{Type: "transport-cc"}}},
			{ID: 126, Name: "telephone-event", ClockRate: 8000},
		},
		HdrExts:          []HdrExt{{ID: 1, URI: uriAudioLevel}, {ID: 10, URI: uriMid}, {ID: 5, URI: uriTCC}},
		ExtmapAllowMixed: true,
		RTCPMux:          true,
		Sources: []Source{
			{SSRC: 402871355, Name: "jvb-a0", MSID: "mixedmslabel mixedlabelaudio0", Owner: "jvb"},
			{SSRC: 1000001, Name: "jvb-a1", MSID: "remote-audio-1 remote-audio-1", Owner: "jvb"},
			{SSRC: 1000002, Name: "jvb-a2", MSID: "remote-audio-2 remote-audio-2", Owner: "jvb"},
		},
	}
	video := &Description{
		Media: MediaVideo,
		PayloadTypes: []PayloadType{
			{ID: 41, Name: "AV1", ClockRate: 90000, RTCPFB: fbVideo},
			{ID: 100, Name: "VP8", ClockRate: 90000, RTCPFB: fbVideo},
			{ID: 107, Name: "H264", ClockRate: 90000, Params: []Parameter{
				{Name: "profile-level-id", Value: "42e01f"}, {Name: "level-asymmetry-allowed", Value: "1"},
				{Name: "packetization-mode", Value: "1"}}, RTCPFB: fbVideo},
			{ID: 101, Name: "VP9", ClockRate: 90000, RTCPFB: fbVideo},
			rtx(42, 41, fbRTX), rtx(96, 100, fbRTX), rtx(99, 107, nil), rtx(97, 101, fbRTX),
		},
		HdrExts:          []HdrExt{{ID: 11, URI: uriDD}, {ID: 10, URI: uriMid}, {ID: 3, URI: uriAbsSendTime}, {ID: 5, URI: uriTCC}},
		ExtmapAllowMixed: true,
		RTCPMux:          true,
		Sources: []Source{
			{SSRC: 1732950121, Name: "jvb-v0", MSID: "mixedmslabel mixedlabelvideo0", Owner: "jvb"},
			{SSRC: 2000001, Name: "jvb-v1", MSID: "remote-video-1 remote-video-1", Owner: "jvb"},
			{SSRC: 2000101, Name: "jvb-v1", MSID: "remote-video-1 remote-video-1", Owner: "jvb"},
			{SSRC: 2000002, Name: "jvb-v2", MSID: "remote-video-2 remote-video-2", Owner: "jvb"},
			{SSRC: 2000102, Name: "jvb-v2", MSID: "remote-video-2 remote-video-2", Owner: "jvb"},
		},
		SSRCGroups: []SSRCGroup{
			{Semantics: SemanticsFID, SSRCs: []uint32{2000001, 2000101}},
			{Semantics: SemanticsFID, SSRCs: []uint32{2000002, 2000102}},
		},
	}
	return &Jingle{
		Action:    ActionSessionInitiate,
		SID:       "8v2kq9d3h0",
		Initiator: "focus@auth.meet.example.com/focus",
		Contents: []*Content{
			{Creator: CreatorInitiator, Name: "audio", Senders: SendersBoth, Description: audio, Transport: bridgeTransport(false)},
			{Creator: CreatorInitiator, Name: "video", Senders: SendersBoth, Description: video, Transport: bridgeTransport(false)},
			{Creator: CreatorInitiator, Name: "data", Senders: SendersBoth, Description: &Description{Media: MediaApplication},
				Transport: bridgeTransport(true)},
		},
		Groups:        []Group{{Semantics: SemanticsBUNDLE, Contents: []string{"audio", "video", "data"}}},
		BridgeSession: &BridgeSession{ID: "3b6c0f2e", Region: "eu-west"},
		StartMuted:    &StartMuted{Audio: true},
	}
}

// focusOfferJSON is the offer to a client advertising json-encoded-sources: feedback sources only,
// in a json-message (jitsi-dialect.md §5.2 example).
func focusOfferJSON() *Jingle {
	j := focusOffer()
	j.SID = "9w3lr0e4i1"
	for _, c := range j.Contents[:2] {
		c.Description.Sources = c.Description.Sources[:1]
		c.Description.SSRCGroups = nil
	}
	j.StartMuted = nil
	j.JSONSources = true
	return j
}

func clientTransport(data bool) *Transport {
	t := &Transport{
		Ufrag:        "Zx7qAb",
		Pwd:          "mK1pL9oI8uY7tR6eW5qA4sD3",
		RTCPMux:      !data,
		Fingerprints: []Fingerprint{{Hash: "sha-256", Setup: "active", Value: testFingerprintClient}},
		Candidates: []Candidate{
			{Component: 1, Foundation: "3204971284", Generation: 0, Network: 1, Priority: 2122260223,
				Protocol: "udp", Type: "host", IP: "192.168.1.23", Port: 54321},
		},
	}
	if data {
		t.SCTP = &SCTPMap{Number: 5000, Protocol: "webrtc-datachannel"}
	}
	return t
}

// browserAnswer is a browser's session-accept: Opus and VP8 with RTX, one audio source and a
// simulcast camera (three SIM layers, each with an FID RTX).
func browserAnswer() *Jingle {
	const ep = "3f2a9c1e"
	msidV := ep + "-video-0-1 5c0b7e21-1"
	video := &Description{
		Media: MediaVideo,
		PayloadTypes: []PayloadType{
			{ID: 100, Name: "VP8", ClockRate: 90000, RTCPFB: fbVideo},
			rtx(96, 100, nil),
		},
		HdrExts:          []HdrExt{{ID: 10, URI: uriMid}, {ID: 3, URI: uriAbsSendTime}, {ID: 5, URI: uriTCC}},
		ExtmapAllowMixed: true,
		RTCPMux:          true,
	}
	for _, ssrc := range []uint32{101, 102, 103, 201, 202, 203} {
		video.Sources = append(video.Sources, Source{SSRC: ssrc, Name: ep + "-v0", VideoType: "camera", MSID: msidV})
	}
	video.SSRCGroups = []SSRCGroup{
		{Semantics: SemanticsSIM, SSRCs: []uint32{101, 102, 103}},
		{Semantics: SemanticsFID, SSRCs: []uint32{101, 201}},
		{Semantics: SemanticsFID, SSRCs: []uint32{102, 202}},
		{Semantics: SemanticsFID, SSRCs: []uint32{103, 203}},
	}
	return &Jingle{
		Action:    ActionSessionAccept,
		SID:       "8v2kq9d3h0",
		Initiator: "myroom@conference.meet.example.com/focus",
		Responder: "3f2a9c1e-40b1@meet.example.com/abc",
		Contents: []*Content{
			{Creator: CreatorResponder, Name: "audio", Senders: SendersBoth, Transport: clientTransport(false),
				Description: &Description{
					Media: MediaAudio,
					PayloadTypes: []PayloadType{{ID: 111, Name: "opus", ClockRate: 48000, Channels: 2,
						Params: []Parameter{{Name: "minptime", Value: "10"}, {Name: "useinbandfec", Value: "1"}},
						RTCPFB: []RTCPFB{{Type: "transport-cc"}}}},
					HdrExts:          []HdrExt{{ID: 1, URI: uriAudioLevel}, {ID: 10, URI: uriMid}, {ID: 5, URI: uriTCC}},
					ExtmapAllowMixed: true,
					RTCPMux:          true,
					Sources:          []Source{{SSRC: 3550114920, Name: ep + "-a0", MSID: ep + "-audio-0-1 7d2e11aa-1"}},
				}},
			{Creator: CreatorResponder, Name: "video", Senders: SendersBoth, Description: video, Transport: clientTransport(false)},
			{Creator: CreatorResponder, Name: "data", Senders: SendersBoth, Transport: clientTransport(true)},
		},
		Groups: []Group{{Semantics: SemanticsBUNDLE, Contents: []string{"audio", "video", "data"}}},
	}
}

// screenShareAdd is a participant's source-add for a screen share (second video source, with RTX).
func screenShareAdd() *Jingle {
	const msid = "3f2a9c1e-video-1-1 0e9f4b33-1"
	return &Jingle{
		Action:    ActionSourceAdd,
		SID:       "8v2kq9d3h0",
		Initiator: "myroom@conference.meet.example.com/focus",
		Contents: []*Content{{Creator: CreatorResponder, Name: "video", Description: &Description{
			Media: MediaVideo,
			Sources: []Source{
				{SSRC: 301, Name: "3f2a9c1e-v1", VideoType: "desktop", MSID: msid},
				{SSRC: 401, Name: "3f2a9c1e-v1", VideoType: "desktop", MSID: msid},
			},
			SSRCGroups: []SSRCGroup{{Semantics: SemanticsFID, SSRCs: []uint32{301, 401}}},
		}}},
	}
}

// trickle is a participant's transport-info: candidates trickled on mid "0".
func trickle() *Jingle {
	t := clientTransport(false)
	t.RTCPMux = false
	t.Fingerprints[0].Required = true
	t.Candidates = append(t.Candidates,
		Candidate{Component: 1, Foundation: "842163049", Generation: 0, Network: 1, Priority: 1686052607,
			Protocol: "udp", Type: "srflx", IP: "198.51.100.7", Port: 61002, RelAddr: "192.168.1.23", RelPort: 54321},
		Candidate{Component: 1, Foundation: "4233069003", Generation: 0, Network: 1, Priority: 1518280447,
			Protocol: "tcp", Type: "host", IP: "192.168.1.23", Port: 9, TCPType: "active"},
		Candidate{Component: 1, Foundation: "1020582839", Generation: 0, Network: 1, Priority: 41885439,
			Protocol: "udp", Type: "relay", IP: "203.0.113.99", Port: 3478, RelAddr: "198.51.100.7", RelPort: 61002},
	)
	return &Jingle{
		Action:    ActionTransportInfo,
		SID:       "8v2kq9d3h0",
		Initiator: "myroom@conference.meet.example.com/focus",
		Contents:  []*Content{{Creator: CreatorResponder, Name: "0", Transport: t}},
	}
}

// iceRestart is the focus's transport-info after an in-place ICE restart (§7.3): content audio with
// the bridge's new credentials and ice-generation.
func iceRestart() *Jingle {
	t := bridgeTransport(false)
	t.Ufrag, t.Pwd = "9p0s7c1d", "Lk2Jh3Gf4Ds5Ap6Oi7Uy8Tr"
	t.ICEGeneration = 1
	t.Fingerprints[0].Setup = "passive"
	t.RTCPMux = false
	return &Jingle{
		Action:    ActionTransportInfo,
		SID:       "8v2kq9d3h0",
		Initiator: "focus@auth.meet.example.com/focus",
		Contents:  []*Content{{Creator: CreatorInitiator, Name: "audio", Transport: t}},
	}
}
