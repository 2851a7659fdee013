package muc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func adminItem(attrs string, reason string) string {
	r := ""
	if reason != "" {
		r = "<reason>" + reason + "</reason>"
	}
	return fmt.Sprintf(`<query xmlns="%s"><item %s>%s</item></query>`, muc.NSAdmin, attrs, r)
}

func bare(full string) string { return jid.MustParse(full).Bare().String() }

// Kick (role none, 307 with actor and reason), who may kick whom.
func TestKick(t *testing.T) {
	srv := start(t, nil)
	a, b, c := guest(t, srv), guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	join(t, c, room, "carol")
	wantError(t, iq(t, b, "set", room, "k0", adminItem(`nick="carol" role="none"`, "")), "forbidden")
	wantError(t, iq(t, a, "set", room, "k1", adminItem(`nick="nobody" role="none"`, "")), "item-not-found")
	wantError(t, iq(t, a, "set", room, "k2", adminItem(`nick="bob" role="emperor"`, "")), "bad-request")

	wantResult(t, iq(t, a, "set", room, "k3", adminItem(`nick="bob" role="none"`, "spam")))
	own := b.ExpectSkip("kicked", isUnavailable(room+"/bob"))
	if !hasStatus(own, "307") || !hasStatus(own, "110") {
		t.Fatalf("kick notice %s", own)
	}
	it := item(own)
	if it.Get("role") != "none" || it.Child(muc.NSUser, "actor").Get("nick") != "alice" || it.ChildText(muc.NSUser, "reason") != "spam" {
		t.Fatalf("kick item %s", own)
	}
	if seen := c.ExpectSkip("bob kicked", isUnavailable(room+"/bob")); !hasStatus(seen, "307") || hasStatus(seen, "110") {
		t.Fatalf("others' kick notice %s", seen)
	}
	// A moderator without ownership cannot kick an owner.
	wantResult(t, iq(t, a, "set", room, "k4", adminItem(`nick="carol" role="moderator"`, "")))
	c.ExpectSkip("carol moderator", func(e *stanza.Element) bool { return isSelf(room+"/carol")(e) && item(e).Get("role") == "moderator" })
	wantError(t, iq(t, c, "set", room, "k5", adminItem(`nick="alice" role="none"`, "")), "not-allowed")
}

// Ban (outcast, 301), the outcast list, rejoining refused; unban.
func TestBan(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	wantError(t, iq(t, b, "set", room, "b0", adminItem(fmt.Sprintf(`jid="%s" affiliation="outcast"`, bare(a.JID)), "")), "forbidden")
	a.Send(fmt.Sprintf(`<iq type="set" to="%s" id="b1">%s</iq>`, room, adminItem(fmt.Sprintf(`jid="%s" affiliation="outcast"`, bare(b.JID)), "go away")))
	own := b.ExpectSkip("banned", isUnavailable(room+"/bob"))
	if !hasStatus(own, "301") || item(own).Get("affiliation") != "outcast" || item(own).ChildText(muc.NSUser, "reason") != "go away" {
		t.Fatalf("ban notice %s", own)
	}
	a.ExpectSkip("bob banned", func(e *stanza.Element) bool { return isUnavailable(room+"/bob")(e) && hasStatus(e, "301") })
	a.ExpectSkip("ban result", xmpptest.IsResult("b1"))
	b.Send(joinXML(room, "bob", ""))
	b.ExpectSkip("refused", isPresenceError(room+"/bob", "forbidden"))

	list := iq(t, a, "get", room, "b2", adminItem(`affiliation="outcast"`, ""))
	wantResult(t, list)
	if q := list.Child(muc.NSAdmin, "query"); len(q.Children) != 1 || q.Children[0].Get("jid") != bare(b.JID) {
		t.Fatalf("outcast list %s", list)
	}
	wantError(t, iq(t, a, "set", room, "b3", adminItem(fmt.Sprintf(`jid="%s" affiliation="none"`, bare(a.JID)), "")), "conflict")
	wantResult(t, iq(t, a, "set", room, "b4", adminItem(fmt.Sprintf(`jid="%s" affiliation="none"`, bare(b.JID)), "")))
	join(t, b, room, "bob")
}

