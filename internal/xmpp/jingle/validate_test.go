package jingle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

func golden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseText(t *testing.T, xml string) (*Jingle, error) {
	t.Helper()
	el, err := stream.DecodeFrame([]byte(xml), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("not even well-formed: %v", err)
	}
	return Parse(el, DefaultLimits())
}

func wantBadRequest(t *testing.T, err error, text string) {
	t.Helper()
	var se *stanza.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a bad-request stanza error", err)
	}
	if !errors.Is(err, stanza.ErrBadRequest) || !strings.Contains(se.Text, text) {
		t.Fatalf("got %v, want bad-request containing %q", err, text)
	}
}

// repeat returns n copies of s with %d replaced by the index.
func repeat(s string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.ReplaceAll(s, "%d", fmt.Sprint(i+1)))
	}
	return b.String()
}

// TestParseRefuses: each hostile edit of the browser's session-accept is refused with bad-request
// (threats-and-tests §5.1 items 13-18, the parsing part).
func TestParseRefuses(t *testing.T) {
	accept := golden(t, "session-accept-simulcast.xml")
	const audioSource = `<source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="3550114920" name="3f2a9c1e-a0">`
	const fp = `<fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="active">`
	const fpValue = "11:AB:5C:90:E2:07:4F:D3:68:1B:A4:C9:3E:72:0D:F5:86:29:BB:40:17:EC:5A:D8:93:6F:02:C1:7E:48:B5:3A"
	const candidate = `<candidate component="1" foundation="3204971284" generation="0" network="1" priority="2122260223" protocol="udp" type="host" ip="192.168.1.23" port="54321"/>`
	const rtcpMux = "<rtcp-mux/>\n  </description>"
	const opusOpen = `<payload-type id="111" name="opus" clockrate="48000" channels="2">`
	src := func(ssrc string) string {
		return `<source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="` + ssrc + `" name="e-a1"/>`
	}
	tests := []struct {
		name, old, new, want string
	}{
		// CR/LF in attributes that end up in SDP (item 18); NUL is refused by the stream decoder.
		{"CRLF in msid", `value="3f2a9c1e-audio-0-1 7d2e11aa-1"`, `value="x&#xD;&#xA;a=candidate:1 1 udp 1 6.6.6.6 1 typ host"`, "bad msid"},
		{"LF in source name", `name="3f2a9c1e-a0"`, `name="a&#xA;b"`, "bad name"},
		{"LF in payload name", `name="opus"`, `name="opus&#xA;a=x"`, "bad name"},
		{"CR in fmtp value", `value="10"`, `value="10&#xD;"`, "bad parameter"},
		{"space in fmtp name", `name="minptime"`, `name="min ptime"`, "bad parameter"},
		{"LF in ufrag", `ufrag="Zx7qAb"`, `ufrag="Zx7q&#xA;a=x"`, "ufrag"},
		{"LF in fingerprint", fpValue, fpValue[:3] + "\n" + fpValue[4:], "malformed fingerprint"},
		{"LF in candidate address", `ip="192.168.1.23"`, `ip="192.168.1.23&#xA;a=x"`, "bad address"},
		{"space in candidate address", `ip="192.168.1.23"`, `ip="1.2.3.4 5 typ relay"`, "bad address"},
		{"LF in content name", `name="audio" senders`, `name="au&#xA;dio" senders`, "content name"},
		{"LF in rtcp-fb", `type="transport-cc"`, `type="transport-cc&#xA;a=x"`, "rtcp-fb"},
		{"LF in owner", audioSource, audioSource + `<ssrc-info xmlns="http://jitsi.org/jitmeet" owner="a&#xA;b"/>`, "owner"},
		// More than 20 sources or groups per owner (item 15).
		{"21 sources", rtcpMux, repeat(src("%d"), 21) + rtcpMux, "more than 20 sources"},
		{"21 groups", `<ssrc-group xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" semantics="SIM">`,
			repeat(`<ssrc-group xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" semantics="FID"><source ssrc="101"/><source ssrc="201"/></ssrc-group>`, 21) +
				`<ssrc-group xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" semantics="SIM">`, "more than 20 source groups"},
		{"duplicate SSRC", rtcpMux, src("101") + rtcpMux, "appears twice"},
		{"SSRC zero", `ssrc="3550114920"`, `ssrc="0"`, "ssrc"},
		{"SSRC too large", `ssrc="3550114920"`, `ssrc="4294967296"`, "ssrc"},
		{"group with unknown SSRC", `<source ssrc="201"/>`, `<source ssrc="999"/>`, "unknown or repeated SSRC"},
		{"FID of three", `<source ssrc="101"/>
    <source ssrc="201"/>`, `<source ssrc="101"/><source ssrc="201"/><source ssrc="102"/>`, "FID"},
		{"msid of three words", `value="3f2a9c1e-audio-0-1 7d2e11aa-1"`, `value="a b c"`, "bad msid"},
		{"bad videoType", `videoType="camera"`, `videoType="screen"`, "videoType"},
		// Fingerprints (item 16) and DTLS roles (item 17).
		{"missing fingerprint", fp + fpValue + "</fingerprint>", "", "without DTLS fingerprint"},
		{"SHA-1 fingerprint", `hash="sha-256"`, `hash="sha-1"`, "not accepted"},
		{"unknown hash", `hash="sha-256"`, `hash="md5"`, "not accepted"},
		{"short fingerprint", fpValue, fpValue[:20], "wrong length"},
		{"actpass in an answer", `setup="active"`, `setup="actpass"`, "actpass in an answer"},
		{"bad setup", `setup="active"`, `setup="both"`, "bad DTLS setup"},
		// Payload types and header extensions (item 18).
		{"payload-type collision", opusOpen, `<payload-type id="111" name="PCMU" clockrate="8000"/>` + opusOpen, "payload type 111 appears twice"},
		{"payload type out of range", `id="111"`, `id="128"`, "not a number in 0..127"},
		{"header-extension ID collision", `id="10" uri="urn:ietf:params:rtp-hdrext:sdes:mid"`, `id="1" uri="urn:ietf:params:rtp-hdrext:sdes:mid"`, "ID 1 appears twice"},
		{"header-extension ID 15", `id="10" uri="urn:ietf:params:rtp-hdrext:sdes:mid"`, `id="15" uri="urn:ietf:params:rtp-hdrext:sdes:mid"`, "out of range"},
		// Contents and candidates (items 14, 18).
		{"1000 contents", `<group xmlns`, repeat(`<content creator="responder" name="x%d"/>`, 1000) + `<group xmlns`, "more than 16 contents"},
		{"33 candidates", candidate, repeat(strings.Replace(candidate, `port="54321"`, `port="%d"`, 1), 33), "more than 32 candidates"},
		{"candidate protocol", `protocol="udp"`, `protocol="sctp"`, "bad protocol"},
		{"candidate type", `type="host"`, `type="local"`, "bad type"},
		{"candidate port", `port="54321"`, `port="70000"`, "port"},
		// Session-level.
		{"unknown action", `action="session-accept"`, `action="session-hijack"`, "unknown action"},
		{"missing sid", `sid="8v2kq9d3h0"`, ``, "bad sid"},
		{"BUNDLE of unknown content", `<content name="data"/>`, `<content name="screen"/>`, "group names unknown"},
		{"duplicate content", `name="video" senders`, `name="audio" senders`, `content "audio" appears twice`},
		{"bad senders", `senders="both"`, `senders="everyone"`, "bad senders"},
		{"bad media", `media="audio"`, `media="text"`, "bad media"},
		{"short pwd", `pwd="mK1pL9oI8uY7tR6eW5qA4sD3"`, `pwd="short"`, "pwd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(accept, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := parseText(t, strings.Replace(accept, tc.old, tc.new, 1))
			wantBadRequest(t, err, tc.want)
		})
	}
}

