package sasl

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestMechanisms(t *testing.T) {
	store := newMemStore()
	tests := []struct {
		cfg       Config
		encrypted bool
		want      []string
	}{
		{Config{Store: store, AllowAnonymous: true}, true, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "ANONYMOUS"}},
		{Config{Store: store, AllowAnonymous: true}, false, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "ANONYMOUS"}},
		{Config{Store: store}, true, []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}},
		{Config{AllowAnonymous: true}, true, []string{"ANONYMOUS"}},
		{Config{}, true, nil},
	}
	for _, tt := range tests {
		if got := NewServer(tt.cfg).Mechanisms(tt.encrypted); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Mechanisms(%+v, encrypted=%v) = %v, want %v", tt.cfg, tt.encrypted, got, tt.want)
		}
	}
}

func TestStart(t *testing.T) {
	store := newMemStore()
	full := Config{Store: store, AllowAnonymous: true}
	tests := []struct {
		name      string
		cfg       Config
		mech      string
		encrypted bool
		cond      string
	}{
		{"anonymous", full, "ANONYMOUS", false, ""},
		{"anonymous disabled", Config{Store: store}, "ANONYMOUS", true, "invalid-mechanism"},
		{"plain over TLS", full, "PLAIN", true, ""},
		{"plain without TLS", full, "PLAIN", false, "encryption-required"},
		{"plain without store", Config{AllowAnonymous: true}, "PLAIN", true, "invalid-mechanism"},
		{"scram-sha-1", full, "SCRAM-SHA-1", false, ""},
		{"scram-sha-256", full, "SCRAM-SHA-256", true, ""},
		{"scram without store", Config{AllowAnonymous: true}, "SCRAM-SHA-256", true, "invalid-mechanism"},
		{"-PLUS not offered", full, "SCRAM-SHA-256-PLUS", true, "invalid-mechanism"},
		{"names are case-sensitive", full, "plain", true, "invalid-mechanism"},
		{"unknown", full, "DIGEST-MD5", true, "invalid-mechanism"},
		{"empty", full, "", true, "invalid-mechanism"},
	}
	for _, tt := range tests {
		sess, err := NewServer(tt.cfg).Start(tt.mech, tt.encrypted)
		wantCondition(t, tt.name, err, tt.cond)
		if (sess == nil) != (tt.cond != "") {
			t.Errorf("%s: session %v with error %v", tt.name, sess, err)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := fail(ErrNotAuthorized, "some text", errStoreDown)
	if !errors.Is(err, ErrNotAuthorized) || errors.Is(err, ErrMalformedRequest) {
		t.Error("errors.Is does not match on condition")
	}
	if !errors.Is(err, errStoreDown) {
		t.Error("cause not reachable with errors.Is")
	}
	if got, want := err.Error(), "sasl: not-authorized: some text: database is locked"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAnonymous(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(Config{AllowAnonymous: true})
	for _, tt := range []struct {
		name string
		in   []byte
		cond string
	}{
		{"no initial response", nil, ""},
		{"empty", []byte{}, ""},
		{"trace", []byte("sirhc"), ""},
		{"email trace", []byte("abc@example.com"), ""},
		{"255 characters", []byte(string(make([]rune, 255))), ""},
		{"256 characters", []byte(string(make([]rune, 256))), "malformed-request"},
		{"not UTF-8", []byte{0xff, 0xfe}, "malformed-request"},
	} {
		sess, _ := srv.Start(Anonymous, false)
		out, done, err := sess.Step(ctx, tt.in)
		wantCondition(t, tt.name, err, tt.cond)
		if tt.cond != "" {
			if done || sess.Identity() != (Identity{}) {
				t.Errorf("%s: failed session reports done=%v identity %+v", tt.name, done, sess.Identity())
			}
			continue
		}
		if !done || out != nil || sess.Identity() != (Identity{Anonymous: true}) {
			t.Errorf("%s: out %q done %v identity %+v", tt.name, out, done, sess.Identity())
		}
		_, _, err = sess.Step(ctx, nil)
		wantCondition(t, tt.name+": step after success", err, "malformed-request")
	}
}
