package e2ee

import (
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// SecretSize is the size of an epoch secret.
const SecretSize = 32

// BaseKeySize is the size of the SFrame base key (Nk of suite 0x0004).
const BaseKeySize = keySize

// PassphraseIterations is PBKDF2's iteration count for the passphrase key.
const PassphraseIterations = 600000

// Labels of the key schedule (docs/e2ee.md).
const (
	labelRatchet  = "Parley epoch ratchet"
	labelBaseKey  = "Parley SFrame base key"
	labelCode     = "Parley security code"
	passSaltStart = "parley-e2ee-v1 "
)

// NewSecret draws a fresh random epoch secret.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("e2ee: epoch secret: %w", err)
	}
	return s, nil
}

// Ratchet returns the next epoch's secret after a join:
// HKDF-Expand(HKDF-Extract("", secret), "Parley epoch ratchet", 32). A
// newcomer given the result cannot go back to the secret before it.
func Ratchet(secret []byte) []byte {
	prk := extract(nil, secret)
	return expand(prk, labelRatchet, SecretSize)
}

// PassphraseKey derives the meeting's passphrase key once per meeting:
// PBKDF2-HMAC-SHA256(passphrase, "parley-e2ee-v1 " ‖ room bare JID, 600000, 32).
// An empty passphrase gives nil (no passphrase).
func PassphraseKey(passphrase, room string) ([]byte, error) {
	if passphrase == "" {
		return nil, nil
	}
	k, err := pbkdf2.Key(sha256.New, passphrase, []byte(passSaltStart+room), PassphraseIterations, 32)
	if err != nil {
		return nil, fmt.Errorf("e2ee: passphrase key: %w", err)
	}
	return k, nil
}

// Mix returns the epoch's mixed secret, HKDF-Extract(salt = passKey, ikm =
// secret), with an empty salt when there is no passphrase. Everything that
// protects media comes from the mixed secret, so a server that learns the
// epoch secret by substituting a key still lacks the passphrase's part.
func Mix(secret, passKey []byte) []byte {
	return extract(passKey, secret)
}

// BaseKey returns HKDF-Expand(mixed, "Parley SFrame base key", 16), the
// RFC 9605 base_key every KID's key and salt come from.
func BaseKey(mixed []byte) []byte {
	return expand(mixed, labelBaseKey, BaseKeySize)
}

// SecurityCodeBytes is the raw security code:
// HKDF-Expand(HKDF-Extract("", mixed), "Parley security code" ‖ roster hash, 24).
func SecurityCodeBytes(mixed []byte, rosterHash [32]byte) []byte {
	prk := extract(nil, mixed)
	return expand(prk, labelCode+string(rosterHash[:]), 24)
}

// SecurityCode is the code everyone in an epoch reads aloud: six groups of
// five digits, group i the big-endian uint32 of bytes 4i..4i+3 mod 100000.
func SecurityCode(mixed []byte, rosterHash [32]byte) string {
	b := SecurityCodeBytes(mixed, rosterHash)
	out := make([]byte, 0, 35)
	for i := 0; i < 6; i++ {
		v := uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
		if i > 0 {
			out = append(out, ' ')
		}
		out = fmt.Appendf(out, "%05d", v%100000)
	}
	return string(out)
}

// extract and expand are HKDF-SHA256 with the inputs this package always
// gives them; they cannot fail (SHA-256 and lengths far below 255*32).
func extract(salt, ikm []byte) []byte {
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		panic("e2ee: HKDF-Extract: " + err.Error())
	}
	return prk
}

func expand(prk []byte, info string, n int) []byte {
	out, err := hkdf.Expand(sha256.New, prk, info, n)
	if err != nil {
		panic("e2ee: HKDF-Expand: " + err.Error())
	}
	return out
}
