package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var (
	ErrUserExists    = errors.New("user exists")
	ErrNoSuchUser    = errors.New("no such user")
	ErrNotAuthorized = errors.New("not authorized")
)

// schemaVersion is kept in PRAGMA user_version.
const schemaVersion = 1

const schema = `
CREATE TABLE users (
	name          TEXT    PRIMARY KEY,
	salt          BLOB    NOT NULL,
	iterations    INTEGER NOT NULL,
	sha1_stored   BLOB    NOT NULL,
	sha1_server   BLOB    NOT NULL,
	sha256_stored BLOB    NOT NULL,
	sha256_server BLOB    NOT NULL
) STRICT;
PRAGMA user_version = 1;
`

// Store is the account database. It is safe for concurrent use; SQLite (WAL,
// busy_timeout) serialises writers.
type Store struct {
	db         *sql.DB
	iterations int    // PBKDF2 count for passwords set through this Store
	dummySalt  []byte // for the derivation done on unknown users
}

// Option changes how Open sets up a Store.
type Option func(*Store)

// WithIterations sets the PBKDF2 iteration count for passwords set from now
// on (default DefaultIterations). Tests use a small count to stay fast.
func WithIterations(n int) Option {
	return func(s *Store) { s.iterations = n }
}

// Open opens the account database at path, creating the file (mode 0600) and
// its schema if missing.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{iterations: DefaultIterations, dummySalt: make([]byte, SaltSize)}
	for _, o := range opts {
		o(s)
	}
	if s.iterations < 1 {
		return nil, fmt.Errorf("auth: iteration count %d", s.iterations)
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		// The driver would read these as URI syntax, not as part of the name.
		return nil, fmt.Errorf("auth: unusable database path %q", path)
	}
	rand.Read(s.dummySalt)
	// Create the file ourselves so it never exists with wider permissions;
	// SQLite gives the -wal and -shm files the same mode as the database.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	dsn := path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=secure_delete(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("auth: opening %s: %w", path, err)
	}
	s.db = db
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch v {
	case schemaVersion:
		return nil
	case 0:
		_, err := s.db.ExecContext(ctx, schema)
		return err
	}
	return fmt.Errorf("schema version %d is newer than this binary (%d)", v, schemaVersion)
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// row is one user's stored data.
type row struct {
	salt                     []byte
	iterations               int
	sha1Stored, sha1Server   []byte
	sha256Stored, sha256Serv []byte
}

// derive computes a full row for password (already normalised) with a fresh
// salt and the Store's iteration count.
func (s *Store) derive(password string) (row, error) {
	r := row{salt: make([]byte, SaltSize), iterations: s.iterations}
	rand.Read(r.salt)
	c1, err := DeriveCredentials(SHA1, password, r.salt, r.iterations)
	if err != nil {
		return row{}, err
	}
	c256, err := DeriveCredentials(SHA256, password, r.salt, r.iterations)
	if err != nil {
		return row{}, err
	}
	r.sha1Stored, r.sha1Server = c1.StoredKey, c1.ServerKey
	r.sha256Stored, r.sha256Serv = c256.StoredKey, c256.ServerKey
	return r, nil
}

// prepare normalises a name and password for AddUser and SetPassword.
func (s *Store) prepare(name, password string) (string, row, error) {
	n, err := NormalizeUsername(name)
	if err != nil {
		return "", row{}, err
	}
	p, err := normalizePassword(password)
	if err != nil {
		return "", row{}, err
	}
	r, err := s.derive(p)
	return n, r, err
}

// AddUser creates an account; ErrUserExists if the name is taken.
func (s *Store) AddUser(ctx context.Context, name, password string) error {
	n, r, err := s.prepare(name, password)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO users
		(name, salt, iterations, sha1_stored, sha1_server, sha256_stored, sha256_server)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		n, r.salt, r.iterations, r.sha1Stored, r.sha1Server, r.sha256Stored, r.sha256Serv)
	return affected(res, err, fmt.Errorf("%w: %s", ErrUserExists, n))
}

// SetPassword replaces a user's salt, iteration count and keys;
// ErrNoSuchUser if there is no such account.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	n, r, err := s.prepare(name, password)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET salt = ?, iterations = ?,
		sha1_stored = ?, sha1_server = ?, sha256_stored = ?, sha256_server = ?
		WHERE name = ?`,
		r.salt, r.iterations, r.sha1Stored, r.sha1Server, r.sha256Stored, r.sha256Serv, n)
	return affected(res, err, fmt.Errorf("%w: %s", ErrNoSuchUser, n))
}

// DeleteUser removes an account; ErrNoSuchUser if there is none.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	n, err := NormalizeUsername(name)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, n)
	return affected(res, err, fmt.Errorf("%w: %s", ErrNoSuchUser, n))
}

// affected turns "no row changed" into none.
func affected(res sql.Result, err, none error) error {
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if n == 0 {
		return none
	}
	return nil
}

// UserExists reports whether an account exists. An invalid name does not.
func (s *Store) UserExists(ctx context.Context, name string) (bool, error) {
	n, err := NormalizeUsername(name)
	if err != nil {
		return false, nil
	}
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM users WHERE name = ?`, n).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	return true, nil
}

// ScramCredentials returns the stored SCRAM credentials of a user for one
// hash; ErrNoSuchUser for an unknown (or invalid) name.
func (s *Store) ScramCredentials(ctx context.Context, name string, h Hash) (Credentials, error) {
	var cols string
	switch h {
	case SHA1:
		cols = "salt, iterations, sha1_stored, sha1_server"
	case SHA256:
		cols = "salt, iterations, sha256_stored, sha256_server"
	default:
		return Credentials{}, fmt.Errorf("auth: unknown hash %v", h)
	}
	n, err := NormalizeUsername(name)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: %v", ErrNoSuchUser, err)
	}
	var c Credentials
	err = s.db.QueryRowContext(ctx, `SELECT `+cols+` FROM users WHERE name = ?`, n).
		Scan(&c.Salt, &c.Iterations, &c.StoredKey, &c.ServerKey)
	if errors.Is(err, sql.ErrNoRows) {
		return Credentials{}, ErrNoSuchUser
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

// VerifyPassword checks a password (for SASL PLAIN). It returns
// ErrNotAuthorized for an unknown user, an invalid name or password, or a
// wrong password alike, and does a full key derivation in every case so the
// time taken does not reveal whether the account exists. Other errors are
// storage failures.
func (s *Store) VerifyPassword(ctx context.Context, name, password string) error {
	var want Credentials
	found := false
	n, nerr := NormalizeUsername(name)
	p, perr := normalizePassword(password)
	if nerr == nil {
		c, err := s.ScramCredentials(ctx, n, SHA256)
		switch {
		case err == nil:
			want, found = c, true
		case !errors.Is(err, ErrNoSuchUser):
			return err
		}
	}
	if perr != nil {
		p = "\x00" // still derive something of the usual cost
	}
	salt, iters := want.Salt, want.Iterations
	if !found {
		salt, iters = s.dummySalt, s.iterations
	}
	got, err := DeriveCredentials(SHA256, p, salt, iters)
	if err != nil {
		return err
	}
	ok := subtle.ConstantTimeCompare(got.StoredKey, want.StoredKey) == 1
	if !found || perr != nil || !ok {
		return ErrNotAuthorized
	}
	return nil
}
