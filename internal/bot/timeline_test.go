package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// epochOf returns the timeline entry of epoch n, if the bot learnt it.
func epochOf(r bot.E2EEReport, n uint32) (bot.EpochTiming, bool) {
	for _, t := range r.Timeline {
		if t.Epoch == n {
			return t, true
		}
	}
	return bot.EpochTiming{}, false
}

// roomEvent returns when the bot saw nick join (left false) or leave.
func roomEvent(r bot.E2EEReport, nick string, left bool) (time.Time, bool) {
	for _, e := range r.Room {
		if e.Nick == nick && e.Left == left {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// TestEpochTimeline: each bot's report says when it saw a join and a leave
// and, for each epoch, when its roster and sealed key came, when the bot
// could decrypt with it and when it sent with it: the leader marks the
// epochs it made, a member ratchets on a join without a sealed key, a
// leave brings a fresh epoch with one, and the newcomer starts with one;
// E2EEChanged wakes on such changes.
func TestEpochTimeline(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true, Constraints: &bot.Constraints{MaxHeight: 0, LastN: 0}}
	a, b := joinOpts(t, srv, "timeline", o), joinOpts(t, srv, "timeline", o)
	if err := a.Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(0, a, b) }); err != nil {
		t.Fatalf("a and b share no epoch: %v", err)
	}
	beforeJoin := a.E2EE().Epoch
	changed := b.E2EEChanged()
	c := joinOpts(t, srv, "timeline", o)
	select {
	case <-changed: // b saw c join, at least
	case <-ctx.Done():
		t.Fatal("E2EEChanged never closed after a join")
	}
	if err := a.Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(beforeJoin, a, b, c) }); err != nil {
		t.Fatalf("no shared epoch after c joined: %v", err)
	}
	joinEpoch := a.E2EE().Epoch
	left := time.Now()
	c.Close()
	if err := a.Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(joinEpoch, a, b) }); err != nil {
		t.Fatalf("no shared epoch after c left: %v", err)
	}
	leaveEpoch := a.E2EE().Epoch

	ra, rb, rc := a.E2EE(), b.E2EE(), c.E2EE()
	for _, x := range []struct {
		name string
		r    bot.E2EEReport
	}{{"a", ra}, {"b", rb}} {
		joinedAt, ok1 := roomEvent(x.r, c.EndpointID(), false)
		leftAt, ok2 := roomEvent(x.r, c.EndpointID(), true)
		if !ok1 || !ok2 || leftAt.Before(joinedAt) || leftAt.Before(left) {
			t.Errorf("%s's room events %+v: want c's join, then its leave after %v", x.name, x.r.Room, left)
		}
		j, okJ := epochOf(x.r, joinEpoch)
		l, okL := epochOf(x.r, leaveEpoch)
		if !okJ || !okL {
			t.Fatalf("%s's timeline %+v lacks epoch %d or %d", x.name, x.r.Timeline, joinEpoch, leaveEpoch)
		}
		if j.Members != 3 || l.Members != 2 || l.Ratchet {
			t.Errorf("%s: join epoch %+v, leave epoch %+v: want 3 members, then 2 with a fresh secret", x.name, j, l)
		}
		for _, e := range []bot.EpochTiming{j, l} {
			if e.Roster.IsZero() || e.Installed.Before(e.Roster) || e.Installed.Before(e.Key) ||
				e.Sending.Before(e.Installed) {
				t.Errorf("%s: epoch %+v out of order (roster, key ≤ installed ≤ sending)", x.name, e)
			}
		}
		if l.Roster.Before(leftAt) {
			t.Errorf("%s: the fresh epoch's roster (%v) came before it saw c leave (%v)", x.name, l.Roster, leftAt)
		}
	}
	if j, _ := epochOf(ra, joinEpoch); !j.Led || !j.Key.IsZero() || !j.Ratchet {
		t.Errorf("the leader's join epoch %+v: want led, a ratchet, no sealed key", j)
	}
	if j, _ := epochOf(rb, joinEpoch); j.Led || !j.Key.IsZero() || !j.Ratchet {
		t.Errorf("b's join epoch %+v: want a ratchet without a sealed key", j)
	}
	if l, _ := epochOf(rb, leaveEpoch); l.Led || l.Key.IsZero() || l.Sending.Sub(l.Installed) < time.Second {
		t.Errorf("b's leave epoch %+v: want a sealed key, sending a while after installing", l)
	}
	if len(rc.Timeline) == 0 || rc.Timeline[0].Key.IsZero() || rc.Timeline[0].Epoch > joinEpoch {
		t.Errorf("the newcomer's timeline %+v: want a sealed key first, by epoch %d", rc.Timeline, joinEpoch)
	}
	js, err := json.Marshal(b.Report())
	if err != nil || !strings.Contains(string(js), `"timeline":[{"epoch":`) || !strings.Contains(string(js), `"room":[{"nick":`) {
		t.Errorf("the JSON report lacks the timeline or room events: %s (%v)", js, err)
	}
}

// TestSwitchSendsNoKeyFrame: a bot's first epoch starts its video with a
// key frame; later switches (here the leader's rotation every 4 s) send
// none, since receivers hold the key by then and keep decoding: a key
// frame from every sender at the same instant froze video for seconds.
func TestSwitchSendsNoKeyFrame(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.WithRotation(bot.Options{E2EE: true}, 4*time.Second)
	a, b := joinOpts(t, srv, "nokeyframe", o), joinOpts(t, srv, "nokeyframe", o)
	waitAll(t, ctx, a, b)
	// The bridge raises each receiver to 720p once its estimate allows, which takes a key frame; count
	// from there.
	for _, r := range [][2]*bot.Bot{{a, b}, {b, a}} {
		if err := r[0].Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, r[1]).Height == 720 }); err != nil {
			t.Fatalf("%s never got %s at 720p: %v", r[0].EndpointID(), r[1].EndpointID(), err)
		}
	}
	first := a.E2EE()
	before := a.Sent().KeyFramesOnRequest + b.Sent().KeyFramesOnRequest
	failed := b.E2EE().Failed.Total() // a's frames of its epoch alone, before b joined
	if err := a.Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(first.Epoch+1, a, b) }); err != nil {
		t.Fatalf("no two rotations: a at %d/%d, b at %d/%d: %v", a.E2EE().Epoch, a.E2EE().SendEpoch, b.E2EE().Epoch, b.E2EE().SendEpoch, err)
	}
	n := b.Received()[a.EndpointID()].VideoFrames
	if err := b.Wait(ctx, func(got map[string]bot.Remote) bool { return got[a.EndpointID()].VideoFrames >= n+30 }); err != nil {
		t.Fatal(err)
	}
	after := a.Sent().KeyFramesOnRequest + b.Sent().KeyFramesOnRequest
	if after != before {
		t.Errorf("key frames out of turn: %d before two switches, %d after", before, after)
	}
	if e := b.E2EE(); e.Failed.Total() != failed {
		t.Errorf("frames failed across the switches: %d before, %+v after", failed, e.Failed)
	}
}
