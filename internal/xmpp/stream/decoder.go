package stream

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Limits bound what one peer can make the decoder hold.
type Limits struct {
	MaxStanzaBytes int // bytes of one top-level element, whitespace before it included
	MaxDepth       int // nesting below the stream element
	MaxAttrs       int // attributes per element, namespace declarations included
}

// DefaultLimits follow Prosody and ejabberd (256 KiB stanzas) and
// threats-and-tests §1.6 (depth about 32).
func DefaultLimits() Limits {
	return Limits{MaxStanzaBytes: 256 << 10, MaxDepth: 32, MaxAttrs: 64}
}

var errTooBig = errors.New("stanza too big")

// countingReader counts the bytes the XML decoder pulls and refuses to go
// past the limit, so that no single token (a 1 MiB attribute, a long text)
// can be buffered beyond it.
type countingReader struct {
	r     *bufio.Reader
	n     int
	limit int
}

func (c *countingReader) ReadByte() (byte, error) {
	if c.n >= c.limit {
		return 0, errTooBig
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *countingReader) Read(p []byte) (int, error) {
	// encoding/xml only uses ReadByte when given an io.ByteReader; Read exists
	// to satisfy io.Reader and is bounded the same way.
	if c.n >= c.limit {
		return 0, errTooBig
	}
	if len(p) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Decoder reads one XML stream from a peer.
type Decoder struct {
	cr     *countingReader
	d      *xml.Decoder
	lim    Limits
	ns     nsStack
	names  []xml.Name // raw names of open elements, to check end tags
	header bool       // the stream header has been read
	first  bool       // no token read yet (an XML declaration is allowed)
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	cr := &countingReader{r: br, limit: lim.MaxStanzaBytes}
	d := xml.NewDecoder(cr)
	d.Strict = true
	return &Decoder{cr: cr, d: d, lim: lim, first: true}
}

// Header reads the optional XML declaration and the <stream:stream> open tag.
// It returns the header as an element without children.
func (d *Decoder) Header() (*stanza.Element, error) {
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, ErrBadFormat.WithText("text before the stream header")
			}
		case xml.StartElement:
			el, err := d.start(t)
			if err != nil {
				return nil, err
			}
			if el.Name.Space != NS || el.Name.Local != "stream" {
				return nil, ErrInvalidNamespace.WithText("expected <stream:stream>")
			}
			if def := d.ns.lookup(""); def != stanza.NSClient {
				return nil, ErrInvalidNamespace.WithText("default namespace must be jabber:client")
			}
			d.header = true
			d.cr.n = 0
			return el, nil
		default:
			return nil, ErrBadFormat.WithText("expected the stream header")
		}
	}
}

// Next reads the next element at the top of the stream. It returns ErrClosed
// when the peer sends </stream:stream>.
func (d *Decoder) Next() (*stanza.Element, error) {
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, ErrBadFormat.WithText("text at stream level")
			}
			d.cr.n = 0 // whitespace keep-alives between stanzas do not add up
		case xml.EndElement:
			if err := d.end(t); err != nil {
				return nil, err
			}
			return nil, ErrClosed
		case xml.StartElement:
			el, err := d.element(t)
			if err != nil {
				return nil, err
			}
			d.cr.n = 0
			return el, nil
		}
	}
}

// DecodeFrame parses one RFC 7395 WebSocket frame: a complete document with a
// single element and nothing but white space around it.
func DecodeFrame(frame []byte, lim Limits) (*stanza.Element, error) {
	if len(frame) > lim.MaxStanzaBytes {
		return nil, ErrPolicyViolation.WithText("frame over %d bytes", lim.MaxStanzaBytes)
	}
	d := NewDecoder(bytes.NewReader(frame), lim)
	d.header = true
	// Elements without a namespace get the stream's default, jabber:client,
	// as they would inside a TCP stream (lenient towards clients that rely
	// on it; RFC 7395 clients normally declare it).
	d.ns.frames = [][]binding{{{"", stanza.NSClient}}}
	var el *stanza.Element
	for {
		tok, err := d.token()
		if errors.Is(err, io.EOF) {
			if el == nil {
				return nil, ErrNotWellFormed.WithText("empty frame")
			}
			return el, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, ErrNotWellFormed.WithText("text outside the frame's element")
			}
		case xml.StartElement:
			if el != nil {
				return nil, ErrNotWellFormed.WithText("more than one element in a frame")
			}
			if el, err = d.element(t); err != nil {
				return nil, err
			}
		default:
			return nil, ErrNotWellFormed
		}
	}
}

