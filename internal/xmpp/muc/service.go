// Package muc is the conference service at conference.<domain>: XEP-0045
// multi-user chat with the room semantics Jitsi clients expect
// (protocol/jitsi-dialect.md §4).
//
// Flow. The router hands every stanza for conference.D to Service.Route.
// Stanzas for the service itself (disco, muc#unique) are answered at once.
// Stanzas for a room go into that room's queue; a join presence for a room
// that does not exist creates it. Each room is one goroutine that owns all of
// its state and drains its queue in order, so a room needs no lock beyond
// the queue's, and everything it sends (router.Route) happens on that
// goroutine with no lock held: a component the room sends to (the focus) may
// route straight back into the service, which only enqueues.
//
//	join presence  → checks (nick, creation, lock, ban, members-only,
//	                 password, conflict, capacity) → existing occupants'
//	                 presence, the new presence to the others, self-presence
//	                 (110, 100, 201 on creation), history, subject
//	presence       → stored children broadcast with <item affiliation role jid>
//	unavailable    → broadcast; the last occupant other than the focus leaving
//	                 destroys the room (a recreated room inherits nothing)
//	groupchat      → echoed to every occupant with a XEP-0359 stanza-id
//	to room/nick   → private message or IQ relayed to that occupant's real JID
//	muc#admin/owner→ roles, affiliations, the configuration form, destroy
//
// A room goroutine ends when its room is empty and its queue drained; the
// service map entry goes with it.
package muc

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Namespaces of XEP-0045 and friends.
const (
	NS       = "http://jabber.org/protocol/muc"
	NSUser   = "http://jabber.org/protocol/muc#user"
	NSAdmin  = "http://jabber.org/protocol/muc#admin"
	NSOwner  = "http://jabber.org/protocol/muc#owner"
	NSUnique = "http://jabber.org/protocol/muc#unique"
	NSData   = "jabber:x:data"
	NSSID    = "urn:xmpp:sid:0"
	NSDelay  = "urn:xmpp:delay"
	NSHints  = "urn:xmpp:hints"
	NSJitsi  = "http://jitsi.org/jitmeet"
	NSPing   = "urn:xmpp:ping"

	formRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	formRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
)

// Router is what the service sends through: router.Router.
type Router interface {
	Route(el *stanza.Element)
}

// Peer is what the server knows about the client behind a full JID.
type Peer struct {
	Authenticated bool       // logged in with an account or a valid token, not a guest
	Addr          netip.Addr // client address; zero when unknown
	// Token is set when the client logged in with a JWT (jitsi-dialect.md
	// §10); nil otherwise.
	Token *Token
}

// Token is what the room needs of a verified JWT.
type Token struct {
	Room      string // the room claim: a room's local part, or "*" for any
	Moderator bool   // context.user.moderator: joins as owner
	// From context.user, shown to the room as <identity> in presence.
	ID, Name, Email, Avatar string
}

// AllowsRoom reports whether the token may enter the room with local part room.
func (t *Token) AllowsRoom(room string) bool {
	return t != nil && (t.Room == "*" || t.Room == room)
}

// Options build a Service.
type Options struct {
	Domain string // the service's domain, conference.<domain>
	Config Config
	Router Router
	Logger *slog.Logger
	// Peer describes the client behind a real JID (secure domain, password
	// throttling). Nil: everybody is a guest of unknown address.
	Peer func(jid.JID) Peer
	// IsFocus recognises the conference focus by its real JID: it is owner
	// and moderator, bypasses password, members-only and capacity, and does
	// not keep a room alive on its own. Nil: there is no focus.
	IsFocus func(jid.JID) bool
	// FocusNick is the nickname only the focus may take in any room, in any
	// case or width ("focus", jitsi-dialect.md §4.2): clients trust Jingle
	// from room/focus. Default "focus" when IsFocus is set.
	FocusNick string
}

