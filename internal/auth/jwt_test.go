package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "s3cret-app-secret"

// jwtRig is a verifier with an app secret and a keys-dir holding one RSA
// and one P-256 key, and the private halves to sign with.
type jwtRig struct {
	v      *Verifier
	dir    string
	rsaKey *rsa.PrivateKey
	ecKey  *ecdsa.PrivateKey
	rsaPEM []byte
}

func writeKey(t *testing.T, dir, kid string, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	sum := sha256.Sum256([]byte(kid))
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".pem"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func newJWTRig(t *testing.T, cfg JWTConfig) *jwtRig {
	t.Helper()
	r := &jwtRig{dir: t.TempDir()}
	var err error
	if r.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if r.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	r.rsaPEM = writeKey(t, r.dir, "rsa-1", &r.rsaKey.PublicKey)
	writeKey(t, r.dir, "ec-1", &r.ecKey.PublicKey)
	if cfg.AppID == "" {
		cfg.AppID = "parley-app"
	}
	if cfg.KeysDir == "-" {
		cfg.KeysDir = ""
	} else if cfg.KeysDir == "" {
		cfg.KeysDir = r.dir
	}
	if r.v, err = NewVerifier(cfg, "meet.example"); err != nil {
		t.Fatal(err)
	}
	return r
}

// claims are valid ones for room "daily"; edit the copy per case.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":  "parley-app",
		"aud":  "jitsi",
		"sub":  "meet.example",
		"room": "daily",
		"exp":  now.Add(time.Hour).Unix(),
		"nbf":  now.Add(-time.Minute).Unix(),
		"context": map[string]any{"user": map[string]any{
			"id": "u-42", "name": "Ada Lovelace", "email": "ada@example.org",
			"avatar": "https://example.org/ada.png", "moderator": "true",
		}},
	}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	if v == nil {
		delete(c, k)
	}
	return c
}

// unsigned builds a token by hand: header and claims JSON, and a signature part.
func unsigned(header, claims, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "." + sig
}

func TestJWTVerify(t *testing.T) {
	r := newJWTRig(t, JWTConfig{AppSecret: testSecret})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, r.rsaKey, "rsa-1", c) }
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name  string
		token string
		want  error // nil: valid
	}{
		{"valid HS256", hs(validClaims()), nil},
		{"valid RS256", rs(validClaims()), nil},
		{"valid ES256", sign(t, jwt.SigningMethodES256, r.ecKey, "ec-1", validClaims()), nil},
		{"valid aud list and sub *", hs(with(with(validClaims(), "aud", []string{"x", "jitsi"}), "sub", "*")), nil},
		{"valid without sub", hs(with(validClaims(), "sub", nil)), nil},
		{"valid room *", hs(with(validClaims(), "room", "*")), nil},
		{"expired", hs(with(validClaims(), "exp", time.Now().Add(-time.Minute).Unix())), ErrExpired},
		{"expired within leeway", hs(with(validClaims(), "exp", time.Now().Add(-Leeway/2).Unix())), nil},
		{"no exp", hs(with(validClaims(), "exp", nil)), ErrExpMissing},
		{"not yet valid", hs(with(validClaims(), "nbf", time.Now().Add(time.Minute).Unix())), ErrNotYetValid},
		{"wrong issuer", hs(with(validClaims(), "iss", "someone-else")), ErrIssuer},
		{"no issuer", hs(with(validClaims(), "iss", nil)), ErrIssuerMissing},
		{"no audience", hs(with(validClaims(), "aud", nil)), ErrAudienceMissing},
		{"wrong sub", hs(with(validClaims(), "sub", "other.example")), ErrSubject},
		{"no room", hs(with(validClaims(), "room", nil)), ErrRoomMissing},
		{"bad room", hs(with(validClaims(), "room", "a/b@c")), ErrRoom},
		{"bad signature HS256", sign(t, jwt.SigningMethodHS256, []byte("wrong secret"), "", validClaims()), ErrSignature},
		{"bad signature RS256", sign(t, jwt.SigningMethodRS256, otherRSA, "rsa-1", validClaims()), ErrSignature},
		{"alg none", unsigned(`{"alg":"none","typ":"JWT"}`, `{"iss":"parley-app","aud":"jitsi","room":"*","exp":9999999999}`, ""), ErrAlgorithm},
		{"alg none with signature", unsigned(`{"alg":"none"}`, `{"iss":"parley-app","aud":"jitsi","room":"*","exp":9999999999}`, "c2ln"), ErrAlgorithm},
		{"alg HS512", sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", validClaims()), ErrAlgorithm},
		// The classic confusion: HS256 with the RSA public key's PEM as the
		// secret, naming that key's kid.
		{"HS256 signed with the public key", sign(t, jwt.SigningMethodHS256, r.rsaPEM, "rsa-1", validClaims()), ErrSignature},
		{"RS256 without kid", sign(t, jwt.SigningMethodRS256, r.rsaKey, "", validClaims()), ErrKIDMissing},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, r.rsaKey, "rsa-2", validClaims()), ErrKeyUnknown},
		{"kid path trick", sign(t, jwt.SigningMethodRS256, r.rsaKey, "../../etc/passwd", validClaims()), ErrKeyUnknown},
		{"ES256 with the RSA kid", sign(t, jwt.SigningMethodES256, r.ecKey, "rsa-1", validClaims()), ErrKeyUnknown},
		{"empty", "", ErrTokenRequired},
		{"garbage", "not.a.token", ErrTokenMalformed},
		{"garbage no dots", "eyJhbGciOiJIUzI1NiJ9", ErrTokenMalformed},
		{"header not JSON", unsigned(`{alg`, `{}`, "x"), ErrTokenMalformed},
		{"huge", hs(with(validClaims(), "pad", strings.Repeat("x", MaxTokenBytes))), ErrTokenTooLarge},
		{"room not a string", hs(with(validClaims(), "room", 7)), ErrTokenMalformed},
		{"name too long", hs(with(validClaims(), "context", map[string]any{"user": map[string]any{"name": strings.Repeat("n", MaxClaimBytes+1)}})), ErrContextUser},
		{"name with control character", hs(with(validClaims(), "context", map[string]any{"user": map[string]any{"name": "Ada\u0007"}})), ErrContextUser},
		{"name with bidi override", hs(with(validClaims(), "context", map[string]any{"user": map[string]any{"name": "Ada\u202e"}})), ErrContextUser},
		{"name an object", hs(with(validClaims(), "context", map[string]any{"user": map[string]any{"name": map[string]any{}}})), ErrContextUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := r.v.Verify(tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if c.Room == "" || c.Expires.IsZero() {
					t.Fatalf("claims: %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("got %v, %+v; want %v", err, c, tc.want)
			}
		})
	}
}

