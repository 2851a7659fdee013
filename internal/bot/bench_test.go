package bot_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// BenchmarkJoinToFirstFrame measures, per join, the time from the start of
// bot.Join (config.json, XMPP WebSocket login, conference request, room
// join, Jingle, ICE and DTLS) to the first video frame from a participant
// already in the room. Run it with -benchtime=50x for the figure in
// docs/performance.md; it reports p50 and p99 in milliseconds.
func BenchmarkJoinToFirstFrame(b *testing.B) {
	srv := xmpptest.Start(b, nil)
	ctx := context.Background()
	url := "https://" + srv.HTTP + "/bench"
	sender, err := bot.Join(ctx, bot.Options{URL: url, Insecure: true, Loopback: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		j, err := bot.Join(wctx, bot.Options{URL: url, Insecure: true, Loopback: true})
		if err != nil {
			b.Fatal(err)
		}
		err = j.Wait(wctx, func(got map[string]bot.Remote) bool { return got[sender.EndpointID()].VideoFrames > 0 })
		took = append(took, time.Since(start))
		cancel()
		j.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(took)
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
