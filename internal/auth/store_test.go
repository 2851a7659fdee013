package auth

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// testIterations keeps PBKDF2 cheap in tests.
const testIterations = 2

func openTest(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accounts.db")
	s, err := Open(path, append([]Option{WithIterations(testIterations)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	mustIs := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: got %v, want %v", what, err, want)
		}
	}
	if err := s.AddUser(ctx, "Alice", "pencil"); err != nil {
		t.Fatal(err)
	}
	mustIs("add again", s.AddUser(ctx, "alice", "other"), ErrUserExists)
	mustIs("add case variant", s.AddUser(ctx, "ALICE", "other"), ErrUserExists)
	mustIs("add bad name", s.AddUser(ctx, "a@b", "x"), ErrInvalidUsername)
	mustIs("add empty password", s.AddUser(ctx, "bob", ""), ErrInvalidPassword)

	if ok, err := s.UserExists(ctx, "aLiCe"); !ok || err != nil {
		t.Fatalf("UserExists(aLiCe) = %v, %v", ok, err)
	}
	if ok, err := s.UserExists(ctx, "bob"); ok || err != nil {
		t.Fatalf("UserExists(bob) = %v, %v", ok, err)
	}
	if ok, err := s.UserExists(ctx, "a@b"); ok || err != nil {
		t.Fatalf("UserExists(a@b) = %v, %v", ok, err)
	}

	mustIs("verify right", s.VerifyPassword(ctx, "alice", "pencil"), nil)
	mustIs("verify other case name", s.VerifyPassword(ctx, "ALICE", "pencil"), nil)
	mustIs("verify wrong", s.VerifyPassword(ctx, "alice", "Pencil"), ErrNotAuthorized)
	mustIs("verify unknown", s.VerifyPassword(ctx, "bob", "pencil"), ErrNotAuthorized)
	mustIs("verify invalid name", s.VerifyPassword(ctx, "a@b", "pencil"), ErrNotAuthorized)
	mustIs("verify empty password", s.VerifyPassword(ctx, "alice", ""), ErrNotAuthorized)

	before, _ := s.ScramCredentials(ctx, "alice", SHA256)
	if err := s.SetPassword(ctx, "alice", "crayon"); err != nil {
		t.Fatal(err)
	}
	after, _ := s.ScramCredentials(ctx, "alice", SHA256)
	if bytes.Equal(before.Salt, after.Salt) {
		t.Error("SetPassword kept the salt")
	}
	mustIs("verify old", s.VerifyPassword(ctx, "alice", "pencil"), ErrNotAuthorized)
	mustIs("verify new", s.VerifyPassword(ctx, "alice", "crayon"), nil)
	mustIs("passwd unknown", s.SetPassword(ctx, "bob", "x"), ErrNoSuchUser)

	mustIs("del", s.DeleteUser(ctx, "ALICE"), nil)
	mustIs("del again", s.DeleteUser(ctx, "alice"), ErrNoSuchUser)
	mustIs("verify deleted", s.VerifyPassword(ctx, "alice", "crayon"), ErrNotAuthorized)
	_, err := s.ScramCredentials(ctx, "alice", SHA1)
	mustIs("credentials deleted", err, ErrNoSuchUser)
	_, err = s.ScramCredentials(ctx, "a@b", SHA1)
	mustIs("credentials invalid name", err, ErrNoSuchUser)
}

func TestStoreCredentialsShape(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for _, u := range []string{"alice", "bob"} {
		if err := s.AddUser(ctx, u, "same password"); err != nil {
			t.Fatal(err)
		}
	}
	a1, err1 := s.ScramCredentials(ctx, "alice", SHA1)
	a256, err256 := s.ScramCredentials(ctx, "alice", SHA256)
	b256, errb := s.ScramCredentials(ctx, "bob", SHA256)
	if err1 != nil || err256 != nil || errb != nil {
		t.Fatal(err1, err256, errb)
	}
	for _, c := range []struct {
		c    Credentials
		size int
	}{{a1, 20}, {a256, 32}, {b256, 32}} {
		if len(c.c.Salt) != SaltSize || c.c.Iterations != testIterations ||
			len(c.c.StoredKey) != c.size || len(c.c.ServerKey) != c.size {
			t.Errorf("credentials shape: salt %d, iterations %d, keys %d/%d; want %d, %d, %d",
				len(c.c.Salt), c.c.Iterations, len(c.c.StoredKey), len(c.c.ServerKey), SaltSize, testIterations, c.size)
		}
	}
	if !bytes.Equal(a1.Salt, a256.Salt) {
		t.Error("SHA-1 and SHA-256 salts differ for one user")
	}
	if bytes.Equal(a256.Salt, b256.Salt) || bytes.Equal(a256.StoredKey, b256.StoredKey) {
		t.Error("two users with the same password share salt or keys")
	}
	want, _ := DeriveCredentials(SHA256, "same password", a256.Salt, testIterations)
	if !bytes.Equal(want.StoredKey, a256.StoredKey) || !bytes.Equal(want.ServerKey, a256.ServerKey) {
		t.Error("stored keys differ from DeriveCredentials")
	}
	if _, err := s.ScramCredentials(ctx, "alice", Hash(7)); err == nil {
		t.Error("unknown hash accepted")
	}
}

// TestStoreFileHasNoPassword checks the database files never contain the
// password, and have mode 0600.
func TestStoreFileHasNoPassword(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	const pw1, pw2 = "Sup3r-s3cret-pa55word!", "An0ther-s3cret-pa55word?"
	if err := s.AddUser(ctx, "alice", pw1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "alice", pw2); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "bob", pw1); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: mode %o, want 600", filepath.Base(f), m)
			}
			b, _ := os.ReadFile(f)
			for _, pw := range []string{pw1, pw2} {
				if bytes.Contains(b, []byte(pw)) {
					t.Errorf("%s contains a password", filepath.Base(f))
				}
			}
		}
	}
	check() // while open: data may still be in the WAL
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

func TestStoreReopenKeepsIterationsPerUser(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "accounts.db")
	s, err := Open(path, WithIterations(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "alice", "pencil"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, WithIterations(3))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, _ := s.ScramCredentials(ctx, "alice", SHA1); c.Iterations != 2 {
		t.Fatalf("iterations after reopen = %d, want 2", c.Iterations)
	}
	if err := s.VerifyPassword(ctx, "alice", "pencil"); err != nil {
		t.Fatalf("verify after raising the default: %v", err)
	}
	if err := s.SetPassword(ctx, "alice", "pencil"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ScramCredentials(ctx, "alice", SHA1); c.Iterations != 3 {
		t.Fatalf("iterations after passwd = %d, want 3", c.Iterations)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", filepath.Join(dir, "a?b.db"), "file:x.db"} {
		if s, err := Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := Open(filepath.Join(dir, "x.db"), WithIterations(0)); err == nil {
		t.Error("Open with 0 iterations succeeded")
	}
	// A database from a newer binary is not touched.
	path := filepath.Join(dir, "newer.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Error("Open of a newer schema succeeded")
	}
}

func TestOpenTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, WithIterations(testIterations))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
}
