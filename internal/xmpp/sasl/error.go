package sasl

// Error is a SASL failure (RFC 6120 §6.5); Condition is the element name sent
// inside <failure/>, Text the optional human-readable <text/>. Text is
// client-visible: it never says whether an account exists.
type Error struct {
	Condition string
	Text      string
	err       error // cause, for logs only
}

func (e *Error) Error() string {
	s := "sasl: " + e.Condition
	if e.Text != "" {
		s += ": " + e.Text
	}
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

// Is makes errors.Is match on the condition alone, so an error with its own
// text still matches the sentinel (errors.Is(err, ErrNotAuthorized)).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// Unwrap returns the underlying cause (a storage error, say), if any.
func (e *Error) Unwrap() error { return e.err }

// fail returns a copy of sentinel with text and cause.
func fail(sentinel *Error, text string, cause error) *Error {
	return &Error{Condition: sentinel.Condition, Text: text, err: cause}
}

// The defined conditions of RFC 6120 §6.5.
var (
	ErrAborted              = &Error{Condition: "aborted"}
	ErrAccountDisabled      = &Error{Condition: "account-disabled"}
	ErrCredentialsExpired   = &Error{Condition: "credentials-expired"}
	ErrEncryptionRequired   = &Error{Condition: "encryption-required"}
	ErrIncorrectEncoding    = &Error{Condition: "incorrect-encoding"}
	ErrInvalidAuthzid       = &Error{Condition: "invalid-authzid"}
	ErrInvalidMechanism     = &Error{Condition: "invalid-mechanism"}
	ErrMalformedRequest     = &Error{Condition: "malformed-request"}
	ErrMechanismTooWeak     = &Error{Condition: "mechanism-too-weak"}
	ErrNotAuthorized        = &Error{Condition: "not-authorized"}
	ErrTemporaryAuthFailure = &Error{Condition: "temporary-auth-failure"}
)
