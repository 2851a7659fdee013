package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// SuiteAES128GCMSHA256 is the RFC 9605 cipher suite 0x0004
// AES_128_GCM_SHA256_128, the only one Parley uses.
const SuiteAES128GCMSHA256 uint16 = 0x0004

// Sizes of suite 0x0004 (RFC 9605 §4.5): key, nonce and tag.
const (
	keySize   = 16
	nonceSize = 12
	TagSize   = 16
)

// MaxHeaderSize is the longest SFrame header: the config byte, 8 KID bytes
// and 8 CTR bytes.
const MaxHeaderSize = 17

// Errors of SFrame processing. A Receiver counts its drops by these.
var (
	// ErrMalformed: the bytes do not hold a clear prefix, an SFrame header
	// and a tag.
	ErrMalformed = errors.New("e2ee: malformed SFrame")
	// ErrUnknownKey: the KID names no key the receiver holds.
	ErrUnknownKey = errors.New("e2ee: unknown key id")
	// ErrAuth: the ciphertext does not authenticate under the KID's key.
	ErrAuth = errors.New("e2ee: authentication failed")
	// ErrReplay: the counter was seen before or is older than the window.
	ErrReplay = errors.New("e2ee: replayed counter")
)

// Header is the SFrame header of RFC 9605 §4.3: the key id and the counter.
type Header struct {
	KID uint64
	CTR uint64
}

// minBytes returns how many big-endian bytes v needs (at least 1).
func minBytes(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return n
}

// AppendHeader appends the encoded header to b: a value below 8 sits in the
// config byte, a larger one follows it in its shortest big-endian form
// (KID first).
func AppendHeader(b []byte, h Header) []byte {
	var cfg byte
	var kidLen, ctrLen int
	if h.KID < 8 {
		cfg |= byte(h.KID) << 4
	} else {
		kidLen = minBytes(h.KID)
		cfg |= 0x80 | byte(kidLen-1)<<4
	}
	if h.CTR < 8 {
		cfg |= byte(h.CTR)
	} else {
		ctrLen = minBytes(h.CTR)
		cfg |= 0x08 | byte(ctrLen-1)
	}
	b = append(b, cfg)
	b = appendUint(b, h.KID, kidLen)
	return appendUint(b, h.CTR, ctrLen)
}

func appendUint(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// ParseHeader decodes the header at the start of b and returns it with its
// encoded length.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, fmt.Errorf("%w: no header byte", ErrMalformed)
	}
	cfg := b[0]
	n := 1
	var h Header
	kid, ctr := uint64(cfg>>4&0x07), uint64(cfg&0x07)
	if cfg&0x80 != 0 {
		l := int(kid) + 1
		if len(b) < n+l {
			return Header{}, 0, fmt.Errorf("%w: KID needs %d bytes", ErrMalformed, l)
		}
		kid = readUint(b[n : n+l])
		n += l
	}
	if cfg&0x08 != 0 {
		l := int(ctr) + 1
		if len(b) < n+l {
			return Header{}, 0, fmt.Errorf("%w: CTR needs %d bytes", ErrMalformed, l)
		}
		ctr = readUint(b[n : n+l])
		n += l
	}
	h.KID, h.CTR = kid, ctr
	return h, n, nil
}

func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// KeySalt is one KID's key and salt, ready to encrypt or decrypt
// (RFC 9605 §4.4.2-§4.4.3).
type KeySalt struct {
	aead cipher.AEAD
	salt [nonceSize]byte
}

// sframeLabel returns "SFrame 1.0 Secret <what> " ‖ KID (8 bytes) ‖ suite (2 bytes).
func sframeLabel(what string, kid uint64) string {
	b := []byte("SFrame 1.0 Secret " + what + " ")
	b = binary.BigEndian.AppendUint64(b, kid)
	b = binary.BigEndian.AppendUint16(b, SuiteAES128GCMSHA256)
	return string(b)
}

// DeriveKeySalt is RFC 9605's derive_key_salt for suite 0x0004: the key and
// salt of one KID under a base key. It also returns the raw key and salt so
// tests can compare them with the RFC's vectors.
func DeriveKeySalt(baseKey []byte, kid uint64) (*KeySalt, []byte, []byte, error) {
	secret, err := hkdf.Extract(sha256.New, baseKey, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("e2ee: sframe_secret: %w", err)
	}
	key, err := hkdf.Expand(sha256.New, secret, sframeLabel("key", kid), keySize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("e2ee: sframe_key: %w", err)
	}
	salt, err := hkdf.Expand(sha256.New, secret, sframeLabel("salt", kid), nonceSize)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("e2ee: sframe_salt: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("e2ee: AES key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("e2ee: GCM: %w", err)
	}
	ks := &KeySalt{aead: aead}
	copy(ks.salt[:], salt)
	return ks, key, salt, nil
}

// nonce is the salt XOR the counter, right-aligned (RFC 9605 §4.4.3).
func (k *KeySalt) nonce(ctr uint64) []byte {
	n := k.salt
	for i := 0; i < 8; i++ {
		n[nonceSize-1-i] ^= byte(ctr >> (8 * i))
	}
	return n[:]
}

// Seal appends the SFrame ciphertext of plaintext to dst: the header, then
// the AEAD output whose AAD is header ‖ metadata (RFC 9605 §4.4.3). The
// metadata itself is not written; the caller sends it beside the ciphertext.
func (k *KeySalt) Seal(dst []byte, h Header, metadata, plaintext []byte) []byte {
	start := len(dst)
	dst = AppendHeader(dst, h)
	hdrEnd := len(dst)
	aad := make([]byte, 0, hdrEnd-start+len(metadata))
	aad = append(aad, dst[start:hdrEnd]...)
	aad = append(aad, metadata...)
	return k.aead.Seal(dst, k.nonce(h.CTR), plaintext, aad)
}

// Open decrypts an SFrame ciphertext (header ‖ ciphertext ‖ tag) whose
// header h spans hdrLen bytes, with the given metadata, appending the
// plaintext to dst.
func (k *KeySalt) Open(dst []byte, h Header, hdrLen int, metadata, sframe []byte) ([]byte, error) {
	if len(sframe) < hdrLen+TagSize {
		return nil, fmt.Errorf("%w: %d bytes hold no tag", ErrMalformed, len(sframe))
	}
	aad := make([]byte, 0, hdrLen+len(metadata))
	aad = append(aad, sframe[:hdrLen]...)
	aad = append(aad, metadata...)
	pt, err := k.aead.Open(dst, k.nonce(h.CTR), sframe[hdrLen:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: KID %d CTR %d", ErrAuth, h.KID, h.CTR)
	}
	return pt, nil
}
