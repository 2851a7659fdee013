package main

import (
	"math"
	"testing"
	"time"

	"github.com/parley-im/parley/test/internal/netns"
	"github.com/parley-im/parley/test/shaped/impair"
)

// The first --json format: counts per remote participant, frames being RTP marker bits.
const firstFormat = `{"endpoint":"rx","received":{"s1":{"audioPackets":500,"videoFrames":300}}}
`

// The format with per-source details (two remotes: one with video, one whose video never got through).
const detailedFormat = `{"endpoint":"rx","start":"2026-12-07T11:00:00Z","end":"2026-12-07T11:00:10Z",
 "received":{
  "s1":{"audioPackets":490,"videoFrames":280,"sources":{
    "s1-a0":{"kind":"audio","packets":490,"packetsLost":10},
    "s1-v0":{"kind":"video","packets":900,"packetsLost":3,"video":{"frames":280,"framesPerSecond":28,"freezes":2,"freezeMs":1500,"width":640,"height":360}}}},
  "s2":{"audioPackets":400,"videoFrames":1,"sources":{
    "s2-a0":{"kind":"audio","packets":400,"packetsLost":100},
    "s2-v0":{"kind":"video","packets":50,"packetsLost":400,"video":{"frames":1,"framesPerSecond":0.1,"height":720}}}}},
 "sent":{"maxHeight":720},"somethingNew":[1,2,3]}
`

func TestParseFirstFormat(t *testing.T) {
	reps, err := ParseReports([]byte(firstFormat))
	if err != nil || len(reps) != 1 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	r := reps[0]
	if r.Endpoint != "rx" || len(r.Remotes) != 1 {
		t.Fatalf("%+v", r)
	}
	rem := r.Remotes[0]
	if rem.Endpoint != "s1" || rem.Detailed || rem.Frames != 300 || rem.AudioPackets != 500 || rem.AudioLoss() != -1 {
		t.Errorf("%+v, audio loss %v", rem, rem.AudioLoss())
	}
	row := Summarize(&Result{Scenario: Scenario{Name: "x"}, Window: 10 * time.Second, Receiver: r})
	if !row.MarkerFrames || row.FPS != 30 || row.FreezesPerMin != -1 || row.AudioLoss != -1 || row.AudioPerSec != 50 {
		t.Errorf("row %+v", row)
	}
}

