package sasl

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"github.com/parley-im/parley/internal/auth"
)

// rfcVector is a SCRAM exchange from an RFC: user "user", password "pencil".
type rfcVector struct {
	name           string
	mech           string
	salt           string // base64
	snonce         string // server part of the nonce
	c1, s1, c2, s2 string
}

var rfcVectors = []rfcVector{
	{
		name: "RFC 5802 §5", mech: ScramSHA1, salt: "QSXCR+Q6sek8bf92", snonce: "3rfcNHYJY1ZVvWVs7j",
		c1: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		s1: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		c2: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		s2: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		name: "RFC 7677 §3", mech: ScramSHA256, salt: "W22ZaJ0SNY7soEsUEjb6gQ==", snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		c1: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		s1: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		c2: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		s2: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

// rfcStore holds "user"/"pencil" with the vectors' salts; the two RFCs use
// different salts, so there is one store per vector.
func rfcServer(v rfcVector) *Server {
	salt, _ := base64.StdEncoding.DecodeString(v.salt)
	srv := NewServer(Config{Store: newMemStore().add("user", "pencil", salt, 4096), Domain: "example.com"})
	srv.nonce = func() string { return v.snonce }
	return srv
}

// TestScramRFCVectors drives Step with the RFCs' client messages and checks
// the server's messages byte for byte.
func TestScramRFCVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range rfcVectors {
		t.Run(v.name, func(t *testing.T) {
			sess, err := rfcServer(v).Start(v.mech, true)
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := sess.Step(ctx, []byte(v.c1))
			if err != nil || done || string(out) != v.s1 {
				t.Fatalf("client-first: %q %v %v; want %q", out, done, err, v.s1)
			}
			out, done, err = sess.Step(ctx, []byte(v.c2))
			if err != nil || !done || string(out) != v.s2 {
				t.Fatalf("client-final: %q %v %v; want %q", out, done, err, v.s2)
			}
			if id := sess.Identity(); id != (Identity{Username: "user"}) {
				t.Fatalf("identity %+v", id)
			}
			_, _, err = sess.Step(ctx, []byte(v.c2))
			wantCondition(t, "step after success", err, "malformed-request")
		})
	}
}

// TestScramFailures changes one thing in the RFC exchanges at a time.
func TestScramFailures(t *testing.T) {
	ctx := context.Background()
	for _, v := range rfcVectors {
		flipProof := v.c2[:len(v.c2)-5] + "A" + v.c2[len(v.c2)-4:]
		tests := []struct {
			name   string
			c1, c2 string
			cond1  string // expected on the first message
			cond2  string // expected on the final message
		}{
			{"wrong proof", v.c1, flipProof, "", "not-authorized"},
			{"proof of the other hash", v.c1, v.c2[:strings.LastIndex(v.c2, ",p=")] + ",p=" + base64.StdEncoding.EncodeToString(make([]byte, 48)), "", "not-authorized"},
			{"wrong nonce", v.c1, strings.Replace(v.c2, "r=", "r=x", 1), "", "not-authorized"},
			{"channel binding data differs", v.c1, strings.Replace(v.c2, "c=biws", "c=eSws", 1), "", "not-authorized"},
			{"no proof", v.c1, v.c2[:strings.LastIndex(v.c2, ",p=")], "", "malformed-request"},
			{"proof not base64", v.c1, v.c2 + "!", "", "malformed-request"},
			{"client-final garbage", v.c1, "garbage", "", "malformed-request"},
			{"'y' flag with n's c=", strings.Replace(v.c1, "n,,", "y,,", 1), v.c2, "", "not-authorized"},
			{"'p' flag", strings.Replace(v.c1, "n,,", "p=tls-unique,,", 1), "", "not-authorized", ""},
			{"'p' flag, exporter", strings.Replace(v.c1, "n,,", "p=tls-exporter,,", 1), "", "not-authorized", ""},
			{"unknown flag", strings.Replace(v.c1, "n,,", "x,,", 1), "", "malformed-request", ""},
			{"extension m=", "n,,m=ext,n=user,r=abc", "", "malformed-request", ""},
			{"bad name escape", "n,,n=us=er,r=abc", "", "malformed-request", ""},
			{"too few fields", "n,,n=user", "", "malformed-request", ""},
			{"foreign authzid", strings.Replace(v.c1, "n,,", "n,a=admin@example.com,", 1), "", "invalid-authzid", ""},
			{"authzid on another domain", strings.Replace(v.c1, "n,,", "n,a=user@evil.example,", 1), "", "invalid-authzid", ""},
			{"NUL", v.c1 + "\x00", "", "malformed-request", ""},
			{"not UTF-8", v.c1 + "\xff", "", "malformed-request", ""},
			{"too large", v.c1 + strings.Repeat("x", MaxMessage), "", "malformed-request", ""},
		}
		for _, tt := range tests {
			name := v.name + ": " + tt.name
			sess, _ := rfcServer(v).Start(v.mech, true)
			_, done, err := sess.Step(ctx, []byte(tt.c1))
			wantCondition(t, name+" (first)", err, tt.cond1)
			if err == nil {
				_, done, err = sess.Step(ctx, []byte(tt.c2))
				wantCondition(t, name+" (final)", err, tt.cond2)
			}
			if done || sess.Identity() != (Identity{}) {
				t.Errorf("%s: done=%v identity %+v after failure", name, done, sess.Identity())
			}
			if _, _, err := sess.Step(ctx, []byte(v.c2)); err == nil {
				t.Errorf("%s: failed session accepted another step", name)
			}
		}
	}
}

// TestScramOwnAuthzid: an authzid equal to the user's bare JID is fine.
func TestScramOwnAuthzid(t *testing.T) {
	store := newMemStore().add("alice", "pencil", []byte("0123456789abcdef"), 2)
	srv := NewServer(Config{Store: store, Domain: "example.com"})
	for _, authzid := range []string{"", "alice@example.com", "ALICE@Example.COM"} {
		if id, err := clientLogin(srv, ScramSHA256, "alice", "pencil", authzid, false); err != nil || id.Username != "alice" {
			t.Errorf("authzid %q: %+v, %v", authzid, id, err)
		}
	}
}

// TestScramUnknownUser: an unknown name gets a server-first message like a
// real one, with a salt that does not change between attempts, and fails
// only at the proof.
func TestScramUnknownUser(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(Config{Store: newMemStore().add("alice", "pencil", []byte("0123456789abcdef"), 4096)})
	first := func(name string) string {
		sess, _ := srv.Start(ScramSHA256, true)
		out, _, err := sess.Step(ctx, []byte("n,,n="+name+",r=abcdef"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := string(out)
		return s[strings.Index(s, ",s="):] // salt and iterations
	}
	if a, b := first("mallory"), first("mallory"); a != b {
		t.Errorf("fake salt changes between attempts: %s vs %s", a, b)
	}
	if a, b := first("mallory"), first("MALLORY"); a != b {
		t.Errorf("fake salt depends on case: %s vs %s", a, b)
	}
	if a, b := first("mallory"), first("trudy"); a == b {
		t.Errorf("two unknown users share a salt")
	}
	if a, real := first("mallory"), first("alice"); len(a) != len(real) {
		t.Errorf("fake %q and real %q server-first differ in shape", a, real)
	}
	for _, name := range []string{"mallory", "a@b", "in valid"} {
		_, err := clientLogin(srv, ScramSHA256, name, "pencil", "", false)
		wantCondition(t, "unknown user "+name, err, "not-authorized")
	}
}

func TestScramStoreDown(t *testing.T) {
	store := newMemStore()
	store.err = errStoreDown
	sess, _ := NewServer(Config{Store: store}).Start(ScramSHA1, true)
	_, _, err := sess.Step(context.Background(), []byte("n,,n=user,r=abc"))
	wantCondition(t, "store down", err, "temporary-auth-failure")
}

// TestScramNoInitialResponse: <auth mechanism='SCRAM-SHA-1'/> without text
// gets an empty challenge; the client-first message follows as a response.
func TestScramNoInitialResponse(t *testing.T) {
	ctx := context.Background()
	v := rfcVectors[0]
	sess, _ := rfcServer(v).Start(v.mech, true)
	for i, step := range []struct {
		in, out string
		nilIn   bool
		done    bool
	}{{nilIn: true}, {in: v.c1, out: v.s1}, {in: v.c2, out: v.s2, done: true}} {
		var in []byte
		if !step.nilIn {
			in = []byte(step.in)
		}
		out, done, err := sess.Step(ctx, in)
		if err != nil || done != step.done || string(out) != step.out || (step.out == "") != (out == nil) {
			t.Fatalf("step %d: %q %v %v", i, out, done, err)
		}
	}
}

// TestScramAgainstStore runs full exchanges with xdg-go/scram's client
// against a real auth.Store in an SQLite file, for both hashes, with the
// 'n' and 'y' channel-binding flags.
func TestScramAgainstStore(t *testing.T) {
	ctx := context.Background()
	st, err := auth.Open(filepath.Join(t.TempDir(), "accounts.db"), auth.WithIterations(2))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddUser(ctx, "Alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Config{Store: st, Domain: "example.com"})
	for _, mech := range []string{ScramSHA1, ScramSHA256} {
		for _, y := range []bool{false, true} {
			id, err := clientLogin(srv, mech, "alice", "correct horse", "", y)
			if err != nil || id != (Identity{Username: "alice"}) {
				t.Errorf("%s y=%v: %+v, %v", mech, y, id, err)
			}
			_, err = clientLogin(srv, mech, "alice", "wrong horse", "", y)
			wantCondition(t, mech+" wrong password", err, "not-authorized")
			_, err = clientLogin(srv, mech, "bob", "correct horse", "", y)
			wantCondition(t, mech+" unknown user", err, "not-authorized")
		}
		// PLAIN against the same store.
		sess, _ := srv.Start(Plain, true)
		if _, done, err := sess.Step(ctx, []byte("\x00ALICE\x00correct horse")); !done || err != nil {
			t.Errorf("PLAIN: %v %v", done, err)
		}
	}
}

// clientLogin runs xdg-go/scram's client against srv and returns the
// identity, or the server's error. It also checks the server signature.
func clientLogin(srv *Server, mech, user, password, authzid string, y bool) (Identity, error) {
	ctx := context.Background()
	gen := scram.SHA256
	if mech == ScramSHA1 {
		gen = scram.SHA1
	}
	client, err := gen.NewClient(user, password, authzid)
	if err != nil {
		return Identity{}, err
	}
	client = client.WithMinIterations(1)
	conv := client.NewConversation()
	if y {
		conv = client.NewConversationAdvertisingChannelBinding()
	}
	sess, err := srv.Start(mech, true)
	if err != nil {
		return Identity{}, err
	}
	var in string
	for !conv.Done() {
		msg, err := conv.Step(in)
		if err != nil {
			return Identity{}, err
		}
		// Round-trip through the XML encoding as c2s would.
		b, err := DecodePayload(EncodePayload([]byte(msg)))
		if err != nil {
			return Identity{}, err
		}
		out, done, err := sess.Step(ctx, b)
		if err != nil {
			return Identity{}, err
		}
		if done {
			if _, err := conv.Step(string(out)); err != nil || !conv.Valid() {
				return Identity{}, err // bad server signature
			}
			return sess.Identity(), nil
		}
		in = string(out)
	}
	return Identity{}, nil
}
