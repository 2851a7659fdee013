package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// BotReport is one bot's `parley bot --json` object, read tolerantly: the format grows (per-source
// frames, freezes and heights came after the first), so fields a version lacks stay at their zero
// (or -1, unknown) and the raw object is kept.
type BotReport struct {
	Endpoint   string
	Start, End time.Time // zero when the version does not say
	Remotes    []RemoteReport
	Raw        json.RawMessage
}

// RemoteReport is what the bot received from one remote participant.
type RemoteReport struct {
	Endpoint     string
	AudioPackets int
	// VideoFrames is the bot's count: complete decodable frames in the newer format, RTP marker bits
	// (frame ends, complete or not) in the first.
	VideoFrames int
	Detailed    bool // the report has per-source details: the fields below are measured
	// Of its video source(s): complete frames, frames per second, W3C freezes and their time, the
	// height of the last key frame.
	Frames   int
	FPS      float64
	Freezes  int
	FreezeMs float64
	Height   int
	// Of its audio source(s): packets received and lost (by sequence number).
	AudioLost int
}

// AudioLoss is the share of its audio packets that never arrived, -1 when the report does not say.
func (r RemoteReport) AudioLoss() float64 {
	if !r.Detailed || r.AudioPackets+r.AudioLost == 0 {
		return -1
	}
	return float64(r.AudioLost) / float64(r.AudioPackets+r.AudioLost)
}

// ParseReports reads the JSON objects `parley bot --json` printed, one per bot.
func ParseReports(b []byte) ([]BotReport, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []BotReport
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("bot report %d: %w", len(out)+1, err)
		}
		r, err := parseReport(raw)
		if err != nil {
			return out, fmt.Errorf("bot report %d: %w", len(out)+1, err)
		}
		out = append(out, r)
	}
}

// report is the union of the formats' fields the harness reads.
type report struct {
	Endpoint string               `json:"endpoint"`
	Start    time.Time            `json:"start"`
	End      time.Time            `json:"end"`
	Received map[string]remoteRaw `json:"received"`
}

type remoteRaw struct {
	AudioPackets int                  `json:"audioPackets"`
	VideoFrames  int                  `json:"videoFrames"`
	Sources      map[string]sourceRaw `json:"sources"`
}

type sourceRaw struct {
	Kind        string `json:"kind"`
	Packets     int    `json:"packets"`
	PacketsLost int    `json:"packetsLost"`
	Video       *struct {
		Frames          int     `json:"frames"`
		FramesPerSecond float64 `json:"framesPerSecond"`
		Freezes         int     `json:"freezes"`
		FreezeMs        float64 `json:"freezeMs"`
		Height          int     `json:"height"`
	} `json:"video"`
}

func parseReport(raw json.RawMessage) (BotReport, error) {
	var r report
	if err := json.Unmarshal(raw, &r); err != nil {
		return BotReport{}, err
	}
	if r.Endpoint == "" {
		return BotReport{}, errors.New("no endpoint")
	}
	out := BotReport{Endpoint: r.Endpoint, Start: r.Start, End: r.End, Raw: raw}
	for ep, rr := range r.Received {
		rem := RemoteReport{Endpoint: ep, AudioPackets: rr.AudioPackets, VideoFrames: rr.VideoFrames}
		for _, s := range rr.Sources {
			rem.Detailed = true
			switch {
			case s.Video != nil:
				rem.Frames += s.Video.Frames
				rem.FPS += s.Video.FramesPerSecond
				rem.Freezes += s.Video.Freezes
				rem.FreezeMs += s.Video.FreezeMs
				rem.Height = max(rem.Height, s.Video.Height)
			case s.Kind == "audio":
				rem.AudioLost += s.PacketsLost
			}
		}
		if !rem.Detailed {
			rem.Frames = rem.VideoFrames
		}
		out.Remotes = append(out.Remotes, rem)
	}
	sort.Slice(out.Remotes, func(i, j int) bool { return out.Remotes[i].Endpoint < out.Remotes[j].Endpoint })
	return out, nil
}

// Row is one scenario's line of the table.
type Row struct {
	Scenario             string
	Window               time.Duration
	LinkKbps, BridgeKbps float64 // carried by the link toward the receiver; sent by the bridge toward it
	LinkDropped          float64 // share of the packets the limit dropped
	RelayLost            uint64  // packets the relay's profile dropped
	RetransmitsPerSec    float64
	Sources              int     // remote participants heard from
	WithVideo            int     // of them, those with 2 complete frames or more
	FramesPerSource, FPS float64 // mean over remote sources
	MinFPS               float64
	// W3C freezes, mean over the sources WithVideo (a source without frames has no gaps between
	// them, and at under 1 fps the mean frame interval is itself seconds long, so few gaps count);
	// -1 unknown or no source with video.
	FreezesPerMin          float64
	FrozenShare            float64 // of the window
	Height                 int     // lowest over the sources WithVideo; 0 unknown
	AudioPerSec, AudioLoss float64 // audio packets per second per source; loss -1 unknown
	MarkerFrames           bool    // frames are the first format's marker bits
}

