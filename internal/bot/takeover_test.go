package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/router"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// sealDropper sits in front of the MUC and, once told whom, drops every
// sealed key addressed to that occupant: it sees the leader's rosters but
// learns none of its fresh epochs, as a member whose key messages were lost
// would.
type sealDropper struct {
	inner func(*stanza.Element)
	mu    sync.Mutex
	nick  string // guarded by mu; "" drops nothing
}

func newSealDropper(srv *xmpptest.Server) *sealDropper {
	d := &sealDropper{inner: srv.App.MUC.Route}
	srv.App.Router.AddComponent(srv.App.MUC.Domain(), router.ComponentFunc(d.route))
	return d
}

func (d *sealDropper) drop(nick string) {
	d.mu.Lock()
	d.nick = nick
	d.mu.Unlock()
}

func (d *sealDropper) route(el *stanza.Element) {
	to, _ := jid.Parse(el.Get("to"))
	d.mu.Lock()
	nick := d.nick
	d.mu.Unlock()
	if _, isKey, _ := e2eexml.ParseSealedKey(el); isKey && nick != "" && to.Resource == nick {
		return
	}
	d.inner(el)
}

// TestNewLeaderBehindTheRoomTakesOver: the member the focus names when the
// leader leaves may have learnt fewer epochs than the others (it saw the
// rosters of the leader's last fresh epochs but got none of their keys).
// Its first epoch must still be newer than any the others hold, or they
// ignore it as old and the room is left with two codes.
func TestNewLeaderBehindTheRoomTakesOver(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	drop := newSealDropper(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true, Constraints: &bot.Constraints{MaxHeight: 0, LastN: 0}}
	a := joinOpts(t, srv, "behind", bot.WithRotation(o, 2*time.Second))
	b := joinOpts(t, srv, "behind", o)
	c := joinOpts(t, srv, "behind", o)
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool { return learntSame(a, b, c) }); err != nil {
		t.Fatalf("no shared epoch: a %+v, b %+v, c %+v: %v", a.E2EE(), b.E2EE(), c.E2EE(), err)
	}
	drop.drop(b.EndpointID())
	behind := b.E2EE().Epoch
	// Two rotations b sees the rosters of but cannot open.
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool { return c.E2EE().Epoch >= behind+2 }); err != nil {
		t.Fatalf("c learnt no rotation: %+v: %v", c.E2EE(), err)
	}
	if e := b.E2EE(); e.Epoch != behind {
		t.Fatalf("b learnt epoch %d without its keys (was at %d)", e.Epoch, behind)
	}
	drop.drop("")
	ahead := c.E2EE()
	a.Close()
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool {
		return b.E2EE().Leader == b.EndpointID() && c.E2EE().Leader == b.EndpointID() && sameEpoch(ahead.Epoch, b, c)
	}); err != nil {
		t.Fatalf("b and c share no epoch after c's %d under b: b %+v, c %+v: %v", ahead.Epoch, b.E2EE(), c.E2EE(), err)
	}
	if e := c.E2EE(); e.SecurityCode == ahead.SecurityCode || e.RosterAlarms != 0 {
		t.Errorf("c under b: code %q (was %q), %d roster alarms", e.SecurityCode, ahead.SecurityCode, e.RosterAlarms)
	}
}

// learntSame reports whether every bot learnt the same epoch, with the
// same code (whichever epoch it sends with).
func learntSame(all ...*bot.Bot) bool {
	e := all[0].E2EE()
	for _, b := range all {
		if r := b.E2EE(); r.Epoch == 0 || r.Epoch != e.Epoch || r.SecurityCode != e.SecurityCode {
			return false
		}
	}
	return true
}

// focusHolder sits in front of the MUC and, once told whom, makes the
// focus's presence that names that occupant leader reach the others late:
// the new leader gets it at once (directly), everyone else only after the
// new leader's sealed key to release has gone through, as a room with
// another route to each occupant could deliver them.
type focusHolder struct {
	srv     *xmpptest.Server
	inner   func(*stanza.Element)
	room    string
	mu      sync.Mutex
	reals   map[string]string // guarded by mu: nick → real JID
	leader  string            // guarded by mu: hold the presence naming it
	release string            // guarded by mu: the nick whose sealed key releases it
	held    *stanza.Element   // guarded by mu
}

func newFocusHolder(srv *xmpptest.Server, room string) *focusHolder {
	h := &focusHolder{srv: srv, inner: srv.App.MUC.Route, room: room, reals: map[string]string{}}
	srv.App.Router.AddComponent(srv.App.MUC.Domain(), router.ComponentFunc(h.route))
	return h
}

func (h *focusHolder) hold(leader, release string) {
	h.mu.Lock()
	h.leader, h.release = leader, release
	h.mu.Unlock()
}

func (h *focusHolder) route(el *stanza.Element) {
	to, _ := jid.Parse(el.Get("to"))
	h.mu.Lock()
	defer h.mu.Unlock()
	if to.Bare().String() != h.room || to.Resource == "" || h.leader == "" {
		if el.Name.Local == stanza.Presence && to.Resource != "" && to.Resource != "focus" {
			h.reals[to.Resource] = el.Get("from")
		}
		h.inner(el)
		return
	}
	switch {
	case el.Name.Local == stanza.Presence && to.Resource == "focus" && h.held == nil:
		if st, ok := e2eexml.ParseState(el); ok && st.Leader == h.leader {
			h.held = el
			direct := el.Copy()
			direct.Set("from", h.room+"/focus")
			direct.Set("to", h.reals[h.leader])
			h.srv.App.Router.Route(direct)
			return
		}
	case el.Name.Local == stanza.Message && to.Resource == h.release && h.held != nil && el.Get("from") == h.reals[h.leader]:
		if _, isKey, _ := e2eexml.ParseSealedKey(el); isKey {
			h.inner(el)
			h.inner(h.held)
			h.held = nil
			return
		}
	}
	h.inner(el)
}

// TestNewLeaderNamedLateStillFollowed: when the leader leaves, a member may
// get the new leader's first epoch before the focus's presence that names
// the new leader. It keeps those messages and takes them once the focus
// names their sender, so it still shares the new leader's epoch.
func TestNewLeaderNamedLateStillFollowed(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	const room = "late"
	h := newFocusHolder(srv, room+"@"+srv.App.MUC.Domain())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true, Constraints: &bot.Constraints{MaxHeight: 0, LastN: 0}}
	a, b, c := joinOpts(t, srv, room, o), joinOpts(t, srv, room, o), joinOpts(t, srv, room, o)
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool { return learntSame(a, b, c) }); err != nil {
		t.Fatalf("no shared epoch: a %+v, b %+v, c %+v: %v", a.E2EE(), b.E2EE(), c.E2EE(), err)
	}
	before := c.E2EE()
	h.hold(b.EndpointID(), c.EndpointID())
	a.Close()
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool {
		return b.E2EE().Leader == b.EndpointID() && c.E2EE().Leader == b.EndpointID() && sameEpoch(before.Epoch, b, c)
	}); err != nil {
		t.Fatalf("b and c share no epoch after %d under b: b %+v, c %+v: %v", before.Epoch, b.E2EE(), c.E2EE(), err)
	}
}
