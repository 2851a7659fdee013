package focus

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// Cascading (docs/architecture.md "More than one machine"): when a conference's participants are on
// more than one bridge, the focus joins each pair of those bridges with a relay (bridge/relay.go) and
// tells each bridge which participants, with which sources, are behind each of its relays. It keeps no
// state about a relay beyond what it asked for: after every batch of the conference's events
// (allocations, answers, source changes, departures, lost bridges), syncRelays compares the bridges
// the participants are on with the relays it set up, and queues what differs on the relay's own lane,
// so that a relay's requests run in order and never on the conference goroutine.

// A relay whose set-up failed is set up again after relayRetryFirst, doubling with each failure in a
// row up to relayRetryMax.
const (
	relayRetryFirst = 250 * time.Millisecond
	relayRetryMax   = 4 * time.Second
)

// cascade is a conference's relays (conference goroutine).
type cascade struct {
	relays map[relayPair]*relayLink
	// lanes run each pair's requests in order across its relays' lifetimes: a teardown before the
	// next set-up between the same bridges.
	lanes map[relayPair]*lane
	// retry holds back setting up a pair's relay after its set-up failed.
	retry map[relayPair]relayRetry
}

// relayRetry is when a pair's relay may be set up again, and how many set-ups failed in a row.
type relayRetry struct {
	at       time.Time
	failures int
}

// relayPair names two bridges of a conference; a < b, and a is the relay's controlling side.
type relayPair struct{ a, b string }

// relayLink is one relay as the focus set it up (conference goroutine).
type relayLink struct {
	pair    relayPair
	session string // names this set-up to the bridges, which name it when the relay ends
	lane    *lane
	sent    map[string]string // by bridge: the endpoints behind the relay last sent to it, encoded
}

// syncRelays sets up, updates and tears down the conference's relays to fit where its participants
// are (conference goroutine).
func (c *conference) syncRelays() {
	rel, ok := c.f.bridge.(bridgeapi.Relays)
	if !ok {
		return
	}
	on := map[string][]bridge.RelayedEndpoint{} // by bridge, its participants
	if !c.done {
		for _, p := range c.parts {
			if p.gone || p.alloc == nil {
				continue
			}
			on[p.alloc.Bridge] = append(on[p.alloc.Bridge], bridge.RelayedEndpoint{ID: p.nick, Sources: p.sources, Groups: p.groups})
		}
	}
	bridges := make([]string, 0, len(on))
	for b, eps := range on {
		bridges = append(bridges, b)
		slices.SortFunc(eps, func(x, y bridge.RelayedEndpoint) int { return strings.Compare(x.ID, y.ID) })
	}
	slices.Sort(bridges)
	want := map[relayPair]bool{}
	for i, a := range bridges {
		for _, b := range bridges[i+1:] {
			want[relayPair{a, b}] = true
		}
	}
	cc := &c.cascade
	for pair, l := range cc.relays {
		if !want[pair] {
			delete(cc.relays, pair)
			c.expireRelay(rel, l)
		}
	}
	for pair := range want {
		l := cc.relays[pair]
		if l == nil {
			if time.Now().Before(cc.retry[pair].at) {
				continue
			}
			if cc.relays == nil {
				cc.relays, cc.lanes = map[relayPair]*relayLink{}, map[relayPair]*lane{}
			}
			ln := cc.lanes[pair]
			if ln == nil {
				ln = &lane{f: c.f}
				cc.lanes[pair] = ln
			}
			l = &relayLink{pair: pair, session: randomHex(8), lane: ln, sent: map[string]string{}}
			cc.relays[pair] = l
			c.setUpRelay(rel, l)
		}
		for _, side := range [][2]string{{pair.a, pair.b}, {pair.b, pair.a}} {
			c.updateRelay(rel, l, side[0], side[1], on[side[1]])
		}
	}
}

