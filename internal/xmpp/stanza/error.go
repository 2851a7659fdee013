package stanza

import (
	"errors"
	"fmt"
)

// Error types of RFC 6120 §8.3.2.
const (
	Auth     = "auth"
	Cancel   = "cancel"
	Continue = "continue"
	Modify   = "modify"
	Wait     = "wait"
)

// Error is a stanza error: a defined condition with its type and optional text.
type Error struct {
	Type      string
	Condition string
	Text      string
	// Extra holds application-specific children (e.g. Jitsi's <lobbyroom/>).
	Extra []*Element
}

func (e *Error) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// Is makes errors.Is match on condition alone, so a wrapped ErrItemNotFound
// with its own text still matches the sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// WithText returns a copy of e carrying text.
func (e *Error) WithText(format string, args ...any) *Error {
	c := *e
	c.Text = fmt.Sprintf(format, args...)
	return &c
}

// Element renders the <error/> child.
func (e *Error) Element() *Element {
	el := New(NSClient, "error", "type", e.Type)
	el.Add(New(NSStanzas, e.Condition))
	if e.Text != "" {
		el.Add(New(NSStanzas, "text").SetText(e.Text))
	}
	el.Add(e.Extra...)
	return el
}

// The defined conditions with the types RFC 6120 §8.3.3 suggests.
var (
	ErrBadRequest            = &Error{Type: Modify, Condition: "bad-request"}
	ErrConflict              = &Error{Type: Cancel, Condition: "conflict"}
	ErrFeatureNotImplemented = &Error{Type: Cancel, Condition: "feature-not-implemented"}
	ErrForbidden             = &Error{Type: Auth, Condition: "forbidden"}
	ErrInternalServerError   = &Error{Type: Cancel, Condition: "internal-server-error"}
	ErrItemNotFound          = &Error{Type: Cancel, Condition: "item-not-found"}
	ErrJIDMalformed          = &Error{Type: Modify, Condition: "jid-malformed"}
	ErrNotAcceptable         = &Error{Type: Modify, Condition: "not-acceptable"}
	ErrNotAllowed            = &Error{Type: Cancel, Condition: "not-allowed"}
	ErrNotAuthorized         = &Error{Type: Auth, Condition: "not-authorized"}
	ErrPolicyViolation       = &Error{Type: Modify, Condition: "policy-violation"}
	ErrRecipientUnavailable  = &Error{Type: Wait, Condition: "recipient-unavailable"}
	ErrRegistrationRequired  = &Error{Type: Auth, Condition: "registration-required"}
	ErrResourceConstraint    = &Error{Type: Wait, Condition: "resource-constraint"}
	ErrServiceUnavailable    = &Error{Type: Cancel, Condition: "service-unavailable"}
	ErrUndefinedCondition    = &Error{Type: Cancel, Condition: "undefined-condition"}
	ErrUnexpectedRequest     = &Error{Type: Wait, Condition: "unexpected-request"}
)

// AsError converts err to a stanza error; anything else becomes
// internal-server-error (the detail is not shown to the client).
func AsError(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return ErrInternalServerError
}