// element reads the element that starts with tok, through its end tag.
func (d *Decoder) element(tok xml.StartElement) (*stanza.Element, error) {
	root, err := d.start(tok)
	if err != nil {
		return nil, err
	}
	stack := []*stanza.Element{root}
	text := [][]byte{nil} // character data of each open element
	for {
		t, err := d.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, ErrNotWellFormed.WithText("stream ended inside an element")
			}
			return nil, err
		}
		switch t := t.(type) {
		case xml.StartElement:
			if len(stack) >= d.lim.MaxDepth {
				return nil, ErrPolicyViolation.WithText("elements nested deeper than %d", d.lim.MaxDepth)
			}
			child, err := d.start(t)
			if err != nil {
				return nil, err
			}
			parent := stack[len(stack)-1]
			parent.Children = append(parent.Children, child)
			stack = append(stack, child)
			text = append(text, nil)
		case xml.EndElement:
			if err := d.end(t); err != nil {
				return nil, err
			}
			top := stack[len(stack)-1]
			top.Text = string(text[len(text)-1])
			if err := checkChars(top.Text); err != nil {
				return nil, err
			}
			stack = stack[:len(stack)-1]
			text = text[:len(text)-1]
			if len(stack) == 0 {
				return top, nil
			}
		case xml.CharData:
			text[len(text)-1] = append(text[len(text)-1], t...)
		}
	}
}

// token returns the next raw token, refusing what RFC 6120 §11.1 restricts
// and translating decoder failures into stream errors.
func (d *Decoder) token() (xml.Token, error) {
	tok, err := d.d.RawToken()
	if err != nil {
		return nil, classify(err)
	}
	first := d.first
	d.first = false
	switch t := tok.(type) {
	case xml.ProcInst:
		if first && t.Target == "xml" && !d.header {
			return d.token() // the XML declaration; encoding/xml checked version and encoding
		}
		return nil, ErrRestrictedXML.WithText("processing instructions are not allowed")
	case xml.Comment:
		return nil, ErrRestrictedXML.WithText("comments are not allowed")
	case xml.Directive:
		return nil, ErrRestrictedXML.WithText("DTDs and declarations are not allowed")
	}
	return tok, nil
}

// classify maps encoding/xml's and the reader's errors onto stream errors.
func classify(err error) error {
	switch {
	case errors.Is(err, errTooBig):
		return ErrPolicyViolation.WithText("stanza too big")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return io.EOF
	}
	msg := err.Error()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg = se.Msg
	} else if !strings.HasPrefix(msg, "xml: ") {
		return err // a transport error (closed connection, deadline)
	}
	switch {
	case strings.Contains(msg, "unsupported version"):
		return ErrRestrictedXML.WithText("only XML 1.0 is allowed")
	case strings.Contains(msg, "encoding") && strings.Contains(msg, "declared"):
		return ErrUnsupportedEncoding.WithText("only UTF-8 is allowed")
	case strings.Contains(msg, "invalid character entity"):
		return ErrRestrictedXML.WithText("entities other than the predefined ones are not allowed")
	}
	if strings.Contains(msg, "unexpected EOF") {
		return io.EOF
	}
	return ErrNotWellFormed.WithText("%s", msg)
}

// start checks and resolves a start tag and pushes its namespace scope.
func (d *Decoder) start(t xml.StartElement) (*stanza.Element, error) {
	if len(t.Attr) > d.lim.MaxAttrs {
		return nil, ErrPolicyViolation.WithText("more than %d attributes", d.lim.MaxAttrs)
	}
	if err := d.ns.push(t.Attr); err != nil {
		return nil, err
	}
	d.names = append(d.names, t.Name)
	space, err := d.ns.resolveElement(t.Name.Space)
	if err != nil {
		return nil, err
	}
	el := &stanza.Element{Name: xml.Name{Space: space, Local: t.Name.Local}}
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		as, err := d.ns.resolveAttr(a.Name.Space)
		if err != nil {
			return nil, err
		}
		if err := checkChars(a.Value); err != nil {
			return nil, err
		}
		name := xml.Name{Space: as, Local: a.Name.Local}
		for _, prev := range el.Attr {
			if prev.Name == name {
				return nil, ErrNotWellFormed.WithText("duplicate attribute %q", a.Name.Local)
			}
		}
		el.Attr = append(el.Attr, xml.Attr{Name: name, Value: a.Value})
	}
	return el, nil
}

// end checks an end tag against the open element and pops its scope.
func (d *Decoder) end(t xml.EndElement) error {
	if len(d.names) == 0 {
		return ErrNotWellFormed.WithText("unexpected end tag")
	}
	open := d.names[len(d.names)-1]
	if open != t.Name {
		return ErrNotWellFormed.WithText("end tag does not match")
	}
	d.names = d.names[:len(d.names)-1]
	d.ns.pop()
	return nil
}

// checkChars refuses characters XML 1.0 does not allow, which numeric
// character references could otherwise smuggle in (&#0;).
func checkChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x80 || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c < 0x20 {
			return ErrNotWellFormed.WithText("control character in text")
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || r == 0xFFFE || r == 0xFFFF || r >= 0xD800 && r <= 0xDFFF {
			return ErrNotWellFormed.WithText("character not allowed in XML")
		}
		i += size - 1
	}
	return nil
}