func TestParseRefusesControlCharacters(t *testing.T) {
	// The stream decoder refuses NUL; Parse must too, for elements built some other way.
	for _, v := range []string{"a\x00b", "a\rb", "a\nb", "a\x1bb"} {
		j := browserAnswer()
		j.Contents[0].Description.Sources[0].Name = v
		if _, err := Parse(j.Element(), DefaultLimits()); err == nil {
			t.Errorf("source name %q accepted", v)
		}
		if _, err := ToSDP(j, SDPOptions{}); err == nil {
			t.Errorf("ToSDP rendered source name %q", v)
		}
	}
}

func TestParseStripsUnknownHeaderExtensions(t *testing.T) {
	accept := golden(t, "session-accept-simulcast.xml")
	in := strings.Replace(accept, `uri="urn:ietf:params:rtp-hdrext:sdes:mid"`, `uri="urn:example:evil&#xA;a=x"`, 1)
	j, err := parseText(t, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range j.Contents[0].Description.HdrExts {
		if h.ID == 10 {
			t.Fatalf("unknown header extension kept: %+v", h)
		}
	}
	if len(j.Contents[0].Description.HdrExts) != 2 {
		t.Fatalf("got %d header extensions, want 2", len(j.Contents[0].Description.HdrExts))
	}
}

func TestParseAcceptsIQ(t *testing.T) {
	in := `<iq xmlns="jabber:client" type="set" id="j2">` + golden(t, "transport-info.xml") + `</iq>`
	j, err := parseText(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if j.Action != ActionTransportInfo || len(j.Contents[0].Transport.Candidates) != 4 {
		t.Fatalf("got %s", dump(j))
	}
}

func TestParseRefusesJSONSources(t *testing.T) {
	const head = `<jingle xmlns="urn:xmpp:jingle:1" action="source-add" sid="s1"><json-message xmlns="http://jitsi.org/jitmeet">`
	const tail = `</json-message></jingle>`
	tests := []struct{ name, json, want string }{
		{"not JSON", `{"sources":`, "json-message"},
		{"bad group semantics", `{"sources":{"e":[[{"s":1},{"s":2}],[["x",1,2]]]}}`, "group semantics"},
		{"group with unknown SSRC", `{"sources":{"e":[[{"s":1}],[["f",1,2]]]}}`, "unknown or repeated SSRC"},
		{"21 sources of one owner", `{"sources":{"e":[[` + strings.TrimSuffix(repeat(`{"s":%d},`, 21), ",") + `]]}}`, "more than 20 sources"},
		{"bad video type", `{"sources":{"e":[[{"s":1,"v":"x"}]]}}`, "video type"},
		{"five lists", `{"sources":{"e":[[],[],[],[],[]]}}`, "lists"},
		{"SSRC out of range", `{"sources":{"e":[[{"s":4294967296}]]}}`, "json-message"},
		{"LF in name", `{"sources":{"e":[[{"s":1,"n":"a\nb"}]]}}`, "bad name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseText(t, head+tc.json+tail)
			wantBadRequest(t, err, tc.want)
		})
	}
}

// TestFromSDPRefuses: hostile SDP is refused with bad-request.
func TestFromSDPRefuses(t *testing.T) {
	accept := golden(t, "session-accept-simulcast.sdp")
	opt := SDPOptions{Responder: true, ByKind: true}
	const audioM = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
	cand := "a=candidate:1 1 udp 1 192.168.1.23 %d typ host generation 0\r\n"
	tests := []struct{ name, old, new, want string }{
		{"1000 m-lines", audioM, repeat("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:m%d\r\n", 1000) + audioM, "more than 16 m-lines"},
		{"format twice", audioM, "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\n", "appears twice"},
		{"rtpmap twice", "a=rtpmap:111 opus/48000/2\r\n", "a=rtpmap:111 opus/48000/2\r\na=rtpmap:111 PCMU/8000\r\n", "mapped twice"},
		{"33 candidates", "a=mid:audio\r\n", "a=mid:audio\r\n" + repeat(cand, 33), "more than 32 candidates"},
		{"NUL in source name", "name:3f2a9c1e-a0", "name:3f2a\x00", "bad name"},
		{"NUL in ufrag", "a=ice-ufrag:Zx7qAb", "a=ice-ufrag:Zx7q\x00b", "ufrag"},
		{"21 sources", "a=ssrc:3550114920 name:3f2a9c1e-a0\r\n", repeat("a=ssrc:%d name:e-a%d\r\n", 21), "more than 20 sources"},
		{"SHA-1 fingerprint", "a=fingerprint:sha-256 11:AB", "a=fingerprint:sha-1 11:AB", "not accepted"},
		{"no fingerprint", "a=fingerprint:sha-256 " + testFingerprintClient + "\r\n", "", "without DTLS fingerprint"},
		{"unsupported media", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=text 9 UDP/DTLS/SCTP webrtc-datachannel", "unsupported media"},
		{"bad candidate", "a=mid:audio\r\n", "a=mid:audio\r\na=candidate:1 1 udp 1 evil.example.com/x 1 typ host\r\n", "bad address"},
		{"BUNDLE of unknown mid", "a=group:BUNDLE audio video data", "a=group:BUNDLE audio video data screen", "unknown mid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(accept, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := FromSDPString(strings.Replace(accept, tc.old, tc.new, 1), opt)
			wantBadRequest(t, err, tc.want)
		})
	}
}

func TestFromSDPStripsUnknownExtmap(t *testing.T) {
	in := strings.Replace(golden(t, "session-accept-simulcast.sdp"), "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:mid",
		"a=extmap:10 urn:example:unknown", 1)
	j, err := FromSDPString(in, SDPOptions{Responder: true, ByKind: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(j.Contents[0].Description.HdrExts); n != 2 {
		t.Fatalf("got %d header extensions, want 2", n)
	}
}
