package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/bot"
)

// botCmd runs `parley bot`: N Go participants in one room for a while,
// then a report of what each received from whom, as a viewer would have
// seen it, and what it sent.
func botCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roomURL := fs.String("url", "", "room address, https://HOST:PORT/ROOM (required); ?region=NAME asks for a bridge in that region")
	insecure := fs.Bool("insecure", false, "accept a self-signed server certificate")
	n := fs.Int("bots", 1, "number of participants")
	duration := fs.Duration("duration", 10*time.Second, "how long to stay in the room")
	asJSON := fs.Bool("json", false, "print one JSON object per bot at the end")
	loopback := fs.Bool("loopback", false, "use loopback addresses for media (server on this machine)")
	verbose := fs.Bool("v", false, "log what happens")
	def := bot.DefaultConstraints()
	maxHeight := fs.Int("max-height", def.MaxHeight, "tallest video to receive of each source: -1 no limit, 0 no video")
	lastN := fs.Int("last-n", def.LastN, "receive video of this many sources at most, -1 all")
	stage := fs.String("stage", "", "put this `ENDPOINT` (its camera) or source name on stage, in full height")
	maxFPS := fs.Float64("max-fps", 0, "most frames a second to receive of each source but the stage's (the bridge drops temporal layers): 0 no limit")
	encrypt := fs.Bool("e2ee", false, "take part in end-to-end encryption (asks for an encrypted room)")
	passphrase := fs.String("passphrase", "", "mix this passphrase into the end-to-end keys, as a link's #k= (implies --e2ee)")
	canary := fs.Bool("canary", false, "put a plaintext marker after the clear prefix of every video frame (to look for at the bridge; browsers cannot decode such frames)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *roomURL == "" || *n < 1 || *n > 500 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: parley bot --url https://HOST:PORT/ROOM [--insecure] [--bots N] [--duration D] [--json]\n"+
			"                  [--max-height H] [--last-n N] [--stage ENDPOINT] [--max-fps F] [--e2ee] [--passphrase X] [--canary]")
		return 2
	}
	constraints := bot.Constraints{MaxHeight: *maxHeight, LastN: *lastN, Stage: *stage, MaxFrameRate: *maxFPS}
	switch err := constraints.Validate(); {
	case errors.Is(err, bot.ErrMaxHeight):
		fmt.Fprintf(stderr, "parley bot: --max-height %d: %v\n", *maxHeight, bot.ErrMaxHeight)
		return 2
	case errors.Is(err, bot.ErrLastN):
		fmt.Fprintf(stderr, "parley bot: --last-n %d: %v\n", *lastN, bot.ErrLastN)
		return 2
	case errors.Is(err, bot.ErrFrameRate):
		fmt.Fprintf(stderr, "parley bot: --max-fps %v: %v\n", *maxFPS, bot.ErrFrameRate)
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	bots := make([]*bot.Bot, *n)
	errs := make([]error, *n)
	opts := bot.Options{URL: *roomURL, Insecure: *insecure, Loopback: *loopback, Constraints: &constraints, Log: log,
		E2EE: *encrypt, Passphrase: *passphrase, Canary: *canary}
	join := func(i int, o bot.Options) {
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		o.Name = fmt.Sprintf("bot %d", i+1)
		bots[i], errs[i] = bot.Join(jctx, o)
	}
	first := 0
	if *passphrase != "" {
		// The first bot derives the passphrase key (PBKDF2, 600000 rounds)
		// and the others reuse it.
		join(0, opts)
		if bots[0] != nil {
			opts.PassphraseKey = bots[0].PassphraseKey()
		}
		first = 1
	}
	var wg sync.WaitGroup
	for i := first; i < len(bots); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			join(i, opts)
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(stderr, "parley bot: bot %d: %v\n", i+1, err)
			failed++
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(*duration):
	}
	enc := json.NewEncoder(stdout)
	var joined []participant
	for _, b := range bots {
		if b != nil {
			joined = append(joined, b)
		}
	}
	for _, r := range reportAndLeave(joined) {
		if *asJSON {
			enc.Encode(r)
			continue
		}
		printReport(stdout, r)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// participant is what the end of the run needs of a bot.
type participant interface {
	Report() bot.Report
	Close() error
}

// reportAndLeave takes every bot's report, then makes them all leave. The
// reports are of one moment, the meeting everyone was in: a bot's leave
// changes what the others see (the focus names another key leader, which
// draws a fresh epoch with another security code), so a report taken after
// another bot left would describe another meeting.
func reportAndLeave(bots []participant) []bot.Report {
	reports := make([]bot.Report, len(bots))
	for i, b := range bots {
		reports[i] = b.Report()
	}
	for _, b := range bots {
		b.Close()
	}
	return reports
}

// printReport writes what one bot received and sent, one line per source
// and per encoding.
func printReport(w io.Writer, r bot.Report) {
	fmt.Fprintf(w, "%s received from %d participants in %s:\n", r.Endpoint, len(r.Received), r.End.Sub(r.Start).Round(time.Millisecond))
	for _, from := range slices.Sorted(maps.Keys(r.Received)) {
		got := r.Received[from]
		fmt.Fprintf(w, "  %s: %d audio packets, %d video frames\n", from, got.AudioPackets, got.VideoFrames)
		for _, name := range slices.Sorted(maps.Keys(got.Sources)) {
			s := got.Sources[name]
			if v := s.Video; v != nil {
				fmt.Fprintf(w, "    %s: %dp, %d frames (%.1f fps), %d key frames, %d dropped, %d decode errors, %d freezes (%.0f ms), %d/%d packets lost, jitter %.1f ms\n",
					name, v.Height, v.Frames, v.FramesPerSecond, v.KeyFrames, v.FramesDropped, v.DecodeErrors, v.Freezes, v.FreezeMs,
					s.PacketsLost, s.Packets+s.PacketsLost, s.JitterMs)
			} else {
				fmt.Fprintf(w, "    %s: %d packets, %d lost, jitter %.1f ms\n", name, s.Packets, s.PacketsLost, s.JitterMs)
			}
		}
	}
	fmt.Fprintf(w, "  sent (max height %d, %d keyframe requests):", r.Sent.MaxHeight, r.Sent.KeyFrameRequests)
	for _, e := range r.Sent.Encodings {
		fmt.Fprintf(w, " %dp %d frames", e.Height, e.Frames)
	}
	fmt.Fprintln(w)
	if e := r.E2EE; e != nil {
		fmt.Fprintf(w, "  e2ee: enabled %v, leader %s, epoch %d (sending %d), code %s\n", e.Enabled, e.Leader, e.Epoch, e.SendEpoch, e.SecurityCode)
		fmt.Fprintf(w, "    %d frames decrypted, dropped: %d auth, %d unknown key, %d replay, %d malformed; key mismatch %v, roster alarms %d\n",
			e.Decrypted, e.Failed.Auth, e.Failed.UnknownKey, e.Failed.Replay, e.Failed.Malformed, e.KeyMismatch, e.RosterAlarms)
	}
}
