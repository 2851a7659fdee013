package focus

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Timeouts of the conference's own requests.
const (
	joinTimeout = 10 * time.Second // the room answers the focus's join
	iqTimeout   = 10 * time.Second // a participant answers disco or session-initiate
	maxQueue    = 10000            // events waiting for one conference
)

// conference is one room's focus. Everything below mu is owned by its
// goroutine (run); other goroutines only post closures to it.
type conference struct {
	f    *Focus
	room jid.JID // bare room JID
	self jid.JID // room/focus
	id   string  // the bridge's conference id

	mu     sync.Mutex
	queue  []func() // guarded by mu
	closed bool     // guarded by mu
	wake   chan struct{}

	count atomic.Int32 // len(parts), for readers outside the goroutine
	// charged are the Focus.pending keys this conference counts against
	// until somebody joins; guarded by f.mu.
	charged []string

	joined  bool
	failed  *stanza.Error // the room refused the focus
	waiting []*stanza.Element
	parts   map[string]*participant // by nick = endpoint id
	// leftLanes are gone participants' lanes by nick, while their requests may still run (keepLane).
	leftLanes map[string]*lane
	ever      bool // somebody joined at some point
	pending   map[string]func(*stanza.Element)
	done      bool
	timers    []*time.Timer
	created   time.Time // when the focus joined: its created-ms
	e2ee      e2eeState // end-to-end encryption (e2ee.go)
	cascade   cascade   // relays between the conference's bridges (relay.go)
}

func newConference(f *Focus, room jid.JID) *conference {
	return &conference{
		f: f, room: room, self: room.WithResource(f.cfg.Nick), id: randomHex(8),
		wake: make(chan struct{}, 1), parts: make(map[string]*participant), leftLanes: make(map[string]*lane),
		pending: make(map[string]func(*stanza.Element)),
	}
}

