package focus_test

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestMuteRequests checks the rules of jitsi-dialect.md §4.7: a moderator's
// request reaches the target from the focus's occupant JID with the actor;
// other participants may not mute others; nobody may unmute somebody else;
// self requests are accepted and not forwarded; malformed ones are refused.
func TestMuteRequests(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	const room = "quiet@conference.localhost"
	a := srv.DialWS(t, "")
	a.Login("", "")
	join(t, a, "quiet", "aaaa1111") // first participant: owner, so moderator
	b := srv.DialWS(t, "")
	b.Login("", "")
	join(t, b, "quiet", "bbbb2222")

	ask := func(c *xmpptest.Client, id, ns, target, text string) {
		c.Send(fmt.Sprintf(`<iq type="set" id="%s" to="%s/focus"><mute xmlns="%s" jid="%s/%s">%s</mute></iq>`, id, room, ns, room, target, text))
	}
	const audio, video = "http://jitsi.org/jitmeet/audio", "http://jitsi.org/jitmeet/video"

	ask(b, "m1", audio, "aaaa1111", "true")
	b.ExpectSkip("a participant may not mute others", xmpptest.IsError("m1", "not-allowed"))

	for i, ns := range []string{audio, video} {
		id := fmt.Sprintf("m2-%d", i)
		ask(a, id, ns, "bbbb2222", "true")
		a.ExpectSkip("moderator's mute accepted", xmpptest.IsResult(id))
		req := b.ExpectSkip("the forwarded mute", func(e *stanza.Element) bool {
			return e.Name.Local == "iq" && e.Get("type") == "set" && e.Child(ns, "mute") != nil
		})
		m := req.Child(ns, "mute")
		if req.Get("from") != room+"/focus" || m.Get("actor") != room+"/aaaa1111" || m.Get("jid") != room+"/bbbb2222" || m.Text != "true" {
			t.Fatalf("forwarded mute: %s", req)
		}
		b.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, req.Get("id"), req.Get("from")))
	}

	ask(a, "m3", audio, "bbbb2222", "false")
	a.ExpectSkip("unmuting somebody else", xmpptest.IsError("m3", "not-allowed"))
	ask(a, "m4", audio, "nobody", "true")
	a.ExpectSkip("unknown target", xmpptest.IsError("m4", "item-not-found"))
	ask(a, "m5", audio, "bbbb2222", "perhaps")
	a.ExpectSkip("text not a boolean", xmpptest.IsError("m5", "bad-request"))

	// Self requests are accepted and nothing is forwarded: the next stanza b
	// sees after its own result must be the reply to a later request.
	ask(b, "m6", audio, "bbbb2222", "false")
	b.ExpectSkip("self unmute", xmpptest.IsResult("m6"))
	ask(b, "m7", audio, "bbbb2222", "true")
	next := b.ExpectSkip("self mute", func(e *stanza.Element) bool { return e.Name.Local == "iq" })
	if next.Get("id") != "m7" || next.Get("type") != "result" {
		t.Fatalf("after self requests b got %s", next)
	}
}
