package muc_test

import (
	"testing"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// Hosts walk past a lobby as owners: on a secure domain an account holder,
// with tokens a user whose token carries the moderator claim. A guest, or a
// token user without the claim, knocks.
func TestHostsPassTheLobby(t *testing.T) {
	t.Run("accounts", func(t *testing.T) {
		srv := start(t, func(c *muc.Config) { c.RestrictCreation = true })
		srv.AddUser(t, "alice", "alice's password")
		srv.AddUser(t, "bob", "bob's password")
		a := srv.DialTCP(t)
		a.Login("alice", "alice's password")
		wantItem(t, join(t, a, room, "alice"), "owner", "moderator", a.JID)
		enableLobby(t, a, true)

		b := srv.DialTCP(t)
		b.Login("bob", "bob's password")
		wantItem(t, join(t, b, room, "bob"), "owner", "moderator", b.JID)

		g := guest(t, srv)
		g.Send(joinXML(room, "guest", "") /* no display name: asked for one first */)
		g.ExpectSkip("lobby for the guest", isPresenceError(room+"/guest", "not-acceptable"))
	})
	t.Run("jwt", func(t *testing.T) {
		srv := xmpptest.Start(t, xmpptest.JWTMode(true))
		mod := xmpptest.TokenClaims("room")
		mod["context"] = map[string]any{"user": map[string]any{"name": "Mod", "moderator": true}}
		a := srv.DialWS(t, "token="+xmpptest.Token(t, mod))
		a.Login("", "")
		wantItem(t, join(t, a, room, "aaaa"), "owner", "moderator", a.JID)
		enableLobby(t, a, true)

		b := srv.DialWS(t, "token="+xmpptest.Token(t, mod))
		b.Login("", "")
		wantItem(t, join(t, b, room, "bbbb"), "owner", "moderator", b.JID)

		plain := srv.DialWS(t, "token="+xmpptest.Token(t, xmpptest.TokenClaims("room")))
		plain.Login("", "")
		plain.Send(joinXML(room, "cccc", ""))
		plain.ExpectSkip("lobby for a token without the claim", isPresenceError(room+"/cccc", "not-acceptable"))
	})
}
