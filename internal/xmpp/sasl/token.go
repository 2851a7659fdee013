package sasl

// JWT logins ([auth] mode = "jwt", jitsi-dialect.md §2.2 and §10). A token
// is not a SASL mechanism; it rides on two existing ones:
//
//   - ANONYMOUS, with the token the connection brought along (the
//     WebSocket URL's ?token=, as Jitsi clients send it; c2s passes it to
//     StartWith). A valid token makes an authenticated token user whose node
//     the server still invents, as Prosody's mod_auth_token does; no token
//     makes a guest when Config.Guests, else a failure "token required".
//   - PLAIN (over TLS only, like every PLAIN), for TCP clients that cannot
//     set a URL: a password that looks like a JWT (three base64url parts,
//     the first a JSON object with "alg") is the token, whatever the user
//     name; any other password is an account password checked against the
//     store as usual. The authzid must be empty.
//
// A refused token is a <failure/> with condition not-allowed, as Prosody
// sends it, and the verifier's reason as <text/> ("token expired",
// "Invalid issuer ('iss' claim)"…).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/internal/auth"
)

// TokenVerifier checks a JWT; *auth.Verifier satisfies it.
type TokenVerifier interface {
	Verify(token string) (*auth.Claims, error)
}

// ErrNotAllowed is the condition a refused or missing token gets. It is not
// among RFC 6120 §6.5's conditions, but it is what Prosody sends Jitsi
// clients (jitsi-dialect.md §2.2), which show the text.
var ErrNotAllowed = &Error{Condition: "not-allowed"}

// tokenFailure turns a verifier error into a client-visible failure.
func tokenFailure(err error) *Error {
	return fail(ErrNotAllowed, err.Error(), err)
}

// tokenAnonymousSession is ANONYMOUS in jwt mode: the token comes from the
// connection, the message is trace information as in anonymousSession.
type tokenAnonymousSession struct {
	srv    *Server
	token  string
	st     state
	claims *auth.Claims
}

func (a *tokenAnonymousSession) Step(_ context.Context, in []byte) ([]byte, bool, error) {
	if a.st != stateStart {
		return nil, false, errFinished()
	}
	a.st = stateFailed
	if !utf8.Valid(in) || utf8.RuneCount(in) > maxTrace {
		return nil, false, fail(ErrMalformedRequest, "trace must be at most 255 UTF-8 characters", nil)
	}
	if a.token == "" {
		if !a.srv.cfg.Guests {
			return nil, false, tokenFailure(auth.ErrTokenRequired)
		}
		a.st = stateDone
		return nil, true, nil
	}
	c, err := a.srv.cfg.Tokens.Verify(a.token)
	if err != nil {
		return nil, false, tokenFailure(err)
	}
	a.st, a.claims = stateDone, c
	return nil, true, nil
}

func (a *tokenAnonymousSession) Identity() Identity {
	if a.st != stateDone {
		return Identity{}
	}
	return Identity{Anonymous: true, Token: a.claims}
}

// tokenPlainSession is PLAIN in jwt mode: a JWT-shaped password is a token,
// anything else goes to the account check of plainSession (when there is a
// store).
type tokenPlainSession struct {
	srv    *Server
	st     state
	claims *auth.Claims
	plain  *plainSession // set when the password is an account password
}

func (p *tokenPlainSession) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if p.plain != nil {
		return p.plain.Step(ctx, in)
	}
	switch p.st {
	case stateStart:
		if in == nil {
			p.st = stateMore
			return nil, false, nil
		}
	case stateMore:
	default:
		return nil, false, errFinished()
	}
	parts := bytes.Split(in, []byte{0})
	if len(parts) == 3 && len(in) <= MaxMessage && !looksLikeJWT(parts[2]) && p.srv.cfg.Store != nil {
		p.plain = &plainSession{srv: p.srv, st: stateMore}
		return p.plain.Step(ctx, in)
	}
	p.st = stateFailed
	switch {
	case len(in) > MaxMessage:
		return nil, false, fail(ErrMalformedRequest, "message too large", nil)
	case len(parts) != 3:
		return nil, false, fail(ErrMalformedRequest, "PLAIN message must be [authzid] NUL authcid NUL passwd", nil)
	case len(parts[0]) != 0:
		return nil, false, fail(ErrInvalidAuthzid, "authzid must be empty for a token login", nil)
	case len(parts[2]) == 0:
		return nil, false, tokenFailure(auth.ErrTokenRequired)
	}
	c, err := p.srv.cfg.Tokens.Verify(string(parts[2]))
	if err != nil {
		return nil, false, tokenFailure(err)
	}
	p.st, p.claims = stateDone, c
	return nil, true, nil
}

func (p *tokenPlainSession) Identity() Identity {
	if p.plain != nil {
		return p.plain.Identity()
	}
	if p.st != stateDone {
		return Identity{}
	}
	return Identity{Anonymous: true, Token: p.claims}
}

// looksLikeJWT reports whether a password has the shape of a compact JWS:
// three base64url parts whose first decodes to a JSON object naming an alg.
func looksLikeJWT(b []byte) bool {
	s := string(b)
	if strings.Count(s, ".") != 2 {
		return false
	}
	head, _, _ := strings.Cut(s, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg *string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && h.Alg != nil
}
