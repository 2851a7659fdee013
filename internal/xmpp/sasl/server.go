package sasl

import (
	"context"
	"crypto/rand"

	"github.com/parley-im/parley/internal/auth"
)

// Mechanism names (RFC 4422 §3.1 registry).
const (
	Anonymous   = "ANONYMOUS"
	Plain       = "PLAIN"
	ScramSHA1   = "SCRAM-SHA-1"
	ScramSHA256 = "SCRAM-SHA-256"
)

// CredentialStore is the account lookup the mechanisms need; *auth.Store
// satisfies it. ScramCredentials returns auth.ErrNoSuchUser for an unknown
// name, VerifyPassword auth.ErrNotAuthorized for any failed check; other
// errors mean the store is unavailable (temporary-auth-failure).
type CredentialStore interface {
	ScramCredentials(ctx context.Context, name string, hash auth.Hash) (auth.Credentials, error)
	VerifyPassword(ctx context.Context, name, password string) error
}

// Config is the SASL part of the c2s configuration.
type Config struct {
	// AllowAnonymous offers ANONYMOUS (guests).
	AllowAnonymous bool
	// Store holds the accounts; nil means no password logins (no PLAIN, no SCRAM).
	Store CredentialStore
	// Domain is the XMPP domain the accounts live on: an authzid is accepted
	// only when empty or equal to name@Domain for the authenticating name.
	Domain string
	// Tokens, when set, is jwt mode (token.go): ANONYMOUS carries the
	// connection's token and PLAIN (over TLS) accepts a token as password.
	Tokens TokenVerifier
	// Guests lets ANONYMOUS without a token through in jwt mode.
	Guests bool
}

// Server starts SASL sessions. It is safe for concurrent use.
type Server struct {
	cfg Config
	// fakeKey keys the made-up SCRAM credentials of unknown users; random
	// per Server so they are stable for a name but unpredictable.
	fakeKey [32]byte
	// nonce, when set (tests only), replaces the SCRAM server nonce generator.
	nonce func() string
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	s := &Server{cfg: cfg}
	rand.Read(s.fakeKey[:])
	return s
}

// Mechanisms lists what to offer, strongest first: SCRAM-SHA-256,
// SCRAM-SHA-1 and (over an encrypted stream only) PLAIN when there is a
// store, then ANONYMOUS when allowed. In jwt mode PLAIN (encrypted) and
// ANONYMOUS are always offered: both can carry a token.
func (s *Server) Mechanisms(encrypted bool) []string {
	var m []string
	if s.cfg.Store != nil {
		m = append(m, ScramSHA256, ScramSHA1)
	}
	if encrypted && (s.cfg.Store != nil || s.cfg.Tokens != nil) {
		m = append(m, Plain)
	}
	if s.cfg.AllowAnonymous || s.cfg.Tokens != nil {
		m = append(m, Anonymous)
	}
	return m
}

// Start begins an exchange for mechanism. An unknown or disabled mechanism
// is ErrInvalidMechanism; PLAIN over an unencrypted stream is
// ErrEncryptionRequired (RFC 6120 §6.5.3: the mechanism needs TLS).
func (s *Server) Start(mechanism string, encrypted bool) (Session, error) {
	return s.StartWith(mechanism, encrypted, "")
}

// StartWith is Start for a connection that brought a token (the WebSocket
// URL's ?token=); the token is used by ANONYMOUS in jwt mode only.
func (s *Server) StartWith(mechanism string, encrypted bool, token string) (Session, error) {
	switch {
	case mechanism == Anonymous && s.cfg.Tokens != nil:
		return &tokenAnonymousSession{srv: s, token: token}, nil
	case mechanism == Plain && s.cfg.Tokens != nil && encrypted:
		return &tokenPlainSession{srv: s}, nil
	case mechanism == Plain && s.cfg.Tokens != nil:
		return nil, fail(ErrEncryptionRequired, "PLAIN needs an encrypted stream", nil)
	case mechanism == Anonymous && s.cfg.AllowAnonymous:
		return &anonymousSession{}, nil
	case s.cfg.Store == nil:
	case mechanism == Plain && !encrypted:
		return nil, fail(ErrEncryptionRequired, "PLAIN needs an encrypted stream", nil)
	case mechanism == Plain:
		return &plainSession{srv: s}, nil
	case mechanism == ScramSHA1:
		return s.newScram(auth.SHA1), nil
	case mechanism == ScramSHA256:
		return s.newScram(auth.SHA256), nil
	}
	return nil, fail(ErrInvalidMechanism, "", nil)
}

// Session is one authentication exchange. It is not safe for concurrent use
// (the connection's reader goroutine owns it).
type Session interface {
	// Step consumes one client message: the initial response of <auth/>
	// (nil when <auth/> had no text), then each <response/>. It returns the
	// next challenge, or done=true with optional additional data for
	// <success/>. Errors are *Error. After done or an error, Step fails.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// Identity is who authenticated; valid once Step returned done.
	Identity() Identity
}

// Identity is the outcome of a successful exchange.
type Identity struct {
	Username  string // normalised account name; "" when Anonymous
	Anonymous bool   // the server invents the node (guests and token users)
	// Token is the verified JWT of a token user (jwt mode); nil otherwise.
	Token *auth.Claims
}

// state tracks a session's progress; shared by the mechanisms.
type state int

const (
	stateStart state = iota
	stateMore        // waiting for another client message
	stateDone        // succeeded
	stateFailed
)

// errFinished is the answer to a Step after the exchange ended.
func errFinished() *Error {
	return fail(ErrMalformedRequest, "authentication exchange already finished", nil)
}
