package jingle

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

func addGoldenSeeds(f *testing.F, ext string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"+ext))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkSDPText fails unless s is a sequence of CRLF-terminated lines free of control characters:
// nothing injected through a Jingle attribute may start a line of its own.
func checkSDPText(t *testing.T, s string) {
	t.Helper()
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("SDP does not end in CRLF: %q", s)
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(line) < 2 || line[1] != '=' || !strings.Contains("vostmca", line[:1]) {
			t.Fatalf("unexpected SDP line %q", line)
		}
		for i := 0; i < len(line); i++ {
			if line[i] < 0x20 || line[i] == 0x7f {
				t.Fatalf("control character in SDP line %q", line)
			}
		}
	}
}

// FuzzParseJingle: arbitrary XML never panics Parse; what parses re-encodes to the same value, and
// its SDP has no control characters.
func FuzzParseJingle(f *testing.F) {
	addGoldenSeeds(f, ".xml")
	for _, s := range []string{
		`<jingle xmlns="urn:xmpp:jingle:1" action="source-add" sid="a"><content name="video"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="video"><source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="1" name="x&#xD;&#xA;a=foo"/></description></content></jingle>`,
		`<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="a"><json-message xmlns="http://jitsi.org/jitmeet">{"sources":{"e":[[{"s":1,"n":"e-v0","m":"a b"}],[["f",1,2]],[{"s":3}]]}}</json-message></jingle>`,
		`<iq type="set"><jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="a"><content name="0"><transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="abcd" pwd="abcdefghijklmnopqrstuvwx"><candidate component="1" foundation="1" ip="1.2.3.4&#xA;" port="1" priority="1" protocol="udp" type="host"/></transport></content></jingle></iq>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := stream.DecodeFrame(data, stream.DefaultLimits())
		if err != nil {
			return
		}
		lim := DefaultLimits()
		j, err := Parse(el, lim)
		if err != nil {
			var se *stanza.Error
			if !errors.As(err, &se) || se.Condition != "bad-request" {
				t.Fatalf("Parse error is not bad-request: %v", err)
			}
			return
		}
		back, err := Parse(j.Element(), lim)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", j.Element(), err)
		}
		if !reflect.DeepEqual(back, j) {
			t.Fatalf("re-encoding changed the value:\n%s\n%s", dump(j), dump(back))
		}
		for _, opt := range []SDPOptions{{Limits: &lim}, {Split: true, Responder: true, Limits: &lim}} {
			s, err := ToSDPString(j, opt)
			if err != nil {
				continue
			}
			checkSDPText(t, s)
			_, _ = FromSDPString(s, SDPOptions{ByKind: true, Action: j.Action, Limits: &lim})
		}
	})
}

// FuzzFromSDP: arbitrary SDP never panics FromSDP; what it accepts passes Parse unchanged and
// renders to SDP without control characters.
func FuzzFromSDP(f *testing.F) {
	addGoldenSeeds(f, ".sdp")
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=ssrc:1 name:a\x00b\r\n"))
	f.Add([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\na=mid:0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := DefaultLimits()
		for _, opt := range []SDPOptions{{Limits: &lim}, {Responder: true, ByKind: true, Limits: &lim}} {
			j, err := FromSDPString(string(data), opt)
			if err != nil {
				continue
			}
			j.SID = "s"
			back, err := Parse(j.Element(), lim)
			if err != nil {
				t.Fatalf("Parse refuses what FromSDP made: %v\n%s", err, j.Element())
			}
			if !reflect.DeepEqual(back, j) {
				t.Fatalf("XML round trip changed the value:\n%s\n%s", dump(j), dump(back))
			}
			s, err := ToSDPString(j, opt)
			if err != nil {
				t.Fatalf("ToSDP refuses what FromSDP made: %v", err)
			}
			checkSDPText(t, s)
		}
	})
}
