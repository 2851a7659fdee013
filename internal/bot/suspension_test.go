package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// sentBytes is what b has sent of its camera, every encoding.
func sentBytes(s bot.Sent) int64 {
	var n int64
	for _, e := range s.Encodings {
		n += e.Bytes
	}
	return n
}

// cameraRate is b's camera bit rate over the next d (b keeps sending meanwhile).
func cameraRate(t *testing.T, ctx context.Context, b *bot.Bot, d time.Duration) float64 {
	t.Helper()
	before, start := sentBytes(b.Sent()), time.Now()
	waitSent(t, ctx, b, "sent for "+d.String(), func(bot.Sent) bool { return time.Since(start) >= d })
	return float64(sentBytes(b.Sent())-before) * 8 / time.Since(start).Seconds()
}

// TestSenderSuspension (reference/sfu-quality.md §7.5 criterion 10): when every receiver switches to
// tiles of 180p, the bridge tells the sender so (SenderSourceConstraints maxHeight 180) and what it sends,
// which is what reaches the bridge, falls by 60% or more; when its camera is in nobody's last-N, it is
// told 0 and sends no video at all.
func TestSenderSuspension(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hd := bot.Constraints{MaxHeight: 720, LastN: -1}
	sender := joinWith(t, srv, "tiles", hd)
	viewers := []*bot.Bot{joinWith(t, srv, "tiles", hd), joinWith(t, srv, "tiles", hd)}
	for _, v := range viewers {
		if err := v.Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, sender).Height == 720 }); err != nil {
			t.Fatalf("no 720p video for %s: %v", v.EndpointID(), err)
		}
	}
	full := cameraRate(t, ctx, sender, 2*time.Second)

	switched := time.Now()
	for _, v := range viewers {
		if err := v.SetConstraints(ctx, bot.Constraints{MaxHeight: 180, LastN: -1}); err != nil {
			t.Fatal(err)
		}
	}
	waitSent(t, ctx, sender, "maxHeight 180", func(s bot.Sent) bool { return s.MaxHeight == 180 })
	t.Logf("the sender was told 180p %v after the receivers switched", time.Since(switched).Round(time.Millisecond))
	tiles := cameraRate(t, ctx, sender, 2*time.Second)
	t.Logf("camera at %.0f kbit/s for 720p receivers, %.0f kbit/s for 180p tiles", full/1000, tiles/1000)
	if tiles > 0.4*full {
		t.Errorf("the sender's camera fell from %.0f to %.0f kbit/s for 180p tiles, want at least 60%% less", full/1000, tiles/1000)
	}

	// Each viewer puts the other on stage with last-n 1, and so does the sender: its camera is in nobody's
	// last-N.
	a, b := viewers[0], viewers[1]
	for _, c := range []struct {
		who   *bot.Bot
		stage string
	}{{a, b.EndpointID()}, {b, a.EndpointID()}, {sender, a.EndpointID()}} {
		if err := c.who.SetConstraints(ctx, bot.Constraints{MaxHeight: 180, LastN: 1, Stage: c.stage}); err != nil {
			t.Fatal(err)
		}
	}
	waitSent(t, ctx, sender, "maxHeight 0 and every encoding off", func(s bot.Sent) bool {
		for _, e := range s.Encodings {
			if e.Active {
				return false
			}
		}
		return s.MaxHeight == 0
	})
	if rate := cameraRate(t, ctx, sender, time.Second); rate != 0 {
		t.Errorf("the camera sent %.0f kbit/s while in nobody's last-N", rate/1000)
	}
}
