package auth

import (
	"fmt"

	"github.com/xdg-go/scram"
)

// Hash names the hash function of a SCRAM mechanism.
type Hash int

const (
	SHA1   Hash = iota + 1 // SCRAM-SHA-1 (RFC 5802)
	SHA256                 // SCRAM-SHA-256 (RFC 7677)
)

func (h Hash) String() string {
	switch h {
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	}
	return fmt.Sprintf("Hash(%d)", int(h))
}

// scram returns the xdg-go hash generator for h.
func (h Hash) scram() (scram.HashGeneratorFcn, error) {
	switch h {
	case SHA1:
		return scram.SHA1, nil
	case SHA256:
		return scram.SHA256, nil
	}
	return nil, fmt.Errorf("auth: unknown hash %v", h)
}

const (
	// DefaultIterations is the PBKDF2 iteration count for new passwords, the
	// minimum RFC 7677 §4 recommends and what SCRAM clients expect.
	DefaultIterations = 4096
	// SaltSize is the length of the random per-user salt.
	SaltSize = 16
)

// Credentials are what a SCRAM server needs for one user and one hash.
type Credentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// DeriveCredentials computes SCRAM credentials from a password that has
// already been normalised (OpaqueString). The store uses it, and tests use it
// to build credentials with the salts and iteration counts of the RFC vectors.
func DeriveCredentials(h Hash, password string, salt []byte, iterations int) (Credentials, error) {
	gen, err := h.scram()
	if err != nil {
		return Credentials{}, err
	}
	if iterations < 1 {
		return Credentials{}, fmt.Errorf("auth: iteration count %d", iterations)
	}
	// The unprepped client only derives keys here; normalisation is ours.
	c, err := gen.NewClientUnprepped("", password, "")
	if err != nil {
		return Credentials{}, err
	}
	sc, err := c.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return Credentials{}, fmt.Errorf("auth: deriving %v keys: %w", h, err)
	}
	return Credentials{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  sc.StoredKey,
		ServerKey:  sc.ServerKey,
	}, nil
}
