// Command classroom measures a large class on one bridge, the room of
// reference/sfu-quality.md §7.5 criterion 11: a teacher on stage and many
// students as thumbnails, each a `parley bot` (internal/bot) in this
// process, against one `parley serve` in another (so that its CPU time is
// the server's alone).
//
// Every student has the teacher's camera on stage (as tall and as fast as it
// comes) and asks for the other sources at -thumb-height and -thumb-fps,
// -last-n of them; the teacher sees the class as thumbnails likewise. The first -speakers participants
// (the teacher first) speak; the others are muted (their audio level says
// silence, so the bridge forwards the few loudest). Bots send what
// SenderSourceConstraints let them: the students only their lowest layer,
// since nobody asks for more of them.
//
// Once every student decodes the teacher, the tool measures over
// -duration:
//   - the server's CPU (utime + stime of /proc/PID/stat) in cores, and
//     this process's (the bots');
//   - the packets the bridge sent and received per second (/metrics);
//   - per receiver, the packets lost (never arrived, even repaired) over
//     those expected, of every source it received;
//   - the freezes (W3C webrtc-stats, counted by the bots) of the
//     teacher's camera at each student, and of every thumbnail stream;
//   - the bridge's allocation time, p50 and p99
//     (parley_bridge_allocation_seconds), when the server reports it.
//
// and prints them beside the criterion's pass marks. By default it builds
// cmd/parley and starts it on loopback; -parley BIN uses a build. Run from
// the repository's root:
//
//	go run ./test/classroom -students 49 -duration 5m -json class.json
//
// The quick test (classroom_test.go) runs a small class against an
// in-process server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/test/internal/botrun"
	"github.com/parley-im/parley/test/internal/parleyproc"
	"github.com/parley-im/parley/test/internal/procstat"
	"github.com/parley-im/parley/test/internal/promtext"
)

