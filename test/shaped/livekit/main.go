// Command lkbot is `parley bot` for LiveKit: N participants made of
// LiveKit's Go SDK, each publishing internal/testmedia's three-layer VP8
// simulcast camera and Opus microphone and subscribing to everyone else,
// counting complete decodable frames, W3C freezes, heights and loss per
// remote source as `parley bot` does, and printing the same --json report.
// test/shaped runs it to put LiveKit's server beside Parley's under the
// same shaped links (issue 15).
//
// It is a module of its own so that Parley's go.mod does not take in
// LiveKit's dependencies, and `go test ./...` at the repository root does
// not reach it.
//
// Usage:
//
//	lkbot --url ws://127.0.0.1:7880 --api-key KEY --api-secret SECRET --room R \
//	      --media internal/testmedia --bots 3 --duration 30s --json
//
// Without --duration the bots stay until interrupted (SIGINT or SIGTERM);
// then each prints its report, one JSON object per bot.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.URL, "url", "ws://127.0.0.1:7880", "the LiveKit server's signalling URL")
	flag.StringVar(&cfg.APIKey, "api-key", "devkey", "API key the access tokens are signed for")
	flag.StringVar(&cfg.APISecret, "api-secret", "secret", "the API key's secret")
	flag.StringVar(&cfg.Room, "room", "shaped", "room to join")
	mediaDir := flag.String("media", "internal/testmedia", "folder of Parley's test media (video-180p.ivf … audio.ogg)")
	bots := flag.Int("bots", 1, "participants to join")
	duration := flag.Duration("duration", 0, "time in the room; 0: until interrupted")
	asJSON := flag.Bool("json", false, "print each bot's report as JSON on standard output")
	verbose := flag.Bool("v", false, "the SDK's log on standard error")
	flag.Parse()
	if !*verbose {
		lksdk.SetLogger(logger.GetDiscardLogger())
	}
	if err := run(cfg, *mediaDir, *bots, *duration, *asJSON, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lkbot:", err)
		os.Exit(1)
	}
}

func run(cfg Config, mediaDir string, n int, duration time.Duration, asJSON bool, out io.Writer) error {
	if n < 1 {
		return errors.New("--bots must be at least 1")
	}
	fx, err := loadFixtures(mediaDir)
	if err != nil {
		return err
	}
	cfg.Fixtures = fx
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	prefix := randomHex()
	bots := make([]*Bot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bots[i], errs[i] = join(cfg, fmt.Sprintf("lk%s-%d", prefix, i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, b := range bots {
			if b != nil {
				b.leave()
			}
		}
		return err
	}
	fmt.Fprintf(os.Stderr, "lkbot: %d bots in room %s\n", n, cfg.Room)
	<-ctx.Done()
	for _, b := range bots {
		b.leave()
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	for _, b := range bots {
		r := b.report()
		if !asJSON {
			fmt.Fprintln(out, summary(r))
			continue
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// summary is a report in one line per remote source.
func summary(r Report) string {
	s := r.Endpoint + ":"
	for ep, rem := range r.Received {
		for name, st := range rem.Sources {
			if st.Video != nil {
				s += fmt.Sprintf("\n  %s %s: %d frames, %.1f fps, %d freezes (%.0f ms), %dp, %d lost of %d",
					ep, name, st.Video.Frames, st.Video.FramesPerSecond, st.Video.Freezes, st.Video.FreezeMs, st.Video.Height,
					st.PacketsLost, st.Packets+st.PacketsLost)
			} else {
				s += fmt.Sprintf("\n  %s %s: %d packets, %d lost", ep, name, st.Packets, st.PacketsLost)
			}
		}
	}
	return s
}

func randomHex() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
