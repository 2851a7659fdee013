package interop_test

import (
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// mellium, a client library we did not write, logs in with a JWT as its
// PLAIN password (jwt mode, docs/protocol.md "Tokens"), and is refused
// with the verifier's reason for an expired one.
func TestMelliumJWTPlain(t *testing.T) {
	srv, tlsConf := server(t, xmpptest.JWTMode(false))
	c := login(t, srv, tlsConf, "anyone", xmpptest.Token(t, xmpptest.TokenClaims("*")), sasl.Plain)
	if me := c.s.LocalAddr(); me.Localpart() == "anyone" || me.Domainpart() != srv.Domain {
		t.Fatalf("bound %s: the node must be the server's invention", me)
	}
	c.available(t)

	expired := xmpptest.TokenClaims("*")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	_, err := dial(t, srv, tlsConf, "anyone", xmpptest.Token(t, expired), sasl.Plain)
	if err == nil || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("expired token: %v", err)
	}
	// ANONYMOUS without a token: mellium sees the failure and its text.
	_, err = dial(t, srv, tlsConf, "", "")
	if err == nil || !strings.Contains(err.Error(), "token required") {
		t.Fatalf("no token: %v", err)
	}
}
