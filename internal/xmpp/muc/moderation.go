package muc

// Moderation from outside the room: the components Jitsi clients talk to
// for "end the meeting for everyone" (endconference.<domain>) and AV
// moderation (avmoderation.<domain>, package avmoderation) act on rooms
// they do not own. A room is a goroutine that owns its state, so nothing
// here reads a room directly: a request is an event in the room's queue
// and runs on the room's goroutine, like a stanza would.
//
// Jitsi's clients do not name the room in these messages (Prosody takes
// it from the ?room= of the session's URL); here the room is the one the
// sender occupies, which the service indexes by real full JID. A client
// in several rooms of the service names one with a room attribute.

import (
	"sync"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// EndReason is the destroy reason every occupant sees when a moderator
// ends the meeting (Jitsi's mod_end_conference).
const EndReason = "The meeting has been terminated"

// Errors of the moderation requests, named after the condition they carry.
var (
	// ErrNotInRoom: the sender occupies no room of this service (or not the
	// room it named).
	ErrNotInRoom = stanza.ErrItemNotFound.WithText("you are not in a room of this service")
	// ErrWhichRoom: the sender is in several rooms and named none.
	ErrWhichRoom = stanza.ErrBadRequest.WithText("you are in several rooms: name one with the room attribute")
	// ErrNotModerator: the sender is an occupant without the moderator role.
	ErrNotModerator = stanza.ErrForbidden.WithText("only moderators may do that")
	// ErrRoomBusy: the room's queue is full.
	ErrRoomBusy = stanza.ErrResourceConstraint.WithText("the room is busy")
)

// Occupant is what a moderation component sees of an occupant.
type Occupant struct {
	Nick        string
	JID         jid.JID // room@service/nick
	Real        jid.JID // the client's full JID
	Role        string
	Affiliation string
	Focus       bool
}

// RoomView is a room as its own goroutine sees it; it is handed to Inspect
// callbacks and Watcher methods and is valid only during the call.
type RoomView struct{ r *room }

// JID is the room's bare JID.
func (v RoomView) JID() jid.JID { return v.r.jid }

// ByReal returns the occupant behind a real full JID.
func (v RoomView) ByReal(real jid.JID) (Occupant, bool) {
	o := v.r.byJID[real]
	if o == nil {
		return Occupant{}, false
	}
	return v.r.view(o), true
}

// ByNick returns the occupant with a nick.
func (v RoomView) ByNick(nick string) (Occupant, bool) {
	o := v.r.occupants[nick]
	if o == nil {
		return Occupant{}, false
	}
	return v.r.view(o), true
}

// Occupants lists the occupants in the order they came, the focus included.
func (v RoomView) Occupants() []Occupant {
	out := make([]Occupant, 0, len(v.r.list))
	for _, o := range v.r.list {
		out = append(out, v.r.view(o))
	}
	return out
}

func (r *room) view(o *occupant) Occupant {
	return Occupant{Nick: o.nick, JID: r.jid.WithResource(o.nick), Real: o.real, Role: o.role,
		Affiliation: r.affiliation(o.real), Focus: o.focus}
}

// Watcher hears what happens in rooms, on the room's goroutine; it must not
// block (sending through the router is fine).
type Watcher interface {
	// Joined: o entered the room and everybody has been told.
	Joined(v RoomView, o Occupant)
	// RoleChanged: o's role or affiliation changed and everybody has been told.
	RoleChanged(v RoomView, o Occupant)
	// Left: o is out of the room (left, kicked, or the room was destroyed).
	Left(room jid.JID, o Occupant)
	// Ended: the room emptied or was destroyed; nothing of it remains.
	Ended(room jid.JID)
}

// moderation is the service's index of who is where, and its watchers.
type moderation struct {
	mu       sync.Mutex
	where    map[jid.JID][]string // guarded by mu: real full JID → room local parts
	watchers []Watcher            // set before the service routes anything
}

// Watch adds w; call it before the service routes any stanza.
func (s *Service) Watch(w Watcher) { s.mod.watchers = append(s.mod.watchers, w) }

// track records that real occupies room (from room.add).
func (m *moderation) track(real jid.JID, room string) {
	m.mu.Lock()
	if m.where == nil {
		m.where = make(map[jid.JID][]string)
	}
	m.where[real] = append(m.where[real], room)
	m.mu.Unlock()
}

// untrack undoes track (from room.remove).
func (m *moderation) untrack(real jid.JID, room string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.where[real]
	for i, r := range rs {
		if r == room {
			rs = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(m.where, real)
	} else {
		m.where[real] = rs
	}
}

// indexed counts the real JIDs in the index, for Stats.
func (m *moderation) indexed() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.where)
}

