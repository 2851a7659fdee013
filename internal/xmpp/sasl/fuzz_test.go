package sasl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/auth"
)

// Seeds live in testdata/fuzz/<Target>/ and run on every `go test`;
// `go test -fuzz=FuzzScram ./internal/xmpp/sasl` explores further.

// checkErr fails t unless err is nil or an *Error with an RFC 6120 condition.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) || !knownConditions[e.Condition] {
		t.Fatalf("error %v is not a defined SASL failure", err)
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		b, err := DecodePayload(text)
		checkErr(t, err)
		if err != nil {
			return
		}
		if len(b) > MaxMessage {
			t.Fatalf("decoded %d bytes, over MaxMessage", len(b))
		}
		trimmed := strings.Trim(text, " \t\r\n")
		switch {
		case trimmed == "":
			if b != nil {
				t.Fatalf("absent text decoded to %q", b)
			}
		case EncodePayload(b) != trimmed:
			// Strict decoding accepts exactly the canonical encoding.
			t.Fatalf("%q decoded to %q, which encodes as %q", text, b, EncodePayload(b))
		}
	})
}

// FuzzPlain: any PLAIN message; success only with the right password for
// alice and an acceptable authzid.
func FuzzPlain(f *testing.F) {
	srv := NewServer(Config{Store: newMemStore().add("alice", "pencil", nil, 1), Domain: "example.com"})
	f.Fuzz(func(t *testing.T, msg []byte) {
		ctx := context.Background()
		sess, _ := srv.Start(Plain, true)
		in := msg
		if in == nil {
			in = []byte{}
		}
		out, done, err := sess.Step(ctx, in)
		checkErr(t, err)
		if out != nil {
			t.Fatalf("PLAIN returned data %q", out)
		}
		if !done {
			if err == nil {
				t.Fatal("PLAIN neither finished nor failed")
			}
			return
		}
		parts := bytes.Split(msg, []byte{0})
		user, nerr := auth.NormalizeUsername(string(parts[1]))
		if len(parts) != 3 || nerr != nil || user != "alice" || string(parts[2]) != "pencil" {
			t.Fatalf("PLAIN %q succeeded", msg)
		}
		if z := string(parts[0]); z != "" {
			local, domain, _ := strings.Cut(z, "@")
			n, _ := auth.NormalizeUsername(local)
			if n != "alice" || strings.ToLower(domain) != "example.com" || !isASCII(domain) {
				t.Fatalf("PLAIN %q succeeded with authzid %q", msg, z)
			}
		}
		if sess.Identity() != (Identity{Username: "alice"}) {
			t.Fatalf("identity %+v", sess.Identity())
		}
	})
}

// FuzzScramClientFirst: any client-first message for either hash; an
// accepted one yields a well-formed server-first, and no final message
// without a proof succeeds.
func FuzzScramClientFirst(f *testing.F) {
	srv := NewServer(Config{Store: newMemStore().add("alice", "pencil", []byte("0123456789abcdef"), 2), Domain: "example.com"})
	f.Fuzz(func(t *testing.T, first []byte, sha1 bool) {
		mech := ScramSHA256
		if sha1 {
			mech = ScramSHA1
		}
		ctx := context.Background()
		sess, _ := srv.Start(mech, true)
		out, done, err := sess.Step(ctx, first)
		checkErr(t, err)
		if done {
			t.Fatal("SCRAM finished after one message")
		}
		if err != nil || first == nil {
			return
		}
		s := string(out)
		if !strings.HasPrefix(s, "r=") || !strings.Contains(s, ",s=") || !strings.Contains(s, ",i=") {
			t.Fatalf("server-first %q", s)
		}
		nonce := s[2:strings.Index(s, ",s=")]
		_, done, err = sess.Step(ctx, []byte("c=biws,r="+nonce+",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
		checkErr(t, err)
		if done || err == nil {
			t.Fatalf("made-up proof accepted after %q", first)
		}
	})
}

// FuzzScram: arbitrary first and final messages against the RFC 5802 user
// with the RFC's server nonce. Success requires the RFC's exact messages
// (any change alters AuthMessage, so the proof no longer matches).
func FuzzScram(f *testing.F) {
	v := rfcVectors[0]
	srv := rfcServer(v)
	c2wop := v.c2[:strings.LastIndex(v.c2, ",")]
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ctx := context.Background()
		sess, _ := srv.Start(v.mech, true)
		if _, _, err := sess.Step(ctx, first); err != nil {
			checkErr(t, err)
			return
		}
		out, done, err := sess.Step(ctx, final)
		checkErr(t, err)
		if !done {
			return
		}
		f := string(final)
		if string(first) != v.c1 || !strings.HasPrefix(f, c2wop+",") {
			t.Fatalf("succeeded with %q / %q", first, final)
		}
		if string(out) != v.s2 || sess.Identity() != (Identity{Username: "user"}) {
			t.Fatalf("success data %q identity %+v", out, sess.Identity())
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
