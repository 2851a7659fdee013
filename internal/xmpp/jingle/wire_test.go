package jingle

import (
	"reflect"
	"strings"
	"testing"
)

// TestJSONSourcesDialectExample reads the json-message of jitsi-dialect.md §5.2/§5.3 and writes it back.
func TestJSONSourcesDialectExample(t *testing.T) {
	const msg = `{"sources":{"77aa01bc":[[{"s":2231008871,"n":"77aa01bc-v0","m":"77aa01bc-video-0-1 9a1f-1"},{"s":1190022417,"n":"77aa01bc-v0","m":"77aa01bc-video-0-1 9a1f-1"},{"s":301,"n":"77aa01bc-v1","m":"77aa01bc-video-1-1 0e9f-1","v":"d"}],[["f",2231008871,1190022417]],[{"s":55,"n":"77aa01bc-a0"}]],"jvb":[[{"s":1732950121,"n":"jvb-v0","m":"mixedmslabel mixedlabelvideo0"}],[],[{"s":402871355,"n":"jvb-a0","m":"mixedmslabel mixedlabelaudio0"}]]}}`
	in := `<jingle xmlns="urn:xmpp:jingle:1" action="source-add" sid="s1"><json-message xmlns="http://jitsi.org/jitmeet">` + msg + `</json-message></jingle>`
	j, err := parseText(t, in)
	if err != nil {
		t.Fatal(err)
	}
	v := j.Content("video").Description
	if len(v.Sources) != 4 || v.Sources[2].VideoType != "desktop" || v.Sources[0].Owner != "77aa01bc" || v.Sources[3].Owner != "jvb" {
		t.Fatalf("video sources: %+v", v.Sources)
	}
	if !reflect.DeepEqual(v.SSRCGroups, []SSRCGroup{{Semantics: SemanticsFID, SSRCs: []uint32{2231008871, 1190022417}}}) {
		t.Fatalf("video groups: %+v", v.SSRCGroups)
	}
	if a := j.Content("audio").Description.Sources; len(a) != 2 || a[0].SSRC != 55 {
		t.Fatalf("audio sources: %+v", a)
	}
	out := j.Element()
	if got := out.ChildText(NSJitMeet, "json-message"); got != msg {
		t.Errorf("json-message written as\n%s\nwant\n%s", got, msg)
	}
	if len(out.Children) != 1 {
		t.Errorf("contents made from the json-message were written back: %s", out)
	}
	// The same sources in XML form, for clients without json-encoded-sources.
	j.JSONSources = false
	x := j.Element().String()
	for _, want := range []string{`<ssrc-info xmlns="http://jitsi.org/jitmeet" owner="77aa01bc"/>`, `videoType="desktop"`, `semantics="FID"`} {
		if !strings.Contains(x, want) {
			t.Errorf("XML form lacks %s:\n%s", want, x)
		}
	}
}

// TestJicofoWireForms: forms Jicofo sends that the golden files keep in normal form translate to the
// same SDP (README "Normalisation").
func TestJicofoWireForms(t *testing.T) {
	golden := golden(t, "session-initiate.xml")
	normal, err := parseText(t, golden)
	if err != nil {
		t.Fatal(err)
	}
	wire := strings.NewReplacer(
		// The H264 fmtp packed into one parameter value (jitsi-dialect.md §11.1).
		`<parameter name="profile-level-id" value="42e01f"/>
    <parameter name="level-asymmetry-allowed" value="1"/>
    <parameter name="packetization-mode" value="1"/>`,
		`<parameter name="profile-level-id" value="42e01f;level-asymmetry-allowed=1;packetization-mode=1;"/>`,
		// sctpmap streams="1024" and rtcp-mux on the data transport clone.
		`streams="0"`, `streams="1024"`,
		`<sctpmap`, `<rtcp-mux/><sctpmap`,
		// channels="1" spelled out.
		`name="telephone-event" clockrate="8000"`, `name="telephone-event" clockrate="8000" channels="1"`,
	).Replace(golden)
	if wire == golden {
		t.Fatal("replacements did not apply")
	}
	j, err := parseText(t, wire)
	if err != nil {
		t.Fatal(err)
	}
	opt := SDPOptions{Split: true, SessionID: 1, SessionVersion: 2}
	want, err := ToSDPString(normal, opt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ToSDPString(j, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("wire form gives different SDP:\n%s", got)
	}
}

func TestCandidateSDP(t *testing.T) {
	for _, s := range []string{
		"candidate:842163049 1 udp 1686052607 198.51.100.7 61002 typ srflx raddr 192.168.1.23 rport 54321 generation 0 network-id 1",
		"candidate:4233069003 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0",
		"candidate:1 1 udp 2130706431 3f1c-4a.local 50000 typ host generation 2",
	} {
		c, err := ParseCandidate("a=" + s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if c.SDP() != s {
			t.Errorf("round trip:\n got %s\nwant %s", c.SDP(), s)
		}
	}
	for _, s := range []string{
		"candidate:1 1 udp 1 1.2.3.4 1 typ",
		"candidate:1 1 udp 1 1.2.3.4 99999 typ host",
		"candidate:1 1 sctp 1 1.2.3.4 1 typ host",
		"candidate:1 1 udp 1 1.2.3.4/8 1 typ host",
		"candidate:1 1 udp 1 fe80::1%eth0 1 typ host",
		"candidate:1 0 udp 1 1.2.3.4 1 typ host",
	} {
		if _, err := ParseCandidate(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

// TestSplitGroupsByTrack: simulcast layers and their RTX stay on one m-line when splitting.
func TestSplitGroupsByTrack(t *testing.T) {
	j := browserAnswer()
	sd, err := ToSDP(j, SDPOptions{Split: true, Responder: true})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range sd.MediaDescriptions {
		kinds = append(kinds, m.MediaName.Media)
	}
	if got := strings.Join(kinds, " "); got != "audio video application" {
		t.Fatalf("m-lines %q, want one per track", got)
	}
	back, err := FromSDP(sd, SDPOptions{Responder: true, ByKind: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Content("video").Description.SSRCGroups; !reflect.DeepEqual(got, j.Content("video").Description.SSRCGroups) {
		t.Errorf("groups %+v", got)
	}
}
