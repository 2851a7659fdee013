package avmoderation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const (
	component = "avmoderation.localhost"
	roomJID   = "quiet@conference.localhost"
	audioNS   = "http://jitsi.org/jitmeet/audio"
	videoNS   = "http://jitsi.org/jitmeet/video"
	nsUser    = "http://jabber.org/protocol/muc#user"
)

// enter asks the focus for the conference and joins it as nick, the way a
// Jitsi client does, and waits for its self-presence.
func enter(t *testing.T, srv *xmpptest.Server, nick string) *xmpptest.Client {
	t.Helper()
	c := srv.DialWS(t, "")
	c.Login("", "")
	c.Send(fmt.Sprintf(`<iq type="set" id="conf" to="focus.localhost"><conference xmlns="http://jitsi.org/protocol/focus" room="%s"/></iq>`, roomJID))
	c.ExpectSkip("conference", xmpptest.IsResult("conf"))
	c.Send(fmt.Sprintf(`<presence to="%s/%s"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, roomJID, nick))
	c.ExpectSkip("self-presence", func(e *stanza.Element) bool {
		x := e.Child(nsUser, "x")
		if e.Name.Local != "presence" || x == nil || e.Get("from") != roomJID+"/"+nick {
			return false
		}
		for _, s := range x.Children {
			if s.Get("code") == "110" {
				return true
			}
		}
		return false
	})
	return c
}

// command is what LJM's AVModeration sends: <av_moderation/> with
// attributes, no namespace of its own.
func command(c *xmpptest.Client, id, attrs string) {
	c.Send(fmt.Sprintf(`<message to="%s" id="%s"><av_moderation %s/></message>`, component, id, attrs))
}

// event is a json-message from the component, decoded.
type event struct {
	Type       string              `json:"type"`
	Room       string              `json:"room"`
	Enabled    *bool               `json:"enabled"`
	MediaType  string              `json:"mediaType"`
	Actor      string              `json:"actor"`
	Approved   bool                `json:"approved"`
	Removed    bool                `json:"removed"`
	From       string              `json:"from"`
	Whitelists map[string][]string `json:"whitelists"`
}

// expectEvent waits for the next json-message from the component that
// match accepts.
func expectEvent(t *testing.T, c *xmpptest.Client, what string, match func(event) bool) event {
	t.Helper()
	var got event
	c.ExpectSkip(what, func(e *stanza.Element) bool {
		j := e.Child("http://jitsi.org/jitmeet", "json-message")
		if e.Name.Local != "message" || e.Get("from") != component || j == nil {
			return false
		}
		var ev event
		if err := json.Unmarshal([]byte(j.Text), &ev); err != nil {
			t.Fatalf("json-message %q: %v", j.Text, err)
		}
		if ev.Type != "av_moderation" || ev.Room != roomJID {
			t.Fatalf("json-message %q", j.Text)
		}
		if match(ev) {
			got = ev
			return true
		}
		return false
	})
	return got
}

func enabled(medium string, on bool) func(event) bool {
	return func(e event) bool { return e.Enabled != nil && *e.Enabled == on && e.MediaType == medium }
}

// unmute is a participant's own unmute IQ to the focus (jitsi-dialect.md §4.7).
func unmute(c *xmpptest.Client, id, ns, nick string) {
	c.Send(fmt.Sprintf(`<iq type="set" id="%s" to="%s/focus"><mute xmlns="%s" jid="%s/%s">false</mute></iq>`, id, roomJID, ns, roomJID, nick))
}

// TestAVModeration walks jitsi-dialect.md §4.8: enabling per medium,
// the focus refusing a non-approved self-unmute, approval and rejection,
// what newcomers and new moderators are told, disabling.
func TestAVModeration(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a := enter(t, srv, "aaaa0001") // owner, moderator
	b := enter(t, srv, "bbbb0002")
	occ := func(nick string) string { return roomJID + "/" + nick }

	// Discovery: the domain advertises the component.
	a.Send(`<iq type="get" id="d1" to="localhost"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`)
	info := a.ExpectSkip("domain disco#info", xmpptest.IsResult("d1"))
	var types []string
	for _, id := range info.Child(stanza.NSDiscoInf, "query").Children {
		if id.Name.Local == "identity" && id.Get("category") == "component" {
			types = append(types, id.Get("type")+"="+id.Get("name"))
		}
	}
	if !slices.Contains(types, "av_moderation="+component) || !slices.Contains(types, "end_conference=endconference.localhost") {
		t.Fatalf("component identities %v", types)
	}

	command(a, "e1", `enable="true" mediaType="audio"`)
	for _, c := range []*xmpptest.Client{a, b} {
		ev := expectEvent(t, c, "audio moderation on", enabled("audio", true))
		if ev.Actor != occ("aaaa0001") {
			t.Fatalf("actor %q", ev.Actor)
		}
	}
	unmute(b, "u1", audioNS, "bbbb0002")
	b.ExpectSkip("unmute refused", xmpptest.IsError("u1", "not-allowed"))
	unmute(b, "u2", videoNS, "bbbb0002")
	b.ExpectSkip("video is not moderated", xmpptest.IsResult("u2"))
	unmute(a, "u3", audioNS, "aaaa0001")
	a.ExpectSkip("moderators unmute freely", xmpptest.IsResult("u3"))

	command(a, "w1", `jidToWhitelist="`+occ("bbbb0002")+`" mediaType="audio"`)
	ev := expectEvent(t, a, "whitelist to the moderator", func(e event) bool { return e.Whitelists != nil })
	if !slices.Equal(ev.Whitelists["audio"], []string{occ("bbbb0002")}) || ev.MediaType != "audio" {
		t.Fatalf("whitelists %+v", ev)
	}
	expectEvent(t, b, "approved", func(e event) bool { return e.Approved && e.MediaType == "audio" })
	unmute(b, "u4", audioNS, "bbbb0002")
	b.ExpectSkip("approved unmute", xmpptest.IsResult("u4"))

	command(a, "k1", `jidToBlacklist="`+occ("bbbb0002")+`" mediaType="audio"`)
	ev = expectEvent(t, a, "whitelist without bob", func(e event) bool { return e.Whitelists != nil && e.Removed })
	if len(ev.Whitelists["audio"]) != 0 {
		t.Fatalf("whitelists %+v", ev)
	}
	expectEvent(t, b, "removed", func(e event) bool { return e.Removed && e.MediaType == "audio" })
	unmute(b, "u5", audioNS, "bbbb0002")
	b.ExpectSkip("unmute refused again", xmpptest.IsError("u5", "not-allowed"))

	// A newcomer learns that audio is moderated; granted moderator, she
	// gets the whitelists.
	c := enter(t, srv, "cccc0003")
	expectEvent(t, c, "newcomer told", enabled("audio", true))
	a.Send(fmt.Sprintf(`<iq type="set" id="g1" to="%s"><query xmlns="http://jabber.org/protocol/muc#admin"><item affiliation="owner" jid="%s"/></query></iq>`,
		roomJID, strings.SplitN(c.JID, "/", 2)[0]))
	expectEvent(t, c, "new moderator gets the whitelists", func(e event) bool { return e.Whitelists != nil && e.MediaType == "audio" })
	command(c, "w2", `jidToWhitelist="`+occ("bbbb0002")+`" mediaType="audio"`)
	expectEvent(t, b, "approved by the new moderator", func(e event) bool { return e.Approved })

	// Approval without moderation is a request to unmute, to the
	// participant only.
	command(a, "w3", `jidToWhitelist="`+occ("bbbb0002")+`" mediaType="video"`)
	ev = expectEvent(t, b, "asked to unmute video", func(e event) bool { return e.Approved && e.MediaType == "video" })
	if ev.From != occ("aaaa0001") {
		t.Fatalf("ask to unmute %+v", ev)
	}

	command(a, "e2", `enable="false" mediaType="audio"`)
	for _, cl := range []*xmpptest.Client{a, b, c} {
		expectEvent(t, cl, "audio moderation off", enabled("audio", false))
	}
	// b's approval went with the moderation; unmuting is free again.
	unmute(b, "u6", audioNS, "bbbb0002")
	b.ExpectSkip("unmute after disable", xmpptest.IsResult("u6"))

	// Moderation state goes with the room.
	command(a, "e3", `enable="true" mediaType="video"`)
	expectEvent(t, b, "video moderation on", enabled("video", true))
	a.Send(`<message to="endconference.localhost"><end_conference/></message>`)
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := srv.App.MUC.WaitRooms(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n := srv.App.AVModeration.Rooms(); n != 0 {
		t.Fatalf("%d rooms keep moderation state", n)
	}
}

// TestAVModerationHostile: a participant enabling moderation or approving
// himself, strangers, rooms the sender is not in, malformed commands, and a
// flood of commands; each is refused with an error and changes nothing.
func TestAVModerationHostile(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a := enter(t, srv, "aaaa0001")
	b := enter(t, srv, "bbbb0002")
	occB := roomJID + "/bbbb0002"

	command(b, "h1", `enable="true" mediaType="audio"`)
	b.ExpectSkip("participant enabling", xmpptest.IsError("h1", "forbidden"))
	command(a, "e1", `enable="true" mediaType="audio"`)
	expectEvent(t, b, "moderation on", enabled("audio", true))
	command(b, "h2", `jidToWhitelist="`+occB+`" mediaType="audio"`)
	b.ExpectSkip("approving himself", xmpptest.IsError("h2", "forbidden"))
	command(b, "h3", `enable="false" mediaType="audio"`)
	b.ExpectSkip("participant disabling", xmpptest.IsError("h3", "forbidden"))
	unmute(b, "u1", audioNS, "bbbb0002")
	b.ExpectSkip("still not approved", xmpptest.IsError("u1", "not-allowed"))

	stranger := srv.DialWS(t, "")
	stranger.Login("", "")
	command(stranger, "h4", `enable="false" mediaType="audio"`)
	stranger.ExpectSkip("not in a room", xmpptest.IsError("h4", "item-not-found"))
	command(stranger, "h5", `enable="false" mediaType="audio" room="`+roomJID+`"`)
	stranger.ExpectSkip("naming a room he is not in", xmpptest.IsError("h5", "item-not-found"))

	for i, bad := range []struct{ attrs, cond string }{
		{`enable="true" mediaType="smell"`, "bad-request"},
		{`enable="true"`, "bad-request"},
		{`enable="yes" mediaType="audio"`, "bad-request"},
		{`mediaType="audio"`, "bad-request"},
		{`enable="true" jidToWhitelist="` + occB + `" mediaType="audio"`, "bad-request"},
		{`jidToWhitelist="not a jid@@" mediaType="audio"`, "item-not-found"},
		{`jidToWhitelist="other@conference.localhost/bbbb0002" mediaType="audio"`, "item-not-found"},
		{`jidToWhitelist="` + roomJID + `/nobody" mediaType="audio"`, "item-not-found"},
		{`jidToWhitelist="` + roomJID + `/focus" mediaType="audio"`, "item-not-found"},
	} {
		id := fmt.Sprintf("m%d", i)
		command(a, id, bad.attrs)
		a.ExpectSkip(bad.attrs, xmpptest.IsError(id, bad.cond))
	}
	a.Send(fmt.Sprintf(`<message to="%s" id="x1"><body>hi</body></message>`, component))
	a.ExpectSkip("no command", xmpptest.IsError("x1", "bad-request"))
	a.Send(fmt.Sprintf(`<iq type="get" to="%s" id="x2"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`, component))
	a.ExpectSkip("an IQ", xmpptest.IsError("x2", "service-unavailable"))
	unmute(b, "u2", audioNS, "bbbb0002")
	b.ExpectSkip("nothing changed", xmpptest.IsError("u2", "not-allowed"))

	// A flood of toggles: the room broadcasts at most about the burst, the
	// rest is refused with policy-violation. The room answers the disco
	// probe after it has handled everything queued before it.
	const n = 40
	for i := 0; i < n; i++ {
		on := "false"
		if i%2 == 1 {
			on = "true"
		}
		command(a, fmt.Sprintf("f%d", i), `enable="`+on+`" mediaType="audio"`)
	}
	a.Send(fmt.Sprintf(`<iq type="get" id="probe" to="%s"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`, roomJID))
	refused, toggles := 0, 0
	for {
		e, err := a.Next()
		if err != nil {
			t.Fatal(err)
		}
		if xmpptest.IsResult("probe")(e) {
			break
		}
		switch {
		case strings.HasPrefix(e.Get("id"), "f") && xmpptest.IsError(e.Get("id"), "policy-violation")(e):
			refused++
		case e.Get("from") == component:
			toggles++
		}
	}
	if refused+toggles != n || toggles > 12 {
		t.Fatalf("flood of %d: %d refused, %d broadcast", n, refused, toggles)
	}
}
