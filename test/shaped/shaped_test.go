package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/parley-im/parley/test/internal/netns"
)

// TestReceiverBehindOneMegabit runs one sender and one receiver behind a 1 Mbit/s limit for 20 s,
// with `parley serve` and `parley bot` built from this tree: the run completes, the receiver's report
// parses and names the sender, the link never carries more than its limit, the bridge sends about what
// the link carries (its estimate of the receiver's link), and the sender's audio and video (a layer
// that fits) get through.
//
// It needs root, ip(8) and tc(8); without them it is skipped.
func TestReceiverBehindOneMegabit(t *testing.T) {
	if testing.Short() {
		t.Skip("the shaped-link run takes about 30 s; skipped with -short")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) is not installed (iproute2): the receiver's link cannot be limited, so the shaped-link run is not tested")
	}
	if probe, err := netns.New("sh"); errors.Is(err, netns.ErrUnavailable) {
		t.Skipf("the receiver needs a network namespace of its own, and none can be made here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	} else if err := probe.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := buildParley(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Find("cap1m")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := Run(ctx, Options{Parley: bin, Senders: 1, Duration: 20 * time.Second, Seed: 1, Log: testLog{t}, Dir: dir}, sc)
	if err != nil {
		for _, name := range []string{"server", "senders", "receiver"} {
			if b, rerr := os.ReadFile(dir + "/" + name + ".log"); rerr == nil {
				t.Logf("%s.log:\n%s", name, b)
			}
		}
		t.Fatal(err)
	}
	row := Summarize(res)
	t.Logf("window %v: link %.0f kbit/s, bridge sent %.0f kbit/s, %.1f%% dropped at the limit, %d frames (%.1f fps), %.1f audio packets/s",
		row.Window.Round(time.Millisecond), row.LinkKbps, row.BridgeKbps, row.LinkDropped*100, int(row.FramesPerSource), row.FPS, row.AudioPerSec)

	if res.Window < 15*time.Second {
		t.Errorf("the receiver stayed %v, want about 20 s", res.Window)
	}
	if len(res.Senders) != 1 {
		t.Fatalf("%d sender reports, want 1", len(res.Senders))
	}
	sender := res.Senders[0].Endpoint
	if len(res.Receiver.Remotes) != 1 || res.Receiver.Remotes[0].Endpoint != sender {
		t.Fatalf("the receiver heard from %+v, want the sender %s only", res.Receiver.Remotes, sender)
	}
	// tbf lets a burst (3,200 bytes) through above its rate; over 20 s that is nothing, and 5% covers
	// the interface counting Ethernet headers.
	if row.LinkKbps > 1000*1.05 {
		t.Errorf("the link carried %.0f kbit/s through a 1 Mbit/s limit", row.LinkKbps)
	}
	// The receiver's media came through the relay (it cannot reach the bridge otherwise) and the link.
	if res.Bridge.Packets == 0 || row.LinkKbps < 100 {
		t.Errorf("the bridge sent %d packets through the relay, the link carried %.0f kbit/s", res.Bridge.Packets, row.LinkKbps)
	}
	// The bridge estimates the receiver's link and sends what fits (issue 15): not the 7 Mbit/s it sent
	// through this limit before (docs/performance.md, "Receivers behind shaped links"), and the
	// sender's video and audio arrive (one sender's layers, 180p to 720p, all fit in 1 Mbit/s).
	if row.BridgeKbps > 1000*1.1 {
		t.Errorf("the bridge sent %.0f kbit/s toward a receiver behind 1 Mbit/s", row.BridgeKbps)
	}
	r := res.Receiver.Remotes[0]
	if r.AudioPackets == 0 || row.WithVideo != 1 || row.FPS < 10 || row.LinkDropped > 0.1 {
		t.Errorf("through 1 Mbit/s: %d audio packets, %d video frames (%.1f fps, %d p), %.1f%% dropped at the limit",
			r.AudioPackets, r.Frames, row.FPS, row.Height, row.LinkDropped*100)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(p))
	return len(p), nil
}
