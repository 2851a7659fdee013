package sasl

import (
	"context"
	"strings"
	"testing"
)

func plainServer(store *memStore) *Server {
	return NewServer(Config{Store: store, Domain: "example.com"})
}

func TestPlain(t *testing.T) {
	store := newMemStore().add("alice", "pencil", nil, 1).add("bob", "crayon", nil, 1)
	srv := plainServer(store)
	tests := []struct {
		name string
		msg  string
		cond string
		user string
	}{
		{"good", "\x00alice\x00pencil", "", "alice"},
		{"name case-mapped", "\x00ALICE\x00pencil", "", "alice"},
		{"own bare JID as authzid", "alice@example.com\x00alice\x00pencil", "", "alice"},
		{"own bare JID, other case", "Alice@EXAMPLE.com\x00alice\x00pencil", "", "alice"},
		{"foreign authzid", "bob@example.com\x00alice\x00pencil", "invalid-authzid", ""},
		{"own name on another domain", "alice@evil.example\x00alice\x00pencil", "invalid-authzid", ""},
		{"authzid without domain", "alice\x00alice\x00pencil", "invalid-authzid", ""},
		{"authzid with resource", "alice@example.com/r\x00alice\x00pencil", "invalid-authzid", ""},
		{"authzid domain, Kelvin sign", "alice@example.\u212aom\x00alice\x00pencil", "invalid-authzid", ""},
		{"wrong password", "\x00alice\x00Pencil", "not-authorized", ""},
		{"other user's password", "\x00alice\x00crayon", "not-authorized", ""},
		{"unknown user", "\x00carol\x00pencil", "not-authorized", ""},
		{"invalid name", "\x00a@b\x00pencil", "not-authorized", ""},
		{"NUL in password", "\x00alice\x00pen\x00cil", "malformed-request", ""},
		{"NUL after password", "\x00alice\x00pencil\x00", "malformed-request", ""},
		{"NUL in authzid", "a\x00b\x00alice\x00pencil", "malformed-request", ""},
		{"one NUL", "alice\x00pencil", "malformed-request", ""},
		{"no NUL", "alicepencil", "malformed-request", ""},
		{"empty authcid", "\x00\x00pencil", "malformed-request", ""},
		{"empty password", "\x00alice\x00", "malformed-request", ""},
		{"empty message", "", "malformed-request", ""},
		{"not UTF-8", "\x00alice\x00pen\xffcil", "malformed-request", ""},
		{"too large", "\x00alice\x00" + strings.Repeat("p", MaxMessage), "malformed-request", ""},
	}
	for _, tt := range tests {
		sess, err := srv.Start(Plain, true)
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := sess.Step(context.Background(), []byte(tt.msg))
		wantCondition(t, tt.name, err, tt.cond)
		if done != (tt.cond == "") || out != nil || sess.Identity() != (Identity{Username: tt.user}) {
			t.Errorf("%s: out %q done %v identity %+v", tt.name, out, done, sess.Identity())
		}
		// Finished sessions, failed or not, refuse more.
		_, done, err = sess.Step(context.Background(), []byte("\x00alice\x00pencil"))
		wantCondition(t, tt.name+": second step", err, "malformed-request")
		if done || sess.Identity() != (Identity{Username: tt.user}) {
			t.Errorf("%s: second step changed the outcome", tt.name)
		}
	}
}

// TestPlainNoInitialResponse: <auth mechanism='PLAIN'/> gets an empty
// challenge, then the <response/> is the PLAIN message.
func TestPlainNoInitialResponse(t *testing.T) {
	ctx := context.Background()
	sess, _ := plainServer(newMemStore().add("alice", "pencil", nil, 1)).Start(Plain, true)
	out, done, err := sess.Step(ctx, nil)
	if out != nil || done || err != nil {
		t.Fatalf("first step: %q %v %v; want empty challenge", out, done, err)
	}
	out, done, err = sess.Step(ctx, []byte("\x00alice\x00pencil"))
	if out != nil || !done || err != nil || sess.Identity().Username != "alice" {
		t.Fatalf("second step: %q %v %v %+v", out, done, err, sess.Identity())
	}
}

func TestPlainStoreDown(t *testing.T) {
	store := newMemStore().add("alice", "pencil", nil, 1)
	store.err = errStoreDown
	sess, _ := plainServer(store).Start(Plain, true)
	_, _, err := sess.Step(context.Background(), []byte("\x00alice\x00pencil"))
	wantCondition(t, "store down", err, "temporary-auth-failure")
}

func TestPlainNoDomainRefusesAuthzid(t *testing.T) {
	sess, _ := NewServer(Config{Store: newMemStore().add("alice", "pencil", nil, 1)}).Start(Plain, true)
	_, _, err := sess.Step(context.Background(), []byte("alice@\x00alice\x00pencil"))
	wantCondition(t, "empty Domain", err, "invalid-authzid")
}