// Summarize reduces a run to its row. fps comes from the bot when it says, else from frames over
// the window.
func Summarize(res *Result) Row {
	secs := res.Window.Seconds()
	row := Row{Scenario: res.Scenario.Name, Window: res.Window,
		LinkKbps:          float64(res.Link.Bytes) * 8 / secs / 1000,
		BridgeKbps:        float64(res.Bridge.Bytes) * 8 / secs / 1000,
		RelayLost:         res.Bridge.Lost,
		RetransmitsPerSec: res.Retransmissions / secs,
		FreezesPerMin:     -1, FrozenShare: -1, AudioLoss: -1, MinFPS: -1}
	if n := res.Link.Packets + res.Link.Dropped; n > 0 {
		row.LinkDropped = float64(res.Link.Dropped) / float64(n)
	}
	rems := res.Receiver.Remotes
	row.Sources = len(rems)
	if len(rems) == 0 {
		return row
	}
	var lost, got int
	for _, r := range rems {
		fps := r.FPS
		if !r.Detailed {
			fps = float64(r.Frames) / secs
			row.MarkerFrames = true
		}
		row.FramesPerSource += float64(r.Frames) / float64(len(rems))
		row.FPS += fps / float64(len(rems))
		if row.MinFPS < 0 || fps < row.MinFPS {
			row.MinFPS = fps
		}
		row.AudioPerSec += float64(r.AudioPackets) / secs / float64(len(rems))
		if r.Frames >= 2 {
			row.WithVideo++
		}
		if !r.Detailed {
			continue
		}
		lost += r.AudioLost
		got += r.AudioPackets
		if r.Frames < 2 {
			continue
		}
		if row.FreezesPerMin < 0 {
			row.FreezesPerMin, row.FrozenShare = 0, 0
		}
		row.FreezesPerMin += float64(r.Freezes) / (secs / 60)
		row.FrozenShare += r.FreezeMs / 1000 / secs
		if row.Height == 0 || (r.Height > 0 && r.Height < row.Height) {
			row.Height = r.Height
		}
	}
	if row.FreezesPerMin >= 0 {
		row.FreezesPerMin /= float64(row.WithVideo)
		row.FrozenShare /= float64(row.WithVideo)
	}
	if got+lost > 0 {
		row.AudioLoss = float64(lost) / float64(got+lost)
	}
	return row
}

// WriteTable writes rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| Scenario | Window | Link carried (kbit/s) | Bridge sent (kbit/s) | Dropped at the limit | Relay lost (pkts) | Retransmissions/s | Sources (with video) | Frames per source | fps (mean / min) | Freezes per min | Time frozen | Height (lowest) | Audio pkts/s per source | Audio loss |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		unknown := func(v float64, f string) string {
			if v < 0 {
				return "n/a"
			}
			return fmt.Sprintf(f, v)
		}
		height := "n/a"
		if r.Height > 0 {
			height = fmt.Sprint(r.Height)
		}
		frames := fmt.Sprintf("%.0f", r.FramesPerSource)
		if r.MarkerFrames {
			frames += " (marker bits)"
		}
		fmt.Fprintf(w, "| %s | %.1f s | %.0f | %.0f | %.1f%% | %d | %.0f | %d (%d) | %s | %.1f / %.1f | %s | %s | %s | %.1f | %s |\n",
			r.Scenario, r.Window.Seconds(), r.LinkKbps, r.BridgeKbps, r.LinkDropped*100, r.RelayLost, r.RetransmitsPerSec,
			r.Sources, r.WithVideo, frames, r.FPS, max(r.MinFPS, 0), unknown(r.FreezesPerMin, "%.1f"), unknown(r.FrozenShare*100, "%.0f%%"),
			height, r.AudioPerSec, unknown(r.AudioLoss*100, "%.1f%%"))
	}
}

// WriteSources writes a Markdown table of what the receiver got from each remote source in each run.
func WriteSources(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| Scenario | Source | Complete frames | fps | Freezes | Frozen (ms) | Height | Audio packets | Audio loss |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, res := range results {
		for _, r := range res.Receiver.Remotes {
			fps, loss := r.FPS, "n/a"
			if !r.Detailed {
				fps = float64(r.Frames) / res.Window.Seconds()
			}
			if l := r.AudioLoss(); l >= 0 {
				loss = fmt.Sprintf("%.1f%%", l*100)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.1f | %d | %.0f | %d | %d | %s |\n", res.Scenario.Name, r.Endpoint,
				r.Frames, fps, r.Freezes, r.FreezeMs, r.Height, r.AudioPackets, loss)
		}
	}
}

