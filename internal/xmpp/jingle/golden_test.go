package jingle

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stream"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenCase is one Jingle⇄SDP pair: testdata/NAME.xml and testdata/NAME.sdp. The options are
// written to testdata/cases.json so the web client's translator can run the same pairs.
type goldenCase struct {
	Name      string `json:"name"`
	Responder bool   `json:"responder"` // the SDP is the responder's (answer)
	Split     bool   `json:"split"`     // ToSDP: one m-line per source, mids renumbered
	ByKind    bool   `json:"byKind"`    // FromSDP: merge m-lines into audio/video/data
	Action    string `json:"action"`
	jingle    func() *Jingle
}

func (c goldenCase) opts() SDPOptions {
	lim := OfferLimits()
	return SDPOptions{Responder: c.Responder, Split: c.Split, ByKind: c.ByKind, Action: c.Action,
		SessionID: 1, SessionVersion: 2, Limits: &lim}
}

var goldenCases = []goldenCase{
	{Name: "session-initiate", Split: true, ByKind: true, Action: ActionSessionInitiate, jingle: focusOffer},
	{Name: "session-initiate-json", Split: true, ByKind: true, Action: ActionSessionInitiate, jingle: focusOfferJSON},
	{Name: "session-accept-simulcast", Responder: true, ByKind: true, Action: ActionSessionAccept, jingle: browserAnswer},
	{Name: "source-add-screenshare", Responder: true, Action: ActionSourceAdd, jingle: screenShareAdd},
	{Name: "transport-info", Responder: true, Action: ActionTransportInfo, jingle: trickle},
	{Name: "transport-info-ice-restart", Action: ActionTransportInfo, jingle: iceRestart},
}

func TestGolden(t *testing.T) {
	if *update {
		meta := append([]goldenCase(nil), goldenCases...)
		b, _ := json.MarshalIndent(meta, "", "  ")
		writeGolden(t, "cases.json", append(b, '\n'))
	}
	for _, c := range goldenCases {
		t.Run(c.Name, func(t *testing.T) {
			j := c.jingle()
			if err := j.Validate(OfferLimits()); err != nil {
				t.Fatalf("case does not validate: %v", err)
			}
			xmlText := indentXML(t, j.Element().String())
			sdpText, err := ToSDPString(j, c.opts())
			if err != nil {
				t.Fatalf("ToSDP: %v", err)
			}
			if *update {
				writeGolden(t, c.Name+".xml", []byte(xmlText))
				writeGolden(t, c.Name+".sdp", []byte(sdpText))
			}
			wantXML := readGolden(t, c.Name+".xml")
			wantSDP := readGolden(t, c.Name+".sdp")
			if xmlText != wantXML {
				t.Errorf("XML differs from %s.xml (run with -update):\n%s", c.Name, xmlText)
			}
			if sdpText != wantSDP {
				t.Errorf("SDP differs from %s.sdp (run with -update):\n%s", c.Name, sdpText)
			}

			// The committed XML parses back to the same value.
			el, err := stream.DecodeFrame([]byte(wantXML), stream.DefaultLimits())
			if err != nil {
				t.Fatalf("decoding %s.xml: %v", c.Name, err)
			}
			parsed, err := Parse(el, OfferLimits())
			if err != nil {
				t.Fatalf("Parse(%s.xml): %v", c.Name, err)
			}
			if !reflect.DeepEqual(parsed, j) {
				t.Errorf("Parse(%s.xml) differs:\n got %s\nwant %s", c.Name, dump(parsed), dump(j))
			}

			// Jingle → SDP → Jingle: equal but for what SDP does not carry.
			back, err := FromSDPString(wantSDP, c.opts())
			if err != nil {
				t.Fatalf("FromSDP(%s.sdp): %v", c.Name, err)
			}
			want := withoutNonSDP(j)
			copySessionFields(back, want)
			if !reflect.DeepEqual(back, want) {
				t.Errorf("Jingle→SDP→Jingle differs:\n got %s\nwant %s", dump(back), dump(want))
			}

			// SDP → Jingle → SDP: identical text.
			again, err := ToSDPString(back, c.opts())
			if err != nil {
				t.Fatalf("ToSDP(FromSDP): %v", err)
			}
			if again != wantSDP {
				t.Errorf("SDP→Jingle→SDP differs:\n%s", again)
			}
		})
	}
}

// withoutNonSDP returns a deep copy of j without the fields SDP cannot carry (ToSDP's doc).
func withoutNonSDP(j *Jingle) *Jingle {
	c := clone(j)
	for _, ct := range c.Contents {
		ct.InitialLastN = nil
		if t := ct.Transport; t != nil {
			t.WebSockets = nil
			t.ICEGeneration = 0
			for i := range t.Candidates {
				t.Candidates[i].ID = ""
			}
		}
		if d := ct.Description; d != nil {
			for i := range d.Sources {
				d.Sources[i].Owner = ""
				d.Sources[i].Params = nil
			}
		}
	}
	return c
}

func copySessionFields(dst, src *Jingle) {
	dst.Action, dst.SID, dst.Initiator, dst.Responder = src.Action, src.SID, src.Initiator, src.Responder
	dst.BridgeSession, dst.StartMuted, dst.Reason, dst.JSONSources = src.BridgeSession, src.StartMuted, src.Reason, src.JSONSources
}

// clone deep-copies j through its XML form.
func clone(j *Jingle) *Jingle {
	c, err := Parse(j.Element(), OfferLimits())
	if err != nil {
		panic(err)
	}
	return c
}

func dump(j *Jingle) string {
	b, _ := json.MarshalIndent(j, "", " ")
	return string(b)
}

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (run go test ./internal/xmpp/jingle -update)", err)
	}
	return string(b)
}

func writeGolden(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// indentXML re-indents one serialised element for readable golden files. Only white space between
// elements is added; text content is untouched.
func indentXML(t *testing.T, s string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	var out bytes.Buffer
	depth := 0
	lastStart := false // the previous tag was a start tag
	text := false      // text followed it
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if out.Len() > 0 {
				out.WriteString("\n")
			}
			out.WriteString(strings.Repeat(" ", depth))
			out.WriteString("<" + rawName(tk.Name))
			for _, a := range tk.Attr {
				var v bytes.Buffer
				xml.EscapeText(&v, []byte(a.Value))
				out.WriteString(fmt.Sprintf(` %s="%s"`, rawName(a.Name), strings.ReplaceAll(v.String(), "&#34;", "&quot;")))
			}
			out.WriteString(">")
			depth++
			lastStart = true
		case xml.EndElement:
			depth--
			switch {
			case lastStart && !text:
				out.Truncate(out.Len() - 1)
				out.WriteString("/>")
			case !lastStart:
				out.WriteString("\n" + strings.Repeat(" ", depth))
				fallthrough
			default:
				out.WriteString("</" + rawName(tk.Name) + ">")
			}
			lastStart, text = false, false
		case xml.CharData:
			text = true
			out.WriteString(strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;").Replace(string(tk)))
		}
	}
	out.WriteString("\n")
	return out.String()
}

func rawName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
