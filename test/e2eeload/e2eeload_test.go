package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestSmallRun runs both measurements small against an in-process server
// (its CPU is this process's): three bots re-key after a leave and a join,
// and a room of two with encryption on and off sends packets.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bots for half a minute")
	}
	srv := xmpptest.Start(t, nil)
	var out bytes.Buffer
	o := Options{Mode: "all", Server: "https://" + srv.HTTP, Bots: 3, MaxHeight: 180, LastN: -1, Speakers: 2, Runs: 1,
		Window: 3 * time.Second, JoinGap: 50 * time.Millisecond, Out: &out, SettleTimeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Measure(ctx, o)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rekey) != 1 || len(res.CPU) != 2 {
		t.Fatalf("%d rekey runs, %d cpu runs; want 1 and 2", len(res.Rekey), len(res.CPU))
	}
	r := res.Rekey[0]
	if r.Control.Pairs != 6 || r.Control.Frames == 0 {
		t.Errorf("control window: %+v, want 3 receivers × 2 sources decoding", r.Control)
	}
	if l := r.Leave; l == nil || l.Epoch == 0 || l.Ratchet || l.Installed.N != 2 || len(l.Missing) > 0 ||
		l.Installed.Max < l.LeaderMade || l.Sending.N != 2 || l.Media.Pairs != 2 {
		t.Errorf("leave: %+v", l)
	}
	if j := r.Join; j == nil || j.Epoch == 0 || !j.Ratchet || j.Installed.N != 3 || len(j.Missing) > 0 || j.Media.Pairs != 2 {
		t.Errorf("join: %+v", j)
	}
	if len(r.Reports) != 4 {
		t.Errorf("%d reports, want the 3 bots' and the leaver's", len(r.Reports))
	}
	for i, c := range res.CPU {
		if c.E2EE != (i == 0) || c.Sent == 0 || c.Recv == 0 || c.Bots != 3 {
			t.Errorf("cpu run %d: %+v", i, c)
		}
	}
}

// TestChange: the leader's first fresh epoch after a leave, when each bot
// held it (or a later one), who never did, and who saw the leave first.
func TestChange(t *testing.T) {
	at := time.Unix(1000, 0)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	report := func(leader string, room []bot.RoomEvent, tl ...bot.EpochTiming) bot.Report {
		return bot.Report{E2EE: &bot.E2EEReport{Leader: leader, Room: room, Timeline: tl}}
	}
	left := func(n int) []bot.RoomEvent {
		return []bot.RoomEvent{{Nick: "x", At: ms(-5000)}, {Nick: "x", Left: true, At: ms(n)}}
	}
	after := map[string]bot.Report{
		// An epoch the leader drew before it saw x leave (for another change,
		// 2 ms after the Close) is not x's.
		"a": report("a", left(40),
			bot.EpochTiming{Epoch: 3, Led: true, Roster: ms(2), Installed: ms(2)},
			bot.EpochTiming{Epoch: 4, Led: true, Roster: ms(800), Installed: ms(801), Sending: ms(2801)}),
		"b": report("a", left(30), bot.EpochTiming{Epoch: 4, Roster: ms(900), Key: ms(950), Installed: ms(960), Sending: ms(2960)}),
		"c": report("a", left(35), bot.EpochTiming{Epoch: 5, Roster: ms(1500), Key: ms(1500), Installed: ms(1600)}),
		"d": report("a", nil, bot.EpochTiming{Epoch: 3, Installed: ms(-4000)}),
		"e": report("a", nil, bot.EpochTiming{Epoch: 6, Installed: ms(9000)}), // dropped out and came back
	}
	after["a"].E2EE.Room = append(after["a"].E2EE.Room, bot.RoomEvent{Nick: "e", Left: true, At: ms(500)}, bot.RoomEvent{Nick: "e", At: ms(8000)})
	c := change("leave", "x", at, after)
	if c.Epoch != 4 || c.Ratchet || c.LeaderMade != Duration(800*time.Millisecond) || c.Seen != Duration(30*time.Millisecond) ||
		c.LeaderSeen != Duration(40*time.Millisecond) {
		t.Errorf("%+v", c)
	}
	if c.Installed.N != 3 || c.Installed.Max != Duration(1600*time.Millisecond) || c.Installed.Slowest != "c" ||
		c.Installed.Median != Duration(960*time.Millisecond) || c.Sending.N != 2 || len(c.Missing) != 1 || c.Missing[0] != "d" ||
		c.FromSeen.Max != Duration(1570*time.Millisecond) || len(c.Churned) != 1 || c.Churned[0] != "e" {
		t.Errorf("installed %+v, sending %+v, missing %v", c.Installed, c.Sending, c.Missing)
	}
}

// TestMediaBetween: freezes that ended inside the window count, those
// before it do not, the one across the window's middle (a control window's
// stand-in for a switch) is frozen at the switch; a pair with no frame in the window is stalled; a
// sender not in the room at both ends counts nowhere.
func TestMediaBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(10 * time.Second)
	video := func(frames int, failed int, freezes ...bot.Freeze) bot.Remote {
		return bot.Remote{Sources: map[string]bot.SourceStats{"s-v0": {Kind: "video", DecryptFailed: failed,
			Video: &bot.VideoStats{Frames: frames, FreezeLog: freezes}}}}
	}
	old := bot.Freeze{End: t0.Add(-time.Second), Ms: 900}
	a := snapshot{at: t0, reports: map[string]bot.Report{
		"r1": {Received: map[string]bot.Remote{"s": video(100, 0, old)}},
		"r2": {Received: map[string]bot.Remote{"s": video(100, 0)}},
		"s":  {},
		"x":  {Received: map[string]bot.Remote{"gone": video(100, 0)}}, // a sender who left counts nowhere
	}}
	b := snapshot{at: t1, reports: map[string]bot.Report{
		"r1": {Received: map[string]bot.Remote{"s": video(400, 3, old, bot.Freeze{End: t0.Add(2 * time.Second), Ms: 400},
			bot.Freeze{End: t0.Add(5200 * time.Millisecond), Ms: 500})}},
		"r2": {Received: map[string]bot.Remote{"s": video(100, 0)}},
		"s":  {},
		"x":  {Received: map[string]bot.Remote{"gone": video(100, 0)}},
	}}
	kept := b.reports["r1"].Received["s"].Sources["s-v0"]
	kept.KeptBack = 7
	b.reports["r1"].Received["s"].Sources["s-v0"] = kept
	m := mediaBetween(a, b, 0)
	if m.Pairs != 2 || m.Frames != 300 || m.Freezes != 2 || m.LongestFreezeMs != 500 || m.Longest != "r1 ← s-v0" ||
		len(m.Stalled) != 1 || m.Stalled[0] != "r2 ← s-v0" || m.DecryptFailed != 3 || m.KeptBack != 7 || m.AtSwitch != 1 || m.AtSwitchLongest != 500 {
		t.Errorf("%+v", m)
	}
}
