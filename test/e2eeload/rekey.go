package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/test/internal/botrun"
	"github.com/parley-im/parley/test/internal/procstat"
)

// RekeyRun is one run of -mode rekey: a room that settles, a leave, a join.
type RekeyRun struct {
	Room      string   `json:"room"`
	Bots      int      `json:"bots"`
	LoadStart string   `json:"loadStart"`
	LoadEnd   string   `json:"loadEnd"`
	Settled   Duration `json:"settled"` // from the first join to everyone on one epoch, sending with it
	// GeneratorCPU is the CPU this process (the bots) used over the run,
	// in cores: on a shared machine, far below what it asks for means the
	// bots were starved and their timings are upper bounds.
	GeneratorCPU float64    `json:"generatorCores"`
	Control      MediaStats `json:"control"` // a window as long as Leave's, before it, without a key change
	Leave        *Change    `json:"leave,omitempty"`
	Join         *Change    `json:"join,omitempty"`
	// Reports are every bot's reports at the end of the run (the leaver's
	// when it left).
	Reports []bot.Report `json:"reports,omitempty"`
}

// Duration is a time.Duration that marshals as milliseconds.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.1f", float64(d)/float64(time.Millisecond)), nil
}

func (d Duration) String() string { return time.Duration(d).Round(time.Millisecond).String() }

// Change is what one leave or join cost.
type Change struct {
	Kind string `json:"kind"` // "leave" or "join"
	Who  string `json:"who"`
	// At is when the tool called Close on the leaver (or Join for the
	// newcomer); Seen how long after it the first bot saw its presence
	// (unavailable, or the first), and LeaderSeen the leader.
	At         time.Time `json:"at"`
	Seen       Duration  `json:"seen"`
	LeaderSeen Duration  `json:"leaderSeen"`
	// Epoch is the epoch the leader made for it; LeaderMade when, after
	// At.
	Epoch      uint32   `json:"epoch"`
	Ratchet    bool     `json:"ratchet"`
	LeaderMade Duration `json:"leaderMade"`
	// Installed is, over the bots in the room after the change (the
	// newcomer included), how long after At each held Epoch (or a later
	// one) to decrypt with; Sending when each began to send with it.
	Installed Spread `json:"installed"`
	Sending   Spread `json:"sending"`
	// FromSeen is Installed counted from the first bot's sight of the
	// presence instead of At (a leaver's Close ends its media before it
	// sends its unavailable presence).
	FromSeen Spread `json:"installedFromSeen"`
	// Missing names the bots that never held it; Churned the bots that
	// themselves left (their connection dropped) and came back after At,
	// which the figures above leave out: they rejoin, they are not slow.
	Missing []string   `json:"missing,omitempty"`
	Churned []string   `json:"churned,omitempty"`
	Media   MediaStats `json:"media"`
}

// Spread is a duration over the bots.
type Spread struct {
	N       int      `json:"n"`
	Median  Duration `json:"median"`
	P90     Duration `json:"p90"`
	Max     Duration `json:"max"`
	Slowest string   `json:"slowest"`
}

func spread(by map[string]time.Duration) Spread {
	if len(by) == 0 {
		return Spread{}
	}
	var ds []time.Duration
	s := Spread{N: len(by)}
	for who, d := range by {
		ds = append(ds, d)
		if d >= time.Duration(s.Max) {
			s.Max, s.Slowest = Duration(d), who
		}
	}
	slices.Sort(ds)
	s.Median = Duration(ds[len(ds)/2])
	s.P90 = Duration(ds[min(len(ds)-1, len(ds)*9/10)])
	return s
}

// MediaStats is what receivers saw of senders' video over a window.
type MediaStats struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Pairs counts the receiver × video source pairs that were decoding
	// when the window began; Frames the decodable frames they got in it.
	Pairs  int `json:"pairs"`
	Frames int `json:"frames"`
	// Freezes (W3C) that ended in the window, the pairs with one, and the
	// longest; Stalled counts pairs that got no decodable frame at all in
	// the window.
	Freezes         int      `json:"freezes"`
	FreezePairs     int      `json:"freezePairs"`
	LongestFreezeMs float64  `json:"longestFreezeMs"`
	Longest         string   `json:"longest"` // receiver ← source
	Stalled         []string `json:"stalled,omitempty"`
	// DecryptFailed counts frames (audio: packets) of these senders that
	// did not decrypt, video and audio; DecodeErrors and FramesDropped
	// the video frames not decodable or not complete.
	DecryptFailed int `json:"decryptFailed"`
	DecodeErrors  int `json:"decodeErrors"`
	FramesDropped int `json:"framesDropped"`
	// KeptBack counts the packets of these senders the receivers dropped
	// unread for having waited over 2 s (Pion's backlog of a slot from
	// before its m-line, or a starved reader; bot.SourceStats.KeptBack).
	KeptBack int `json:"keptBack"`
	// Drops is why the receivers dropped frames in the window (of every
	// sender, those who left or joined included), by reason.
	Drops e2ee.Drops `json:"drops"`
	// AtSwitch looks at the moment each sender began to send with the new
	// epoch (for the control window: the window's middle): the pairs whose
	// video was frozen across it, and the longest such freeze.
	AtSwitch        int     `json:"atSwitch"`
	AtSwitchLongest float64 `json:"atSwitchLongestMs"`
}

