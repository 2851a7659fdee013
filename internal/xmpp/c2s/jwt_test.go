package c2s_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// saslFailure checks a SASL <failure/> with condition cond and text.
func saslFailure(t *testing.T, r *stanza.Element, cond, text string) {
	t.Helper()
	if !r.Is(stream.NSSASL, "failure") || r.Child(stream.NSSASL, cond) == nil || r.ChildText(stream.NSSASL, "text") != text {
		t.Fatalf("want <failure><%s/><text>%s</text>, got %s", cond, text, r)
	}
}

// tokenOf asks the router for the bound session's verified token.
func tokenOf(t *testing.T, srv *xmpptest.Server, full string) *auth.Claims {
	t.Helper()
	s := srv.App.Router.Lookup(jid.MustParse(full))
	x, ok := s.(interface{ Token() *auth.Claims })
	if !ok {
		t.Fatalf("session of %s has no Token()", full)
	}
	return x.Token()
}

func mechanisms(f *stanza.Element) string {
	var names []string
	for _, m := range f.Child(stream.NSSASL, "mechanisms").Children {
		names = append(names, m.Text)
	}
	return strings.Join(names, ",")
}

// The WebSocket's ?token= is checked inside ANONYMOUS (jitsi-dialect.md
// §2.2): valid → a token user with an invented node; invalid → not-allowed
// with the reason; missing → "token required" unless guests are allowed.
func TestJWTWebSocketToken(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(false))
	claims := xmpptest.TokenClaims("daily")
	claims["context"] = map[string]any{"user": map[string]any{"name": "Ada", "moderator": true}}
	good := xmpptest.Token(t, claims)

	c := srv.DialWS(t, "token="+url.QueryEscape(good))
	if got := mechanisms(c.Secure()); got != "SCRAM-SHA-256,SCRAM-SHA-1,PLAIN,ANONYMOUS" {
		t.Fatalf("mechanisms in jwt mode: %s", got)
	}
	if r := c.Auth("ANONYMOUS", nil, nil); !r.Is(stream.NSSASL, "success") {
		t.Fatalf("valid token: %s", r)
	}
	c.Open()
	full := c.Bind("")
	if j := jid.MustParse(full); len(j.Local) != 36 {
		t.Fatalf("token user's node is not invented: %s", full)
	}
	if tok := tokenOf(t, srv, full); tok == nil || tok.Room != "daily" || tok.Name != "Ada" || !tok.Moderator {
		t.Fatalf("session token: %+v", tok)
	}

	expiredClaims := xmpptest.TokenClaims("daily")
	expiredClaims["exp"] = time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct{ name, query, text string }{
		{"expired", "token=" + xmpptest.Token(t, expiredClaims), "token expired"},
		{"garbage", "token=abc.def.ghi", "token is malformed"},
		{"wrong issuer", "token=" + xmpptest.Token(t, func() map[string]any {
			m := xmpptest.TokenClaims("*")
			m["iss"] = "intruder"
			return m
		}()), "Invalid issuer ('iss' claim)"},
		{"missing", "", "token required"},
		{"empty", "token=", "token required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.DialWS(t, tc.query)
			c.Secure()
			saslFailure(t, c.Auth("ANONYMOUS", nil, nil), "not-allowed", tc.text)
			// The stream stays usable: a retry is answered, not dropped.
			saslFailure(t, c.Auth("ANONYMOUS", nil, nil), "not-allowed", tc.text)
		})
	}
	if n := srv.App.C2S.Sessions(); n != 1 {
		t.Fatalf("%d sessions, want only the token user's", n)
	}
}

func TestJWTGuests(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(true))
	c := srv.DialWS(t, "")
	full := c.Login("", "")
	if tok := tokenOf(t, srv, full); tok != nil {
		t.Fatalf("a guest has a token: %+v", tok)
	}
	// Guests allowed or not, a bad token is refused, not downgraded.
	b := srv.DialWS(t, "token=abc.def.ghi")
	b.Secure()
	saslFailure(t, b.Auth("ANONYMOUS", nil, nil), "not-allowed", "token is malformed")
}

