// Package stream reads and writes XMPP's XML streams (RFC 6120 §4, §11) with
// the hardening of threats-and-tests §1.6: no DTD, entity declaration,
// comment or processing instruction (restricted-xml); UTF-8 only; a byte
// limit per stanza (policy-violation); bounded nesting depth and attribute
// count; every prefix bound, resolved by this package and never passed on.
//
// Flow on a TCP connection: the client sends <stream:stream>, the server
// answers with its own header and <stream:features>; elements at depth one
// are then read one at a time with Decoder.Next until </stream:stream>.
// RFC 7395 (WebSocket) frames are complete documents, one element each;
// DecodeFrame parses one with the same rules.
package stream

import (
	"errors"
	"fmt"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Namespaces of the stream layer.
const (
	NS        = "http://etherx.jabber.org/streams"
	NSErrors  = "urn:ietf:params:xml:ns:xmpp-streams"
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	NSTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
	NSLimits  = "urn:xmpp:stream-limits:0"
)

// Error is a stream error (RFC 6120 §4.9): fatal to the stream.
type Error struct {
	Condition string
	Text      string
	Extra     []*stanza.Element
}

func (e *Error) Error() string {
	if e.Text != "" {
		return "stream error " + e.Condition + ": " + e.Text
	}
	return "stream error " + e.Condition
}

// Is matches on the condition so wrapped errors compare to the sentinels.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// WithText returns a copy of e with a human-readable text.
func (e *Error) WithText(format string, args ...any) *Error {
	c := *e
	c.Text = fmt.Sprintf(format, args...)
	return &c
}

// Element renders <stream:error/>.
func (e *Error) Element() *stanza.Element {
	el := stanza.New(NS, "error")
	el.Add(stanza.New(NSErrors, e.Condition))
	if e.Text != "" {
		el.Add(stanza.New(NSErrors, "text").SetText(e.Text))
	}
	el.Add(e.Extra...)
	return el
}

// AsError converts err into the stream error to send: stream errors pass
// through, anything else is internal-server-error.
func AsError(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return ErrInternalServerError
}

// The conditions of RFC 6120 §4.9.3 that this server sends.
var (
	ErrBadFormat           = &Error{Condition: "bad-format"}
	ErrBadNamespacePrefix  = &Error{Condition: "bad-namespace-prefix"}
	ErrConflict            = &Error{Condition: "conflict"}
	ErrConnectionTimeout   = &Error{Condition: "connection-timeout"}
	ErrHostUnknown         = &Error{Condition: "host-unknown"}
	ErrInternalServerError = &Error{Condition: "internal-server-error"}
	ErrInvalidNamespace    = &Error{Condition: "invalid-namespace"}
	ErrInvalidXML          = &Error{Condition: "invalid-xml"}
	ErrNotAuthorized       = &Error{Condition: "not-authorized"}
	ErrNotWellFormed       = &Error{Condition: "not-well-formed"}
	ErrPolicyViolation     = &Error{Condition: "policy-violation"}
	ErrResourceConstraint  = &Error{Condition: "resource-constraint"}
	ErrRestrictedXML       = &Error{Condition: "restricted-xml"}
	ErrSystemShutdown      = &Error{Condition: "system-shutdown"}
	ErrUndefinedCondition  = &Error{Condition: "undefined-condition"}
	ErrUnsupportedEncoding = &Error{Condition: "unsupported-encoding"}
	ErrUnsupportedStanza   = &Error{Condition: "unsupported-stanza-type"}
	ErrUnsupportedVersion  = &Error{Condition: "unsupported-version"}
)

// ErrClosed is returned by Decoder.Next when the peer closed its stream.
var ErrClosed = errors.New("stream closed by peer")
