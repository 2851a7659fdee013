package muc_test

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const endComponent = "endconference.localhost"

// endXML is what LJM's JitsiConference.end() sends: no namespace of its
// own, no room named.
func endXML(id, extra string) string {
	return fmt.Sprintf(`<message to="%s" id="%s"><end_conference%s/></message>`, endComponent, id, extra)
}

// isDestroyed matches the destroy presence for the occupant nick of roomJID
// with the meeting-ended reason.
func isDestroyed(roomJID, nick string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		if !isUnavailable(roomJID + "/" + nick)(e) {
			return false
		}
		x := userX(e)
		d := x.Child(muc.NSUser, "destroy")
		return d != nil && d.ChildText(muc.NSUser, "reason") == muc.EndReason
	}
}

// stillThere checks the room lives on: a groupchat from a reaches b.
func stillThere(t *testing.T, a, b *xmpptest.Client, roomJID, nick, body string) {
	t.Helper()
	a.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>%s</body></message>`, roomJID, body))
	b.ExpectSkip("the room lives on: "+body, isGroupchat(roomJID+"/"+nick, body))
}

// TestEndConference: a moderator's <end_conference/> to endconference.D
// destroys the room it is in, every occupant gets the destroy presence with
// "The meeting has been terminated"; a participant, an outsider and a
// client naming a room it is not in are refused and change nothing.
func TestEndConference(t *testing.T) {
	srv := start(t, nil)
	a, b, c, d := guest(t, srv), guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice") // first in: owner, moderator
	join(t, b, room, "bob")
	join(t, c, room, "carol")
	const other = "other@conference.localhost"
	join(t, d, other, "dave")

	b.Send(endXML("e1", ""))
	b.ExpectSkip("participant refused", xmpptest.IsError("e1", "forbidden"))
	stillThere(t, a, c, room, "alice", "after bob")

	outsider := guest(t, srv)
	outsider.Send(endXML("e2", ""))
	outsider.ExpectSkip("outsider refused", xmpptest.IsError("e2", "item-not-found"))
	// dave is moderator of his own room, not of room: naming it is refused.
	d.Send(endXML("e3", ` room="`+room+`"`))
	d.ExpectSkip("a room dave is not in", xmpptest.IsError("e3", "item-not-found"))
	stillThere(t, a, c, room, "alice", "after dave")

	a.Send(endXML("e4", ""))
	for _, p := range []struct {
		c    *xmpptest.Client
		nick string
	}{{a, "alice"}, {b, "bob"}, {c, "carol"}} {
		e := p.c.ExpectSkip(p.nick+" gets the destroy presence", isDestroyed(room, p.nick))
		if item(e).Get("role") != "none" {
			t.Fatalf("destroy presence %s", e)
		}
	}
	waitRooms(t, srv, 1) // dave's room stays
	if _, err := srv.App.MUC.RoomOf(jid.MustParse(a.JID), ""); err != muc.ErrNotInRoom {
		t.Fatalf("alice still indexed in a room: %v", err)
	}
	if st := srv.App.MUC.Stats(); st.Indexed != 1 || st.Occupants != 1 {
		t.Fatalf("stats after the end %+v", st)
	}
	stillThere(t, d, d, other, "dave", "dave's room is untouched")

	// The room can be created afresh; it inherits nothing.
	self := join(t, b, room, "bob")
	wantItem(t, self, "owner", "moderator", b.JID)
}

// TestEndConferenceHostile: malformed requests, a request for one of
// several rooms, and a flood of refused requests.
func TestEndConferenceHostile(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	const second = "second@conference.localhost"
	join(t, a, second, "alice")

	a.Send(fmt.Sprintf(`<message to="%s" id="m1"><body>end it</body></message>`, endComponent))
	a.ExpectSkip("no end_conference element", xmpptest.IsError("m1", "bad-request"))
	a.Send(fmt.Sprintf(`<iq type="set" to="%s" id="m2"><end_conference/></iq>`, endComponent))
	a.ExpectSkip("an IQ", xmpptest.IsError("m2", "service-unavailable"))
	a.Send(endXML("m3", ""))
	a.ExpectSkip("in two rooms, none named", xmpptest.IsError("m3", "bad-request"))
	a.Send(endXML("m4", ` room="not a jid@@"`))
	a.ExpectSkip("a malformed room", xmpptest.IsError("m4", "item-not-found"))

	// A flood of refused requests: every one answered, nothing changes.
	const n = 50
	for i := 0; i < n; i++ {
		b.Send(endXML(fmt.Sprintf("f%d", i), ""))
	}
	for i := 0; i < n; i++ {
		b.ExpectSkip("flood refused", xmpptest.IsError(fmt.Sprintf("f%d", i), "forbidden"))
	}
	stillThere(t, a, b, room, "alice", "after the flood")

	// Naming the second room ends only that one.
	a.Send(endXML("m5", ` room="`+second+`"`))
	a.ExpectSkip("second room destroyed", isDestroyed(second, "alice"))
	waitRooms(t, srv, 1)
	stillThere(t, a, b, room, "alice", "the first room lives on")
	if st := srv.App.MUC.Stats(); st.Rooms != 1 || st.Occupants != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGrantModerator: LJM's grantOwner (muc#admin item affiliation owner
// with the bare real JID and a reason) makes the target owner and
// moderator, and every occupant sees it; a participant cannot grant
// anybody (himself included) and nothing changes; the new moderator can
// end the meeting.
func TestGrantModerator(t *testing.T) {
	srv := start(t, nil)
	a, b, c := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	join(t, c, room, "carol")
	isRole := func(nick, aff, role string) func(*stanza.Element) bool {
		return func(e *stanza.Element) bool {
			it := item(e)
			return isPresence(room+"/"+nick)(e) && it != nil && it.Get("role") == role && it.Get("affiliation") == aff
		}
	}
	grant := func(target string) string {
		return adminItem(fmt.Sprintf(`affiliation="owner" jid="%s"`, bare(target)), "Your affiliation has been changed to 'owner'.")
	}

	wantError(t, iq(t, c, "set", room, "g1", grant(c.JID)), "forbidden")
	wantError(t, iq(t, c, "set", room, "g2", grant(b.JID)), "forbidden")
	wantError(t, iq(t, c, "set", room, "g3", adminItem(`nick="carol" role="moderator"`, "")), "forbidden")
	list := iq(t, a, "get", room, "l1", adminItem(`role="moderator"`, ""))
	if q := list.Child(muc.NSAdmin, "query"); len(q.Children) != 1 || q.Children[0].Get("nick") != "alice" {
		t.Fatalf("moderators after refused grants: %s", list)
	}
	c.Send(endXML("e1", ""))
	c.ExpectSkip("carol is still no moderator", xmpptest.IsError("e1", "forbidden"))

	a.Send(fmt.Sprintf(`<iq type="set" to="%s" id="g4">%s</iq>`, room, grant(c.JID)))
	for _, p := range []*xmpptest.Client{a, b, c} {
		e := p.ExpectSkip("carol owner and moderator", isRole("carol", "owner", "moderator"))
		if x := item(e).Child(muc.NSUser, "reason"); x == nil {
			t.Fatalf("no reason in %s", e)
		}
	}
	a.ExpectSkip("grant accepted", xmpptest.IsResult("g4"))
	c.Send(endXML("e2", ""))
	b.ExpectSkip("carol ends the meeting", isDestroyed(room, "bob"))
}