func main() {
	var o Options
	flag.IntVar(&o.Students, "students", 49, "students in the class (the teacher is one more)")
	flag.IntVar(&o.LastN, "last-n", 20, "video of this many sources per participant at most, -1 all")
	flag.IntVar(&o.ThumbHeight, "thumb-height", 180, "the height every participant asks for of the sources not on its stage")
	flag.Float64Var(&o.ThumbFPS, "thumb-fps", 15, "the frame rate every participant asks for of the sources not on its stage (0: no limit)")
	flag.IntVar(&o.Speakers, "speakers", 3, "participants that speak, the teacher first; the others are muted")
	flag.DurationVar(&o.Duration, "duration", 5*time.Minute, "the measured window")
	flag.DurationVar(&o.JoinGap, "join-gap", 100*time.Millisecond, "time between two students' joins")
	parley := flag.String("parley", "", "a parley binary to start (default: build cmd/parley)")
	jsonOut := flag.String("json", "", "write the figures and every bot's report to this file")
	verbose := flag.Bool("v", false, "log the bots' warnings")
	flag.Parse()
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, *parley, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "classroom:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o Options, parley, jsonOut string) error {
	srv, err := parleyproc.Start(ctx, parley, "")
	if err != nil {
		return err
	}
	defer srv.Stop()
	o.Server, o.PID = srv.Base, srv.PID
	fmt.Printf("# %s, %d cores, load average %s at the start\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), procstat.LoadAverage())
	res, err := Measure(ctx, o)
	if res != nil {
		res.print(os.Stdout)
		if jsonOut != "" {
			b, _ := json.MarshalIndent(res, "", " ")
			if werr := os.WriteFile(jsonOut, b, 0o644); werr != nil && err == nil {
				err = werr
			}
		}
	}
	return err
}

// Options configure a class.
type Options struct {
	Server      string // https://HOST:PORT
	PID         int    // the server's process, for its CPU (0: this process)
	Students    int
	LastN       int
	ThumbHeight int
	ThumbFPS    float64
	Speakers    int
	Duration    time.Duration
	JoinGap     time.Duration
	Log         *slog.Logger
	// SettleTimeout bounds the wait for every student to decode the
	// teacher (default: a minute and a second per student).
	SettleTimeout time.Duration
}

// Results is what Measure found over the window.
type Results struct {
	Students int      `json:"students"`
	Window   Duration `json:"window"`
	Load     string   `json:"load"` // load average at the window's end
	// ServerCores and BotCores are CPU time over the window.
	ServerCores float64 `json:"serverCores"`
	BotCores    float64 `json:"botCores"`
	SentPPS     float64 `json:"sentPacketsPerSecond"`
	RecvPPS     float64 `json:"receivedPacketsPerSecond"`
	SentMbps    float64 `json:"sentMbitPerSecond"`
	// AllocP50 and AllocP99 are the bridge's allocation times; zero when
	// the server does not report them.
	AllocP50 Duration `json:"allocP50"`
	AllocP99 Duration `json:"allocP99"`
	Allocs   float64  `json:"allocations"`
	// Receivers is one entry per participant, teacher first.
	Receivers []Receiver `json:"receivers"`
	// Reports are the bots' reports at the window's end.
	Reports []bot.Report `json:"reports"`
}

// Receiver is what one participant received over the window.
type Receiver struct {
	Endpoint string `json:"endpoint"`
	// Lost and Expected add up its sources' packets (lost: never arrived,
	// even repaired).
	Lost     int `json:"lost"`
	Expected int `json:"expected"`
	// StageFreezes are the freezes of the teacher's camera (students only);
	// StageFrames its decodable frames and StageHeight the last height.
	StageFreezes int `json:"stageFreezes"`
	StageFrames  int `json:"stageFrames"`
	StageHeight  int `json:"stageHeight"`
	// StageStopped is how long before the window's end the teacher's camera
	// last delivered a packet: a stream the bridge stopped forwarding has
	// no freeze (freezes lie between frames) but stays still.
	StageStopped Duration `json:"stageStopped"`
	// Thumbnails counts the other video streams that delivered frames in
	// the window; ThumbFreezes their freezes, MaxThumbFreezes the most of
	// one stream.
	Thumbnails      int `json:"thumbnails"`
	ThumbFrames     int `json:"thumbFrames"`
	ThumbFreezes    int `json:"thumbFreezes"`
	MaxThumbFreezes int `json:"maxThumbFreezes"`
	// AudioStreams counts the remote audio sources forwarded steadily: at
	// least half a speaker's 50 packets a second over the window.
	AudioStreams int `json:"audioStreams"`
}

// Duration marshals as a string.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Measure fills a class, waits until every student decodes the teacher, and
// measures over o.Duration.
func Measure(ctx context.Context, o Options) (*Results, error) {
	if o.SettleTimeout == 0 {
		o.SettleTimeout = time.Minute + time.Duration(o.Students)*time.Second
	}
	url := strings.TrimSuffix(o.Server, "/") + "/classroom-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	opts := func(i int, stage string) bot.Options {
		c := bot.Constraints{MaxHeight: o.ThumbHeight, LastN: o.LastN, Stage: stage, MaxFrameRate: o.ThumbFPS}
		name := "teacher"
		if i > 0 {
			name = fmt.Sprintf("student %d", i)
		}
		return bot.Options{URL: url, Name: name, Insecure: true, Loopback: true, Constraints: &c, Log: o.Log, Muted: i >= o.Speakers}
	}
	jctx, cancel := context.WithTimeout(ctx, time.Minute)
	teacher, err := bot.Join(jctx, opts(0, ""))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	bots := []*bot.Bot{teacher}
	defer func() {
		for _, b := range bots {
			b.Close()
		}
	}()
	students := make([]bot.Options, o.Students)
	for i := range students {
		students[i] = opts(i+1, teacher.EndpointID())
	}
	joined, err := botrun.JoinAll(ctx, students, o.JoinGap)
	bots = append(bots, joined...)
	if err != nil {
		return nil, err
	}
	stage := teacher.EndpointID() + "-v0"
	sctx, cancel := context.WithTimeout(ctx, o.SettleTimeout)
	defer cancel()
	for _, b := range bots[1:] {
		if err := b.Wait(sctx, func(got map[string]bot.Remote) bool {
			s, ok := got[teacher.EndpointID()].Sources[stage]
			return ok && s.Video != nil && s.Video.Frames >= 30
		}); err != nil {
			return nil, fmt.Errorf("student %s never decoded the teacher: %w", b.EndpointID(), botrun.Cause(err))
		}
	}

	before := reports(bots)
	m0, err := parleyproc.Metrics(o.Server)
	if err != nil {
		return nil, err
	}
	h0, herr := allocHistogram(o.Server)
	c0, err := procstat.CPUTime(o.PID)
	if err != nil {
		return nil, err
	}
	self0, _ := procstat.CPUTime(0)
	t0 := time.Now()
	if err := botrun.Sleep(ctx, o.Duration); err != nil {
		return nil, err
	}
	c1, err := procstat.CPUTime(o.PID)
	if err != nil {
		return nil, err
	}
	self1, _ := procstat.CPUTime(0)
	window := time.Since(t0)
	m1, err := parleyproc.Metrics(o.Server)
	if err != nil {
		return nil, err
	}
	after := reports(bots)
	secs := window.Seconds()
	res := &Results{Students: o.Students, Window: Duration(window), Load: procstat.LoadAverage(), Reports: after,
		ServerCores: (c1 - c0).Seconds() / secs, BotCores: (self1 - self0).Seconds() / secs,
		SentPPS:  (m1["parley_bridge_packets_sent_total"] - m0["parley_bridge_packets_sent_total"]) / secs,
		RecvPPS:  (m1["parley_bridge_packets_received_total"] - m0["parley_bridge_packets_received_total"]) / secs,
		SentMbps: (m1["parley_bridge_bytes_sent_total"] - m0["parley_bridge_bytes_sent_total"]) * 8 / 1e6 / secs}
	if o.PID == 0 { // an in-process server: its CPU is this process's, bots included
		res.BotCores = 0
	}
	if herr == nil {
		if h1, err := allocHistogram(o.Server); err == nil {
			if d, err := h1.Sub(h0); err == nil {
				res.AllocP50, res.AllocP99, res.Allocs = Duration(d.Quantile(0.5)), Duration(d.Quantile(0.99)), d.Count()
			}
		}
	}
	for i := range bots {
		res.Receivers = append(res.Receivers, received(before[i], after[i], teacher.EndpointID(), stage, window))
	}
	return res, nil
}

