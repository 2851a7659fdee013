package e2ee

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// rfcVectors is the part of the RFC 9605 test-vector file this package
// implements: the header cases and the full SFrame cases.
type rfcVectors struct {
	Header []struct {
		KID     uint64   `json:"kid"`
		CTR     uint64   `json:"ctr"`
		Encoded hexBytes `json:"encoded"`
	} `json:"header"`
	SFrame []struct {
		Suite      uint16   `json:"cipher_suite"`
		KID        uint64   `json:"kid"`
		CTR        uint64   `json:"ctr"`
		BaseKey    hexBytes `json:"base_key"`
		KeyLabel   hexBytes `json:"sframe_key_label"`
		SaltLabel  hexBytes `json:"sframe_salt_label"`
		Secret     hexBytes `json:"sframe_secret"`
		Key        hexBytes `json:"sframe_key"`
		Salt       hexBytes `json:"sframe_salt"`
		Metadata   hexBytes `json:"metadata"`
		Nonce      hexBytes `json:"nonce"`
		AAD        hexBytes `json:"aad"`
		Plaintext  hexBytes `json:"pt"`
		Ciphertext hexBytes `json:"ct"`
	} `json:"sframe"`
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func loadRFCVectors(t *testing.T) rfcVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/rfc9605-test-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("test vectors: %v", err)
	}
	if len(v.Header) < 289 || len(v.SFrame) == 0 {
		t.Fatalf("test vectors: %d header cases, %d SFrame cases", len(v.Header), len(v.SFrame))
	}
	return v
}

func TestRFC9605Header(t *testing.T) {
	for _, c := range loadRFCVectors(t).Header {
		got := AppendHeader(nil, Header{KID: c.KID, CTR: c.CTR})
		if !bytes.Equal(got, c.Encoded) {
			t.Errorf("encode KID %d CTR %d: %x, want %x", c.KID, c.CTR, got, []byte(c.Encoded))
		}
		h, n, err := ParseHeader(append(append([]byte(nil), c.Encoded...), 0xAA, 0xBB))
		if err != nil || n != len(c.Encoded) || h.KID != c.KID || h.CTR != c.CTR {
			t.Errorf("decode %x: %+v, %d bytes, %v", []byte(c.Encoded), h, n, err)
		}
	}
}

func TestRFC9605SFrameSuite4(t *testing.T) {
	ran := 0
	for _, c := range loadRFCVectors(t).SFrame {
		if c.Suite != SuiteAES128GCMSHA256 {
			continue
		}
		ran++
		if got := sframeLabel("key", c.KID); got != string(c.KeyLabel) {
			t.Errorf("key label %x, want %x", got, []byte(c.KeyLabel))
		}
		if got := sframeLabel("salt", c.KID); got != string(c.SaltLabel) {
			t.Errorf("salt label %x, want %x", got, []byte(c.SaltLabel))
		}
		secret, _ := hkdf.Extract(sha256.New, c.BaseKey, nil)
		if !bytes.Equal(secret, c.Secret) {
			t.Errorf("sframe_secret %x, want %x", secret, []byte(c.Secret))
		}
		ks, key, salt, err := DeriveKeySalt(c.BaseKey, c.KID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(key, c.Key) || !bytes.Equal(salt, c.Salt) {
			t.Errorf("key %x salt %x, want %x %x", key, salt, []byte(c.Key), []byte(c.Salt))
		}
		if got := ks.nonce(c.CTR); !bytes.Equal(got, c.Nonce) {
			t.Errorf("nonce %x, want %x", got, []byte(c.Nonce))
		}
		h := Header{KID: c.KID, CTR: c.CTR}
		if aad := append(AppendHeader(nil, h), c.Metadata...); !bytes.Equal(aad, c.AAD) {
			t.Errorf("aad %x, want %x", aad, []byte(c.AAD))
		}
		ct := ks.Seal(nil, h, c.Metadata, c.Plaintext)
		if !bytes.Equal(ct, c.Ciphertext) {
			t.Errorf("ct %x\nwant %x", ct, []byte(c.Ciphertext))
		}
		ph, hl, err := ParseHeader(c.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := ks.Open(nil, ph, hl, c.Metadata, c.Ciphertext)
		if err != nil || !bytes.Equal(pt, c.Plaintext) {
			t.Errorf("open: %x, %v", pt, err)
		}
		if _, err := ks.Open(nil, ph, hl, c.Metadata[1:], c.Ciphertext); !errors.Is(err, ErrAuth) {
			t.Errorf("open with other metadata: %v, want ErrAuth", err)
		}
	}
	if ran == 0 {
		t.Fatal("no suite 0x0004 case in the vectors")
	}
}

func TestParseHeaderTruncated(t *testing.T) {
	full := AppendHeader(nil, Header{KID: 0x123456, CTR: 0x1122334455})
	for n := 0; n < len(full); n++ {
		if _, _, err := ParseHeader(full[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d of %d bytes: %v, want ErrMalformed", n, len(full), err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x00})
	f.Add([]byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{0x99, 0x01, 0x23, 0x45, 0x67})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		// A header that parses re-encodes to the same bytes when it is
		// minimal; it must at least parse back to the same values.
		enc := AppendHeader(nil, h)
		h2, n2, err := ParseHeader(enc)
		if err != nil || h2 != h || n2 != len(enc) || n > len(b) {
			t.Fatalf("%x: %+v then %x: %+v %v", b, h, enc, h2, err)
		}
	})
}
