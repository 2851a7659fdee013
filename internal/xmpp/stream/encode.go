package stream

import (
	"strings"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Header returns the server's stream header for a TCP stream.
func Header(id, from, lang string) []byte {
	return opening(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'`, id, from, lang, ">")
}

// Footer closes a TCP stream.
const Footer = "</stream:stream>"

// Open returns the RFC 7395 <open/> frame.
func Open(id, from, lang string) []byte {
	return opening(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='1.0'`, id, from, lang, "/>")
}

func opening(start, id, from, lang, end string) []byte {
	var b strings.Builder
	b.WriteString(start)
	writeAttr(&b, "id", id)
	writeAttr(&b, "from", from)
	writeAttr(&b, "xml:lang", lang)
	b.WriteString(end)
	return []byte(b.String())
}

// CloseFrame is the RFC 7395 <close/> frame.
const CloseFrame = `<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`

// Marshal serialises a top-level element. Elements of the stream namespace
// (features, error) get the conventional stream: prefix, declared on the
// element itself so the same bytes are valid on TCP and WebSocket.
func Marshal(el *stanza.Element) []byte {
	if el.Name.Space != NS {
		return el.Bytes()
	}
	var b []byte
	b = append(b, "<stream:"...)
	b = append(b, el.Name.Local...)
	b = append(b, " xmlns:stream='http://etherx.jabber.org/streams'>"...)
	for _, c := range el.Children {
		b = c.AppendTo(b)
	}
	b = append(b, "</stream:"...)
	b = append(b, el.Name.Local...)
	return append(b, '>')
}

func writeAttr(b *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	b.WriteString(" " + name + "='")
	// Header values are server-chosen (ids, domain names); escape anyway.
	b.WriteString(attrEscaper.Replace(value))
	b.WriteString("'")
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", "'", "&apos;", `"`, "&quot;")
