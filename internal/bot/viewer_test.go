package bot_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func joinWith(t *testing.T, srv *xmpptest.Server, room string, c bot.Constraints) *bot.Bot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := bot.Join(ctx, bot.Options{URL: "https://" + srv.HTTP + "/" + room, Insecure: true, Loopback: true, Constraints: &c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// video returns what me received of the camera of from.
func video(got map[string]bot.Remote, from *bot.Bot) bot.VideoStats {
	if v := got[from.EndpointID()].Sources[from.EndpointID()+"-v0"].Video; v != nil {
		return *v
	}
	return bot.VideoStats{}
}

// waitSent waits until what b sent satisfies cond (b receives all the
// while, so its Wait wakes often).
func waitSent(t *testing.T, ctx context.Context, b *bot.Bot, what string, cond func(bot.Sent) bool) bot.Sent {
	t.Helper()
	if err := b.Wait(ctx, func(map[string]bot.Remote) bool { return cond(b.Sent()) }); err != nil {
		t.Fatalf("waiting for %s to have %s: %v (sent %+v)", b.EndpointID(), what, err, b.Sent())
	}
	return b.Sent()
}

// TestViewerConstraints: a bot asking for 180p receives the sender's 180p
// layer, complete and decodable, and the sender, told by the bridge
// (SenderSourceConstraints), stops its taller encodings; a keyframe
// request from the receiver reaches the sender through the bridge and
// makes it send a key frame; when the receiver asks for 720p the sender
// starts its taller encodings again and the receiver gets 720p. A third
// bot with last-n 1 and the receiver on stage gets the stage's video only.
func TestViewerConstraints(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sender := join(t, srv, "layers")
	viewer := joinWith(t, srv, "layers", bot.Constraints{MaxHeight: 180, LastN: -1})
	src := sender.EndpointID() + "-v0"

	if err := viewer.Wait(ctx, func(got map[string]bot.Remote) bool {
		v := video(got, sender)
		return v.Frames >= 15 && v.Height == 180
	}); err != nil {
		t.Fatalf("no 180p video: %v", err)
	}
	only180 := func(s bot.Sent) bool {
		return s.MaxHeight == 180 && s.Encodings[0].Active && !s.Encodings[1].Active && !s.Encodings[2].Active
	}
	stopped := waitSent(t, ctx, sender, "only its 180p encoding on", only180)
	later := waitSent(t, ctx, sender, "sent 30 more 180p frames", func(s bot.Sent) bool {
		return s.Encodings[0].Frames >= stopped.Encodings[0].Frames+30
	})
	for l := 1; l < 3; l++ {
		if later.Encodings[l].Frames != stopped.Encodings[l].Frames {
			t.Errorf("encoding %s sent %d frames after it was stopped", later.Encodings[l].RID,
				later.Encodings[l].Frames-stopped.Encodings[l].Frames)
		}
	}
	if v := video(viewer.Received(), sender); v.Height != 180 || v.DecodeErrors != 0 {
		t.Errorf("the viewer got %+v", v)
	}

	// A keyframe request through the bridge.
	before, asked := sender.Sent(), video(viewer.Received(), sender).KeyFrameRequests
	if err := viewer.RequestKeyFrame(src); err != nil {
		t.Fatal(err)
	}
	if got := video(viewer.Received(), sender).KeyFrameRequests; got != asked+1 {
		t.Errorf("the viewer counts %d keyframe requests, want %d", got, asked+1)
	}
	waitSent(t, ctx, sender, "a keyframe request answered", func(s bot.Sent) bool {
		return s.KeyFrameRequests > before.KeyFrameRequests && s.KeyFramesOnRequest > before.KeyFramesOnRequest &&
			s.Encodings[0].KeyFrames > before.Encodings[0].KeyFrames
	})

	// Up to 720p: the sender starts its taller encodings again.
	if err := viewer.SetConstraints(ctx, bot.Constraints{MaxHeight: 720, LastN: -1}); err != nil {
		t.Fatal(err)
	}
	waitSent(t, ctx, sender, "every encoding on again", func(s bot.Sent) bool {
		return s.MaxHeight == 720 && s.Encodings[2].Active && s.Encodings[2].Frames > later.Encodings[2].Frames
	})
	if err := viewer.Wait(ctx, func(got map[string]bot.Remote) bool { return video(got, sender).Height == 720 }); err != nil {
		t.Fatalf("no 720p video after the constraints rose: %v", err)
	}

	// last-n 1 with the viewer on stage: its video, not the sender's.
	third := joinWith(t, srv, "layers", bot.Constraints{MaxHeight: 180, LastN: 1, Stage: viewer.EndpointID()})
	if err := third.Wait(ctx, func(got map[string]bot.Remote) bool {
		return video(got, viewer).Frames >= 15 && got[sender.EndpointID()].AudioPackets >= 50 &&
			slices.Equal(third.Forwarded(), []string{viewer.EndpointID() + "-v0"})
	}); err != nil {
		t.Fatalf("last-n 1 with a stage: %v", err)
	}
	if v := video(third.Received(), sender); v.Frames != 0 {
		t.Errorf("last-n 1 received %d frames of the source not on stage", v.Frames)
	}
	if v := video(third.Received(), viewer); v.Height != 720 {
		t.Errorf("the source on stage came at %dp, want its tallest", v.Height)
	}
}
