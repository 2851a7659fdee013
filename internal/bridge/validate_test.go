package bridge

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mut := range map[string]func(*Config){
		"empty id":       func(c *Config) { c.ID = "" },
		"slash in id":    func(c *Config) { c.ID = "a/b" },
		"bad media addr": func(c *Config) { c.MediaAddr = "10000" },
		"bad public ip":  func(c *Config) { c.PublicIP = "example.com" },
		"no video slots": func(c *Config) { c.VideoSlots = 0 },
		"cache not pow2": func(c *Config) { c.PacketCacheSize = 500 },
		"zero inactive":  func(c *Config) { c.InactiveAfter = 0 },
		"zero rtx rate":  func(c *Config) { c.RetransmitRate = 0 },
	} {
		c := Default()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestRemoteCandidatePolicy: threats §5.1 item 14.
func TestRemoteCandidatePolicy(t *testing.T) {
	b, err := New(Default(), nil, nil)
	must(t, err)
	ok := Candidate{Foundation: "1", Component: 1, Protocol: "udp", Priority: 1, IP: "192.0.2.7", Port: 5000, Type: "host"}
	if _, err := b.toICECandidate(ok); err != nil {
		t.Fatalf("good candidate refused: %v", err)
	}
	for _, tc := range []func(c *Candidate){
		func(c *Candidate) { c.IP = "127.0.0.1" },
		func(c *Candidate) { c.IP = "::1" },
		func(c *Candidate) { c.IP = "169.254.169.254" },
		func(c *Candidate) { c.IP = "fe80::1" },
		func(c *Candidate) { c.IP = "224.0.0.1" },
		func(c *Candidate) { c.IP = "0.0.0.0" },
		func(c *Candidate) { c.IP = "255.255.255.255" },
		func(c *Candidate) { c.IP = "::ffff:127.0.0.1" },
		func(c *Candidate) { c.IP = "abcd-1234.local" },
		func(c *Candidate) { c.IP = "meet.example.com" },
		func(c *Candidate) { c.Protocol = "tcp" },
		func(c *Candidate) { c.Component = 2 },
		func(c *Candidate) { c.Port = 0 },
		func(c *Candidate) { c.Type = "bogus" },
		func(c *Candidate) { c.Foundation = "1 2 udp" },
		func(c *Candidate) { c.Type, c.RelAddr, c.RelPort = "srflx", "x\r\ny", 1 },
	} {
		c := ok
		tc(&c)
		if _, err := b.toICECandidate(c); err == nil {
			t.Errorf("candidate %+v accepted", c)
		}
	}
}

// TestAnswerValidation: threats §5.1 items 14-17 at the API.
func TestAnswerValidation(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	alloc, err := tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: "e1"})
	must(t, err)
	if _, err := tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: "e1"}); !errors.Is(err, ErrEndpointExists) {
		t.Errorf("duplicate endpoint: %v", err)
	}
	if _, err := tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room/../x", EndpointID: "e2"}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("bad conference id: %v", err)
	}
	if alloc.DTLS.Setup != "actpass" || alloc.DTLS.Hash != "sha-256" || len(alloc.ICE.Candidates) == 0 ||
		len(alloc.VideoSlots) != 2 || alloc.VideoSlots[0].RTX == 0 || len(alloc.Feedback) != 2 {
		t.Fatalf("allocation %+v", alloc)
	}
	fp := strings.Repeat("AB:", 31) + "AB"
	good := func() Answer {
		return Answer{ConferenceID: "room", EndpointID: "e1",
			ICE:     ICE{Ufrag: "abcd", Pwd: strings.Repeat("p", 22)},
			DTLS:    DTLS{Hash: "sha-256", Fingerprint: fp, Setup: "active"},
			Sources: []Source{{Kind: KindVideo, SSRC: 1, Name: "e1-v0"}, {Kind: KindVideo, SSRC: 2}}}
	}
	many := make([]Source, 21)
	for i := range many {
		many[i] = Source{Kind: KindAudio, SSRC: uint32(i + 1)}
	}
	for name, tc := range map[string]struct {
		mut  func(a *Answer)
		want error
	}{
		"short ufrag":      {func(a *Answer) { a.ICE.Ufrag = "abc" }, ErrBadICECredentials},
		"pwd with space":   {func(a *Answer) { a.ICE.Pwd = strings.Repeat("p ", 11) }, ErrBadICECredentials},
		"no fingerprint":   {func(a *Answer) { a.DTLS.Fingerprint = "" }, ErrBadFingerprint},
		"sha-1":            {func(a *Answer) { a.DTLS.Hash = "sha-1"; a.DTLS.Fingerprint = strings.Repeat("AB:", 19) + "AB" }, ErrBadFingerprint},
		"unknown hash":     {func(a *Answer) { a.DTLS.Hash = "md5" }, ErrBadFingerprint},
		"fingerprint crlf": {func(a *Answer) { a.DTLS.Fingerprint = fp + "\r\na=x" }, ErrBadFingerprint},
		"setup actpass":    {func(a *Answer) { a.DTLS.Setup = "actpass" }, ErrBadSetup},
		"setup passive":    {func(a *Answer) { a.DTLS.Setup = "passive" }, ErrBadSetup},
		"21 sources":       {func(a *Answer) { a.Sources = many }, ErrBadSources},
		"repeated ssrc":    {func(a *Answer) { a.Sources[1].SSRC = 1 }, ErrBadSources},
		"zero ssrc":        {func(a *Answer) { a.Sources[1].SSRC = 0 }, ErrBadSources},
		"bad kind":         {func(a *Answer) { a.Sources[0].Kind = "data" }, ErrBadSources},
		"name injection":   {func(a *Answer) { a.Sources[0].Name = "x\r\na=ssrc:1" }, ErrBadSources},
		"FID unknown ssrc": {func(a *Answer) { a.Groups = []Group{{GroupFID, []uint32{1, 99}}} }, ErrBadSources},
		"FID of three":     {func(a *Answer) { a.Groups = []Group{{GroupFID, []uint32{1, 2, 1}}} }, ErrBadSources},
		"SIM of four":      {func(a *Answer) { a.Groups = []Group{{GroupSIM, []uint32{1, 2, 1, 2}}} }, ErrBadSources},
		"too many cands": {func(a *Answer) {
			a.ICE.Candidates = make([]Candidate, tb.cfg.MaxCandidates+1)
		}, ErrBadICECredentials},
	} {
		a := good()
		tc.mut(&a)
		if err := tb.SetAnswer(a); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}

	// Another endpoint's SSRC is refused.
	_, err = tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: "e2"})
	must(t, err)
	a := good()
	a.Groups = []Group{{GroupFID, []uint32{1, 2}}}
	must(t, tb.SetAnswer(a))
	if err := tb.SetAnswer(a); !errors.Is(err, ErrAnswerAlreadySet) {
		t.Errorf("second answer: %v", err)
	}
	b := good()
	b.EndpointID = "e2"
	if err := tb.SetAnswer(b); !errors.Is(err, ErrBadSources) {
		t.Errorf("foreign ssrc: %v", err)
	}
	if err := tb.UpdateSources(SourcesUpdate{ConferenceID: "room", EndpointID: "e2", Sources: b.Sources}); !errors.Is(err, ErrBadSources) {
		t.Errorf("foreign ssrc update: %v", err)
	}
	must(t, tb.Expire(ExpireRequest{ConferenceID: "room", EndpointID: "e1"}))
	must(t, tb.Expire(ExpireRequest{ConferenceID: "room", EndpointID: "e2"}))
	if err := tb.Expire(ExpireRequest{ConferenceID: "room", EndpointID: "e2"}); !errors.Is(err, ErrConferenceNotFound) {
		t.Errorf("expire after the last endpoint left: %v", err)
	}
}

func TestSimulcastSources(t *testing.T) {
	b, err := New(Default(), nil, nil)
	must(t, err)
	c := newConference(b, "c")
	srcs, err := c.validateSources("ep", []Source{
		{Kind: KindVideo, SSRC: 11, Name: "ep-v0"}, {Kind: KindVideo, SSRC: 12, Name: "ep-v0"}, {Kind: KindVideo, SSRC: 13, Name: "ep-v0"},
		{Kind: KindVideo, SSRC: 21, Name: "ep-v0"}, {Kind: KindVideo, SSRC: 22, Name: "ep-v0"}, {Kind: KindVideo, SSRC: 23, Name: "ep-v0"},
		{Kind: KindAudio, SSRC: 31, Name: "ep-a0"},
	}, []Group{{GroupSIM, []uint32{11, 12, 13}}, {GroupFID, []uint32{11, 21}}, {GroupFID, []uint32{12, 22}}, {GroupFID, []uint32{13, 23}}})
	must(t, err)
	if len(srcs) != 2 || len(srcs[0].layers) != 3 || len(srcs[0].rtx) != 3 || srcs[0].layers[2].ssrc != 13 || srcs[1].kind != KindAudio {
		t.Fatalf("sources %v", srcs)
	}
}
