package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"unicode/utf8"

	"github.com/xdg-go/scram"

	"github.com/parley-im/parley/internal/auth"
)

// scramSession drives one xdg-go/scram server conversation:
//
//	C: n,[a=authzid],n=user,r=cnonce          (client-first)
//	S: r=cnonce+snonce,s=salt,i=iterations    (server-first, a challenge)
//	C: c=biws,r=cnonce+snonce,p=proof         (client-final)
//	S: v=signature                            (additional data of <success/>)
type scramSession struct {
	srv  *Server
	hash auth.Hash
	conv *scram.ServerConversation
	st   state
	step int // client messages given to conv so far
	user string

	// Set while Step runs, for the credential lookup that conv calls back.
	ctx      context.Context
	storeErr error
}

func (s *Server) newScram(h auth.Hash) *scramSession {
	ss := &scramSession{srv: s, hash: h}
	gen := scram.SHA256
	if h == auth.SHA1 {
		gen = scram.SHA1
	}
	// NewServer only stores its arguments and cannot fail.
	srv, _ := gen.NewServer(ss.lookup)
	if s.nonce != nil {
		srv = srv.WithNonceGenerator(s.nonce)
	}
	ss.conv = srv.NewConversation()
	return ss
}

func (ss *scramSession) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	switch ss.st {
	case stateStart:
		if in == nil {
			ss.st = stateMore // empty challenge: send client-first now
			return nil, false, nil
		}
	case stateMore:
	default:
		return nil, false, errFinished()
	}
	out, done, err := ss.step1(ctx, in)
	switch {
	case err != nil:
		ss.st = stateFailed
	case done:
		ss.st = stateDone
	default:
		ss.st = stateMore
	}
	return out, done, err
}

func (ss *scramSession) step1(ctx context.Context, in []byte) ([]byte, bool, error) {
	if len(in) > MaxMessage {
		return nil, false, fail(ErrMalformedRequest, "message too large", nil)
	}
	// SCRAM messages are UTF-8 without NUL (RFC 5802 §7).
	if !utf8.Valid(in) || bytes.IndexByte(in, 0) >= 0 {
		return nil, false, fail(ErrMalformedRequest, "SCRAM message is not UTF-8 without NUL", nil)
	}
	ss.ctx, ss.storeErr = ctx, nil
	defer func() { ss.ctx = nil }()
	ss.step++
	if ss.step == 1 {
		return ss.first(string(in))
	}
	return ss.final(string(in))
}

func (ss *scramSession) first(msg string) ([]byte, bool, error) {
	// We offer no -PLUS mechanism, so a client that insists on channel
	// binding ('p') cannot go on (RFC 5802 §6); 'n' and 'y' are fine.
	if len(msg) > 0 && msg[0] == 'p' {
		return nil, false, fail(ErrNotAuthorized, "channel binding is not supported", nil)
	}
	out, err := ss.conv.Step(msg)
	switch {
	case ss.storeErr != nil:
		return nil, false, fail(ErrTemporaryAuthFailure, "", ss.storeErr)
	case err != nil:
		return nil, false, fail(ErrMalformedRequest, "bad SCRAM client-first message", err)
	}
	user, err := auth.NormalizeUsername(ss.conv.Username())
	if err != nil {
		user = "" // not an account; the proof will fail with made-up credentials
	}
	if !ss.srv.authzidOK(ss.conv.AuthzID(), user) {
		return nil, false, fail(ErrInvalidAuthzid, "authzid must be empty or your own bare JID", nil)
	}
	ss.user = user
	return []byte(out), false, nil
}

func (ss *scramSession) final(msg string) ([]byte, bool, error) {
	out, err := ss.conv.Step(msg)
	switch {
	case err != nil && out == "":
		// Parse failures come back without a SCRAM server-error value.
		return nil, false, fail(ErrMalformedRequest, "bad SCRAM client-final message", err)
	case err != nil:
		// Wrong proof, nonce or channel-binding data (e=invalid-proof, ...).
		return nil, false, fail(ErrNotAuthorized, "", err)
	case !ss.conv.Valid() || ss.user == "":
		return nil, false, fail(ErrNotAuthorized, "", nil)
	}
	return []byte(out), true, nil
}

// lookup is the xdg-go CredentialLookup. Unknown and impossible names get
// made-up credentials so that the exchange fails at the proof, as with a
// wrong password; only storage failures are errors.
func (ss *scramSession) lookup(name string) (scram.StoredCredentials, error) {
	c, err := ss.srv.cfg.Store.ScramCredentials(ss.ctx, name, ss.hash)
	switch {
	case errors.Is(err, auth.ErrNoSuchUser):
		c = ss.srv.fakeCredentials(name, ss.hash)
	case err != nil:
		ss.storeErr = err
		return scram.StoredCredentials{}, err
	case len(c.Salt) == 0 || c.Iterations < 1 || len(c.StoredKey) == 0 || len(c.ServerKey) == 0:
		ss.storeErr = errors.New("stored SCRAM credentials are incomplete")
		return scram.StoredCredentials{}, ss.storeErr
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey:  c.StoredKey,
		ServerKey:  c.ServerKey,
	}, nil
}

// fakeCredentials are stable per name (so asking twice shows the same salt,
// as for a real account) and unpredictable; no password matches StoredKey.
func (s *Server) fakeCredentials(name string, h auth.Hash) auth.Credentials {
	// Key on the normalised name, so "Bob" and "bob" share a salt as they
	// would for a real account.
	if n, err := auth.NormalizeUsername(name); err == nil {
		name = n
	}
	derive := func(label string, n int) []byte {
		m := hmac.New(sha256.New, s.fakeKey[:])
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(name))
		return m.Sum(nil)[:n]
	}
	size := 32
	if h == auth.SHA1 {
		size = 20
	}
	return auth.Credentials{
		Salt:       derive("salt", auth.SaltSize),
		Iterations: auth.DefaultIterations,
		StoredKey:  derive("stored-"+h.String(), size),
		ServerKey:  derive("server-"+h.String(), size),
	}
}

func (ss *scramSession) Identity() Identity {
	if ss.st != stateDone {
		return Identity{}
	}
	return Identity{Username: ss.user}
}
