// Command e2eeload measures end-to-end encryption in one room of `parley bot`
// participants (internal/bot, many in this one process) against one
// `parley serve`, for docs/performance.md:
//
//   - rekey: N bots join an encrypted room and settle (every bot on one
//     epoch, sending with it, and decoding); one leaves (not the key
//     leader); the tool measures from its leave to the last bot left
//     holding the fresh epoch the leader makes, and to the last one sending
//     with it; then one joins, and likewise for the ratchet epoch (the
//     newcomer included). Each bot's report says when it saw the leave or
//     join and when it learnt, installed and sent with each epoch
//     (bot.E2EEReport's Room and Timeline). Around each change, the tool
//     counts per receiver and sender the freezes (W3C webrtc-stats, the
//     bots' FreezeLog), the longest, and the frames that failed to
//     decrypt, beside the same counts over a window as long just before
//     the change (the control: what the loaded machine costs anyway).
//   - cpu: the same room of N bots with and without --e2ee, alternated
//     (on, off, on, off …), each run in a fresh room; over a window of
//     steady media, the server process's CPU time (utime + stime of
//     /proc/PID/stat) over the packets its bridge sent
//     (parley_bridge_packets_sent_total on /metrics). The server's XMPP
//     side is idle in the window, so this is the bridge's cost per
//     forwarded packet.
//
// The first -speakers bots speak (bot.Options: a speech-like audio level);
// the others are muted (their level says silence, so the bridge forwards
// almost none of their audio), as in a large meeting. Each bot asks for
// -max-height video of -last-n sources.
//
// By default it builds cmd/parley and starts `parley serve` on loopback with
// a fresh data directory; -parley BIN uses a build, -url and -pid a server
// already running. Run it from the repository's root:
//
//	go run ./test/e2eeload -mode rekey -bots 50 -max-height 180 -last-n 5
//	go run ./test/e2eeload -mode cpu -bots 12 -runs 2 -window 20s
//
// The tool prints one line per measurement; -json FILE writes every run's
// figures and the bots' reports. The quick test (e2eeload_test.go) runs
// both modes small against an in-process server.
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
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/test/internal/botrun"
	"github.com/parley-im/parley/test/internal/parleyproc"
	"github.com/parley-im/parley/test/internal/procstat"
)

