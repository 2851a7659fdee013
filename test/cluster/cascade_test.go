package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/bridge"
)

// relaysOf returns the relays of a bridge node's only conference.
func relaysOf(b *app.App) []bridge.RelayDebug {
	cs := b.Bridge.Debug().Conferences
	if len(cs) != 1 {
		return nil
	}
	return cs[0].Relays
}

// A conference spans bridges: bots of region eu meet on the eu bridge node, bots of region us in the
// same room on the us bridge node, the focus joins the two with a relay over NATS, and everyone
// receives everyone's audio and video (complete frames). The eu bridge sends each of its bots' audio
// once over the relay, although two bots on the us bridge receive it. A relay that fails is set up
// again. When the us bots leave, the relay goes on both bridges.
func TestConferenceSpansBridges(t *testing.T) {
	signal := startSignal(t)
	eu, us := startBridge(t, signal, "eu"), startBridge(t, signal, "us")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	join := func(region string) *bot.Bot {
		b, err := bot.Join(ctx, bot.Options{URL: "https://" + signal.HTTP + "/spans?region=" + region, Insecure: true, Loopback: true, Log: testLog(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	euBots := []*bot.Bot{join("eu"), join("eu")}
	usBots := []*bot.Bot{join("us"), join("us")}
	all := append(append([]*bot.Bot{}, euBots...), usBots...)
	for _, me := range all {
		if err := me.Wait(ctx, hearsAll(me, all)); err != nil {
			t.Fatalf("%s: %v", me.EndpointID(), err)
		}
	}
	if n, m := conferences(eu), conferences(us); n != 1 || m != 1 {
		t.Fatalf("conferences on eu: %d, on us: %d; want the room on both", n, m)
	}
	for _, b := range []*app.App{eu, us} {
		rs := relaysOf(b)
		if len(rs) != 1 || !rs[0].Connected || len(rs[0].Endpoints) != 2 {
			t.Fatalf("relays of %s: %+v", b.Bridge.ID(), rs)
		}
	}
	// One copy per source: what eu sent of a bot's audio over the relay is less than what the two us
	// bots received of it together (each received about all of it).
	sent := relaysOf(eu)[0].SentPackets
	for _, e := range euBots {
		src := e.EndpointID() + "-a0"
		n := sent[e.EndpointID()+"/"+src]
		got := 0
		for _, u := range usBots {
			got += u.Received()[e.EndpointID()].Sources[src].Packets
		}
		if n == 0 || float64(n) > 0.75*float64(got) {
			t.Fatalf("eu relayed %d packets of %s for %d received by the us bots together", n, src, got)
		}
	}

	// A relay that ends without the focus asking (here: bridge eu drops it; its peer hears that it does
	// and says so) is set up again, and media flows again across it.
	before := map[*bot.Bot]int{}
	for _, u := range usBots {
		before[u] = u.Received()[euBots[0].EndpointID()].AudioPackets
	}
	first := relaysOf(eu)[0]
	conf := eu.Bridge.Debug().Conferences[0].ID
	if err := eu.Bridge.ExpireRelay(bridge.RelayExpire{ConferenceID: conf, Peer: us.Bridge.ID()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relay to be set up again", func() bool {
		e, u := relaysOf(eu), relaysOf(us)
		return len(e) == 1 && e[0].Connected && e[0].ReceivedPackets < first.ReceivedPackets && len(u) == 1 && u[0].Connected
	})
	for _, u := range usBots {
		if err := u.Wait(ctx, func(got map[string]bot.Remote) bool {
			return got[euBots[0].EndpointID()].AudioPackets > before[u]+25
		}); err != nil {
			t.Fatalf("%s: no audio across the new relay: %v", u.EndpointID(), err)
		}
	}

	for _, u := range usBots {
		u.Close()
	}
	waitFor(t, "the relays to go once the us bridge has no participant left", func() bool {
		return len(relaysOf(eu)) == 0 && conferences(us) == 0
	})
}

// BenchmarkJoinToFirstFrameAcrossRelay measures the time from the start of a bot's join to its first
// complete video frame from a bot already in the room, on a signal node and two bridge nodes: the
// joiner on the sender's bridge (same-bridge), on the other bridge while another participant keeps
// the relay up (relay-up), and as the first participant on the other bridge, so that the focus sets
// up the relay during the join (first-on-bridge; the relay goes again when the joiner leaves).
func BenchmarkJoinToFirstFrameAcrossRelay(b *testing.B) {
	signal := startSignal(b)
	startBridge(b, signal, "eu")
	startBridge(b, signal, "us")
	ctx := context.Background()
	url := "https://" + signal.HTTP + "/bench?region="
	join := func(ctx context.Context, region string) *bot.Bot {
		j, err := bot.Join(ctx, bot.Options{URL: url + region, Insecure: true, Loopback: true})
		if err != nil {
			b.Fatal(err)
		}
		return j
	}
	sender := join(ctx, "eu")
	defer sender.Close()
	for _, tc := range []struct {
		name, region string
		anchor       bool
	}{{"same-bridge", "eu", false}, {"relay-up", "us", true}, {"first-on-bridge", "us", false}} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.anchor {
				a := join(ctx, "us")
				defer a.Close()
				if err := a.Wait(ctx, func(got map[string]bot.Remote) bool { return got[sender.EndpointID()].VideoFrames > 0 }); err != nil {
					b.Fatal(err)
				}
			}
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				j := join(wctx, tc.region)
				err := j.Wait(wctx, func(got map[string]bot.Remote) bool { return got[sender.EndpointID()].VideoFrames > 0 })
				took = append(took, time.Since(start))
				cancel()
				j.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(took)
			pct := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