// Grant and revoke moderator (by role, and by owner affiliation as Jitsi
// does) and voice in a moderated room.
func TestRolesAndVoice(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	isRole := func(nick, aff, role string) func(*stanza.Element) bool {
		return func(e *stanza.Element) bool {
			it := item(e)
			return isPresence(room+"/"+nick)(e) && it != nil && it.Get("role") == role && it.Get("affiliation") == aff
		}
	}
	a.Send(fmt.Sprintf(`<iq type="set" to="%s" id="r1">%s</iq>`, room, adminItem(fmt.Sprintf(`jid="%s" affiliation="owner"`, bare(b.JID)), "")))
	a.ExpectSkip("bob owner", isRole("bob", "owner", "moderator"))
	a.ExpectSkip("r1", xmpptest.IsResult("r1"))
	b.ExpectSkip("own promotion", isRole("bob", "owner", "moderator"))
	a.Send(fmt.Sprintf(`<iq type="set" to="%s" id="r2">%s</iq>`, room, adminItem(fmt.Sprintf(`jid="%s" affiliation="none"`, bare(b.JID)), "")))
	a.ExpectSkip("bob demoted", isRole("bob", "none", "participant"))
	a.ExpectSkip("r2", xmpptest.IsResult("r2"))

	wantResult(t, submit(t, a, room, "mod", map[string]string{"muc#roomconfig_moderatedroom": "1"}))
	wantResult(t, iq(t, a, "set", room, "r3", adminItem(`nick="bob" role="visitor"`, "")))
	b.ExpectSkip("voice revoked", isRole("bob", "none", "visitor"))
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat" id="v1"><body>can I speak?</body></message>`, room))
	b.ExpectSkip("visitor silenced", xmpptest.IsError("v1", "forbidden"))
	wantResult(t, iq(t, a, "set", room, "r4", adminItem(`nick="bob" role="participant"`, "")))
	b.ExpectSkip("voice granted", isRole("bob", "none", "participant"))
	b.Send(fmt.Sprintf(`<message to="%s" type="groupchat"><body>thanks</body></message>`, room))
	a.ExpectSkip("bob speaks", isGroupchat(room+"/bob", "thanks"))

	list := iq(t, a, "get", room, "r5", adminItem(`role="moderator"`, ""))
	wantResult(t, list)
	if q := list.Child(muc.NSAdmin, "query"); len(q.Children) != 1 || q.Children[0].Get("nick") != "alice" {
		t.Fatalf("moderator list %s", list)
	}
	wantError(t, iq(t, b, "get", room, "r6", adminItem(`affiliation="owner"`, "")), "forbidden")
	wantError(t, iq(t, a, "set", room, "r7", adminItem(`nick="alice" role="participant"`, "")), "not-allowed")
}

