package muc_test

import (
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// tokenUser logs in over WebSocket with a token for room (jwt mode).
func tokenUser(t *testing.T, srv *xmpptest.Server, room string, user map[string]any) *xmpptest.Client {
	t.Helper()
	claims := xmpptest.TokenClaims(room)
	if user != nil {
		claims["context"] = map[string]any{"user": user}
	}
	c := srv.DialWS(t, "token="+url.QueryEscape(xmpptest.Token(t, jwt.MapClaims(claims))))
	c.Login("", "")
	return c
}

// identityOf returns the <identity><user> of a presence as a map, or nil.
func identityOf(p *stanza.Element) map[string]string {
	var ids []*stanza.Element
	for _, c := range p.Children {
		if c.Name.Local == "identity" {
			ids = append(ids, c)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > 1 {
		return map[string]string{"error": "several identity elements"}
	}
	out := map[string]string{}
	user := ids[0].Child(stanza.NSClient, "user")
	if ids[0].Name.Space != stanza.NSClient || user == nil {
		return map[string]string{"error": "bad shape"}
	}
	for _, f := range user.Children {
		out[f.Name.Local] = f.Text
	}
	return out
}

func itemOf(p *stanza.Element) *stanza.Element {
	return p.Child(muc.NSUser, "x").Child(muc.NSUser, "item")
}

// A token's room claim decides which rooms it enters (jitsi-dialect.md §10).
func TestJWTRoomClaim(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(false))
	daily := tokenUser(t, srv, "Daily", nil) // a claim is case-folded like a room's local part
	daily.Send(joinXML("other@"+service, "ada", ""))
	e := daily.ExpectSkip("join refused", func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("type") == "error"
	})
	er := e.Child(stanza.NSClient, "error")
	if er.Child(stanza.NSStanzas, "not-allowed") == nil || er.ChildText(stanza.NSStanzas, "text") == "" {
		t.Fatalf("token for another room: %s", e)
	}
	if n := srv.App.MUC.Stats().Occupants; n != 0 {
		t.Fatalf("%d occupants after a refused join", n)
	}
	join(t, daily, "daily@"+service, "ada")
	any := tokenUser(t, srv, "*", nil)
	join(t, any, "other@"+service, "bob")
}

// context.user is shown to the room as <identity>; an <identity> a client
// sends is dropped, whoever sends it.
func TestJWTIdentityInPresence(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(true))
	ada := tokenUser(t, srv, "room", map[string]any{
		"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.org", "avatar": "https://example.org/a.png",
	})
	ada.Send(joinXML(room, "ada", ""))
	ada.ExpectSkip("self", isSelf(room+"/ada"))
	ada.ExpectSkip("subject", isSubject(room))

	// A guest joins claiming to be the CEO.
	g := guest(t, srv)
	g.Send(`<presence to="` + room + `/mallory"><x xmlns="http://jabber.org/protocol/muc"/>` +
		`<identity><user><name>The CEO</name><id>u-1</id></user></identity></presence>`)
	seen := g.ExpectSkip("ada's presence", isPresence(room+"/ada"))
	want := map[string]string{"id": "u-1", "name": "Ada Lovelace", "email": "ada@example.org", "avatar": "https://example.org/a.png"}
	if got := identityOf(seen); len(got) != len(want) || got["name"] != want["name"] || got["id"] != want["id"] || got["email"] != want["email"] || got["avatar"] != want["avatar"] {
		t.Fatalf("ada's identity: %v in %s", got, seen)
	}
	gs := ada.ExpectSkip("mallory's presence", isPresence(room+"/mallory"))
	if got := identityOf(gs); got != nil {
		t.Fatalf("forged identity kept: %s", gs)
	}
	// A token user cannot replace its own identity either: the server's stays, alone.
	ada.Send(`<presence to="` + room + `/ada"><identity><user><name>Someone else</name></user></identity></presence>`)
	up := g.ExpectSkip("ada's update", isPresence(room+"/ada"))
	if got := identityOf(up); got["name"] != "Ada Lovelace" || got["error"] != "" {
		t.Fatalf("after a forged update: %v in %s", got, up)
	}
}

// context.user.moderator makes a token user an owner; a token without it
// does not, and neither does a guest.
func TestJWTModeratorClaim(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(true))
	boss := tokenUser(t, srv, "room", map[string]any{"name": "Boss", "moderator": "true"})
	self := join(t, boss, room, "boss")
	if it := itemOf(self); it.Get("affiliation") != muc.Owner || it.Get("role") != muc.Moderator {
		t.Fatalf("moderator claim: %s", self)
	}
	plain := tokenUser(t, srv, "room", map[string]any{"name": "Pat", "moderator": false})
	self = join(t, plain, room, "pat")
	if it := itemOf(self); it.Get("affiliation") == muc.Owner || it.Get("role") == muc.Moderator {
		t.Fatalf("token without the claim: %s", self)
	}
	g := guest(t, srv)
	self = join(t, g, room, "guest")
	if it := itemOf(self); it.Get("affiliation") == muc.Owner {
		t.Fatalf("guest: %s", self)
	}
	// The claim also counts when the room already has an owner.
	boss2 := tokenUser(t, srv, "*", map[string]any{"moderator": true})
	self = join(t, boss2, room, "boss2")
	if it := itemOf(self); it.Get("affiliation") != muc.Owner {
		t.Fatalf("second moderator: %s", self)
	}
}

// In jwt mode guests join rooms a token holder started, and start none.
func TestJWTGuestsJoinStartedRooms(t *testing.T) {
	srv := xmpptest.Start(t, xmpptest.JWTMode(true))
	g := guest(t, srv)
	g.Send(joinXML(room, "early", ""))
	e := g.ExpectSkip("refused", func(e *stanza.Element) bool { return e.Name.Local == "presence" && e.Get("type") == "error" })
	if e.Child(stanza.NSClient, "error").Child(stanza.NSStanzas, "not-allowed") == nil {
		t.Fatalf("guest starting a room: %s", e)
	}
	join(t, tokenUser(t, srv, "room", nil), room, "host")
	join(t, g, room, "early")
}