// snapshot is every bot's report at one moment.
type snapshot struct {
	at      time.Time
	reports map[string]bot.Report
}

func take(bots []*bot.Bot) snapshot {
	s := snapshot{at: time.Now(), reports: map[string]bot.Report{}}
	for _, b := range bots {
		s.reports[b.EndpointID()] = b.Report()
	}
	return s
}

// mediaBetween compares two snapshots: what the receivers in both got of
// the sources they were decoding at a, of senders in both, leaving out the
// endpoints in skip. epoch is the epoch a change brought (0: none, a
// control window).
func mediaBetween(a, b snapshot, epoch uint32, skip ...string) MediaStats {
	m := MediaStats{From: a.at, To: b.at}
	for recv, ra := range a.reports {
		rb, ok := b.reports[recv]
		if !ok || slices.Contains(skip, recv) {
			continue
		}
		if ra.E2EE != nil && rb.E2EE != nil {
			fa, fb := ra.E2EE.Failed, rb.E2EE.Failed
			m.Drops.Malformed += fb.Malformed - fa.Malformed
			m.Drops.UnknownKey += fb.UnknownKey - fa.UnknownKey
			m.Drops.Auth += fb.Auth - fa.Auth
			m.Drops.Replay += fb.Replay - fa.Replay
		}
		for from, ga := range ra.Received {
			_, before := a.reports[from]
			_, after := b.reports[from]
			if slices.Contains(skip, from) || !before || !after {
				continue // not a sender in the room throughout
			}
			gb := rb.Received[from]
			for name, sa := range ga.Sources {
				sb := gb.Sources[name]
				m.DecryptFailed += sb.DecryptFailed - sa.DecryptFailed
				m.KeptBack += sb.KeptBack - sa.KeptBack
				if sa.Video == nil || sa.Video.Frames == 0 || sb.Video == nil {
					continue
				}
				va, vb := sa.Video, sb.Video
				m.Pairs++
				m.Frames += vb.Frames - va.Frames
				m.DecodeErrors += vb.DecodeErrors - va.DecodeErrors
				m.FramesDropped += vb.FramesDropped - va.FramesDropped
				if vb.Frames == va.Frames {
					m.Stalled = append(m.Stalled, recv+" ← "+name)
				}
				n := 0
				switched := switchedAt(b.reports[from], epoch)
				if epoch == 0 {
					switched = a.at.Add(b.at.Sub(a.at) / 2)
				}
				for _, f := range vb.FreezeLog {
					start := f.End.Add(-time.Duration(f.Ms * float64(time.Millisecond)))
					if !switched.IsZero() && !start.After(switched) && !f.End.Before(switched) {
						m.AtSwitch++
						m.AtSwitchLongest = max(m.AtSwitchLongest, f.Ms)
					}
					if f.End.After(a.at) && !f.End.After(b.at) {
						n++
						if f.Ms > m.LongestFreezeMs {
							m.LongestFreezeMs, m.Longest = f.Ms, recv+" ← "+name
						}
					}
				}
				m.Freezes += n
				if n > 0 {
					m.FreezePairs++
				}
			}
		}
	}
	slices.Sort(m.Stalled)
	return m
}

// switchedAt is when a bot began to send with epoch or a later one (zero:
// unknown).
func switchedAt(r bot.Report, epoch uint32) time.Time {
	if r.E2EE == nil {
		return time.Time{}
	}
	for _, t := range r.E2EE.Timeline {
		if t.Epoch >= epoch && !t.Sending.IsZero() {
			return t.Sending
		}
	}
	return time.Time{}
}