// Service is the conference component.
type Service struct {
	domain  string
	cfg     Config
	router  Router
	log     *slog.Logger
	peer    func(jid.JID) Peer
	isFocus func(jid.JID) bool
	// focusNick is Options.FocusNick folded by foldNick; "" = none reserved.
	focusNick string
	disco     *disco.Info
	mux       *mux.Mux
	guard     *attempts
	mod       moderation // moderation.go: who is where, and the watchers

	lobby     *Lobby       // lobby.<domain> when EnableLobby was called (lobby.go)
	occupants atomic.Int64 // occupants in every room, for Stats
	wg        sync.WaitGroup

	mu      sync.Mutex
	rooms   map[string]*room // guarded by mu: localpart → live room
	joins   map[jid.JID]int  // guarded by mu: rooms each real full JID occupies
	closing bool             // guarded by mu
	retired chan struct{}    // guarded by mu: closed (and replaced) when a room retires
}

// New returns a service; register it with the router under o.Domain.
func New(o Options) (*Service, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Router == nil {
		return nil, errorString("muc: a router is required")
	}
	d, err := jid.New("", o.Domain, "")
	if err != nil || d.Domain != o.Domain {
		return nil, errorString("muc: domain " + o.Domain + " is not a normalised domain")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		domain:  o.Domain,
		cfg:     o.Config,
		router:  o.Router,
		log:     log.With("component", "muc"),
		peer:    o.Peer,
		isFocus: o.IsFocus,
		rooms:   make(map[string]*room),
		joins:   make(map[jid.JID]int),
		retired: make(chan struct{}),
		guard:   newAttempts(o.Config.PasswordAttemptsPerMinute/60, o.Config.PasswordBurst),
	}
	if s.peer == nil {
		s.peer = func(jid.JID) Peer { return Peer{} }
	}
	if s.isFocus == nil {
		s.isFocus = func(jid.JID) bool { return false }
	} else {
		s.focusNick = foldNick(o.FocusNick)
		if s.focusNick == "" {
			s.focusNick = "focus"
		}
	}
	s.disco = disco.New(disco.Identity{Category: "conference", Type: "text", Name: "Conference rooms"})
	s.disco.AddFeature(NS, NSUnique, NSSID)
	s.disco.SetItems(s.publicRooms)
	s.mux = mux.New()
	s.disco.Register(s.mux)
	s.mux.Handle("get", NSUnique, "unique", func(context.Context, *stanza.Element) (*stanza.Element, error) {
		return stanza.New(NSUnique, "unique").SetText(uniqueName()), nil
	})
	s.mux.Handle("get", NSPing, "ping", func(context.Context, *stanza.Element) (*stanza.Element, error) {
		return nil, nil
	})
	return s, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// Domain is the service's domain.
func (s *Service) Domain() string { return s.domain }

// Route implements router.Component. from is stamped by the server.
func (s *Service) Route(el *stanza.Element) {
	to, err := jid.Parse(el.Get("to"))
	if err != nil || to.Domain != s.domain {
		return
	}
	if to.Local == "" {
		if to.Resource == "" {
			s.mux.Route(context.Background(), el, s.router.Route)
		} else {
			s.bounce(el, stanza.ErrServiceUnavailable)
		}
		return
	}
	if len(to.Local) > s.cfg.MaxRoomNameBytes {
		s.bounce(el, stanza.ErrNotAcceptable.WithText("room name too long"))
		return
	}
	s.mu.Lock()
	r := s.rooms[to.Local]
	if r == nil {
		if !createsRoom(el, to) || s.closing {
			s.mu.Unlock()
			s.noRoom(el)
			return
		}
		r = newRoom(s, to.Bare())
		s.rooms[to.Local] = r
		s.wg.Add(1)
		go r.run()
	}
	ok := r.enqueue(event{el: el}, s.cfg.MaxQueue)
	s.mu.Unlock()
	if !ok {
		s.bounce(el, stanza.ErrResourceConstraint.WithText("the room is busy"))
	}
}

// createsRoom reports whether el may bring a room into existence: an
// available presence to an occupant JID.
func createsRoom(el *stanza.Element, to jid.JID) bool {
	return el.Name.Local == stanza.Presence && el.Get("type") == "" && to.Resource != ""
}

// noRoom answers a stanza for a room that does not exist.
func (s *Service) noRoom(el *stanza.Element) {
	switch el.Name.Local {
	case stanza.Presence:
		if el.Get("type") == "" {
			s.bounce(el, stanza.ErrJIDMalformed.WithText("a nickname is required"))
		}
	case stanza.IQ, stanza.Message:
		s.bounce(el, stanza.ErrItemNotFound)
	}
}

// bounce answers el with err from its to address.
func (s *Service) bounce(el *stanza.Element, err *stanza.Error) {
	if el.Name.Local == stanza.IQ && el.Get("type") == "result" {
		return
	}
	if r := stanza.ErrorReply(el, err); r != nil && r.Get("to") != "" {
		if el.Name.Local == stanza.Presence {
			r.Children = append([]*stanza.Element{stanza.New(NS, "x")}, r.Children...)
		}
		s.router.Route(r)
	}
}

// publicRooms lists rooms marked public for disco#items.
func (s *Service) publicRooms() []disco.Item {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	var items []disco.Item
	for _, r := range rooms {
		r.mu.Lock()
		pub, name, n := r.public, r.title, r.count
		r.mu.Unlock()
		if pub && n > 0 {
			items = append(items, disco.Item{JID: r.jid.String(), Name: name})
		}
		if len(items) >= 1000 {
			break
		}
	}
	return items
}

// joined records that real occupies one more room; it reports false (and
// records nothing) when real is at the limit.
func (s *Service) joined(real jid.JID, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.joins[real] >= limit {
		return false
	}
	s.joins[real]++
	s.occupants.Add(1)
	return true
}

// left undoes joined.
func (s *Service) left(real jid.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.joins[real] - 1; n > 0 {
		s.joins[real] = n
	} else {
		delete(s.joins, real)
	}
	s.occupants.Add(-1)
}

// retire removes r from the service if its queue is empty; the room
// goroutine then ends. Enqueueing happens under s.mu, so nothing is lost.
func (s *Service) retire(r *room) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) > 0 {
		return false
	}
	r.closed = true
	if s.rooms[r.jid.Local] == r {
		delete(s.rooms, r.jid.Local)
	}
	close(s.retired)
	s.retired = make(chan struct{})
	return true
}

