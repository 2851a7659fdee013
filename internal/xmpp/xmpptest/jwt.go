package xmpptest

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/config"
)

// JWT test values: the app id and HS256 secret JWTMode configures.
const (
	JWTAppID  = "parley-test"
	JWTSecret = "test-secret-for-hs256"
)

// JWTMode returns a Start mutator for [auth] mode = "jwt" with the test app
// id and secret; guests sets [auth] guests.
func JWTMode(guests bool) func(*config.Config) {
	return func(c *config.Config) {
		c.Auth = auth.Config{Mode: auth.ModeJWT, Guests: guests}
		c.JWT = auth.JWTConfig{AppID: JWTAppID, AppSecret: JWTSecret}
	}
}

// TokenClaims are valid claims for room (a room's local part or "*"),
// expiring in an hour; edit the map before signing.
func TokenClaims(room string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": JWTAppID, "aud": "jitsi", "sub": "*", "room": room,
		"exp": time.Now().Add(time.Hour).Unix(),
	}
}

// Token signs claims with the test secret (HS256).
func Token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
