package sasl

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/parley-im/parley/internal/auth"
)

// memStore is an in-memory CredentialStore whose salts and iteration counts
// the test chooses, so the RFC vectors can be replayed.
type memStore struct {
	mu    sync.Mutex
	users map[string]memUser          // guarded by mu
	cache map[memKey]auth.Credentials // guarded by mu
	err   error                       // returned by every call when set
}

type memUser struct {
	password   string
	salt       []byte
	iterations int
}

type memKey struct {
	name string
	hash auth.Hash
}

func newMemStore() *memStore {
	return &memStore{users: map[string]memUser{}, cache: map[memKey]auth.Credentials{}}
}

func (m *memStore) add(name, password string, salt []byte, iterations int) *memStore {
	m.users[name] = memUser{password, salt, iterations}
	return m
}

func (m *memStore) ScramCredentials(_ context.Context, name string, h auth.Hash) (auth.Credentials, error) {
	if m.err != nil {
		return auth.Credentials{}, m.err
	}
	n, err := auth.NormalizeUsername(name)
	if err != nil {
		return auth.Credentials{}, auth.ErrNoSuchUser
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[n]
	if !ok {
		return auth.Credentials{}, auth.ErrNoSuchUser
	}
	k := memKey{n, h}
	if c, ok := m.cache[k]; ok {
		return c, nil
	}
	c, err := auth.DeriveCredentials(h, u.password, u.salt, u.iterations)
	if err == nil {
		m.cache[k] = c
	}
	return c, err
}

func (m *memStore) VerifyPassword(_ context.Context, name, password string) error {
	if m.err != nil {
		return m.err
	}
	n, err := auth.NormalizeUsername(name)
	if err != nil {
		return auth.ErrNotAuthorized
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.users[n]; ok && u.password == password {
		return nil
	}
	return auth.ErrNotAuthorized
}

// errStoreDown stands for a database that cannot be read.
var errStoreDown = errors.New("database is locked")

// wantCondition fails t unless err is an *Error with condition want
// (want "" means no error).
func wantCondition(t *testing.T, what string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Condition != want {
		t.Errorf("%s: error %v, want condition %s", what, err, want)
	}
}

// knownConditions are the RFC 6120 §6.5 names.
var knownConditions = map[string]bool{
	"aborted": true, "account-disabled": true, "credentials-expired": true,
	"encryption-required": true, "incorrect-encoding": true, "invalid-authzid": true,
	"invalid-mechanism": true, "malformed-request": true, "mechanism-too-weak": true,
	"not-authorized": true, "temporary-auth-failure": true,
}
