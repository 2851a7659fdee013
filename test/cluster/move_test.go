package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
)

// movedWithin bounds the time until moved bots receive each other again: a bot left to notice a lost
// bridge by itself restarts its session only once its ICE failed, 30 s and more later.
const movedWithin = 10 * time.Second

// joinIn joins n bots to room in region through the signal node and waits until each receives the
// others.
func joinIn(t *testing.T, ctx context.Context, signalHTTP, room, region string, n int) []*bot.Bot {
	t.Helper()
	return joinBots(t, ctx, "https://"+signalHTTP+"/"+room+"?region="+region, n)
}

// Draining a bridge (what SIGTERM does to a bridge process) moves its participants to another bridge
// while it still runs: it holds no endpoint when Drain returns, the signal node lists it as draining,
// the moved bots receive each other through the other bridge, a new conference of its region goes
// elsewhere, and the bots already on the other bridge receive each other throughout.
func TestDrainMovesParticipants(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	movers := joinIn(t, ctx, signal.HTTP, "movers", "eu", 2)
	stayers := joinIn(t, ctx, signal.HTTP, "stayers", "us", 2)
	if conferences(eu) != 1 || conferences(us) != 1 {
		t.Fatalf("conferences on eu %d, on us %d; want 1 and 1", conferences(eu), conferences(us))
	}
	start, before := time.Now(), audioPackets(stayers)

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	err := eu.Drain(dctx)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	if conferences(eu) != 0 || conferences(us) != 2 {
		t.Fatalf("after the drain: conferences on eu %d, on us %d; want 0 and 2", conferences(eu), conferences(us))
	}
	draining := false
	for _, hb := range signal.App.ClusterBridges() {
		draining = draining || hb.Bridge == eu.Bridge.ID() && hb.Draining
	}
	if !draining {
		t.Fatalf("the signal node does not list the drained bridge as draining: %+v", signal.App.ClusterBridges())
	}
	took := mediaBack(t, ctx, movers, start)
	t.Logf("drain: media through the other bridge %v after the drain began", took.Round(time.Millisecond))

	joinIn(t, ctx, signal.HTTP, "later", "eu", 2)
	if conferences(eu) != 0 {
		t.Fatal("the draining bridge took a new conference")
	}
	want := int(keptShare * 50 * time.Since(start).Seconds() * float64(len(stayers)*(len(stayers)-1)))
	if got := audioPackets(stayers) - before; got < want {
		t.Fatalf("the bots on the other bridge received %d audio packets in %v, want at least %d", got, time.Since(start).Round(time.Millisecond), want)
	}
}

// Both bridges of a cluster go at once while participants are moved off the first: nothing is left
// to move them to, so they wait without a session; a bridge that joins then takes them, and they
// receive each other again through it.
func TestParticipantsWaitForABridge(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bots := joinIn(t, ctx, signal.HTTP, "stranded", "eu", 3)

	var wg sync.WaitGroup
	for _, b := range []interface{ Shutdown(context.Context) error }{eu, us} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			b.Shutdown(sctx)
		}()
	}
	wg.Wait()
	waitFor(t, "the signal node to know no bridge", func() bool { return len(signal.App.ClusterBridges()) == 0 })

	ap := startBridge(t, signal, "ap")
	joined := time.Now()
	soon, cancelSoon := context.WithTimeout(ctx, movedWithin)
	defer cancelSoon()
	took := mediaBack(t, soon, bots, joined)
	t.Logf("media back %v after a bridge joined", took.Round(time.Millisecond))
	if conferences(ap) != 1 {
		t.Fatalf("the new bridge holds %d conferences", conferences(ap))
	}
}

// A conference that spans bridges loses one: the room has bots of eu, us and ap on three bridges
// joined by relays; the eu bridge goes, its bots are moved to a live bridge, and everyone receives
// everyone again across the relays that are left.
func TestSpanningConferenceLosesABridge(t *testing.T) {
	signal := startSignal(t)
	eu, _, _ := startBridge(t, signal, "eu"), startBridge(t, signal, "us"), startBridge(t, signal, "ap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var all []*bot.Bot
	for _, region := range []string{"eu", "eu", "us", "ap"} {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + signal.HTTP + "/spanning?region=" + region, Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		all = append(all, b)
	}
	for _, me := range all {
		if err := me.Wait(ctx, hearsAll(me, all)); err != nil {
			t.Fatalf("%s before: %v", me.EndpointID(), err)
		}
	}
	if conferences(eu) != 1 {
		t.Fatal("the eu bots are not on the eu bridge")
	}
	gone := time.Now()
	shutdown(t, eu)
	soon, cancelSoon := context.WithTimeout(ctx, movedWithin)
	defer cancelSoon()
	took := mediaBack(t, soon, all, gone)
	t.Logf("everyone receives everyone again %v after the eu bridge went", took.Round(time.Millisecond))
}

// Draining a bridge of a conference that spans bridges moves its participants and ends once the
// bridge holds none, relays to it included.
func TestDrainASpanningConference(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var all []*bot.Bot
	for _, region := range []string{"eu", "us"} {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + signal.HTTP + "/spandrain?region=" + region, Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		all = append(all, b)
	}
	for _, me := range all {
		if err := me.Wait(ctx, hearsAll(me, all)); err != nil {
			t.Fatalf("%s before: %v", me.EndpointID(), err)
		}
	}
	if len(relaysOf(eu)) != 1 {
		t.Fatalf("relays of eu: %+v", relaysOf(eu))
	}
	start := time.Now()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	err := eu.Drain(dctx)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	drained := time.Since(start)
	if conferences(eu) != 0 || conferences(us) != 1 {
		t.Fatalf("after the drain: conferences on eu %d, on us %d", conferences(eu), conferences(us))
	}
	took := mediaBack(t, ctx, all, start)
	t.Logf("drained in %v; everyone receives everyone again %v after it began", drained.Round(time.Millisecond), took.Round(time.Millisecond))
}
