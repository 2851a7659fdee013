package sasl

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/internal/auth"
)

func testVerifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.JWTConfig{AppID: "app", AppSecret: "secret"}, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testToken(t *testing.T, secret string, exp time.Duration) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "app", "aud": "x", "room": "daily", "exp": time.Now().Add(exp).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenMechanisms(t *testing.T) {
	v := testVerifier(t)
	for _, tt := range []struct {
		cfg       Config
		encrypted bool
		want      []string
	}{
		{Config{Tokens: v}, true, []string{"PLAIN", "ANONYMOUS"}},
		{Config{Tokens: v}, false, []string{"ANONYMOUS"}},
		{Config{Tokens: v, Store: newMemStore()}, true, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "ANONYMOUS"}},
	} {
		if got := NewServer(tt.cfg).Mechanisms(tt.encrypted); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Mechanisms(%+v, %v) = %v, want %v", tt.cfg, tt.encrypted, got, tt.want)
		}
	}
}

func TestTokenLogins(t *testing.T) {
	v := testVerifier(t)
	good, expired, forged := testToken(t, "secret", time.Hour), testToken(t, "secret", -time.Hour), testToken(t, "other", time.Hour)
	store := newMemStore().add("alice", "pencil", []byte("0123456789abcdef"), 4096)
	for _, tt := range []struct {
		name     string
		guests   bool
		mech     string
		urlToken string
		msg      string
		cond     string // "" = success
		text     string
		token    bool // identity carries claims
	}{
		{"anonymous with token", false, Anonymous, good, "", "", "", true},
		{"anonymous without token", false, Anonymous, "", "", "not-allowed", "token required", false},
		{"anonymous guest", true, Anonymous, "", "", "", "", false},
		{"anonymous expired", true, Anonymous, expired, "", "not-allowed", "token expired", false},
		{"anonymous forged", false, Anonymous, forged, "", "not-allowed", "token signature is invalid", false},
		{"plain token any user", false, Plain, "", "\x00whoever\x00" + good, "", "", true},
		{"plain expired", false, Plain, "", "\x00whoever\x00" + expired, "not-allowed", "token expired", false},
		{"plain token with authzid", false, Plain, "", "x@example.com\x00whoever\x00" + good, "invalid-authzid", "", false},
		{"plain account password", false, Plain, "", "\x00alice\x00pencil", "", "", false},
		{"plain wrong account password", false, Plain, "", "\x00alice\x00nope", "not-authorized", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(Config{Tokens: v, Guests: tt.guests, Store: store, Domain: "example.com"})
			sess, err := srv.StartWith(tt.mech, true, tt.urlToken)
			if err != nil {
				t.Fatal(err)
			}
			var in []byte
			if tt.msg != "" {
				in = []byte(tt.msg)
			}
			_, done, err := sess.Step(context.Background(), in)
			if tt.cond != "" {
				wantCondition(t, tt.name, err, tt.cond)
				if se, ok := err.(*Error); tt.text != "" && (!ok || se.Text != tt.text) {
					t.Fatalf("text: %v, want %q", err, tt.text)
				}
				return
			}
			if err != nil || !done {
				t.Fatalf("%v %v", done, err)
			}
			id := sess.Identity()
			if (id.Token != nil) != tt.token || tt.token && (!id.Anonymous || id.Token.Room != "daily") {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}
