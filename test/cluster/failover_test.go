package cluster_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/cluster"
)

// moreFrom reports whether got has at least audio packets and video frames more from each of from
// than before had.
func moreFrom(before map[string]bot.Remote, audio, video int, from []*bot.Bot) func(map[string]bot.Remote) bool {
	return func(got map[string]bot.Remote) bool {
		for _, b := range from {
			id := b.EndpointID()
			if got[id].AudioPackets < before[id].AudioPackets+audio || got[id].VideoFrames < before[id].VideoFrames+video {
				return false
			}
		}
		return true
	}
}

// others is all but me.
func others(me *bot.Bot, all []*bot.Bot) []*bot.Bot {
	return slices.DeleteFunc(slices.Clone(all), func(b *bot.Bot) bool { return b == me })
}

// mediaBack waits until every bot of bots receives fresh media (audio and video) from each other one,
// and returns how long after since that took for the last of them.
func mediaBack(t *testing.T, ctx context.Context, bots []*bot.Bot, since time.Time) time.Duration {
	t.Helper()
	var last time.Duration
	for _, me := range bots {
		if err := me.Wait(ctx, moreFrom(me.Received(), 10, 3, others(me, bots))); err != nil {
			t.Fatalf("%s got no media back %v after: %v", me.EndpointID(), time.Since(since).Round(time.Millisecond), err)
		}
		last = max(last, time.Since(since))
	}
	return last
}

// keptShare is the share of the audio packets sent at 50 a second that bots who keep their media
// through a failover must receive: a second without media in the few seconds a failover takes would
// cost more, and a loaded two-core machine (four processes beside the bots) delays some.
const keptShare = 0.75

// audioPackets adds up the audio packets each bot received from the others.
func audioPackets(bots []*bot.Bot) int {
	n := 0
	for _, me := range bots {
		for _, b := range others(me, bots) {
			n += me.Received()[b.EndpointID()].AudioPackets
		}
	}
	return n
}

// holding returns the bridge process among nodes whose /debug/bridge holds a conference.
func holding(t *testing.T, nodes ...*node) *node {
	t.Helper()
	for _, n := range nodes {
		var dbg struct{ Conferences []struct{ ID string } }
		if err := n.getJSON("/debug/bridge", &dbg); err == nil && len(dbg.Conferences) > 0 {
			return n
		}
	}
	t.Fatal("no bridge holds the conference")
	return nil
}

// Issue 17, failure and drain, with `parley serve` processes connected only through NATS: bots of
// region eu meet on the eu bridge while bots of region us meet on the us bridge. `kill -9` of the eu
// bridge: the signal node takes it out (heartbeats missed 3 s) and the focus moves its bots to
// another bridge at once, where each receives the others' media again within 5 s of the kill. Then
// SIGTERM on the bridge that holds them now drains it: its bots are moved to the us bridge and it
// exits 0 long before its drain timeout. The us bots' media flows throughout.
func TestProcessesMoveParticipantsOffAFailedOrDrainedBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs parley serve processes")
	}
	pc := startProcessCluster(t)
	signal := pc.signal
	bridge := func(region string) *node { return pc.bridge(t, region, "--drain-timeout", "25s") }
	eu, us, ap := bridge("eu"), bridge("us"), bridge("ap")
	waitFor(t, "the signal node to know the three bridges", func() bool { return len(bridgesKnown(t, signal)) == 3 })
	euID := bridgeID(t, signal, "eu")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	movers := joinBots(t, ctx, "https://"+signal.http+"/movers?region=eu", 2)
	stayers := joinBots(t, ctx, "https://"+signal.http+"/stayers?region=us", 2)
	if holding(t, eu, us, ap) != eu {
		t.Fatal("the eu bots are not on the eu bridge")
	}
	start, before := time.Now(), audioPackets(stayers)

	eu.cmd.Process.Kill()
	killed := time.Now()
	<-eu.done
	eu.done <- nil
	back, cancelBack := context.WithDeadline(ctx, killed.Add(5*time.Second))
	recovered := mediaBack(t, back, movers, killed)
	cancelBack()
	t.Logf("kill -9: media back %v after the kill", recovered.Round(time.Millisecond))
	if slices.ContainsFunc(bridgesKnown(t, signal), func(hb cluster.Heartbeat) bool { return hb.Bridge == euID }) {
		t.Fatal("the signal node still lists the killed bridge")
	}

	// The movers went to the least loaded bridge left (ap); SIGTERM drains it onto us.
	now := holding(t, ap)
	now.cmd.Process.Signal(syscall.SIGTERM)
	termed := time.Now()
	select {
	case err := <-now.done:
		now.done <- err
		if err != nil {
			t.Fatalf("the drained bridge exited with %v", err)
		}
		t.Logf("SIGTERM: the drained bridge exited %v after the signal", time.Since(termed).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the drained bridge did not exit once its participants were moved")
	}
	// It drained (rather than only stopping, which also moves its participants, after it is gone).
	if log, _ := os.ReadFile(now.log); !strings.Contains(string(log), `msg="bridge drained"`) {
		t.Fatal("the bridge exited without draining")
	}
	// Its process is gone: media now is media through the us bridge.
	moved := mediaBack(t, ctx, movers, termed)
	t.Logf("SIGTERM: media through the next bridge %v after the signal", moved.Round(time.Millisecond))
	var dbg struct{ Conferences []struct{ ID string } }
	if err := us.getJSON("/debug/bridge", &dbg); err != nil || len(dbg.Conferences) != 2 {
		t.Fatalf("the us bridge holds %d conferences (%v), want both", len(dbg.Conferences), err)
	}

	// The stayers' audio flowed throughout: at 50 packets a second from each other bot, a missed
	// second would show.
	want := int(keptShare * 50 * time.Since(start).Seconds() * float64(len(stayers)*(len(stayers)-1)))
	if got := audioPackets(stayers) - before; got < want {
		t.Fatalf("the bots on the us bridge received %d audio packets in %v, want at least %d", got, time.Since(start).Round(time.Millisecond), want)
	}
}
