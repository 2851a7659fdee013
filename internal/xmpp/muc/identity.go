package muc

import "github.com/parley-im/parley/internal/xmpp/stanza"

// Token users (jitsi-dialect.md §10). A room refuses a token whose room
// claim names another room, makes a token with the moderator claim an
// owner, and shows the token's context.user to the room as Prosody's
// mod_presence_identity does:
//
//	<identity><user><id/><name/><avatar/><email/></user></identity>
//
// in jabber:client, inside every available presence of the occupant. An
// <identity> a client puts in its own presence is dropped (presencePayload),
// so only the server can vouch for who someone is.

// errTokenRoom answers a join whose token is for another room (§4.6: not-allowed
// with a reason).
var errTokenRoom = stanza.ErrNotAllowed.WithText("the token does not allow this room ('room' claim)")

// identityElement is the <identity> for t, or nil when t says nothing about
// its user.
func identityElement(t *Token) *stanza.Element {
	if t == nil {
		return nil
	}
	user := stanza.New(stanza.NSClient, "user")
	for _, f := range []struct{ name, value string }{
		{"id", t.ID}, {"name", t.Name}, {"avatar", t.Avatar}, {"email", t.Email},
	} {
		if f.value != "" {
			user.Add(stanza.New(stanza.NSClient, f.name).SetText(f.value))
		}
	}
	if len(user.Children) == 0 {
		return nil
	}
	return stanza.New(stanza.NSClient, "identity").Add(user)
}
