package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestFrameRateConstraints: receivers asking for at most 15 and 7.5 frames
// a second get the sender's 180p at half and a quarter of the frames of a
// receiver without a limit (the bridge leaves out its temporal layers 2,
// then 1 and 2), every frame complete and decodable, with picture IDs one
// by one; lifting the limit brings the full rate back.
func TestFrameRateConstraints(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sender := join(t, srv, "fps")
	full := joinWith(t, srv, "fps", bot.Constraints{MaxHeight: 180, LastN: -1})
	half := joinWith(t, srv, "fps", bot.Constraints{MaxHeight: 180, LastN: -1, MaxFrameRate: 15})
	quarter := joinWith(t, srv, "fps", bot.Constraints{MaxHeight: 180, LastN: -1, MaxFrameRate: 7.5})
	viewers := []*bot.Bot{full, half, quarter}
	for _, v := range viewers {
		if err := v.Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, sender).Frames >= 10 }); err != nil {
			t.Fatalf("%s: no video: %v", v.EndpointID(), err)
		}
	}
	before := make([]bot.VideoStats, len(viewers))
	for i, v := range viewers {
		before[i] = video(v.Received(), sender)
	}
	if err := full.Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, sender).Frames >= before[0].Frames+240 }); err != nil {
		t.Fatal(err)
	}
	var got [3]int
	for i, v := range viewers {
		now := video(v.Received(), sender)
		got[i] = now.Frames - before[i].Frames
		if now.DecodeErrors != 0 || now.PictureIDJumps != 0 || now.FramesDropped != 0 {
			t.Errorf("%s: %d decode errors, %d picture ID jumps, %d frames dropped", v.EndpointID(), now.DecodeErrors, now.PictureIDJumps, now.FramesDropped)
		}
	}
	// The three counts cover the same time within a frame or two of the
	// unlimited receiver's 240, so the halves and quarters are near exact.
	if r := float64(got[1]) / float64(got[0]); r < 0.4 || r > 0.6 {
		t.Errorf("15 fps receiver got %d frames while the unlimited one got %d", got[1], got[0])
	}
	if r := float64(got[2]) / float64(got[0]); r < 0.18 || r > 0.32 {
		t.Errorf("7.5 fps receiver got %d frames while the unlimited one got %d", got[2], got[0])
	}
	// No limit: the full rate again, still decodable.
	if err := half.SetConstraints(ctx, bot.Constraints{MaxHeight: 180, LastN: -1}); err != nil {
		t.Fatal(err)
	}
	h0, f0 := video(half.Received(), sender), video(full.Received(), sender)
	if err := full.Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, sender).Frames >= f0.Frames+240 }); err != nil {
		t.Fatal(err)
	}
	h1 := video(half.Received(), sender)
	if n := h1.Frames - h0.Frames; n < 200 || h1.DecodeErrors != 0 || h1.PictureIDJumps != 0 {
		t.Errorf("after the limit was lifted: %d frames while the unlimited receiver got 240, %d decode errors, %d jumps", n, h1.DecodeErrors, h1.PictureIDJumps)
	}
}