func TestParseDetailedFormat(t *testing.T) {
	reps, err := ParseReports([]byte(detailedFormat + firstFormat))
	if err != nil || len(reps) != 2 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	r := reps[0]
	if r.End.Sub(r.Start) != 10*time.Second || len(r.Remotes) != 2 {
		t.Fatalf("%+v", r)
	}
	s1, s2 := r.Remotes[0], r.Remotes[1]
	if !s1.Detailed || s1.Frames != 280 || s1.FPS != 28 || s1.Freezes != 2 || s1.Height != 360 || s1.AudioLost != 10 {
		t.Errorf("s1 %+v", s1)
	}
	if math.Abs(s2.AudioLoss()-0.2) > 1e-9 {
		t.Errorf("s2 audio loss %v, want 0.2", s2.AudioLoss())
	}

	row := Summarize(&Result{Scenario: Scenario{Name: "x"}, Window: 10 * time.Second, Receiver: r,
		Link: linkStats(1_250_000, 900, 100), Retransmissions: 50})
	want := Row{Scenario: "x", Window: 10 * time.Second, LinkKbps: 1000, LinkDropped: 0.1, RetransmitsPerSec: 5,
		Sources: 2, WithVideo: 1, FramesPerSource: 140.5, FPS: 14.05, MinFPS: 0.1,
		// Over s1 only: s2's one frame has no gaps.
		FreezesPerMin: 12, FrozenShare: 0.15, Height: 360,
		AudioPerSec: 44.5, AudioLoss: 110.0 / 1000}
	if !rowsClose(row, want) {
		t.Errorf("row\n%+v\nwant\n%+v", row, want)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{`{"received":{}}`, `{"endpoint":"rx"`, `[1]`} {
		if _, err := ParseReports([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func rowsClose(a, b Row) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-6 }
	return a.Scenario == b.Scenario && a.Window == b.Window && near(a.LinkKbps, b.LinkKbps) &&
		near(a.BridgeKbps, b.BridgeKbps) && near(a.LinkDropped, b.LinkDropped) && a.RelayLost == b.RelayLost &&
		near(a.RetransmitsPerSec, b.RetransmitsPerSec) && a.Sources == b.Sources && a.WithVideo == b.WithVideo &&
		near(a.FramesPerSource, b.FramesPerSource) && near(a.FPS, b.FPS) && near(a.MinFPS, b.MinFPS) &&
		near(a.FreezesPerMin, b.FreezesPerMin) && near(a.FrozenShare, b.FrozenShare) && a.Height == b.Height &&
		near(a.AudioPerSec, b.AudioPerSec) && near(a.AudioLoss, b.AudioLoss) && a.MarkerFrames == b.MarkerFrames
}

func linkStats(bytes, packets, dropped uint64) netns.LinkStats {
	return netns.LinkStats{Bytes: bytes, Packets: packets, Dropped: dropped}
}

// TestPhases: a 30 s step run whose bridge sends 2 Mbit/s, then 8, then 2 again, and whose link
// carries 1 Mbit/s throughout, splits into three phases with those rates, each phase but the first
// starting a second after its step.
func TestPhases(t *testing.T) {
	sc, err := Find("step")
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{Scenario: sc, Window: 30 * time.Second}
	var bridge, link uint64
	for s := 1; s <= 30; s++ {
		rate := uint64(2_000_000)
		if s > 10 && s <= 20 {
			rate = 8_000_000
		}
		bridge += rate / 8
		link += 1_000_000 / 8
		res.Samples = append(res.Samples, Sample{At: time.Duration(s) * time.Second,
			Link: linkStats(link, link/1000, 0), Bridge: impair.Counters{Bytes: bridge}})
	}
	got := Phases(res, 30*time.Second)
	want := []Phase{
		{From: 1 * time.Second, To: 10 * time.Second, Rate: 3_000_000, LinkKbps: 1000, BridgeKbps: 2000},
		{From: 11 * time.Second, To: 20 * time.Second, Rate: 500_000, LinkKbps: 1000, BridgeKbps: 8000},
		{From: 21 * time.Second, To: 30 * time.Second, Rate: 3_000_000, LinkKbps: 1000, BridgeKbps: 2000},
	}
	if len(got) != len(want) {
		t.Fatalf("phases %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.From != w.From || g.To != w.To || g.Rate != w.Rate || math.Abs(g.LinkKbps-w.LinkKbps) > 1e-6 ||
			math.Abs(g.BridgeKbps-w.BridgeKbps) > 1e-6 {
			t.Errorf("phase %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestSummarizeOthers: the senders' streams with video count, over each sender's own time in the
// room; a first-format report adds nothing.
func TestSummarizeOthers(t *testing.T) {
	reps, err := ParseReports([]byte(detailedFormat + firstFormat))
	if err != nil {
		t.Fatal(err)
	}
	got := SummarizeOthers(&Result{Scenario: Scenario{Name: "x"}, Window: time.Minute, Senders: reps})
	want := Others{Scenario: "x", Streams: 1, FPS: 28, MinFPS: 28, FreezesPerMin: 12, Height: 360, AudioLoss: 0.11}
	if got.Scenario != want.Scenario || got.Streams != want.Streams || got.FPS != want.FPS || got.MinFPS != want.MinFPS ||
		math.Abs(got.FreezesPerMin-want.FreezesPerMin) > 1e-9 || got.Height != want.Height ||
		math.Abs(got.AudioLoss-want.AudioLoss) > 1e-9 {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