// change works out what a leave or join cost from the reports after it:
// the leader's first epoch made after at (a fresh one for a leave), and
// when each bot in after held it.
func change(kind, who string, at time.Time, after map[string]bot.Report) *Change {
	c := &Change{Kind: kind, Who: who, At: at}
	var leader string
	for _, r := range after {
		if r.E2EE != nil && r.E2EE.Leader != "" {
			leader = r.E2EE.Leader
			break
		}
	}
	var seen, leaderSeen time.Time
	for id, r := range after {
		if r.E2EE == nil {
			continue
		}
		for _, e := range r.E2EE.Room {
			if e.Nick == who && e.Left == (kind == "leave") && !e.At.Before(at) {
				if seen.IsZero() || e.At.Before(seen) {
					seen = e.At
				}
				if id == leader {
					c.LeaderSeen, leaderSeen = Duration(e.At.Sub(at)), e.At
				}
				break
			}
		}
	}
	if !seen.IsZero() {
		c.Seen = Duration(seen.Sub(at))
	}
	// The epoch for the change is the leader's first after it saw the
	// change (another change just before, a bot dropping out, may have
	// drawn one in between that still counts the leaver).
	from := at
	if !leaderSeen.IsZero() {
		from = leaderSeen
	}
	if l, ok := after[leader]; ok && l.E2EE != nil {
		for _, t := range l.E2EE.Timeline {
			if t.Led && !t.Roster.Before(from) && (kind != "leave" || !t.Ratchet) {
				c.Epoch, c.Ratchet, c.LeaderMade = t.Epoch, t.Ratchet, Duration(t.Roster.Sub(at))
				break
			}
		}
	}
	churned := map[string]bool{}
	if l, ok := after[leader]; ok && l.E2EE != nil {
		for _, e := range l.E2EE.Room {
			if e.Left && e.Nick != who && !e.At.Before(at) {
				churned[e.Nick] = true
			}
		}
	}
	for id := range churned {
		c.Churned = append(c.Churned, id)
	}
	slices.Sort(c.Churned)
	installed, sending, fromSeen := map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}
	for id, r := range after {
		if id == who && kind == "leave" || churned[id] {
			continue
		}
		held := false
		if c.Epoch != 0 && r.E2EE != nil {
			for _, t := range r.E2EE.Timeline {
				if t.Epoch >= c.Epoch {
					installed[id] = t.Installed.Sub(at)
					if !seen.IsZero() {
						fromSeen[id] = t.Installed.Sub(seen)
					}
					if !t.Sending.IsZero() {
						sending[id] = t.Sending.Sub(at)
					}
					held = true
					break
				}
			}
		}
		if !held {
			c.Missing = append(c.Missing, id)
		}
	}
	slices.Sort(c.Missing)
	c.Installed, c.Sending, c.FromSeen = spread(installed), spread(sending), spread(fromSeen)
	return c
}

// rekeyRun runs one room: settle, a control window, a leave, a join.
func rekeyRun(ctx context.Context, o Options, name string) (*RekeyRun, error) {
	run := &RekeyRun{Room: name, Bots: o.Bots, LoadStart: procstat.LoadAverage()}
	r := newRoom(o, name, !o.Plain)
	defer r.close()
	// Without encryption (-plain, the comparison) there are no epochs to
	// wait for: each change's media window is measured all the same.
	settle := func(ctx context.Context, after uint32) error {
		if o.Plain {
			return nil
		}
		return await(ctx, r.bots, func() bool { return settled(r.bots, after) })
	}
	cpu0, wall0 := selfCPU(), time.Now()
	defer func() { run.GeneratorCPU = (selfCPU() - cpu0).Seconds() / time.Since(wall0).Seconds() }()
	video := o.MaxHeight != 0 && o.LastN != 0
	start := time.Now()
	if err := r.fill(ctx, o.Bots); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, o.SettleTimeout)
	defer cancel()
	if err := settle(sctx, 0); err != nil {
		return run, fmt.Errorf("the room never settled on one epoch: %w", err)
	}
	if video {
		// On a loaded machine a bot may decode no video for a long
		// while; the re-keying is measured all the same, and the media
		// figures count the pairs that decode.
		vctx, cancel := context.WithTimeout(sctx, o.SettleTimeout/2)
		defer cancel()
		if err := awaitVideo(vctx, r.bots, o.videoSources(), 30); err != nil {
			fmt.Fprintf(o.Out, "  (not every bot decodes video: %v)\n", err)
		}
	}
	run.Settled = Duration(time.Since(start))

	// The control: a window without a key change.
	before := take(r.bots)
	if err := botrun.Sleep(ctx, o.Window); err != nil {
		return run, err
	}
	pre := take(r.bots)
	run.Control = mediaBetween(before, pre, 0)

	// A leave: the newest bot that does not lead.
	leader := r.bots[0].E2EE().Leader
	i := len(r.bots) - 1
	for i > 0 && r.bots[i].EndpointID() == leader {
		i--
	}
	leaver := r.bots[i]
	epoch := r.bots[0].E2EE().Epoch
	at := time.Now()
	leaver.Close()
	r.bots = slices.Delete(r.bots, i, i+1)
	rctx, cancel2 := context.WithTimeout(ctx, o.SettleTimeout)
	defer cancel2()
	err := settle(rctx, epoch)
	if err := botrun.Sleep(ctx, time.Until(at.Add(o.Window))); err != nil {
		return run, err
	}
	post := take(r.bots)
	post.reports[leaver.EndpointID()] = leaver.Report()
	run.Leave = change("leave", leaver.EndpointID(), at, post.reports)
	if o.Plain {
		run.Leave.Missing = nil
	}
	delete(post.reports, leaver.EndpointID())
	run.Leave.Media = mediaBetween(snapshot{at: at, reports: pre.reports}, post, run.Leave.Epoch, leaver.EndpointID())
	if err != nil {
		run.Reports = reportsOf(post)
		return run, fmt.Errorf("no epoch after the leave for everyone: %w", err)
	}

	// A join.
	epoch = r.bots[0].E2EE().Epoch
	pre = take(r.bots)
	at = time.Now()
	nb, err := r.join(ctx)
	if err != nil {
		return run, err
	}
	jctx, cancel3 := context.WithTimeout(ctx, o.SettleTimeout)
	defer cancel3()
	err = settle(jctx, epoch)
	if err := botrun.Sleep(ctx, time.Until(at.Add(o.Window))); err != nil {
		return run, err
	}
	post = take(r.bots)
	run.Join = change("join", nb.EndpointID(), at, post.reports)
	if o.Plain {
		run.Join.Missing = nil
	}
	run.Join.Media = mediaBetween(pre, post, run.Join.Epoch, nb.EndpointID())
	run.Reports = reportsOf(post)
	run.Reports = append(run.Reports, leaver.Report())
	run.LoadEnd = procstat.LoadAverage()
	if err != nil {
		return run, fmt.Errorf("no epoch after the join for everyone: %w", err)
	}
	return run, nil
}