// WaitRooms waits until at most n rooms are live, or ctx ends.
func (s *Service) WaitRooms(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		live, ch := len(s.rooms), s.retired
		s.mu.Unlock()
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

// Stats counts what the service holds; every figure is 0 when no room exists.
type Stats struct {
	Rooms     int // live rooms (goroutines)
	Occupants int // occupants across rooms
	Tracked   int // real JIDs in the per-connection room count
	Throttled int // client addresses with failed password attempts on record
	Indexed   int // real JIDs in the moderation index (moderation.go)
}

// Stats returns the current counts.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	st := Stats{Rooms: len(s.rooms), Tracked: len(s.joins)}
	s.mu.Unlock()
	st.Occupants = int(s.occupants.Load())
	st.Throttled = s.guard.len()
	st.Indexed = s.mod.indexed()
	return st
}

// Close destroys every room (occupants get the destroy presence) and waits
// for the room goroutines to end. Later stanzas for rooms are refused.
func (s *Service) Close() {
	s.mu.Lock()
	s.closing = true
	for _, r := range s.rooms {
		r.enqueue(event{shutdown: true}, 0)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// uniqueName returns a room name with 128 random bits (XEP-0307), so that
// rooms named by the server cannot be guessed (threats §1.1).
func uniqueName() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