func TestJWTClaims(t *testing.T) {
	r := newJWTRig(t, JWTConfig{AppSecret: testSecret})
	c, err := r.v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", with(validClaims(), "room", "Daily")))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Room: "daily", Moderator: true, ID: "u-42", Name: "Ada Lovelace", Email: "ada@example.org", Avatar: "https://example.org/ada.png", Expires: c.Expires}
	if *c != want {
		t.Fatalf("got %+v, want %+v", *c, want)
	}
	// Wrong room: the token is valid, the room check refuses another room.
	if !c.AllowsRoom("daily") || c.AllowsRoom("weekly") {
		t.Fatal("AllowsRoom")
	}
	star := &Claims{Room: "*"}
	if !star.AllowsRoom("anything") || (*Claims)(nil).AllowsRoom("daily") {
		t.Fatal("AllowsRoom *")
	}
	for _, m := range []struct {
		v    any
		want bool
	}{{true, true}, {"true", true}, {"TRUE", true}, {false, false}, {"false", false}, {"yes", false}, {1, false}} {
		cl := with(validClaims(), "context", map[string]any{"user": map[string]any{"moderator": m.v, "id": 42}})
		c, err := r.v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", cl))
		if err != nil || c.Moderator != m.want || c.ID != "42" {
			t.Fatalf("moderator %v: %+v %v", m.v, c, err)
		}
	}
}

// Only the configured key source is used: an RS token when only a secret is
// configured, and an HS token when only keys are, are refused.
func TestJWTAlgorithmConfusion(t *testing.T) {
	secretOnly := newJWTRig(t, JWTConfig{AppSecret: testSecret, KeysDir: "-"})
	if _, err := secretOnly.v.Verify(sign(t, jwt.SigningMethodRS256, secretOnly.rsaKey, "rsa-1", validClaims())); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("RS256 with only a secret: %v", err)
	}
	keysOnly := newJWTRig(t, JWTConfig{})
	for name, tok := range map[string]string{
		"HS256 with the public key": sign(t, jwt.SigningMethodHS256, keysOnly.rsaPEM, "rsa-1", validClaims()),
		"HS256 with an empty key":   unsigned(`{"alg":"HS256","kid":"rsa-1"}`, `{"iss":"parley-app","aud":"x","room":"*","exp":9999999999}`, ""),
	} {
		if _, err := keysOnly.v.Verify(tok); !errors.Is(err, ErrAlgorithm) {
			t.Fatalf("%s with only keys: %v", name, err)
		}
	}
	if _, err := keysOnly.v.Verify(sign(t, jwt.SigningMethodRS256, keysOnly.rsaKey, "rsa-1", validClaims())); err != nil {
		t.Fatal(err)
	}
}

func TestJWTAcceptedLists(t *testing.T) {
	r := newJWTRig(t, JWTConfig{AppSecret: testSecret, AcceptedIssuers: []string{"idp-a", "idp-b"}, AcceptedAudiences: []string{"parley"}})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	ok := with(with(validClaims(), "iss", "idp-b"), "aud", []string{"other", "parley"})
	if _, err := r.v.Verify(hs(ok)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.v.Verify(hs(with(validClaims(), "aud", "parley"))); !errors.Is(err, ErrIssuer) {
		t.Fatalf("app-id is no longer an issuer once the list is set: %v", err)
	}
	if _, err := r.v.Verify(hs(with(with(validClaims(), "iss", "idp-a"), "aud", "jitsi"))); !errors.Is(err, ErrAudience) {
		t.Fatalf("wrong audience: %v", err)
	}
}

func TestAuthConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{Mode: "tokens"}).Validate(); err == nil {
		t.Fatal("unknown mode accepted")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  JWTConfig
		want string
	}{
		{JWTConfig{AppSecret: "x"}, "app-id"},
		{JWTConfig{AppID: "a"}, "app-secret or keys-dir"},
		{JWTConfig{AppID: "a", KeysDir: filepath.Join(dir, "missing")}, "not a directory"},
		{JWTConfig{AppID: "a", KeysDir: dir}, ""},
		{JWTConfig{AppID: "a", AppSecret: "x"}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
