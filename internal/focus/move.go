package focus

import (
	"context"
	"errors"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/jingle"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Moving participants off a bridge that is gone (it missed its heartbeats, or NATS has no responder
// for it) or draining (SIGTERM on a bridge node), before their own ICE fails. The focus re-invites
// each one as Jicofo does with ReinviteMethod RestartJingle: a new endpoint on another bridge, then
// session-terminate (reason success, "moving") of the old session and a fresh session-initiate with a
// new sid. lib-jitsi-meet ends its JVB session on the terminate and takes the new offer as a new call;
// it ignores transport-replace (jitsi-dialect.md §5.6), so that is not used. The participant answers
// the new offer with its sources, which the new bridge learns from the session-accept like any other.
//
//	bridge-gone | bridge-draining of B
//	  → for each participant on B: Allocate elsewhere (its lane, off the conference goroutine)
//	  → allocated on C: session-terminate (old sid), Expire on B, session-initiate (new sid, C)
//	  → no bridge left: a draining B keeps its participants until a bridge joins or B goes; a gone
//	    B's participants get session-terminate and are allocated again after 1, 2, 4, 8, 16 s, or
//	    at once when a bridge joins (bridge-up)
//
// The new endpoint is allocated before the old session ends, so the participants of a draining
// bridge keep their media while it is allocated and lose it only for the new session's ICE and DTLS.

// moving is a participant's move off a bridge while its new endpoint is being allocated.
type moving struct {
	from string // the bridge the participant leaves
	gone bool   // from is gone, not just draining: the endpoint there is lost already
}

// moveOff moves every participant on the bridge elsewhere. A participant already moving off it only
// learns that the bridge is gone now.
func (c *conference) moveOff(bridgeID string, gone bool) {
	for _, p := range c.parts {
		switch {
		case p.move != nil && p.move.from == bridgeID:
			if gone && !p.move.gone {
				p.move.gone = true
				p.alloc = nil
			}
		case p.move == nil && p.alloc != nil && p.alloc.Bridge == bridgeID:
			c.f.log.Info("moving a participant to another bridge", "room", c.room.String(), "endpoint", p.nick,
				"bridge", bridgeID, "gone", gone)
			p.moveOff(gone)
		}
	}
}

// moveOff asks for a new endpoint for a participant whose bridge is gone or drains.
func (p *participant) moveOff(gone bool) {
	p.move = &moving{from: p.alloc.Bridge, gone: gone}
	if gone {
		// Its endpoint is lost: to the rest of the conference (the relays between its bridges) the
		// participant is on no bridge until the move ends.
		p.alloc = nil
	}
	p.requestEndpoint(p.moved)
}

// moved takes the new endpoint on the conference goroutine and re-invites the participant to it.
func (p *participant) moved(gen int, a bridgeapi.Allocated, err error) {
	c, mv := p.c, p.move
	if mv == nil || p.gone || gen != p.gen {
		// The participant left or restarted during the move: expireEndpoint gave both endpoints back.
		return
	}
	p.move = nil
	if err != nil {
		if !mv.gone {
			// Nowhere to go: the draining bridge keeps serving until a bridge joins or it goes.
			c.f.log.Warn("no bridge to move a participant to; it stays on the draining bridge", "room", c.room.String(),
				"endpoint", p.nick, "bridge", mv.from, "err", err)
			return
		}
		c.f.log.Warn("no bridge to move a participant to; waiting for one", "room", c.room.String(),
			"endpoint", p.nick, "bridge", mv.from, "err", err)
		p.terminate("moving")
		p.accepted, p.sources, p.groups = false, nil, nil
		p.expireOn(mv.from)
		p.retryAllocation(err)
		return
	}
	p.terminate("moving")
	p.alloc = &a
	p.retries = 0
	p.expireOn(mv.from)
	p.offerSession()
	if gone, leaving := c.f.leaving(a.Bridge); leaving {
		p.moveOff(gone) // the new bridge went too while the participant was moving to it
	}
}

// expireOn gives the participant's endpoint on bridgeID back, whatever bridge its lane uses now.
func (p *participant) expireOn(bridgeID string) {
	c := p.c
	p.lane.do(func() {
		if p.lane.bridge == bridgeID {
			p.lane.bridge = ""
		}
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		err := c.f.bridge.Expire(ctx, bridgeID, bridge.ExpireRequest{ConferenceID: c.id, EndpointID: p.nick})
		cancel()
		if err != nil && !errors.Is(err, bridge.ErrEndpointNotFound) && !errors.Is(err, bridge.ErrConferenceNotFound) &&
			!errors.Is(err, bridgeapi.ErrUnknownBridge) {
			c.f.log.Debug("expire on the bridge left", "endpoint", p.nick, "bridge", bridgeID, "err", err)
		}
	})
}

// terminate ends the participant's current session (session-terminate, reason success), if it has one.
func (p *participant) terminate(text string) {
	if p.sid == "" {
		return
	}
	c := p.c
	j := &jingle.Jingle{Action: "session-terminate", SID: p.sid, Initiator: c.f.user.String(),
		Reason: &jingle.Reason{Condition: "success", Text: text}}
	p.sid = ""
	p.accepted = false
	c.request(p.occupant, "set", j.Element(), func(r *stanza.Element) {})
}

// retryWaiting allocates at once for the participants waiting for a bridge, and moves those still on
// a draining one: a bridge joined.
func (c *conference) retryWaiting() {
	for _, p := range c.parts {
		switch {
		case p.move != nil || p.allocating || p.features == nil:
		case p.alloc == nil:
			p.retries = 0
			p.allocate()
		default:
			if gone, leaving := c.f.leaving(p.alloc.Bridge); leaving {
				p.moveOff(gone)
			}
		}
	}
}

// leavingBridge is what the focus knows of a bridge that drains or went.
type leavingBridge struct {
	gone  bool      // gone, not just draining
	since time.Time // when it went (gone only)
}

// leavingMemory is how long the focus remembers a gone bridge. The entry matters only to allocations
// that were under way when the bridge went (the pool picks no gone bridge afterwards), which end
// within allocateTimeout; a clustered bridge takes a new ID at each start, so without forgetting, the
// map would grow with every bridge that ever went.
const leavingMemory = time.Minute

// noteBridge records what the focus learned of a bridge's state: gone or draining bridges take no
// participant moved to them; one that joins again is no longer leaving. Gone bridges are forgotten
// leavingMemory after they went.
func (f *Focus) noteBridge(ev bridgeapi.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for id, lb := range f.leavingBridges {
		if lb.gone && now.Sub(lb.since) >= leavingMemory {
			delete(f.leavingBridges, id)
		}
	}
	switch ev.Kind {
	case bridgeapi.BridgeGone:
		f.leavingBridges[ev.Bridge] = leavingBridge{gone: true, since: now}
	case bridgeapi.BridgeDraining:
		if _, ok := f.leavingBridges[ev.Bridge]; !ok {
			f.leavingBridges[ev.Bridge] = leavingBridge{}
		}
	case bridgeapi.BridgeUp:
		delete(f.leavingBridges, ev.Bridge)
	}
}

// leaving reports whether a bridge is draining or gone (gone: true).
func (f *Focus) leaving(bridgeID string) (gone, leaving bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lb, leaving := f.leavingBridges[bridgeID]
	return lb.gone, leaving
}
