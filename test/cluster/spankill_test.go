package cluster_test

import (
	"context"
	"testing"
	"time"
)

// A conference that spans two bridge processes (one bot of region eu, one of region us, joined by a
// relay) survives `kill -9` of the eu bridge: the focus moves the eu bot to the us bridge, where its
// new endpoint takes the place of its relayed copy, and the two receive each other again within 10 s.
func TestProcessesSpanningConferenceSurvivesAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs parley serve processes")
	}
	pc := startProcessCluster(t)
	signal := pc.signal
	eu, us := pc.bridge(t, "eu"), pc.bridge(t, "us")
	waitFor(t, "the signal node to know both bridges", func() bool { return len(bridgesKnown(t, signal)) == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := "https://" + signal.http + "/spans"
	bots := append(joinBots(t, ctx, base+"?region=eu", 1), joinBots(t, ctx, base+"?region=us", 1)...)
	for _, me := range bots {
		if err := me.Wait(ctx, hearsAll(me, bots)); err != nil {
			t.Fatalf("%s across the relay: %v", me.EndpointID(), err)
		}
	}
	for _, n := range []*node{eu, us} {
		var dbg struct{ Conferences []struct{ ID string } }
		if err := n.getJSON("/debug/bridge", &dbg); err != nil || len(dbg.Conferences) != 1 {
			t.Fatalf("%s holds %d conferences (%v): the room does not span both bridges", n.name, len(dbg.Conferences), err)
		}
	}

	eu.cmd.Process.Kill()
	killed := time.Now()
	<-eu.done
	eu.done <- nil
	back, cancelBack := context.WithDeadline(ctx, killed.Add(10*time.Second))
	defer cancelBack()
	for _, me := range bots {
		if err := me.Wait(back, moreFrom(me.Received(), 10, 3, others(me, bots))); err != nil {
			t.Fatalf("%s got no media back %v after the kill: %v", me.EndpointID(), time.Since(killed).Round(time.Millisecond), err)
		}
	}
	t.Logf("kill -9 of one of a spanning conference's bridges: media back %v after", time.Since(killed).Round(time.Millisecond))
}
