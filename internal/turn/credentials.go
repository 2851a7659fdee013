package turn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is HMAC-SHA1 (draft-uberti-behave-turn-rest-00)
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Errors of REST usernames, named after what is wrong; every one makes the server answer 401.
var (
	ErrUsernameFormat  = errors.New("turn: username is not expiry:userid")
	ErrUsernameExpired = errors.New("turn: credential expired")
	ErrUsernameFuture  = errors.New("turn: credential expiry beyond the configured lifetime")
)

// clockSkew is how far in the future, beyond CredentialLifetime, an expiry is still believed.
const clockSkew = time.Minute

// maxUserID bounds the userid part of a username (STUN USERNAME is at most 513 bytes).
const maxUserID = 128

// SecretFile is where a generated secret lives inside the data directory.
func SecretFile(dataDir string) string { return filepath.Join(dataDir, "turn-secret") }

// LoadSecret returns the secret kept in the data directory, generating it (32 random bytes, base64, mode
// 0600) when the file does not exist yet, so that credentials survive restarts.
func LoadSecret(dataDir string) (string, error) {
	path := SecretFile(dataDir)
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 16 {
			return "", fmt.Errorf("turn secret %s: shorter than 16 characters", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("turn secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race: use its secret
			return LoadSecret(dataDir)
		}
		return "", fmt.Errorf("turn secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("turn secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("turn secret: %w", err)
	}
	return s, nil
}

// RESTPassword is base64(HMAC-SHA1(secret, username)), the password of a TURN REST credential.
func RESTPassword(secret, username string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// RESTUsername is "expiry-unix-time:userid". A ':' inside user is replaced so that the result parses.
func RESTUsername(expires time.Time, user string) string {
	user = strings.ReplaceAll(user, ":", "_")
	if len(user) > maxUserID {
		user = user[:maxUserID]
	}
	if user == "" {
		user = "anonymous"
	}
	return strconv.FormatInt(expires.Unix(), 10) + ":" + user
}

// ParseUsername checks a REST username at time now: exactly one ':', a decimal expiry that has not
// passed and lies at most lifetime (plus a minute) ahead, and a non-empty userid. It returns the userid,
// the key quotas are counted under.
func ParseUsername(username string, now time.Time, lifetime time.Duration) (string, error) {
	exp, user, ok := strings.Cut(username, ":")
	if !ok || user == "" || len(user) > maxUserID || strings.Contains(user, ":") || exp == "" || len(exp) > 12 {
		return "", ErrUsernameFormat
	}
	for i := 0; i < len(exp); i++ {
		if exp[i] < '0' || exp[i] > '9' {
			return "", ErrUsernameFormat
		}
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", ErrUsernameFormat
	}
	switch {
	case t <= now.Unix():
		return "", ErrUsernameExpired
	case t > now.Add(lifetime+clockSkew).Unix():
		return "", ErrUsernameFuture
	}
	return user, nil
}

// SecretID names a REST secret without revealing it: the first 12 bytes of HMAC-SHA256(secret,
// "parley turn secret id"), base64. Nodes that share a secret have the same ID, so a signal node hands
// out credentials only for TURN servers whose ID matches its own secret's.
func SecretID(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("parley turn secret id"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// SecretID is SecretID of the server's secret.
func (s *Server) SecretID() string { return SecretID(s.secret) }
