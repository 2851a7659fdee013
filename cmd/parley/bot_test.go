package main

import (
	"fmt"
	"testing"

	"github.com/parley-im/parley/internal/bot"
)

// fakeRoom stands for a meeting whose security code changes whenever
// somebody leaves, as an encrypted room's does (the key leader draws a
// fresh epoch).
type fakeRoom struct{ epoch uint32 }

type fakeBot struct {
	room *fakeRoom
	nick string
	left bool
}

func (f *fakeBot) Report() bot.Report {
	return bot.Report{Endpoint: f.nick, E2EE: &bot.E2EEReport{Epoch: f.room.epoch,
		SecurityCode: fmt.Sprintf("code of epoch %d", f.room.epoch)}}
}

func (f *fakeBot) Close() error {
	f.left = true
	f.room.epoch++
	return nil
}

// TestReportAndLeaveReportsOneMoment: every report is of the meeting all
// the bots were in, not of the one left after the first bot's leave, and
// every bot leaves.
func TestReportAndLeaveReportsOneMoment(t *testing.T) {
	room := &fakeRoom{epoch: 2}
	bots := []*fakeBot{{room: room, nick: "a"}, {room: room, nick: "b"}, {room: room, nick: "c"}}
	reports := reportAndLeave([]participant{bots[0], bots[1], bots[2]})
	if len(reports) != len(bots) {
		t.Fatalf("%d reports for %d bots", len(reports), len(bots))
	}
	for i, r := range reports {
		if r.Endpoint != bots[i].nick {
			t.Errorf("report %d is %q's, want %q's", i, r.Endpoint, bots[i].nick)
		}
		if r.E2EE.Epoch != 2 || r.E2EE.SecurityCode != reports[0].E2EE.SecurityCode {
			t.Errorf("%s reports epoch %d (%q), want epoch 2 like the others", r.Endpoint, r.E2EE.Epoch, r.E2EE.SecurityCode)
		}
		if !bots[i].left {
			t.Errorf("%s did not leave", bots[i].nick)
		}
	}
}
