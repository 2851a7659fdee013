package muc_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// countingRouter stands in for the router: it counts what the rooms send
// and, when asked, serialises it as a client session would.
type countingRouter struct {
	serialise bool
	n         atomic.Int64
	target    atomic.Int64
	done      chan struct{}
}

func (c *countingRouter) Route(el *stanza.Element) {
	if c.serialise {
		_ = el.Bytes()
	}
	if c.n.Add(1) == c.target.Load() {
		c.done <- struct{}{}
	}
}

func (c *countingRouter) expect(more int64) {
	c.target.Store(c.n.Load() + more)
}

func benchService(b *testing.B, serialise bool) (*muc.Service, *countingRouter) {
	cfg := muc.Default()
	cfg.MessagesPerSecond, cfg.PresencesPerSecond = 0, 0
	r := &countingRouter{serialise: serialise, done: make(chan struct{}, 1)}
	svc, err := muc.New(muc.Options{Domain: service, Config: cfg, Router: r})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	return svc, r
}

func joinPresence(from, occupantJID string) *stanza.Element {
	return stanza.New(stanza.NSClient, "presence", "from", from, "to", occupantJID).Add(stanza.New(muc.NS, "x"))
}

// BenchmarkGroupchatFanout100: one groupchat message into a room of 100
// occupants, through to the 100 copies handed to the router (the room's
// work only; with serialise, also each copy's serialisation, which the
// client session does in Parley).
func BenchmarkGroupchatFanout100(b *testing.B) {
	for _, serialise := range []bool{false, true} {
		b.Run(fmt.Sprintf("serialise=%v", serialise), func(b *testing.B) {
			const n = 100
			svc, r := benchService(b, serialise)
			r.expect(n*n + n) // every joiner sees every occupant, then the subject
			for i := range n {
				svc.Route(joinPresence(fmt.Sprintf("u%d@localhost/r", i), fmt.Sprintf("%s/p%d", room, i)))
			}
			<-r.done
			msg := stanza.New(stanza.NSClient, "message", "from", "u0@localhost/r", "to", room, "type", "groupchat").
				Add(stanza.New(stanza.NSClient, "body").SetText("hello everyone, this is a benchmark message"))
			b.ReportAllocs()
			b.ResetTimer()
			r.expect(int64(b.N) * n)
			for range b.N {
				svc.Route(msg.Copy())
			}
			<-r.done
			b.StopTimer()
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkJoinStorm100: 100 occupants join one room; the room sends n²
// presences and n subjects.
func BenchmarkJoinStorm100(b *testing.B) {
	const n = 100
	svc, r := benchService(b, false)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		roomJID := fmt.Sprintf("storm%d@%s", i, service)
		r.expect(n*n + n)
		for j := range n {
			svc.Route(joinPresence(fmt.Sprintf("u%d-%d@localhost/r", i, j), fmt.Sprintf("%s/p%d", roomJID, j)))
		}
		<-r.done
	}
	b.ReportMetric(float64(b.N*(n*n+n))/b.Elapsed().Seconds(), "stanzas/s")
}
