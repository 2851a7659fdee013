// Package focus is the conference focus (Jicofo's role, jitsi-dialect.md
// §3-§5): it answers the `conference` IQ at focus.<domain>, sits in every
// conference room as the occupant "focus", and for each participant
// allocates a bridge endpoint and runs a Jingle session that connects the
// participant's media to the bridge.
//
// Flow for one room:
//
//	client → focus.D       <conference room=R/>      (create if needed, join R as "focus")
//	focus  → client        <conference ready=true/>  (once the focus is in the room)
//	client → R/nick        join presence             (MUC tells the focus)
//	focus  → R/nick        disco#info                (features)
//	focus  → bridges       Allocate                  (off the conference goroutine, bridging.go)
//	focus  → R/nick        session-initiate          (bridge ICE, DTLS, codecs, slots)
//	R/nick → focus         session-accept            (→ bridge SetAnswer, then the IQ result)
//	R/nick leaves          → bridge Expire; last one out → the focus leaves, the room goes
//
// The bridges are reached through internal/bridgeapi: the bridge in this
// process, or the bridges of a cluster over NATS. Each participant's
// requests run in order on a goroutine of their own, never on the
// conference's.
//
// The focus is a client of the MUC like any other: it speaks from its own
// JID focus@auth.D/focus, and the room relays its IQs so participants see
// them from R/focus. Each conference is owned by one goroutine; the Focus
// itself only holds the map of conferences.
package focus

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Namespaces the focus speaks.
const (
	NSFocus   = "http://jitsi.org/protocol/focus"
	NSMUC     = "http://jabber.org/protocol/muc"
	NSMUCUser = "http://jabber.org/protocol/muc#user"
	NSJingle  = "urn:xmpp:jingle:1"
	NSJitMeet = "http://jitsi.org/jitmeet"
)

// Router delivers stanzas (the XMPP router).
type Router interface {
	Route(el *stanza.Element)
}

// Config names the focus's addresses.
type Config struct {
	Domain  string // the XMPP domain D
	Service string // focus.D: where conference IQs go
	MUC     string // conference.D
	UserJID string // focus@auth.D/focus: the focus's own full JID
	Nick    string // "focus"
	// PublicURL returns the wss://host:port base of bridge-channel URLs.
	PublicURL func() string
	// Requester describes who asks for a conference in a room; nil: anyone
	// may start one, from an unknown address.
	Requester func(from, room jid.JID) Requester
	// UnmuteAllowed is AV moderation's say on a participant's own unmute
	// (mute.go); nil lets everybody unmute.
	UnmuteAllowed UnmutePolicy
	// Region is the region of a participant whose join presence names
	// none, from its real JID (the signal node's address map); nil: none.
	Region func(real string) string
	// Authentication is the conference reply's "authentication" property:
	// only authenticated users start rooms (a secure domain).
	Authentication bool
	// Limits.
	Limits                Limits
	MaxSourcesPerEndpoint int // 20, like Jicofo
	MaxRestartsPerMinute  int // 5
}

// DefaultConfig derives the addresses from the domain.
func DefaultConfig(domain string) Config {
	return Config{
		Domain:                domain,
		Service:               "focus." + domain,
		MUC:                   "conference." + domain,
		UserJID:               "focus@auth." + domain + "/focus",
		Nick:                  "focus",
		Limits:                DefaultLimits(),
		MaxSourcesPerEndpoint: 20,
		MaxRestartsPerMinute:  5,
	}
}

// Focus runs every conference.
type Focus struct {
	cfg    Config
	user   jid.JID
	router Router
	bridge bridgeapi.Bridges
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	confs   map[jid.JID]*conference // guarded by mu: room bare JID → conference
	pending map[string]int          // guarded by mu: unjoined conferences per requester key (see admit)
	ended   chan struct{}           // guarded by mu: closed (and replaced) when a conference is forgotten
	// leavingBridges are the bridges said to be draining or gone, by ID (move.go); guarded by mu. A
	// gone bridge's entry goes leavingMemory after it went.
	leavingBridges map[string]leavingBridge
	now            func() time.Time // the clock of leavingBridges (tests set it)
	wg             sync.WaitGroup
}