// setUpRelay queues the three requests that join the pair's bridges: the controlling side's
// allocation, the other side's with the first's parameters, and the first's connection with the
// second's. A failure undoes what was done and tries again later.
func (c *conference) setUpRelay(rel bridgeapi.Relays, l *relayLink) {
	a, b, id, session := l.pair.a, l.pair.b, c.id, l.session
	l.lane.do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), allocateTimeout)
		defer cancel()
		da, err := rel.AllocateRelay(ctx, a, bridge.RelayRequest{ConferenceID: id, Peer: b, Controlling: true, Session: session})
		if err == nil {
			var db *bridge.RelayDescription
			db, err = rel.AllocateRelay(ctx, b, bridge.RelayRequest{ConferenceID: id, Peer: a, Remote: da, Session: session})
			if err == nil {
				err = rel.ConnectRelay(ctx, a, bridge.RelayConnect{ConferenceID: id, Peer: b, Remote: *db})
			}
		}
		if err == nil {
			c.f.log.Info("relay set up", "room", c.room.String(), "bridges", a+"-"+b)
			c.post(func() { delete(c.cascade.retry, l.pair) })
			return
		}
		c.f.log.Warn("relay set-up failed", "room", c.room.String(), "bridges", a+"-"+b, "err", err)
		for _, side := range [][2]string{{a, b}, {b, a}} {
			_ = rel.ExpireRelay(ctx, side[0], bridge.RelayExpire{ConferenceID: id, Peer: side[1]})
		}
		c.post(func() {
			cc := &c.cascade
			if cc.relays[l.pair] != l {
				return
			}
			delete(cc.relays, l.pair)
			if cc.retry == nil {
				cc.retry = map[relayPair]relayRetry{}
			}
			r := cc.retry[l.pair]
			delay := min(relayRetryFirst<<min(r.failures, 5), relayRetryMax)
			cc.retry[l.pair] = relayRetry{at: time.Now().Add(delay), failures: r.failures + 1}
			c.after(delay, c.syncRelays) // then sets it up afresh, if still wanted
		})
	})
}

// relayClosed takes a relay that ended on a bridge without the focus asking (ICE or DTLS failed, the
// peer dropped it, the bridge's last endpoint of the conference left before the focus heard): its
// other side is expired, and the sync after this batch sets the relay up afresh if its bridges still
// serve the conference.
func (c *conference) relayClosed(ev bridgeapi.Event) {
	if ev.Reason == bridge.ExpiredRelayReason {
		return
	}
	pair := relayPair{ev.Bridge, ev.Peer}
	if pair.b < pair.a {
		pair.a, pair.b = pair.b, pair.a
	}
	l := c.cascade.relays[pair]
	rel, ok := c.f.bridge.(bridgeapi.Relays)
	if l == nil || !ok || ev.Relay != l.session {
		return // an earlier relay between the two, or one the focus already dropped
	}
	c.f.log.Warn("relay closed by a bridge", "room", c.room.String(), "bridge", ev.Bridge, "peer", ev.Peer, "reason", ev.Reason)
	delete(c.cascade.relays, pair)
	c.expireRelay(rel, l)
}

// updateRelay tells bridge `at` who is behind its relay to `peer`, when that changed.
func (c *conference) updateRelay(rel bridgeapi.Relays, l *relayLink, at, peer string, eps []bridge.RelayedEndpoint) {
	raw, _ := json.Marshal(eps)
	if l.sent[at] == string(raw) {
		return
	}
	l.sent[at] = string(raw)
	u := bridge.RelayEndpoints{ConferenceID: c.id, Peer: peer, Endpoints: eps}
	l.lane.do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		err := rel.UpdateRelay(ctx, at, u)
		cancel()
		if err != nil {
			c.f.log.Debug("relay update", "room", c.room.String(), "bridge", at, "peer", peer, "err", err)
		}
	})
}

// expireRelay queues the relay's teardown on both bridges.
func (c *conference) expireRelay(rel bridgeapi.Relays, l *relayLink) {
	id := c.id
	l.lane.do(func() {
		for _, side := range [][2]string{{l.pair.a, l.pair.b}, {l.pair.b, l.pair.a}} {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			_ = rel.ExpireRelay(ctx, side[0], bridge.RelayExpire{ConferenceID: id, Peer: side[1]})
			cancel()
		}
		c.f.log.Info("relay torn down", "room", c.room.String(), "bridges", l.pair.a+"-"+l.pair.b)
	})
}