func main() {
	var o Options
	flag.StringVar(&o.Mode, "mode", "rekey", "what to measure: rekey, cpu or all")
	flag.IntVar(&o.Bots, "bots", 50, "participants in the room")
	flag.IntVar(&o.MaxHeight, "max-height", 180, "tallest video each bot asks for: -1 no limit, 0 no video")
	flag.IntVar(&o.LastN, "last-n", 5, "video of this many sources per bot at most, -1 all")
	flag.StringVar(&o.Passphrase, "passphrase", "", "mix this passphrase into the keys, as parley bot --passphrase")
	flag.IntVar(&o.Speakers, "speakers", 3, "bots that speak (the first ones); the others' audio says silence, as muted microphones (bot.Options.Muted)")
	flag.BoolVar(&o.Plain, "plain", false, "rekey: the same room, leave and join without encryption (to compare the media windows)")
	flag.IntVar(&o.Runs, "runs", 2, "cpu: runs with and without encryption each, alternated; rekey: runs")
	flag.DurationVar(&o.Window, "window", 20*time.Second, "cpu: the measured window of each run; rekey: the media window around each change")
	flag.DurationVar(&o.JoinGap, "join-gap", 100*time.Millisecond, "time between two bots' joins")
	parley := flag.String("parley", "", "a parley binary to start (default: build cmd/parley)")
	url := flag.String("url", "", "a running server's https://HOST:PORT instead of starting one (-pid for its CPU)")
	pid := flag.Int("pid", 0, "with -url: the server's process id, for -mode cpu")
	jsonOut := flag.String("json", "", "write every run's figures and the bots' reports to this file")
	verbose := flag.Bool("v", false, "log the bots' warnings")
	flag.Parse()
	level := slog.LevelError
	if *verbose {
		level = slog.LevelWarn
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o.Out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, *parley, *url, *pid, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "e2eeload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o Options, parley, url string, pid int, jsonOut string) error {
	if url == "" {
		srv, err := parleyproc.Start(ctx, parley, "")
		if err != nil {
			return err
		}
		defer srv.Stop()
		url, pid = srv.Base, srv.PID
	}
	o.Server, o.PID = url, pid
	fmt.Fprintf(o.Out, "# %s, %d cores (%s), load average %s at the start\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), cpuModel(), procstat.LoadAverage())
	res, err := Measure(ctx, o)
	if jsonOut != "" && res != nil {
		b, _ := json.MarshalIndent(res, "", " ")
		if werr := os.WriteFile(jsonOut, b, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// Options configure a measurement.
type Options struct {
	Mode       string
	Server     string // https://HOST:PORT
	PID        int    // the server's process, for cpu (0: this process)
	Bots       int
	MaxHeight  int
	LastN      int
	Passphrase string
	Speakers   int  // the first Speakers bots speak, the others are muted
	Plain      bool // rekey without encryption, for the media windows' comparison
	Runs       int
	Window     time.Duration
	JoinGap    time.Duration
	Log        *slog.Logger
	Out        io.Writer
	// SettleTimeout bounds each wait for the room to settle or re-key.
	SettleTimeout time.Duration
}

// Results is what Measure found.
type Results struct {
	Rekey []*RekeyRun `json:"rekey,omitempty"`
	CPU   []*CPURun   `json:"cpu,omitempty"`
}

// Measure runs o.Mode's measurements and prints them to o.Out.
func Measure(ctx context.Context, o Options) (*Results, error) {
	if o.SettleTimeout == 0 {
		o.SettleTimeout = 2*time.Minute + time.Duration(o.Bots)*time.Second
	}
	res := &Results{}
	if o.Mode == "rekey" || o.Mode == "all" {
		for i := range o.Runs {
			r, err := rekeyRun(ctx, o, fmt.Sprintf("e2eeload-rekey-%d-%s", i+1, randomSuffix()))
			if r != nil {
				res.Rekey = append(res.Rekey, r)
				r.print(o.Out)
			}
			if err != nil {
				return res, err
			}
		}
	}
	if o.Mode == "cpu" || o.Mode == "all" {
		for i := range 2 * o.Runs {
			on := i%2 == 0
			r, err := cpuRun(ctx, o, on, fmt.Sprintf("e2eeload-cpu-%d-%s", i+1, randomSuffix()))
			if r != nil {
				res.CPU = append(res.CPU, r)
				r.print(o.Out)
			}
			if err != nil {
				return res, err
			}
		}
	}
	if o.Mode != "rekey" && o.Mode != "cpu" && o.Mode != "all" {
		return nil, fmt.Errorf("-mode %q: want rekey, cpu or all", o.Mode)
	}
	return res, nil
}

// room is the bots of one run.
type room struct {
	o     Options
	url   string
	bots  []*bot.Bot
	opts  bot.Options
	index int // names the next bot
}

func newRoom(o Options, name string, encrypt bool) *room {
	c := bot.Constraints{MaxHeight: o.MaxHeight, LastN: o.LastN}
	return &room{o: o, url: strings.TrimSuffix(o.Server, "/") + "/" + name,
		opts: bot.Options{Insecure: true, Loopback: true, Constraints: &c, Log: o.Log, E2EE: encrypt,
			Passphrase: o.Passphrase}}
}

// join adds one bot (the first one derives the passphrase key for all).
func (r *room) join(ctx context.Context) (*bot.Bot, error) {
	r.index++
	o := r.optsFor(r.index)
	jctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	b, err := bot.Join(jctx, o)
	if err != nil {
		return nil, fmt.Errorf("bot %d: %w", r.index, err)
	}
	if r.opts.Passphrase != "" && r.opts.PassphraseKey == nil {
		r.opts.PassphraseKey = b.PassphraseKey()
	}
	r.bots = append(r.bots, b)
	return b, nil
}

// fill joins n bots, o.JoinGap apart (the first alone, so the passphrase
// key is derived once).
func (r *room) fill(ctx context.Context, n int) error {
	if _, err := r.join(ctx); err != nil {
		return err
	}
	opts := make([]bot.Options, 0, n-1)
	for range n - 1 {
		r.index++
		opts = append(opts, r.optsFor(r.index))
	}
	bots, err := botrun.JoinAll(ctx, opts, r.o.JoinGap)
	r.bots = append(r.bots, bots...)
	return err
}

// optsFor is the options of the i-th bot (from 1): muted past o.Speakers.
func (r *room) optsFor(i int) bot.Options {
	o := r.opts
	o.URL, o.Name, o.Muted = r.url, fmt.Sprintf("load %d", i), i > r.o.Speakers
	return o
}

func (r *room) close() {
	for _, b := range r.bots {
		b.Close()
	}
}

// await waits until cond holds, checked again at every change of the bots'
// encryption state (not of their media: cond needs only that).
func await(ctx context.Context, bots []*bot.Bot, cond func() bool) error {
	cases := make([]reflect.SelectCase, len(bots)+1)
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	for {
		for i, b := range bots {
			cases[i+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.E2EEChanged())}
		}
		if cond() {
			return nil
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			return ctx.Err()
		}
	}
}

// awaitVideo waits until every bot decoded n frames of each of k sources.
func awaitVideo(ctx context.Context, bots []*bot.Bot, k, n int) error {
	for _, b := range bots {
		decoding := 0
		if err := b.Wait(ctx, func(got map[string]bot.Remote) bool {
			decoding = 0
			for _, r := range got {
				if r.VideoFrames >= n {
					decoding++
				}
			}
			return decoding >= k
		}); err != nil {
			return fmt.Errorf("bot %s decodes %d frames of %d sources, not %d: %w", b.EndpointID(), n, decoding, k, botrun.Cause(err))
		}
	}
	return nil
}

// videoSources is how many sources' video each bot waits for before a
// measurement: every one it asks for in a small room; in a larger one, on
// a loaded machine, the bridge's estimate of a bot's link may allow fewer,
// so one.
func (o Options) videoSources() int {
	n := o.Bots - 1
	if o.LastN >= 0 {
		n = min(o.LastN, n)
	}
	if o.Bots > 5 {
		n = min(n, 1)
	}
	return n
}

// settled reports whether every bot learnt and sends with the same epoch,
// above after.
func settled(bots []*bot.Bot, after uint32) bool {
	e := bots[0].E2EE()
	if e.Epoch <= after {
		return false
	}
	for _, b := range bots[1:] {
		r := b.E2EE()
		if r.Epoch != e.Epoch || r.SendEpoch != e.Epoch || r.SecurityCode != e.SecurityCode {
			return false
		}
	}
	return e.SendEpoch == e.Epoch
}

// cpuModel is /proc/cpuinfo's first model name.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
