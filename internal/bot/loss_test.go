package bot

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// lossyPair joins a sender and a viewer, asking for maxHeight, whose
// received video loses the packets drop says, and returns them.
func lossyPair(t *testing.T, room string, maxHeight int, drop func(rtx bool, seq uint16) bool) (sender, viewer *Bot) {
	t.Helper()
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "https://" + srv.HTTP + "/" + room
	c := Constraints{MaxHeight: maxHeight, LastN: -1}
	for i, o := range []Options{{URL: url}, {URL: url, Constraints: &c, dropReceived: drop}} {
		o.Insecure, o.Loopback = true, true
		b, err := Join(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		if i == 0 {
			sender = b
		} else {
			viewer = b
		}
	}
	return sender, viewer
}

// viewed waits until what viewer received of sender's camera satisfies cond.
func viewed(t *testing.T, viewer, sender *Bot, what string, cond func(SourceStats) bool) SourceStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := sender.EndpointID() + "-v0"
	get := func(got map[string]Remote) SourceStats { return got[sender.EndpointID()].Sources[name] }
	if err := viewer.Wait(ctx, func(got map[string]Remote) bool { return get(got).Video != nil && cond(get(got)) }); err != nil {
		st := get(viewer.Received())
		t.Fatalf("waiting for %s: %v\n%+v %+v", what, err, st, st.Video)
	}
	return get(viewer.Received())
}

// TestLossRepairedByRTX: a tenth of the 720p video packets lost on the way
// in, each asked for again (the bot's NACKs) and repaired by the bridge's
// RTX: once the stream runs (the first losses may fall before the slot's
// RTX is set up, or before a layer switch), every frame is complete and
// decodable and no packet stays lost.
func TestLossRepairedByRTX(t *testing.T) {
	sender, viewer := lossyPair(t, "repaired", 720, func(rtx bool, seq uint16) bool { return !rtx && seq%10 == 5 })
	running := viewed(t, viewer, sender, "720p and repairs", func(st SourceStats) bool {
		return st.Video.Height == 720 && st.Video.Frames >= 30 && st.PacketsRepaired >= 3
	})
	later := viewed(t, viewer, sender, "30 frames and 10 repairs more", func(st SourceStats) bool {
		return st.Video.Frames >= running.Video.Frames+30 && st.PacketsRepaired >= running.PacketsRepaired+10 &&
			st.PacketsLost == running.PacketsLost
	})
	if d, e := later.Video.FramesDropped-running.Video.FramesDropped, later.Video.DecodeErrors-running.Video.DecodeErrors; d != 0 || e != 0 {
		t.Errorf("with every loss repaired: %d frames dropped, %d decode errors (%+v)", d, e, *later.Video)
	}
}

// TestLossNotRepaired: one in twenty 180p video packets lost for good
// (their repairs too): the frames they were in are dropped, the complete
// frames after them are decode errors, not frames; the bot asks for key
// frames, the sender sends them, and the viewer decodes again. (Whether
// the stalls are freezes depends on the pace before them, W3C's
// definition; TestFreezes has that.)
func TestLossNotRepaired(t *testing.T) {
	sender, viewer := lossyPair(t, "lossy", 180, func(rtx bool, seq uint16) bool { return rtx || seq%20 == 5 })
	st := viewed(t, viewer, sender, "losses, decode errors, keyframe requests and freezes", func(st SourceStats) bool {
		v := st.Video
		return v.FramesDropped >= 3 && v.DecodeErrors >= 3 && v.KeyFrameRequests >= 3 && v.KeyFrames >= 3
	})
	v := st.Video
	if st.PacketsLost < v.FramesDropped || st.PacketsRepaired != 0 || (v.Freezes > 0) != (v.FreezeMs > 0) || v.Height != 180 {
		t.Errorf("%d packets lost, %d repaired, for %+v", st.PacketsLost, st.PacketsRepaired, *v)
	}
	if s := sender.Sent(); s.KeyFrameRequests == 0 || s.KeyFramesOnRequest < 2 {
		t.Errorf("the sender heard %d keyframe requests and skipped to a key frame %d times", s.KeyFrameRequests, s.KeyFramesOnRequest)
	}
}
