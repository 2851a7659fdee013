package muc

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// event is one item of a room's queue.
type event struct {
	el       *stanza.Element // a stanza addressed to the room or an occupant
	flush    *occupant       // a coalesced presence is due
	shutdown bool            // the service is closing: destroy the room
	do       func(RoomView)  // a moderation request (moderation.go)
	lobby    bool            // el (or flush) is for the room's lobby (lobby.go)
}

// roomConfig is what owners change with the muc#owner form.
type roomConfig struct {
	name, desc    string
	password      string // "" = not password-protected
	membersOnly   bool
	moderated     bool
	public        bool
	changeSubject bool // participants may change the subject
	allowInvites  bool // participants may invite into a members-only room
	whoisAnyone   bool // real JIDs visible to all (Jitsi), else to moderators
	maxUsers      int
}

// room is one conference. Its state is owned by the goroutine running run;
// only the queue and the disco summary are shared, under mu.
type room struct {
	svc  *Service
	jid  jid.JID // bare room JID
	wake chan struct{}

	mu     sync.Mutex
	queue  []event // guarded by mu
	closed bool    // guarded by mu: retired, accepts nothing
	public bool    // guarded by mu: summary for the service's disco#items
	title  string  // guarded by mu
	count  int     // guarded by mu

	// Owned by the room goroutine.
	occupants    map[string]*occupant  // nick → occupant
	byJID        map[jid.JID]*occupant // real full JID → occupant
	list         []*occupant           // join order
	real         int                   // occupants other than the focus
	affiliations map[jid.JID]string    // bare real JID → owner, admin, member, outcast
	conf         roomConfig
	locked       bool            // XEP-0045 §10.1: created, not yet configured
	subject      *stanza.Element // the subject message as broadcast; nil if never set
	history      []histEntry
	meetingID    string
	createdMS    string              // Jitsi's created timestamp (ms), set when a second occupant joins
	invites      map[jid.JID]jid.JID // invitee bare JID → inviter real JID, for declines
	shut         bool                // the service is closing
	lob          *lobby              // the lobby while the room is members-only; nil otherwise
}

type histEntry struct {
	el    *stanza.Element // as broadcast, without to
	at    time.Time
	chars int
}

func newRoom(s *Service, j jid.JID) *room {
	r := &room{svc: s, jid: j, wake: make(chan struct{}, 1)}
	r.reset()
	return r
}

// reset forgets everything: a room that empties is destroyed, and one that
// is created again under the same name inherits nothing.
func (r *room) reset() {
	if r.occupants != nil {
		r.watchEnded()
	}
	r.closeLobby(nil, lobbyClosedReason)
	r.occupants = make(map[string]*occupant)
	r.byJID = make(map[jid.JID]*occupant)
	r.list = nil
	r.real = 0
	r.affiliations = make(map[jid.JID]string)
	r.conf = roomConfig{
		public:      r.svc.cfg.PublicRooms,
		whoisAnyone: true,
		maxUsers:    r.svc.cfg.MaxOccupants,
	}
	r.locked = false
	r.subject = nil
	r.history = nil
	r.meetingID = uuid.NewString()
	r.createdMS = ""
	r.invites = make(map[jid.JID]jid.JID)
	r.summary()
}

// summary publishes what disco#items on the service shows.
func (r *room) summary() {
	r.mu.Lock()
	r.public, r.title, r.count = r.conf.public, r.conf.name, r.real
	r.mu.Unlock()
}

// enqueue adds ev unless the room is retired or (for stanzas other than
// unavailable presence, which must never be lost) max are waiting.
func (r *room) enqueue(ev event, max int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if max > 0 && len(r.queue) >= max && !(ev.el != nil && ev.el.Name.Local == stanza.Presence && ev.el.Get("type") == "unavailable") {
		return false
	}
	r.queue = append(r.queue, ev)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// run drains the queue until the room is empty and retired.
func (r *room) run() {
	defer r.svc.wg.Done()
	for range r.wake {
		for {
			r.mu.Lock()
			batch := r.queue
			r.queue = nil
			r.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i := range batch {
				r.handle(batch[i])
				batch[i] = event{}
			}
		}
		if len(r.list) == 0 && r.svc.retire(r) {
			return
		}
	}
}

// handle processes one event.
func (r *room) handle(ev event) {
	switch {
	case ev.lobby:
		r.onLobby(ev)
		return
	case ev.shutdown:
		r.shut = true
		r.destroy(nil, "The server is shutting down")
		return
	case ev.flush != nil:
		r.flushPresence(ev.flush)
		return
	case ev.do != nil:
		ev.do(RoomView{r})
		return
	}
	el := ev.el
	from, err := jid.Parse(el.Get("from"))
	if err != nil {
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		return
	}
	if len(r.list) == 0 && el.Name.Local != stanza.Presence {
		r.svc.noRoom(el) // emptied, and so destroyed, before el arrived
		return
	}
	switch el.Name.Local {
	case stanza.Presence:
		was := r.byJID[from]
		r.onPresence(el, from, to.Resource)
		if o := r.byJID[from]; was == nil && o != nil {
			r.watchJoined(o)
		}
	case stanza.Message:
		if to.Resource == "" {
			r.onRoomMessage(el, from)
		} else {
			r.onPrivate(el, from, to.Resource)
		}
	case stanza.IQ:
		if to.Resource == "" {
			r.onRoomIQ(el, from)
		} else {
			r.onOccupantIQ(el, from, to.Resource)
		}
	}
}

// send routes el; the room holds no lock while it does.
func (r *room) send(el *stanza.Element) { r.svc.router.Route(el) }

// fail answers el with err from the address it was sent to.
func (r *room) fail(el *stanza.Element, err *stanza.Error) { r.svc.bounce(el, err) }

// occupantJID is room@service/nick.
func (r *room) occupantJID(nick string) string { return r.jid.WithResource(nick).String() }
