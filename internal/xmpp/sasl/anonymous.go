package sasl

import (
	"context"
	"unicode/utf8"
)

// maxTrace bounds the ANONYMOUS trace message: 255 characters of UTF-8
// (RFC 4505 §3), at most 4 bytes each.
const maxTrace = 255

// anonymousSession is RFC 4505 ANONYMOUS: one optional message of trace
// information, which is checked for shape and otherwise ignored.
type anonymousSession struct {
	st state
}

func (a *anonymousSession) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if a.st != stateStart {
		return nil, false, errFinished()
	}
	if !utf8.Valid(in) || utf8.RuneCount(in) > maxTrace {
		a.st = stateFailed
		return nil, false, fail(ErrMalformedRequest, "trace must be at most 255 UTF-8 characters", nil)
	}
	a.st = stateDone
	return nil, true, nil
}

func (a *anonymousSession) Identity() Identity {
	if a.st != stateDone {
		return Identity{}
	}
	return Identity{Anonymous: true}
}