func reportsOf(s snapshot) []bot.Report {
	var out []bot.Report
	for _, r := range s.reports {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b bot.Report) int { return a.Start.Compare(b.Start) })
	return out
}

func (r *RekeyRun) print(w io.Writer) {
	fmt.Fprintf(w, "rekey %s: %d bots, settled in %v; load average %s → %s; the bots used %.2f cores\n", r.Room, r.Bots, r.Settled, r.LoadStart, r.LoadEnd, r.GeneratorCPU)
	printMedia(w, "  control window", r.Control)
	for _, c := range []*Change{r.Leave, r.Join} {
		if c == nil {
			continue
		}
		fmt.Fprintf(w, "  %s of %s: first bot saw it after %v, the leader after %v; leader made epoch %d (ratchet %v) after %v\n",
			c.Kind, c.Who, c.Seen, c.LeaderSeen, c.Epoch, c.Ratchet, c.LeaderMade)
		fmt.Fprintf(w, "    holding its key (%d bots): median %v, p90 %v, last %v (%s)\n", c.Installed.N, c.Installed.Median, c.Installed.P90, c.Installed.Max, c.Installed.Slowest)
		fmt.Fprintf(w, "    holding its key, from the first sight of the presence: median %v, p90 %v, last %v\n", c.FromSeen.Median, c.FromSeen.P90, c.FromSeen.Max)
		fmt.Fprintf(w, "    sending with it (%d bots): median %v, p90 %v, last %v (%s)\n", c.Sending.N, c.Sending.Median, c.Sending.P90, c.Sending.Max, c.Sending.Slowest)
		if len(c.Missing) > 0 {
			fmt.Fprintf(w, "    never held it: %v\n", c.Missing)
		}
		if len(c.Churned) > 0 {
			fmt.Fprintf(w, "    left out, having left and come back meanwhile: %v\n", c.Churned)
		}
		printMedia(w, "    media", c.Media)
	}
}

func printMedia(w io.Writer, what string, m MediaStats) {
	fmt.Fprintf(w, "%s %v: %d receiver×source pairs, %d frames; %d freezes in %d pairs, longest %.0f ms (%s); %d stalled; %d decrypt failures, %d decode errors, %d frames dropped\n",
		what, m.To.Sub(m.From).Round(time.Millisecond), m.Pairs, m.Frames, m.Freezes, m.FreezePairs, m.LongestFreezeMs, m.Longest,
		len(m.Stalled), m.DecryptFailed, m.DecodeErrors, m.FramesDropped)
	fmt.Fprintf(w, "%s   frozen across the sender's switch: %d pairs, longest %.0f ms; drops by reason: %d unknown key, %d auth, %d replay, %d malformed; %d packets kept back too long, dropped unread\n",
		strings.Repeat(" ", len(what)-len(strings.TrimLeft(what, " "))), m.AtSwitch, m.AtSwitchLongest,
		m.Drops.UnknownKey, m.Drops.Auth, m.Drops.Replay, m.Drops.Malformed, m.KeptBack)
}