// post queues fn to run on the conference goroutine; it never blocks.
func (c *conference) post(fn func()) {
	c.mu.Lock()
	if c.closed || len(c.queue) >= maxQueue {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, fn)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// after runs fn on the conference goroutine after d.
func (c *conference) after(d time.Duration, fn func()) {
	c.timers = append(c.timers, time.AfterFunc(d, func() { c.post(fn) }))
}

func (c *conference) run() {
	defer c.f.forget(c)
	c.join()
	c.after(c.f.cfg.Limits.JoinWithin, func() {
		if !c.ever {
			c.end("nobody joined")
		}
	})
	for !c.done {
		select {
		case <-c.wake:
		case <-c.f.ctx.Done():
			c.end("focus stopping")
		}
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, fn := range q {
			if !c.done {
				fn()
			}
		}
		c.syncRelays() // whatever the batch changed of who is on which bridge (relay.go)
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	for _, t := range c.timers {
		t.Stop()
	}
}

// send routes a stanza from the focus's own JID.
func (c *conference) send(el *stanza.Element) {
	el.Set("from", c.f.user.String())
	c.f.router.Route(el)
}

// request sends an IQ to an occupant and calls back with the response (or
// nil on timeout), on the conference goroutine.
func (c *conference) request(to jid.JID, typ string, payload *stanza.Element, cb func(*stanza.Element)) {
	id := randomHex(8)
	c.pending[id] = cb
	c.send(stanza.NewIQ(typ, id, "", to.String(), payload))
	c.after(iqTimeout, func() {
		if cb, ok := c.pending[id]; ok {
			delete(c.pending, id)
			cb(nil)
		}
	})
}

// join enters the room as the focus (jitsi-dialect.md §4.2).
func (c *conference) join() {
	c.created = time.Now()
	p := c.presence()
	p.Add(stanza.New(NSMUC, "x"))
	c.send(p)
	c.after(joinTimeout, func() {
		if !c.joined && c.failed == nil {
			c.failed = stanza.ErrServiceUnavailable.WithText("the room did not answer")
			c.answerWaiting()
			c.end("room did not answer")
		}
	})
}

// presence is the focus's presence in the room: its conference
// properties, version and end-to-end encryption state (e2ee.go).
func (c *conference) presence() *stanza.Element {
	p := stanza.New(stanza.NSClient, stanza.Presence, "to", c.self.String())
	props := stanza.New(NSFocus, "conference-properties")
	props.Add(stanza.New(NSFocus, "property", "key", "support-terminate-restart", "value", "true"))
	props.Add(stanza.New(NSFocus, "property", "key", "created-ms", "value", itoa(c.created.UnixMilli())))
	p.Add(props)
	p.Add(stanza.New(NSJitMeet, "versions").Add(stanza.New(NSJitMeet, "component", "name", "focus").SetText("parley")))
	p.Add(c.e2eeElement())
	return p
}

// sendPresence tells the room the focus's presence again, once it is in.
func (c *conference) sendPresence() {
	if c.joined && !c.done {
		c.send(c.presence())
	}
}

// onConferenceRequest answers (or queues) a client's conference IQ.
func (c *conference) onConferenceRequest(iq *stanza.Element) {
	c.e2eeConferenceProperty(iq)
	c.waiting = append(c.waiting, iq)
	if c.joined || c.failed != nil {
		c.answerWaiting()
	}
}

func (c *conference) answerWaiting() {
	for _, iq := range c.waiting {
		if c.failed != nil {
			c.f.refuse(iq, c.failed)
			continue
		}
		r := stanza.New(NSFocus, "conference", "room", c.room.String(), "focusjid", c.f.user.Bare().String(), "ready", "true")
		r.Add(stanza.New(NSFocus, "property", "name", "authentication", "value", strconv.FormatBool(c.f.cfg.Authentication)))
		r.Add(stanza.New(NSFocus, "property", "name", "visitors-supported", "value", "false"))
		res := stanza.Result(iq, r)
		res.Set("from", c.f.cfg.Service)
		c.f.router.Route(res)
	}
	c.waiting = nil
}

// onStanza handles what the room sends the focus.
func (c *conference) onStanza(el *stanza.Element, from jid.JID) {
	switch el.Name.Local {
	case stanza.Presence:
		c.onPresence(el, from)
	case stanza.IQ:
		switch el.Get("type") {
		case "result", "error":
			if cb, ok := c.pending[el.Get("id")]; ok {
				delete(c.pending, el.Get("id"))
				cb(el)
			}
		default:
			c.onRequest(el, from)
		}
	}
}

func (c *conference) onPresence(p *stanza.Element, from jid.JID) {
	nick := from.Resource
	typ := p.Get("type")
	if nick == c.f.cfg.Nick {
		switch {
		case typ == "error":
			c.failed = stanza.ErrorOf(p)
			if c.failed == nil {
				c.failed = stanza.ErrServiceUnavailable
			}
			c.answerWaiting()
			c.end("the room refused the focus")
		case typ == "unavailable":
			c.end("the focus left the room")
		case hasStatus(p, "110") && !c.joined:
			c.joined = true
			c.answerWaiting()
			if c.e2ee.enabled {
				c.sendPresence() // asked for before the room answered
			}
		}
		return
	}
	if nick == "" {
		return
	}
	part := c.parts[nick]
	switch {
	case typ == "unavailable":
		if part != nil {
			c.leave(part, "left the room")
			c.e2eeGone(nick)
		}
		if c.ever && len(c.parts) == 0 {
			c.end("everyone left")
		}
	case typ == "" && part != nil:
		if _, role := occupantItem(p); role != "" {
			part.role = role
		}
		c.e2eeOccupant(nick, p)
	case typ == "" && part == nil:
		real, role := occupantItem(p)
		part = &participant{c: c, nick: nick, occupant: from, real: real, role: role,
			region: c.regionOf(p, real), lane: c.laneFor(nick)}
		c.parts[nick] = part
		c.count.Store(int32(len(c.parts)))
		if !c.ever {
			c.ever = true
			c.f.settle(c)
		}
		c.e2eeOccupant(nick, p)
		if !c.e2eeHolds(part) {
			part.invite()
		}
	}
}

// end leaves the room and expires every endpoint.
func (c *conference) end(why string) {
	if c.done {
		return
	}
	c.done = true
	for _, p := range c.parts {
		c.leave(p, why)
	}
	if c.joined {
		c.send(stanza.New(stanza.NSClient, stanza.Presence, "to", c.self.String(), "type", "unavailable"))
	}
	c.f.log.Debug("conference ended", "room", c.room.String(), "why", why)
}

// occupantItem returns the real JID and role of an occupant's presence.
func occupantItem(p *stanza.Element) (real, role string) {
	if x := p.Child(NSMUCUser, "x"); x != nil {
		if item := x.Child(NSMUCUser, "item"); item != nil {
			return item.Get("jid"), item.Get("role")
		}
	}
	return "", ""
}

func hasStatus(p *stanza.Element, code string) bool {
	x := p.Child(NSMUCUser, "x")
	if x == nil {
		return false
	}
	for _, s := range x.Children {
		if s.Is(NSMUCUser, "status") && s.Get("code") == code {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