// Others is what the unshaped participants (the senders, who receive each other) got in a run, for
// §7.5 criterion 5's "no other receiver affected": over every sender's every remote source.
type Others struct {
	Scenario      string
	Streams       int     // (sender, remote source) pairs with 2 complete frames or more
	FPS, MinFPS   float64 // mean and lowest; MinFPS -1 when no stream
	FreezesPerMin float64 // mean, each over its bot's time in the room
	Height        int     // lowest
	AudioLoss     float64 // over all their audio; -1 unknown
}

// SummarizeOthers reduces the senders' reports of a run (the detailed format only: the first has
// no per-source fps or freezes).
func SummarizeOthers(res *Result) Others {
	o := Others{Scenario: res.Scenario.Name, MinFPS: -1, AudioLoss: -1}
	var lost, got int
	for _, b := range res.Senders {
		mins := b.End.Sub(b.Start).Minutes()
		for _, r := range b.Remotes {
			if !r.Detailed {
				continue
			}
			lost += r.AudioLost
			got += r.AudioPackets
			if r.Frames < 2 || mins <= 0 {
				continue
			}
			o.Streams++
			o.FPS += r.FPS
			o.FreezesPerMin += float64(r.Freezes) / mins
			if o.MinFPS < 0 || r.FPS < o.MinFPS {
				o.MinFPS = r.FPS
			}
			if o.Height == 0 || (r.Height > 0 && r.Height < o.Height) {
				o.Height = r.Height
			}
		}
	}
	if o.Streams > 0 {
		o.FPS /= float64(o.Streams)
		o.FreezesPerMin /= float64(o.Streams)
	}
	if got+lost > 0 {
		o.AudioLoss = float64(lost) / float64(got+lost)
	}
	return o
}

// WriteOthers writes the unshaped participants' rows as a Markdown table.
func WriteOthers(w io.Writer, rows []Others) {
	fmt.Fprintln(w, "| Scenario | Streams | fps (mean / lowest) | Freezes per min | Height (lowest) | Audio loss |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, o := range rows {
		loss := "n/a"
		if o.AudioLoss >= 0 {
			loss = fmt.Sprintf("%.1f%%", o.AudioLoss*100)
		}
		fmt.Fprintf(w, "| %s | %d | %.1f / %.1f | %.1f | %d | %s |\n", o.Scenario, o.Streams, o.FPS, max(o.MinFPS, 0),
			o.FreezesPerMin, o.Height, loss)
	}
}

// Phase is the rates over one part of a run: between two steps of the limit.
type Phase struct {
	From, To             time.Duration
	Rate                 int64 // the limit, bit/s; 0 none
	LinkKbps, BridgeKbps float64
	LinkDropped          float64 // share of packets the limit dropped
}

// Phases splits a run at its scenario's steps, from its once-a-second samples; the second after
// each step is left out, so that each phase shows where the bridge settled, not the change itself.
func Phases(res *Result, d time.Duration) []Phase {
	bounds := append([]time.Duration{0}, res.Scenario.StepTimes(d)...)
	rates := []int64{res.Scenario.Rate}
	for _, st := range res.Scenario.Steps {
		rates = append(rates, st.Rate)
	}
	var out []Phase
	for i, from := range bounds {
		to := res.Window
		if i+1 < len(bounds) {
			to = bounds[i+1]
		}
		if i > 0 {
			from += time.Second
		}
		a, b, ok := samplesAround(res.Samples, from, to)
		if !ok {
			continue
		}
		secs := (b.At - a.At).Seconds()
		p := Phase{From: a.At, To: b.At, Rate: rates[i],
			LinkKbps:   float64(b.Link.Bytes-a.Link.Bytes) * 8 / secs / 1000,
			BridgeKbps: float64(b.Bridge.Bytes-a.Bridge.Bytes) * 8 / secs / 1000}
		if n := (b.Link.Packets - a.Link.Packets) + (b.Link.Dropped - a.Link.Dropped); n > 0 {
			p.LinkDropped = float64(b.Link.Dropped-a.Link.Dropped) / float64(n)
		}
		out = append(out, p)
	}
	return out
}

// samplesAround returns the first sample at or after from and the last at or before to.
func samplesAround(ss []Sample, from, to time.Duration) (a, b Sample, ok bool) {
	first, last := -1, -1
	for i, s := range ss {
		if first < 0 && s.At >= from {
			first = i
		}
		if s.At <= to {
			last = i
		}
	}
	if first < 0 || last <= first {
		return a, b, false
	}
	return ss[first], ss[last], true
}

// describe lists scenarios for -h.
func describeScenarios() string {
	var b strings.Builder
	for _, s := range Scenarios {
		fmt.Fprintf(&b, "  %-12s %s\n", s.Name, s.About)
	}
	return b.String()
}
