package bot

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestAudioRepairedByRED: a viewer that loses one audio packet in twelve
// on the way in announces opus-red, so the bridge sends it RED and, once it
// measures the loss, repeats earlier packets in each: the viewer rebuilds
// the lost ones, and from then on no audio packet stays lost.
func TestAudioRepairedByRED(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "https://" + srv.HTTP + "/red"
	var bots []*Bot
	for _, o := range []Options{{URL: url}, {URL: url, dropReceivedAudio: func(seq uint16) bool { return seq%12 == 5 }}} {
		o.Insecure, o.Loopback = true, true
		b, err := Join(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bots = append(bots, b)
	}
	sender, viewer := bots[0], bots[1]
	name := sender.EndpointID() + "-a0"
	audio := func(got map[string]Remote) SourceStats { return got[sender.EndpointID()].Sources[name] }
	wait := func(what string, cond func(SourceStats) bool) SourceStats {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := viewer.Wait(ctx, func(got map[string]Remote) bool { return cond(audio(got)) }); err != nil {
			t.Fatalf("waiting for %s: %v (%+v)", what, err, audio(viewer.Received()))
		}
		return audio(viewer.Received())
	}
	running := wait("audio repaired by RED", func(st SourceStats) bool { return st.Packets > 100 && st.PacketsRepaired >= 5 })
	later := wait("250 packets more", func(st SourceStats) bool { return st.Packets >= running.Packets+250 })
	repaired := later.PacketsRepaired - running.PacketsRepaired
	if lost := later.PacketsLost - running.PacketsLost; lost > 0 || repaired < 15 {
		t.Errorf("over 250 audio packets: %d more lost, %d repaired by RED (%+v)", lost, repaired, later)
	}
}
