// Command shaped measures what a participant behind a shaped link receives (issue 15): N sender bots
// on loopback and one receiver bot in a network namespace of its own, joined to the server by a veth
// pair whose host end has a tc tbf download limit, its media passing a relay that adds loss, delay
// and jitter (this machine's kernel has no netem: test/shaped/impair does it in user space).
//
//	senders (parley bot --loopback) ──────────────── 127.0.0.1:P  bridge (parley serve)
//	receiver (ip netns exec … parley bot) ── veth (tbf) ── relay on HOST:P ──┘
//	                                   └──── HTTPS, XMPP WebSocket, bridge channel on HOST:PORT
//
// The bridge listens on 127.0.0.1:P and advertises HOST:P (--public-ip), the veth's host end, where
// the relay listens: the receiver can only reach the bridge through the relay, the senders' loopback
// candidates reach it directly, and the relay refuses anyone outside the namespace's /30. Everything
// the receiver downloads, signalling included, crosses the limit.
//
// Usage, as root from the repository root:
//
//	go run ./test/shaped -scenario cap500k            # one scenario
//	go run ./test/shaped -scenario all -senders 3     # every scenario, one after the other
//
// It prints each scenario's row of a Markdown table (see docs/performance.md) and, with -json FILE,
// the runs with every bot's raw report.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	scenario := flag.String("scenario", "cap500k", "scenario name, a comma-separated list, or all")
	senders := flag.Int("senders", 3, "unshaped sender bots")
	duration := flag.Duration("duration", 30*time.Second, "the receiver's time in the room")
	parley := flag.String("parley", "", "parley binary (default: go build ./cmd/parley into a temporary folder)")
	botBin := flag.String("bot", "", "parley binary for the bots (default: -parley), to measure one server with a newer bot")
	receiverFlags := flag.String("receiver-flags", "", "extra flags for the receiver's parley bot, space-separated (--max-height 360)")
	seed := flag.Uint64("seed", 1, "seed of the relay's losses")
	stage := flag.Bool("stage", false, "the receiver puts one sender on stage (stage view: §7.5 criterion 3) instead of tile view")
	jsonOut := flag.String("json", "", "also write the runs, with the bots' raw reports, to this file")
	var lk LiveKitOptions
	flag.StringVar(&lk.Server, "livekit", "", "livekit-server binary: run each scenario with LiveKit too, right after Parley (livekit.go)")
	flag.StringVar(&lk.Bot, "lkbot", "", "lkbot binary for -livekit (default: go build test/shaped/livekit into a temporary folder)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./test/shaped [flags] (as root)\n\nscenarios:\n%s\nflags:\n", describeScenarios())
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*scenario, *senders, *duration, *parley, *botBin, *receiverFlags, *stage, *seed, *jsonOut, lk); err != nil {
		fmt.Fprintln(os.Stderr, "shaped:", err)
		os.Exit(1)
	}
}

func run(names string, senders int, duration time.Duration, parley, botBin, receiverFlags string, stage bool, seed uint64, jsonOut string, lk LiveKitOptions) error {
	var scs []Scenario
	if names == "all" {
		scs = Scenarios
	} else {
		for _, n := range strings.Split(names, ",") {
			sc, err := Find(strings.TrimSpace(n))
			if err != nil {
				return err
			}
			scs = append(scs, sc)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if parley == "" {
		dir, err := os.MkdirTemp("", "parley-shaped-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if parley, err = buildParley(ctx, dir); err != nil {
			return err
		}
	}
	if lk.Server != "" {
		cleanup, err := lk.prepare(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	o := Options{Parley: parley, Bot: botBin, Senders: senders, Duration: duration, ReceiverFlags: strings.Fields(receiverFlags),
		Stage: stage, Seed: seed, Log: os.Stderr}
	fmt.Fprintf(os.Stderr, "machine: %d cores, %s; %d senders, receiver %v per scenario\n", runtime.NumCPU(), cpuModel(), senders, duration)
	var rows []Row
	var results []*Result
	for _, sc := range scs {
		res, err := Run(ctx, o, sc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		results = append(results, res)
		rows = append(rows, Summarize(res))
		WriteTable(os.Stderr, rows[len(rows)-1:])
		if lk.Server == "" {
			continue
		}
		if res, err = RunLiveKit(ctx, o, lk, sc); err != nil {
			return fmt.Errorf("%s with LiveKit: %w", sc.Name, err)
		}
		results = append(results, res)
		rows = append(rows, Summarize(res))
		WriteTable(os.Stderr, rows[len(rows)-1:])
	}
	WriteTable(os.Stdout, rows)
	fmt.Fprintln(os.Stdout, "\nBy remote source:")
	fmt.Fprintln(os.Stdout)
	WriteSources(os.Stdout, results)
	var others []Others
	for _, res := range results {
		others = append(others, SummarizeOthers(res))
	}
	fmt.Fprintln(os.Stdout, "\nWhat the unshaped senders received from each other:")
	fmt.Fprintln(os.Stdout)
	WriteOthers(os.Stdout, others)
	for _, res := range results {
		if len(res.Scenario.Steps) == 0 {
			continue
		}
		fmt.Fprintf(os.Stdout, "\n%s, by phase (the second after each step left out):\n\n", res.Scenario.Name)
		fmt.Fprintln(os.Stdout, "| Phase | Limit (kbit/s) | Link carried (kbit/s) | Bridge sent (kbit/s) | Dropped at the limit |")
		fmt.Fprintln(os.Stdout, "|---|---:|---:|---:|---:|")
		for _, p := range Phases(res, duration) {
			fmt.Fprintf(os.Stdout, "| %.0f–%.0f s | %d | %.0f | %.0f | %.1f%% |\n", p.From.Seconds(), p.To.Seconds(),
				p.Rate/1000, p.LinkKbps, p.BridgeKbps, p.LinkDropped*100)
		}
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(jsonOut, b, 0o644)
	}
	return nil
}

// buildParley builds cmd/parley into dir, from the module the working directory is in.
func buildParley(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "parley")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/parley-im/parley/cmd/parley")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/parley: %v: %s", err, out)
	}
	return bin, nil
}

// cpuModel is /proc/cpuinfo's first model name, for the record of where figures came from.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
