package focus_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const audioNS, videoNS = "http://jitsi.org/jitmeet/audio", "http://jitsi.org/jitmeet/video"

// muteXML is LJM's muteParticipant IQ to the focus (jitsi-dialect.md §4.7).
func muteXML(id, room, ns, nick, text string) string {
	return fmt.Sprintf(`<iq type="set" id="%s" to="%s@conference.localhost/focus"><mute xmlns="%s" jid="%s@conference.localhost/%s">%s</mute></iq>`,
		id, room, ns, room, nick, text)
}

// isForwardedMute matches the focus's mute request to its target.
func isForwardedMute(ns string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("type") == "set" && e.Child(ns, "mute") != nil
	}
}

// TestMuteEveryone: Jitsi Meet's "mute everyone" is one mute IQ per
// participant from a moderator; every one is accepted and reaches its
// target, while a participant who tries the same is refused for everyone
// and nobody hears of it. A participant granted moderator can then do it.
func TestMuteEveryone(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	const room = "all"
	nicks := []string{"aaaa0001", "bbbb0002", "cccc0003", "dddd0004"}
	cs := make([]*xmpptest.Client, len(nicks))
	for i, n := range nicks {
		cs[i] = srv.DialWS(t, "")
		cs[i].Login("", "")
		join(t, cs[i], room, n)
	}
	mod, bob := cs[0], cs[1]

	// bob (participant) tries mute-everyone: refused each time.
	for i, n := range nicks {
		if i == 1 {
			continue
		}
		id := fmt.Sprintf("b%d", i)
		bob.Send(muteXML(id, room, audioNS, n, "true"))
		bob.ExpectSkip("participant's mute refused", xmpptest.IsError(id, "not-allowed"))
	}

	// The moderator mutes everyone else, in a row.
	for i := 1; i < len(nicks); i++ {
		mod.Send(muteXML(fmt.Sprintf("m%d", i), room, audioNS, nicks[i], "true"))
	}
	for i := 1; i < len(nicks); i++ {
		mod.ExpectSkip("mute accepted", xmpptest.IsResult(fmt.Sprintf("m%d", i)))
		req := cs[i].ExpectSkip("forwarded mute", isForwardedMute(audioNS))
		m := req.Child(audioNS, "mute")
		if req.Get("from") != room+"@conference.localhost/focus" || m.Get("actor") != room+"@conference.localhost/"+nicks[0] || m.Text != "true" {
			t.Fatalf("forwarded mute %s", req)
		}
		// The first forwarded request is the moderator's: bob's refused
		// ones never reached anyone (ExpectSkip would have returned them first).
		cs[i].Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"/>`, req.Get("id"), req.Get("from")))
	}

	// Grant bob moderator (LJM grantOwner); the focus learns his role from
	// the room, so his mute-everyone now works.
	mod.Send(fmt.Sprintf(`<iq type="set" id="g1" to="%s@conference.localhost"><query xmlns="http://jabber.org/protocol/muc#admin"><item affiliation="owner" jid="%s"><reason>Your affiliation has been changed to 'owner'.</reason></item></query></iq>`,
		room, strings.SplitN(bob.JID, "/", 2)[0]))
	mod.ExpectSkip("grant", xmpptest.IsResult("g1"))
	bob.ExpectSkip("bob is moderator", func(e *stanza.Element) bool {
		x := e.Child("http://jabber.org/protocol/muc#user", "x")
		if e.Name.Local != "presence" || x == nil || e.Get("from") != room+"@conference.localhost/"+nicks[1] {
			return false
		}
		it := x.Child("http://jabber.org/protocol/muc#user", "item")
		return it != nil && it.Get("role") == "moderator"
	})
	bob.Send(muteXML("b9", room, videoNS, nicks[2], "true"))
	bob.ExpectSkip("new moderator's mute accepted", xmpptest.IsResult("b9"))
	cs[2].ExpectSkip("forwarded video mute", isForwardedMute(videoNS))
}

// bridgeGauge reads one unlabelled gauge of the server's /metrics.
func bridgeGauge(t *testing.T, srv *xmpptest.Server, name string) string {
	t.Helper()
	res, err := xmpptest.HTTPClient().Get("https://" + srv.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	return ""
}

// TestEndConferenceExpiresEndpoints: when a moderator ends the meeting
// (endconference.D), the focus leaves with the room and the bridge
// forgets the conference's endpoints.
func TestEndConferenceExpiresEndpoints(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b := srv.DialWS(t, ""), srv.DialWS(t, "")
	a.Login("", "")
	b.Login("", "")
	join(t, a, "ending", "aaaa0001")
	join(t, b, "ending", "bbbb0002")
	if got := bridgeGauge(t, srv, "parley_bridge_conferences"); got != "1" {
		t.Fatalf("bridge conferences before the end: %q", got)
	}

	a.Send(`<message to="endconference.localhost" id="end1"><end_conference/></message>`)
	b.ExpectSkip("the destroy presence", func(e *stanza.Element) bool {
		x := e.Child("http://jabber.org/protocol/muc#user", "x")
		return e.Name.Local == "presence" && e.Get("type") == "unavailable" && x != nil &&
			x.Child("http://jabber.org/protocol/muc#user", "destroy") != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := srv.App.MUC.WaitRooms(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The focus ends its conference on its own goroutine once it has the
	// destroy presence; there is no event to wait on from here, so poll.
	for srv.App.Focus.Conferences() != 0 || bridgeGauge(t, srv, "parley_bridge_conferences") != "0" {
		if ctx.Err() != nil {
			t.Fatalf("focus conferences %d, bridge conferences %s", srv.App.Focus.Conferences(), bridgeGauge(t, srv, "parley_bridge_conferences"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
