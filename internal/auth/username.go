package auth

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/secure/precis"
)

const (
	// MaxUsername is the byte limit RFC 7622 §3.3.1 sets for a localpart.
	MaxUsername = 1023
	// MaxPassword bounds a password in bytes, before and after normalisation,
	// so PBKDF2 input (and the work an attacker can ask for) stays small.
	MaxPassword = 1024
)

var (
	// ErrInvalidUsername is wrapped by every NormalizeUsername failure.
	ErrInvalidUsername = errors.New("invalid username")
	// ErrInvalidPassword is wrapped by every password normalisation failure.
	ErrInvalidPassword = errors.New("invalid password")
)

// localpartForbidden are the characters RFC 7622 §3.3.1 excludes from a
// localpart on top of the PRECIS IdentifierClass (space is already excluded
// by the profile, but listing it keeps the rule in one place).
const localpartForbidden = "\"&'/:<>@ "

// NormalizeUsername returns the canonical form of an account name: PRECIS
// UsernameCaseMapped, 1..1023 bytes, and nothing a JID localpart forbids.
func NormalizeUsername(s string) (string, error) {
	// Refuse absurd input before PRECIS spends time on it; normalisation can
	// shrink a string, but never by more than a few bytes per rune.
	if s == "" || len(s) > 4*MaxUsername {
		return "", fmt.Errorf("%w: length %d", ErrInvalidUsername, len(s))
	}
	n, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidUsername, err)
	}
	if n == "" || len(n) > MaxUsername {
		return "", fmt.Errorf("%w: length %d after normalisation", ErrInvalidUsername, len(n))
	}
	if i := strings.IndexAny(n, localpartForbidden); i >= 0 {
		return "", fmt.Errorf("%w: %q is not allowed in a JID localpart", ErrInvalidUsername, n[i])
	}
	return n, nil
}

// normalizePassword applies PRECIS OpaqueString (RFC 8265 §4.2) and the
// length bounds. Errors never include the password.
func normalizePassword(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPassword)
	}
	if len(p) > MaxPassword {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidPassword, MaxPassword)
	}
	n, err := precis.OpaqueString.String(p)
	if err != nil {
		return "", fmt.Errorf("%w: not a valid PRECIS OpaqueString", ErrInvalidPassword)
	}
	if n == "" || len(n) > MaxPassword {
		return "", fmt.Errorf("%w: length after normalisation", ErrInvalidPassword)
	}
	return n, nil
}