// The owner form: fields, validation, the 104 notice, disco reflecting it;
// only owners; destroy.
func TestOwnerFormAndDestroy(t *testing.T) {
	srv := start(t, nil)
	a, b := guest(t, srv), guest(t, srv)
	join(t, a, room, "alice")
	join(t, b, room, "bob")
	wantError(t, iq(t, b, "get", room, "f0", `<query xmlns="http://jabber.org/protocol/muc#owner"/>`), "forbidden")
	form := iq(t, a, "get", room, "f1", `<query xmlns="http://jabber.org/protocol/muc#owner"/>`)
	wantResult(t, form)
	x := form.Child(muc.NSOwner, "query").Child("jabber:x:data", "x")
	for _, f := range []string{"muc#roomconfig_roomname", "muc#roomconfig_roomsecret", "muc#roomconfig_passwordprotectedroom",
		"muc#roomconfig_membersonly", "muc#roomconfig_maxusers", "muc#roomconfig_moderatedroom", "muc#roomconfig_whois", "muc#roominfo_meetingId"} {
		if _, ok := formValue(x, f); !ok {
			t.Fatalf("form lacks %s: %s", f, form)
		}
	}
	if v, _ := formValue(x, "muc#roomconfig_whois"); v != "anyone" {
		t.Fatalf("whois %q", v)
	}
	wantError(t, submit(t, a, room, "f2", map[string]string{"muc#roomconfig_passwordprotectedroom": "1"}), "not-acceptable")
	wantError(t, submit(t, a, room, "f3", map[string]string{"muc#roomconfig_whois": "everybody"}), "not-acceptable")
	wantResult(t, submit(t, a, room, "f4", map[string]string{
		"muc#roomconfig_roomname": "Weekly", "muc#roomconfig_roomsecret": "pw", "muc#roomconfig_passwordprotectedroom": "1",
	}))
	note := b.ExpectSkip("104", func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Get("from") == room && hasStatus(e, "104")
	})
	_ = note

	info := iq(t, b, "get", room, "f5", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	wantResult(t, info)
	q := info.Child(stanza.NSDiscoInf, "query")
	var feats []string
	for _, c := range q.Children {
		if c.Name.Local == "feature" {
			feats = append(feats, c.Get("var"))
		}
	}
	fs := strings.Join(feats, " ")
	for _, f := range []string{muc.NS, "muc_passwordprotected", "muc_nonanonymous", "muc_temporary", "muc_open", "muc_unmoderated", "muc_hidden", "urn:xmpp:sid:0"} {
		if !strings.Contains(" "+fs+" ", " "+f+" ") {
			t.Fatalf("disco#info lacks %s: %s", f, fs)
		}
	}
	if id := q.Child(stanza.NSDiscoInf, "identity"); id.Get("category") != "conference" || id.Get("name") != "Weekly" {
		t.Fatalf("identity %s", id)
	}
	rx := q.Child("jabber:x:data", "x")
	for field, want := range map[string]string{
		"FORM_TYPE": "http://jabber.org/protocol/muc#roominfo", "muc#roominfo_occupants": "2",
		"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomname": "Weekly",
	} {
		if v, _ := formValue(rx, field); v != want {
			t.Fatalf("roominfo %s = %q, want %q: %s", field, v, want, rx)
		}
	}
	for _, field := range []string{"muc#roominfo_meetingId", "muc#roominfo_created_timestamp"} {
		if v, _ := formValue(rx, field); v == "" {
			t.Fatalf("roominfo lacks %s: %s", field, rx)
		}
	}

	// Only owners destroy; occupants get the destroy notice with reason and
	// alternative venue; the room is gone.
	wantError(t, iq(t, b, "set", room, "f6", `<query xmlns="http://jabber.org/protocol/muc#owner"><destroy/></query>`), "forbidden")
	wantResult(t, iq(t, a, "set", room, "f7", fmt.Sprintf(`<query xmlns="%s"><destroy jid="new@%s"><reason>moved</reason></destroy></query>`, muc.NSOwner, service)))
	d := b.ExpectSkip("destroyed", isUnavailable(room+"/bob"))
	dx := userX(d).Child(muc.NSUser, "destroy")
	if dx == nil || dx.Get("jid") != "new@"+service || dx.ChildText(muc.NSUser, "reason") != "moved" {
		t.Fatalf("destroy notice %s", d)
	}
	waitRooms(t, srv, 0)
}

// Service discovery: the service, public rooms in disco#items (only when
// public), unique room names.
func TestServiceDisco(t *testing.T) {
	srv := start(t, nil)
	a := guest(t, srv)
	info := iq(t, a, "get", service, "s1", `<query xmlns="http://jabber.org/protocol/disco#info"/>`)
	wantResult(t, info)
	q := info.Child(stanza.NSDiscoInf, "query")
	if id := q.Child(stanza.NSDiscoInf, "identity"); id.Get("category") != "conference" || id.Get("type") != "text" {
		t.Fatalf("identity %s", info)
	}
	// The server lists the service among its items.
	items := iq(t, a, "get", "localhost", "s2", `<query xmlns="http://jabber.org/protocol/disco#items"/>`)
	if !strings.Contains(items.String(), `jid="`+service+`"`) {
		t.Fatalf("server items %s", items)
	}
	join(t, a, room, "alice")
	listed := func() bool {
		res := iq(t, a, "get", service, "s3", `<query xmlns="http://jabber.org/protocol/disco#items"/>`)
		return strings.Contains(res.String(), `jid="`+room+`"`)
	}
	if listed() {
		t.Fatal("a hidden room is listed")
	}
	wantResult(t, submit(t, a, room, "pub", map[string]string{"muc#roomconfig_publicroom": "1", "muc#roomconfig_roomname": "Open"}))
	if !listed() {
		t.Fatal("a public room is not listed")
	}
	u := iq(t, a, "get", service, "s4", `<unique xmlns="http://jabber.org/protocol/muc#unique"/>`)
	if name := u.ChildText(muc.NSUnique, "unique"); len(name) < 20 {
		t.Fatalf("unique %s", u)
	}
	wantError(t, iq(t, a, "get", service, "s5", `<query xmlns="jabber:iq:version"/>`), "service-unavailable")
}
