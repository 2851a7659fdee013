// Package stanza holds the XML element tree that every XMPP component passes
// around, its serialisation, and the stanza-level errors of RFC 6120 §8.3.
//
// Elements are produced by the stream reader with every name already resolved
// to its namespace (no prefixes survive parsing), and they are serialised
// afresh with explicit default-namespace declarations. Recipients therefore see
// exactly the namespaces the server resolved: no prefix trick in the input can
// change the meaning of what is routed (the Go encoding/xml round-trip issue
// noted in threats-and-tests §1.6).
//
// Text content is kept as one string per element: XMPP payloads have no mixed
// content that matters for routing, so the interleaving of text and children
// is not preserved.
package stanza

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// Namespaces the core speaks.
const (
	NSClient   = "jabber:client"
	NSStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSXML      = "http://www.w3.org/XML/1998/namespace"
	NSDiscoInf = "http://jabber.org/protocol/disco#info"
	NSDiscoIt  = "http://jabber.org/protocol/disco#items"
)

// Element is one XML element with resolved names.
type Element struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*Element
	Text     string
}

// New returns an element in namespace ns with attributes given as name,value pairs.
func New(ns, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: ns, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	return e
}

// Get returns the value of the un-namespaced attribute name, or "".
func (e *Element) Get(name string) string {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Has reports whether the un-namespaced attribute name is present.
func (e *Element) Has(name string) bool {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return true
		}
	}
	return false
}

// Set sets (or adds) an un-namespaced attribute; an empty value removes it.
func (e *Element) Set(name, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: value})
	}
	return e
}

// Lang returns xml:lang, if any.
func (e *Element) Lang() string {
	for _, a := range e.Attr {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

// Add appends children and returns e, for building trees in one expression.
func (e *Element) Add(children ...*Element) *Element {
	e.Children = append(e.Children, children...)
	return e
}

// SetText sets the character data and returns e.
func (e *Element) SetText(s string) *Element {
	e.Text = s
	return e
}

// Child returns the first child with the given namespace and local name.
// An empty ns matches any namespace.
func (e *Element) Child(ns, local string) *Element {
	for _, c := range e.Children {
		if c.Name.Local == local && (ns == "" || c.Name.Space == ns) {
			return c
		}
	}
	return nil
}

// ChildText returns the text of Child(ns, local), or "".
func (e *Element) ChildText(ns, local string) string {
	if c := e.Child(ns, local); c != nil {
		return c.Text
	}
	return ""
}

// FirstChild returns the first child element, or nil.
func (e *Element) FirstChild() *Element {
	if len(e.Children) == 0 {
		return nil
	}
	return e.Children[0]
}

// Is reports whether e has the given namespace and local name.
func (e *Element) Is(ns, local string) bool {
	return e.Name.Space == ns && e.Name.Local == local
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	c := &Element{Name: e.Name, Text: e.Text}
	c.Attr = append([]xml.Attr(nil), e.Attr...)
	if len(e.Children) > 0 {
		c.Children = make([]*Element, len(e.Children))
		for i, ch := range e.Children {
			c.Children[i] = ch.Copy()
		}
	}
	return c
}

// ShallowCopy copies e's name, attributes and text and shares its children.
// Routing uses it to restamp from/to without copying payloads.
func (e *Element) ShallowCopy() *Element {
	c := &Element{Name: e.Name, Text: e.Text, Children: e.Children}
	c.Attr = append(make([]xml.Attr, 0, len(e.Attr)+1), e.Attr...)
	return c
}

// String serialises e; convenient for logs and tests.
func (e *Element) String() string {
	var b strings.Builder
	e.writeTo(&b, "")
	return b.String()
}

// Bytes serialises e with an explicit namespace declaration on the root.
func (e *Element) Bytes() []byte {
	var b strings.Builder
	e.writeTo(&b, "")
	return []byte(b.String())
}

// AppendTo appends the serialisation of e to buf.
func (e *Element) AppendTo(buf []byte) []byte {
	w := byteWriter{buf}
	e.writeTo(&w, "")
	return w.b
}

type writer interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}

type byteWriter struct{ b []byte }

func (w *byteWriter) WriteString(s string) (int, error) { w.b = append(w.b, s...); return len(s), nil }
func (w *byteWriter) WriteByte(c byte) error            { w.b = append(w.b, c); return nil }

// writeTo writes e given the default namespace in scope (parentNS).
func (e *Element) writeTo(w writer, parentNS string) {
	w.WriteByte('<')
	w.WriteString(e.Name.Local)
	if e.Name.Space != parentNS {
		w.WriteString(` xmlns="`)
		escape(w, e.Name.Space, true)
		w.WriteByte('"')
	}
	prefixes := 0
	for _, a := range e.Attr {
		w.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case NSXML:
			w.WriteString("xml:")
		default:
			// A namespaced attribute other than xml:*: declare a private prefix.
			p := "a" + strconv.Itoa(prefixes)
			prefixes++
			w.WriteString("xmlns:" + p + `="`)
			escape(w, a.Name.Space, true)
			w.WriteString(`" ` + p + ":")
		}
		w.WriteString(a.Name.Local)
		w.WriteString(`="`)
		escape(w, a.Value, true)
		w.WriteByte('"')
	}
	if len(e.Children) == 0 && e.Text == "" {
		w.WriteString("/>")
		return
	}
	w.WriteByte('>')
	escape(w, e.Text, false)
	for _, c := range e.Children {
		c.writeTo(w, e.Name.Space)
	}
	w.WriteString("</")
	w.WriteString(e.Name.Local)
	w.WriteByte('>')
}

// escape writes s with XML's special characters escaped. In attribute values
// tabs and line breaks are escaped too so that they survive normalisation.
func escape(w writer, s string, attr bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&quot;"
		case '\'':
			rep = "&apos;"
		case '\r':
			rep = "&#xD;"
		case '\n':
			if !attr {
				continue
			}
			rep = "&#xA;"
		case '\t':
			if !attr {
				continue
			}
			rep = "&#x9;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(rep)
		last = i + 1
	}
	w.WriteString(s[last:])
}