// RoomOf returns the local part of the room real occupies. named, if not
// empty, is the room the client names (a bare room JID at this service, or
// a local part); it must be one real occupies.
func (s *Service) RoomOf(real jid.JID, named string) (string, error) {
	if named != "" {
		if j, err := jid.Parse(named); err == nil && j.Local != "" && j.Domain == s.domain && j.Resource == "" {
			named = j.Local
		}
	}
	s.mod.mu.Lock()
	defer s.mod.mu.Unlock()
	rs := s.mod.where[real]
	switch {
	case named != "":
		for _, r := range rs {
			if r == named {
				return r, nil
			}
		}
		return "", ErrNotInRoom
	case len(rs) == 0:
		return "", ErrNotInRoom
	case len(rs) > 1:
		return "", ErrWhichRoom
	}
	return rs[0], nil
}

// Inspect runs fn on the goroutine of the room with local part room, after
// what is already queued; fn must not block. It returns ErrNotInRoom when
// the room does not exist and ErrRoomBusy when its queue is full; then fn
// never runs.
func (s *Service) Inspect(room string, fn func(RoomView)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || s.closing {
		return ErrNotInRoom
	}
	if !r.enqueue(event{do: fn}, s.cfg.MaxQueue) {
		return ErrRoomBusy
	}
	return nil
}

// EndConference destroys the room actor occupies, as Jitsi's "end meeting
// for all" (mod_end_conference): actor must be an occupant with the
// moderator role. Every occupant, the focus included, gets the destroy
// presence with EndReason; the focus then ends its conference. named is
// as for RoomOf. done (nil allowed) gets nil or the refusal; it runs on
// the room's goroutine, or at once when the request never reaches a room.
func (s *Service) EndConference(actor jid.JID, named string, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	name, err := s.RoomOf(actor, named)
	if err != nil {
		done(err)
		return
	}
	err = s.Inspect(name, func(v RoomView) {
		o, ok := v.ByReal(actor)
		switch {
		case !ok:
			done(ErrNotInRoom)
		case o.Role != Moderator:
			done(ErrNotModerator)
		default:
			v.r.svc.log.Info("meeting ended by a moderator", "room", v.r.jid.String(), "by", o.Nick)
			v.r.destroy(nil, EndReason)
			done(nil)
		}
	})
	if err != nil {
		done(err)
	}
}

// Hooks the room calls; each tells every watcher.

func (r *room) watchJoined(o *occupant) {
	for _, w := range r.svc.mod.watchers {
		w.Joined(RoomView{r}, r.view(o))
	}
}

func (r *room) watchRole(o *occupant) {
	for _, w := range r.svc.mod.watchers {
		w.RoleChanged(RoomView{r}, r.view(o))
	}
}

func (r *room) watchLeft(o *occupant) {
	for _, w := range r.svc.mod.watchers {
		w.Left(r.jid, r.view(o))
	}
}

func (r *room) watchEnded() {
	for _, w := range r.svc.mod.watchers {
		w.Ended(r.jid)
	}
}

// EndConferenceComponent is endconference.<domain>: a message carrying
// <end_conference/> from a moderator ends the meeting of the room the
// sender is in (jitsi-dialect.md §2.5; LJM JitsiConference.end()).
type EndConferenceComponent struct {
	svc    *Service
	domain string
}

// NewEndConference returns the component for domain; register it with the
// router under that domain, and advertise it on the server's disco#info as
// identity component/end_conference named domain.
func (s *Service) NewEndConference(domain string) *EndConferenceComponent {
	return &EndConferenceComponent{svc: s, domain: domain}
}

// Domain is the component's address.
func (c *EndConferenceComponent) Domain() string { return c.domain }

// Route implements router.Component. The element <end_conference/> is
// matched by local name: LJM builds it under the stanza's jabber:client
// namespace. A refused request is answered with a message error; a
// granted one has no answer but the destroy presence.
func (c *EndConferenceComponent) Route(el *stanza.Element) {
	switch el.Name.Local {
	case stanza.IQ:
		if t := el.Get("type"); t == "get" || t == "set" {
			c.svc.router.Route(stanza.ErrorReply(el, stanza.ErrServiceUnavailable))
		}
		return
	case stanza.Message:
	default:
		return
	}
	if el.Get("type") == "error" {
		return
	}
	var cmd *stanza.Element
	for _, ch := range el.Children {
		if ch.Name.Local == "end_conference" {
			cmd = ch
			break
		}
	}
	if cmd == nil {
		c.reply(el, stanza.ErrBadRequest.WithText("expected <end_conference/>"))
		return
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil || from.Resource == "" {
		return
	}
	c.svc.EndConference(from, cmd.Get("room"), func(err error) {
		if err != nil {
			c.reply(el, stanza.AsError(err))
		}
	})
}

func (c *EndConferenceComponent) reply(el *stanza.Element, err *stanza.Error) {
	if r := stanza.ErrorReply(el, err); r != nil && r.Get("to") != "" {
		c.svc.router.Route(r)
	}
}