// TCP clients send the token as the PLAIN password of any user name.
func TestJWTPlainOverTCP(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(false))
	srv.AddUser(t, "alice", "correct horse")
	c := srv.DialTCP(t)
	if f := c.Open(); f.Child(stream.NSSASL, "mechanisms") != nil {
		t.Fatalf("mechanisms before TLS: %s", f)
	}
	if got := mechanisms(c.StartTLS()); got != "SCRAM-SHA-256,SCRAM-SHA-1,PLAIN,ANONYMOUS" {
		t.Fatalf("mechanisms: %s", got)
	}
	expired := xmpptest.TokenClaims("*")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	saslFailure(t, c.Auth("PLAIN", []byte("\x00anyone\x00"+xmpptest.Token(t, expired)), nil), "not-allowed", "token expired")
	saslFailure(t, c.Auth("ANONYMOUS", nil, nil), "not-allowed", "token required")
	if r := c.Auth("PLAIN", []byte("\x00anyone\x00"+xmpptest.Token(t, xmpptest.TokenClaims("*"))), nil); !r.Is(stream.NSSASL, "success") {
		t.Fatalf("token as PLAIN password: %s", r)
	}
	c.Open()
	full := c.Bind("")
	if strings.HasPrefix(full, "anyone@") {
		t.Fatalf("the PLAIN user name became the node: %s", full)
	}
	if tok := tokenOf(t, srv, full); tok == nil || tok.Room != "*" {
		t.Fatalf("token: %+v", tok)
	}
	// Accounts keep working in jwt mode.
	a := srv.DialTCP(t)
	a.Secure()
	if r := a.AuthSCRAM("SCRAM-SHA-256", "alice", "correct horse"); !r.Is(stream.NSSASL, "success") {
		t.Fatalf("account in jwt mode: %s", r)
	}
}

// A burst of refused tokens from one address does not lock it out: a
// token is not a password guess.
func TestJWTFailuresDoNotLockOut(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(false))
	for i := 0; i < srv.Config.C2S.LoginMaxFailures+2; i++ {
		c := srv.DialWS(t, "token=abc.def.ghi")
		c.Secure()
		saslFailure(t, c.Auth("ANONYMOUS", nil, nil), "not-allowed", "token is malformed")
		c.Close()
	}
	c := srv.DialWS(t, "token="+xmpptest.Token(t, xmpptest.TokenClaims("*")))
	c.Login("", "")
}

// A token session resumes (XEP-0198) only from a connection that brings a
// valid token again, for the same room or "*"; a guest who learnt the id
// cannot take it over.
func TestJWTResumeNeedsToken(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(true))
	daily := "token=" + url.QueryEscape(xmpptest.Token(t, xmpptest.TokenClaims("daily")))
	c := srv.DialWS(t, daily)
	c.Login("", "")
	id := enableSM(t, c)
	c.Drop()
	for _, q := range []string{"", "token=" + url.QueryEscape(xmpptest.Token(t, xmpptest.TokenClaims("weekly")))} {
		g := srv.DialWS(t, q+"&previd="+id)
		resumeAuth(t, g, "", "")
		g.Send(`<resume xmlns="urn:xmpp:sm:3" previd="` + id + `" h="0"/>`)
		g.Expect("failed", func(e *stanza.Element) bool {
			return e.Is(nsSM, "failed") && e.Child(stanza.NSStanzas, "item-not-found") != nil
		})
	}
	n := srv.DialWS(t, daily+"&previd="+id)
	resumeAuth(t, n, "", "")
	n.Send(`<resume xmlns="urn:xmpp:sm:3" previd="` + id + `" h="0"/>`)
	n.Expect("resumed", func(e *stanza.Element) bool { return e.Is(nsSM, "resumed") })
}