// received is what r got between the reports before and after.
func received(before, after bot.Report, teacher, stage string, window time.Duration) Receiver {
	r := Receiver{Endpoint: after.Endpoint}
	for ep, remote := range after.Received {
		for name, s := range remote.Sources {
			was := before.Received[ep].Sources[name] // zero when it began in the window
			got, lost := s.Packets-was.Packets, s.PacketsLost-was.PacketsLost
			r.Lost += lost
			r.Expected += got + lost
			if s.Kind == "audio" {
				if float64(got) >= 25*window.Seconds() {
					r.AudioStreams++
				}
				continue
			}
			if s.Video == nil {
				continue
			}
			var v0 bot.VideoStats
			if was.Video != nil {
				v0 = *was.Video
			}
			frames, freezes := s.Video.Frames-v0.Frames, s.Video.Freezes-v0.Freezes
			if ep == teacher && name == stage {
				r.StageFrames, r.StageFreezes, r.StageHeight = frames, freezes, s.Video.Height
				r.StageStopped = Duration(max(after.End.Sub(s.LastPacket), 0))
				continue
			}
			if frames > 0 {
				r.Thumbnails++
				r.ThumbFrames += frames
				r.ThumbFreezes += freezes
				r.MaxThumbFreezes = max(r.MaxThumbFreezes, freezes)
			}
		}
	}
	return r
}

