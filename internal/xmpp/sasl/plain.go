package sasl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/internal/auth"
)

// plainSession is RFC 4616 PLAIN: one message [authzid] NUL authcid NUL passwd,
// checked with CredentialStore.VerifyPassword. Offered over TLS only.
type plainSession struct {
	srv  *Server
	st   state
	user string
}

func (p *plainSession) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch p.st {
	case stateStart:
		if in == nil {
			// No initial response: an empty challenge asks for it (RFC 4422 §5).
			p.st = stateMore
			return nil, false, nil
		}
	case stateMore:
	default:
		return nil, false, errFinished()
	}
	user, err := p.verify(ctx, in)
	if err != nil {
		p.st = stateFailed
		return nil, false, err
	}
	p.st, p.user = stateDone, user
	return nil, true, nil
}

// verify checks one PLAIN message and returns the normalised username.
func (p *plainSession) verify(ctx context.Context, in []byte) (string, error) {
	if len(in) > MaxMessage {
		return "", fail(ErrMalformedRequest, "message too large", nil)
	}
	// Exactly two NULs: a NUL inside any field is a malformed message, not
	// part of a name or password (RFC 4616 §2, UTF8SAFE excludes NUL).
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 {
		return "", fail(ErrMalformedRequest, "PLAIN message must be [authzid] NUL authcid NUL passwd", nil)
	}
	authzid, authcid, passwd := string(parts[0]), string(parts[1]), string(parts[2])
	if authcid == "" || passwd == "" {
		return "", fail(ErrMalformedRequest, "empty authcid or password", nil)
	}
	if !utf8.ValidString(authzid) || !utf8.ValidString(authcid) || !utf8.ValidString(passwd) {
		return "", fail(ErrMalformedRequest, "PLAIN message is not UTF-8", nil)
	}
	// The store derives a key even for names that cannot exist, so a bad
	// name costs the same time as a wrong password.
	err := p.srv.cfg.Store.VerifyPassword(ctx, authcid, passwd)
	switch {
	case errors.Is(err, auth.ErrNotAuthorized):
		return "", fail(ErrNotAuthorized, "", nil)
	case err != nil:
		return "", fail(ErrTemporaryAuthFailure, "", err)
	}
	user, err := auth.NormalizeUsername(authcid)
	if err != nil { // the store accepted it, so this does not happen
		return "", fail(ErrNotAuthorized, "", err)
	}
	if !p.srv.authzidOK(authzid, user) {
		return "", fail(ErrInvalidAuthzid, "authzid must be empty or your own bare JID", nil)
	}
	return user, nil
}

func (p *plainSession) Identity() Identity {
	if p.st != stateDone {
		return Identity{}
	}
	return Identity{Username: p.user}
}

// authzidOK reports whether a client may act as authzid after
// authenticating as user: only itself, as an empty authzid or its bare JID
// user@Domain (localpart normalised, domain compared ASCII case-insensitively;
// Unicode folding would let e.g. the Kelvin sign stand for "k").
func (s *Server) authzidOK(authzid, user string) bool {
	if authzid == "" {
		return true
	}
	local, domain, ok := strings.Cut(authzid, "@")
	if !ok || s.cfg.Domain == "" || !asciiEqualFold(domain, s.cfg.Domain) {
		return false
	}
	n, err := auth.NormalizeUsername(local)
	return err == nil && n == user
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
