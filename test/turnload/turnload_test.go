package main

import (
	"testing"
	"time"

	"github.com/parley-im/parley/internal/turn"
)

// The load generator's REST credential is the one Parley's TURN server (and coturn's use-auth-secret)
// derives.
func TestRESTCredential(t *testing.T) {
	const secret = "0123456789abcdef0123"
	name, pw := restCredential(secret, "turnload-3", time.Hour)
	if want := turn.RESTPassword(secret, name); pw != want {
		t.Fatalf("password %q, want %q", pw, want)
	}
	user, err := turn.ParseUsername(name, time.Now(), 24*time.Hour)
	if err != nil || user != "turnload-3" {
		t.Fatalf("ParseUsername(%q) = %q, %v", name, user, err)
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 249985: "249,985", -1234567: "-1,234,567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}