// New returns a focus; register ServiceComponent for cfg.Service and
// UserComponent for the domain of cfg.UserJID with the router.
func New(cfg Config, r Router, b bridgeapi.Bridges, log *slog.Logger) (*Focus, error) {
	u, err := jid.Parse(cfg.UserJID)
	if err != nil {
		return nil, err
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Focus{cfg: cfg, user: u, router: r, bridge: b, log: log.With("component", "focus"),
		ctx: ctx, cancel: cancel, confs: make(map[jid.JID]*conference), pending: make(map[string]int),
		ended: make(chan struct{}), leavingBridges: make(map[string]leavingBridge), now: time.Now}
	b.Listen(f.onBridgeEvent)
	return f, nil
}

// UserDomain is the domain of the focus's own JID (auth.D), to register
// RouteUser for.
func (f *Focus) UserDomain() string { return f.user.Domain }

// Close ends every conference and waits for their goroutines.
func (f *Focus) Close() {
	f.cancel()
	f.wg.Wait()
}

// Conferences returns the number of running conferences.
func (f *Focus) Conferences() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.confs)
}

// Participants returns how many participants (besides the focus) the
// conference in room has; 0 when there is none.
func (f *Focus) Participants(room jid.JID) int {
	if c := f.conference(room); c != nil {
		return int(c.count.Load())
	}
	return 0
}

// RouteService handles stanzas to focus.D: the conference request.
func (f *Focus) RouteService(el *stanza.Element) {
	if el.Name.Local != stanza.IQ {
		return
	}
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		return
	}
	if e2eeToggle(el) != nil {
		f.routeE2EEToggle(el)
		return
	}
	req := el.Child(NSFocus, "conference")
	if req == nil || len(el.Children) != 1 {
		f.refuse(el, stanza.ErrServiceUnavailable)
		return
	}
	room, err := jid.Parse(req.Get("room"))
	if req.Get("room") == "" || err != nil || room.Local == "" || room.Resource != "" {
		f.refuse(el, stanza.ErrBadRequest.WithText("No 'room' specified."))
		return
	}
	if room.Domain != f.cfg.MUC {
		f.refuse(el, stanza.ErrNotAcceptable.WithText("rooms live at %s", f.cfg.MUC))
		return
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	c, serr := f.admit(from, room)
	if serr != nil {
		f.refuse(el, serr)
		return
	}
	c.post(func() { c.onConferenceRequest(el) })
}

// RouteUser handles stanzas to the focus's own JID: what the rooms send it.
func (f *Focus) RouteUser(el *stanza.Element) {
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil || to.Bare() != f.user.Bare() {
		f.refuse(el, stanza.ErrServiceUnavailable)
		return
	}
	if e2eeToggle(el) != nil && f.conference(from.Bare()) == nil {
		f.routeE2EEToggle(el) // from a client's own JID, not through a room
		return
	}
	c := f.conference(from.Bare())
	if c == nil {
		if el.Name.Local == stanza.IQ {
			f.refuse(el, stanza.ErrItemNotFound.WithText("no conference here"))
		}
		return
	}
	c.post(func() { c.onStanza(el, from) })
}

// refuse answers el with err, unless el is itself an error: errors are never
// answered (RFC 6120 §8.3.1), or a room and the focus would bounce one forever.
func (f *Focus) refuse(el *stanza.Element, err *stanza.Error) {
	if r := stanza.ErrorReply(el, err); r != nil {
		f.router.Route(r)
	}
}

// conference returns the running conference for room, or nil.
func (f *Focus) conference(room jid.JID) *conference {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.confs[room]
}

// forget removes a finished conference, unless a new one took its place.
func (f *Focus) forget(c *conference) {
	f.settle(c)
	f.mu.Lock()
	if f.confs[c.room] == c {
		delete(f.confs, c.room)
	}
	close(f.ended)
	f.ended = make(chan struct{})
	f.mu.Unlock()
}

// WaitConferences waits until at most n conferences run, or ctx ends.
func (f *Focus) WaitConferences(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		live, ch := len(f.confs), f.ended
		f.mu.Unlock()
		if live <= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
