package stream

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`

func decodeAll(t *testing.T, in string, lim Limits) ([]*stanza.Element, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(in), lim)
	if _, err := d.Header(); err != nil {
		return nil, err
	}
	var out []*stanza.Element
	for {
		el, err := d.Next()
		if err != nil {
			return out, err
		}
		out = append(out, el)
	}
}

func TestStream(t *testing.T) {
	els, err := decodeAll(t, header+` <message to='a@b'><body>hi &amp; bye</body></message>
		<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`, DefaultLimits())
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("end: %v", err)
	}
	if len(els) != 2 || els[0].Name.Space != stanza.NSClient || els[0].ChildText(stanza.NSClient, "body") != "hi & bye" ||
		els[1].Child("urn:xmpp:ping", "ping") == nil {
		t.Fatalf("got %v", els)
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, tc := range []struct{ in, cond string }{
		{`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`, "invalid-namespace"},
		{`<stream xmlns='jabber:client'>`, "invalid-namespace"},
		{`<?xml version='1.1'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, "restricted-xml"},
		{`<?xml version='1.0' encoding='UTF-16'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, "unsupported-encoding"},
		{`<!DOCTYPE x><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`, "restricted-xml"},
		{`hello`, "bad-format"},
		{`<s:stream xmlns='jabber:client'>`, "bad-namespace-prefix"},
	} {
		_, err := NewDecoder(strings.NewReader(tc.in), DefaultLimits()).Header()
		var se *Error
		if !errors.As(err, &se) || se.Condition != tc.cond {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.cond)
		}
	}
}

func TestLimits(t *testing.T) {
	lim := Limits{MaxStanzaBytes: 1000, MaxDepth: 4, MaxAttrs: 6} // the header has 5
	for _, tc := range []struct{ in, cond string }{
		{`<message><body>` + strings.Repeat("x", 1000) + `</body></message>`, "policy-violation"},
		{`<a><b><c><d><e/></d></c></b></a>`, "policy-violation"},
		{`<a x='1' y='2' z='3' w='4' v='5' u='6' t='7'/>`, "policy-violation"},
		{`<a xmlns:p='urn:x' p:x='1' p:x='2'/>`, "not-well-formed"},
		{`<a xmlns:xml='urn:other'/>`, "bad-namespace-prefix"},
		{`<a xmlns:p=''/>`, "bad-namespace-prefix"},
		{`<a></b>`, "not-well-formed"},
		{`text`, "bad-format"},
	} {
		_, err := decodeAll(t, header+tc.in, lim)
		var se *Error
		if !errors.As(err, &se) || se.Condition != tc.cond {
			t.Errorf("%q: got %v, want %s", tc.in, err, tc.cond)
		}
	}
	// The byte budget is per stanza: many small ones pass.
	if els, err := decodeAll(t, header+strings.Repeat(`<presence/>  `, 500), lim); len(els) != 500 || err != io.EOF {
		t.Fatalf("small stanzas: %d %v", len(els), err)
	}
}

func TestNamespaces(t *testing.T) {
	el, err := DecodeFrame([]byte(`<p:message xmlns:p='jabber:client' xmlns:x='urn:x' x:attr='v' xml:lang='en'><body>b</body><x:y/></p:message>`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if el.Name.Space != stanza.NSClient || el.Lang() != "en" || el.Attr[0].Name.Space != "urn:x" ||
		el.Children[0].Name.Space != stanza.NSClient || el.Children[1].Name.Space != "urn:x" {
		t.Fatalf("resolved %#v", el)
	}
	// Unprefixed children inherit the frame's default namespace, jabber:client.
	out := el.String()
	back, err := DecodeFrame([]byte(out), DefaultLimits())
	if err != nil || !reflect.DeepEqual(back, el) {
		t.Fatalf("round trip %s: %v\n%#v\n%#v", out, err, back, el)
	}
}

func TestFrameRules(t *testing.T) {
	lim := DefaultLimits()
	for _, in := range []string{``, `  `, `<a/><b/>`, `<a/>text`, `<!-- c --><a/>`} {
		if _, err := DecodeFrame([]byte(in), lim); err == nil {
			t.Errorf("frame %q accepted", in)
		}
	}
	el, err := DecodeFrame([]byte(` <message/> `), lim)
	if err != nil || el.Name.Space != stanza.NSClient {
		t.Fatalf("default namespace in frames: %v %v", el, err)
	}
}

func TestMarshalStreamElements(t *testing.T) {
	f := stanza.New(NS, "features").Add(stanza.New(NSTLS, "starttls"))
	got := string(Marshal(f))
	want := `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/></stream:features>`
	if got != want {
		t.Fatalf("got %s", got)
	}
	if _, err := DecodeFrame([]byte(got), DefaultLimits()); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeFrame: decoding never panics, and what decodes survives being
// serialised and decoded again unchanged, so the server never forwards
// something recipients would read differently.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`<message to='a@b' type='chat'><body>hi</body></message>`,
		`<p:message xmlns:p='jabber:client' xmlns:x='urn:x' x:a='1'><x:body>q</x:body></p:message>`,
		`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`,
		`<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>`,
		`<a>&#x10FFFF;&lt;&#9;</a>`, `<a b="&#xA;&#xD;	"/>`, `<a xml:lang='en'/>`,
		billion, `<a>` + "\xef\xbf\xbe" + `</a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxStanzaBytes: 4096, MaxDepth: 16, MaxAttrs: 16}
		el, err := DecodeFrame(data, lim)
		if err != nil {
			return
		}
		out := el.Bytes()
		back, err := DecodeFrame(out, Limits{MaxStanzaBytes: 1 << 20, MaxDepth: 16, MaxAttrs: 32})
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", out, data, err)
		}
		if !reflect.DeepEqual(normal(back), normal(el)) {
			t.Fatalf("round trip changed %q:\n%s\n%s", data, el, back)
		}
	})
}

// normal drops the distinction between nil and empty slices.
func normal(e *stanza.Element) *stanza.Element {
	c := e.Copy()
	if len(c.Attr) == 0 {
		c.Attr = nil
	}
	for i, ch := range c.Children {
		c.Children[i] = normal(ch)
	}
	if len(c.Children) == 0 {
		c.Children = nil
	}
	c.Text = strings.ReplaceAll(c.Text, "\r", "")
	return c
}

const billion = `<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><a>&b;</a>`

// FuzzStream feeds arbitrary bytes after a valid header.
func FuzzStream(f *testing.F) {
	for _, s := range []string{`<message/>`, `<iq type='get'><q xmlns='x'/></iq></stream:stream>`, `<a><b>`, "\x00", billion} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(strings.NewReader(header+string(data)), Limits{MaxStanzaBytes: 2048, MaxDepth: 8, MaxAttrs: 8})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			if _, err := d.Next(); err != nil {
				return
			}
		}
	})
}
