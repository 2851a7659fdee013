package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/bot"
)

// botCmd runs `parley bot`: N Go participants in one room for a while,
// then a report of what each received from whom.
func botCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	roomURL := fs.String("url", "", "room address, https://HOST:PORT/ROOM (required)")
	insecure := fs.Bool("insecure", false, "accept a self-signed server certificate")
	n := fs.Int("bots", 1, "number of participants")
	duration := fs.Duration("duration", 10*time.Second, "how long to stay in the room")
	asJSON := fs.Bool("json", false, "print one JSON object per bot at the end")
	loopback := fs.Bool("loopback", false, "use loopback addresses for media (server on this machine)")
	verbose := fs.Bool("v", false, "log what happens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *roomURL == "" || *n < 1 || *n > 500 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: parley bot --url https://HOST:PORT/ROOM [--insecure] [--bots N] [--duration D] [--json]")
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
	var wg sync.WaitGroup
	for i := range bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			bots[i], errs[i] = bot.Join(jctx, bot.Options{URL: *roomURL, Insecure: *insecure, Loopback: *loopback,
				Name: fmt.Sprintf("bot %d", i+1), Log: log})
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
	for _, b := range bots {
		if b == nil {
			continue
		}
		got := b.Received()
		b.Close()
		if *asJSON {
			enc.Encode(struct {
				Endpoint string                `json:"endpoint"`
				Received map[string]bot.Remote `json:"received"`
			}{b.EndpointID(), got})
			continue
		}
		fmt.Fprintf(stdout, "%s received from %d participants:\n", b.EndpointID(), len(got))
		for from, r := range got {
			fmt.Fprintf(stdout, "  %s: %d audio packets, %d video frames\n", from, r.AudioPackets, r.VideoFrames)
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