func reports(bots []*bot.Bot) []bot.Report {
	out := make([]bot.Report, len(bots))
	for i, b := range bots {
		out[i] = b.Report()
	}
	return out
}

// allocHistogram reads the bridge's allocation times.
func allocHistogram(base string) (promtext.Histogram, error) {
	return promtext.GetHistogram(parleyproc.Insecure, strings.TrimSuffix(base, "/")+"/metrics", "parley_bridge_allocation_seconds")
}

// print writes the figures and criterion 11's marks.
func (r *Results) print(w io.Writer) {
	var worstLoss float64
	var worst string
	stageFreezes, stageFramesMin, thumbs, thumbFreezes, maxThumb, heightMin := 0, -1, 0, 0, 0, -1
	audioMax, stopped, thumbFrames := 0, 0, 0
	var longest time.Duration
	for i, rc := range r.Receivers {
		if rc.Expected > 0 {
			if l := float64(rc.Lost) / float64(rc.Expected); l > worstLoss || worst == "" {
				worstLoss, worst = l, rc.Endpoint
			}
		}
		if i > 0 {
			stageFreezes += rc.StageFreezes
			if stageFramesMin < 0 || rc.StageFrames < stageFramesMin {
				stageFramesMin = rc.StageFrames
			}
			if d := time.Duration(rc.StageStopped); d > time.Second {
				stopped++
				longest = max(longest, d)
			}
			if heightMin < 0 || rc.StageHeight < heightMin {
				heightMin = rc.StageHeight
			}
		}
		thumbs += rc.Thumbnails
		thumbFrames += rc.ThumbFrames
		thumbFreezes += rc.ThumbFreezes
		maxThumb = max(maxThumb, rc.MaxThumbFreezes)
		audioMax = max(audioMax, rc.AudioStreams)
	}
	secs := time.Duration(r.Window).Seconds()
	fmt.Fprintf(w, "class of 1 + %d over %v; load average %s at the end\n", r.Students, time.Duration(r.Window).Round(time.Second), r.Load)
	fmt.Fprintf(w, "server CPU %.2f cores (%.0f%% of %d), bots %.2f cores; bridge sent %.0f packets/s (%.1f Mbit/s), received %.0f/s\n",
		r.ServerCores, 100*r.ServerCores/float64(runtime.NumCPU()), runtime.NumCPU(), r.BotCores, r.SentPPS, r.SentMbps, r.RecvPPS)
	fmt.Fprintf(w, "worst receiver loss %.2f%% (%s)\n", 100*worstLoss, worst)
	fmt.Fprintf(w, "stage: %d freezes over %d students, fewest frames %d (%.1f fps), lowest height %d; stopped more than 1 s before the end at %d students (the longest %v)\n",
		stageFreezes, r.Students, stageFramesMin, float64(stageFramesMin)/secs, heightMin, stopped, longest.Round(time.Second))
	perFive := 0.0
	if thumbs > 0 {
		perFive = float64(thumbFreezes) / float64(thumbs) * (300 / secs)
	}
	fmt.Fprintf(w, "thumbnails: %d streams at %.1f fps on average, %d freezes (%.2f per stream per 5 min), at most %d in one stream; at most %d audio streams forwarded steadily to one receiver\n",
		thumbs, float64(thumbFrames)/float64(max(thumbs, 1))/secs, thumbFreezes, perFive, maxThumb, audioMax)
	if r.Allocs > 0 {
		fmt.Fprintf(w, "allocation p50 %v, p99 %v over %.0f allocations\n", time.Duration(r.AllocP50), time.Duration(r.AllocP99), r.Allocs)
	} else {
		fmt.Fprintln(w, "allocation times: not reported by this server")
	}
}
