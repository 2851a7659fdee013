package bot_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func join(t *testing.T, srv *xmpptest.Server, room string) *bot.Bot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bot.Join(ctx, bot.Options{URL: "https://" + srv.HTTP + "/" + room, Insecure: true, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// hears reports whether got has audio and video from every endpoint in from.
func hears(from ...*bot.Bot) func(map[string]bot.Remote) bool {
	return func(got map[string]bot.Remote) bool {
		for _, b := range from {
			r := got[b.EndpointID()]
			if r.AudioPackets < 10 || r.VideoFrames < 5 {
				return false
			}
		}
		return true
	}
}

func TestThreeBotsHearEachOther(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b, c := join(t, srv, "standup"), join(t, srv, "standup"), join(t, srv, "standup")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, x := range []struct {
		me     *bot.Bot
		others []*bot.Bot
	}{{a, []*bot.Bot{b, c}}, {b, []*bot.Bot{a, c}}, {c, []*bot.Bot{a, b}}} {
		if err := x.me.Wait(ctx, hears(x.others...)); err != nil {
			t.Fatal(err)
		}
	}
}

// A late joiner receives everyone, a leaver's slot goes to the next
// participant, and another room hears nothing of this one.
func TestJoinLeaveAndIsolation(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	a, b := join(t, srv, "room-one"), join(t, srv, "room-one")
	other := join(t, srv, "room-two")
	if err := a.Wait(ctx, hears(b)); err != nil {
		t.Fatal(err)
	}
	late := join(t, srv, "room-one")
	if err := late.Wait(ctx, hears(a, b)); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(ctx, hears(b, late)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	room, _ := jid.Parse("room-one@conference.localhost")
	waitFor(t, ctx, "the focus to drop the leaver", func() bool { return srv.App.Focus.Participants(room) == 2 })
	d := join(t, srv, "room-one")
	if err := a.Wait(ctx, hears(late, d)); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx, hears(a, late)); err != nil {
		t.Fatal(err)
	}
	if got := other.Received(); len(got) != 0 {
		t.Fatalf("room-two received %v", got)
	}
}

// The bots' audio carries audio levels that sound like speech, so the bridge names one of them the
// dominant speaker to both.
func TestBotsHearADominantSpeaker(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b := join(t, srv, "talk"), join(t, srv, "talk")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, me := range []*bot.Bot{a, b} {
		named := func(map[string]bot.Remote) bool {
			d := me.DominantSpeaker()
			return d == a.EndpointID() || d == b.EndpointID()
		}
		if err := me.Wait(ctx, named); err != nil {
			t.Fatalf("no dominant speaker: %v", err)
		}
	}
}

// A participant that vanishes without leaving is expired.
func TestVanishedBotExpired(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := join(t, srv, "crash"), join(t, srv, "crash")
	if err := a.Wait(ctx, hears(b)); err != nil {
		t.Fatal(err)
	}
	room, _ := jid.Parse("crash@conference.localhost")
	b.Vanish()
	waitFor(t, ctx, "the vanished participant to be expired", func() bool { return srv.App.Focus.Participants(room) == 1 })
}

// TestBotAnnouncesSources: a participant joining the room sees in the bot's presence its audio and
// camera sources, named as in the Jingle session, unmuted (<SourceInfo>, jitsi-dialect.md §4.1, §5.5),
// so clients draw it with its video and an open microphone.
func TestBotAnnouncesSources(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	b := join(t, srv, "seen")
	room := "seen@conference." + srv.Domain
	c := srv.DialTCP(t)
	c.Login("", "")
	c.Send(`<presence to="` + room + `/0b5e7e70"><x xmlns="http://jabber.org/protocol/muc"/></presence>`)
	p := c.ExpectSkip("the bot's presence", func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == room+"/"+b.EndpointID()
	})
	text := p.ChildText(stanza.NSClient, "SourceInfo")
	var info map[string]map[string]any
	if err := json.Unmarshal([]byte(text), &info); err != nil {
		t.Fatalf("SourceInfo %q: %v\n%s", text, err, p)
	}
	ep := b.EndpointID()
	want := map[string]map[string]any{ep + "-a0": {"muted": false}, ep + "-v0": {"muted": false}}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("SourceInfo %s, want %v", text, want)
	}
}

// waitFor polls cond; the state it watches has no event to wait on.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
