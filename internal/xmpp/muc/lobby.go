package muc

// The lobby (jitsi-dialect.md §4.5): while a room is members-only, people
// who are not members knock at room@lobby.<domain> with their display name;
// the room's moderators see who knocks and admit them (a mediated invite to
// the main room, which makes the invitee a member) or deny them (a kick from
// the lobby).
//
// Where it lives. A lobby is not a room of its own: it is part of the state
// of its main room and is served by the main room's goroutine. Stanzas for
// room@lobby.D go into the main room's queue marked as lobby events, so the
// lobby reads the main room's affiliations and occupants directly, and
// enabling, admitting, denying and destroying need no messages between
// rooms and cannot race. The lobby exists exactly while the main room is
// members-only; when the main room empties or is destroyed, its lobby goes
// with it and the knockers get the destroy presence.
//
// Who sees what (Prosody's mod_muc_lobby_rooms, whose behaviour the stock
// clients expect):
//
//	knocker presence  → the knocker itself and the lobby's moderators
//	moderator presence→ only the moderator itself
//	knocker groupchat → the lobby's moderators (not echoed, not to knockers)
//	moderator groupchat → everyone in the lobby
//	private message   → only between a knocker and a moderator
//
// A lobby moderator is whoever is owner or admin of the main room or
// present there as a moderator, checked at each delivery.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Lobby names and the limits of what a knocker may say about itself.
const (
	// NSNick carries the display name (XEP-0172).
	NSNick = "http://jabber.org/protocol/nick"
	// LobbyIdentityType is the disco identity type (category component)
	// the domain advertises, named after the lobby's domain.
	LobbyIdentityType = "lobbyrooms"

	// MaxDisplayNameBytes bounds a knocker's <nick>; a longer one is refused
	// (not cut: a cut name would show the moderators something the knocker
	// did not write).
	MaxDisplayNameBytes = 256
	// MaxEmailBytes bounds a knocker's <email> (RFC 5321's path limit).
	MaxEmailBytes = 254

	lobbyNotify         = "lobby-notify"
	lobbyEnabled        = "LOBBY-ENABLED"
	lobbyAccessGranted  = "LOBBY-ACCESS-GRANTED"
	lobbyAccessDenied   = "LOBBY-ACCESS-DENIED"
	lobbyClosedReason   = "Lobby room closed."
	lobbyDisabledReason = "The lobby was turned off; you may enter the room."
)

// Errors of the lobby.
var (
	errNoLobby            = stanza.ErrItemNotFound.WithText("this room has no lobby")
	errLobbyFull          = stanza.ErrServiceUnavailable.WithText("the lobby is full")
	errLobbyNickChange    = stanza.ErrNotAcceptable.WithText("nickname changes are not allowed in the lobby")
	errKnockersApart      = stanza.ErrForbidden.WithText("in the lobby, knockers talk only to moderators")
	errDisplayNameTooLong = stanza.ErrNotAcceptable.WithText("display name longer than %d bytes", MaxDisplayNameBytes)
	errDisplayNameInvalid = stanza.ErrNotAcceptable.WithText("the display name contains a character that is not allowed")
	errEmailInvalid       = stanza.ErrNotAcceptable.WithText("email longer than %d bytes or with control characters", MaxEmailBytes)
	errOnlyModerators     = stanza.ErrForbidden.WithText("only the room's moderators may do that")
)

// errDisplayNameRequired is the §4.5 answer to a join without <nick>: the
// client asks its user for a name and tries again.
func errDisplayNameRequired() *stanza.Error {
	return &stanza.Error{Type: stanza.Modify, Condition: "not-acceptable", Text: "a display name is required",
		Extra: []*stanza.Element{stanza.New(NSJitsi, "displayname-required", "lobby", "true")}}
}

// Lobby is the component at lobby.<domain>: it hands stanzas for
// room@lobby.<domain> to the main room of the same name.
type Lobby struct {
	s      *Service
	domain string
	mux    *mux.Mux
}

// EnableLobby serves the lobby at domain (lobby.<domain>, §4.5) and returns
// the component to register with the router for that domain. Call it
// before stanzas are routed. Without it a members-only room simply answers
// registration-required.
func (s *Service) EnableLobby(domain string) (*Lobby, error) {
	d, err := jid.New("", domain, "")
	if err != nil || d.Domain != domain || domain == s.domain {
		return nil, errorString("muc: lobby domain " + domain + " is not a normalised domain of its own")
	}
	l := &Lobby{s: s, domain: domain, mux: mux.New()}
	info := func(context.Context, *stanza.Element) (*stanza.Element, error) { return nil, nil }
	l.mux.Handle("get", stanza.NSDiscoInf, "query", func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		node := iq.Children[0].Get("node")
		if node != "" && node != LobbyIdentityType {
			return nil, stanza.ErrItemNotFound
		}
		q := stanza.New(stanza.NSDiscoInf, "query")
		q.Set("node", node)
		q.Add(stanza.New(stanza.NSDiscoInf, "identity", "category", "conference", "type", "text", "name", "Lobby rooms"))
		for _, f := range []string{stanza.NSDiscoInf, stanza.NSDiscoIt, NS} {
			q.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
		}
		return q, nil
	})
	l.mux.Handle("get", stanza.NSDiscoIt, "query", func(context.Context, *stanza.Element) (*stanza.Element, error) {
		return stanza.New(stanza.NSDiscoIt, "query"), nil // lobbies are not listed
	})
	l.mux.Handle("get", NSPing, "ping", info)
	s.lobby = l
	return l, nil
}

// Domain is the lobby's domain.
func (l *Lobby) Domain() string { return l.domain }

// Route implements router.Component. A stanza for a lobby goes into its main
// room's queue; a lobby never brings a room into existence.
func (l *Lobby) Route(el *stanza.Element) {
	s := l.s
	to, err := jid.Parse(el.Get("to"))
	if err != nil || to.Domain != l.domain {
		return
	}
	if to.Local == "" {
		if to.Resource == "" {
			l.mux.Route(context.Background(), el, s.router.Route)
		} else {
			s.bounce(el, stanza.ErrServiceUnavailable)
		}
		return
	}
	s.mu.Lock()
	r := s.rooms[to.Local]
	ok := r != nil && r.enqueue(event{el: el, lobby: true}, s.cfg.MaxQueue)
	s.mu.Unlock()
	switch {
	case r == nil:
		s.noLobby(el)
	case !ok:
		s.bounce(el, stanza.ErrResourceConstraint.WithText("the room is busy"))
	}
}

// noLobby answers a stanza for a lobby that does not exist.
func (s *Service) noLobby(el *stanza.Element) {
	switch el.Name.Local {
	case stanza.Presence:
		if el.Get("type") == "" {
			s.bounce(el, errNoLobby)
		}
	case stanza.IQ:
		if t := el.Get("type"); t == "get" || t == "set" {
			s.bounce(el, errNoLobby)
		}
	case stanza.Message:
		if stanza.Type(el) != "error" {
			s.bounce(el, errNoLobby)
		}
	}
}

// lobby is the lobby state of a members-only room, owned by its goroutine.
type lobby struct {
	occupants map[string]*occupant  // nick → occupant
	byJID     map[jid.JID]*occupant // real full JID → occupant
	list      []*occupant           // join order
	knockers  int                   // occupants that are not moderators
}

func newLobby() *lobby {
	return &lobby{occupants: make(map[string]*occupant), byJID: make(map[jid.JID]*occupant)}
}

// lobbyJID is room@lobby.<domain>.
func (r *room) lobbyJID() jid.JID {
	j, _ := jid.New(r.jid.Local, r.svc.lobby.domain, "")
	return j
}

func (r *room) lobbyOccupantJID(nick string) string { return r.lobbyJID().WithResource(nick).String() }

// lobbyModerator reports whether real may see and decide on knockers: an
// owner or admin of the main room, or a moderator present in it.
func (r *room) lobbyModerator(real jid.JID) bool {
	if affRank(r.affiliation(real)) >= affRank(Admin) {
		return true
	}
	o := r.byJID[real]
	return o != nil && o.role == Moderator
}

// isLobbyModerator reports whether a lobby occupant acts as a moderator now.
func (r *room) isLobbyModerator(o *occupant) bool {
	return o.role == Moderator && r.lobbyModerator(o.real)
}

// lobbyAfterConfig opens the lobby when the room became members-only and
// closes it when it stopped being so; the room is told either way with a
// lobby-notify LOBBY-ENABLED (§4.5 point 1).
func (r *room) lobbyAfterConfig(actor jid.JID) {
	if r.svc.lobby == nil {
		return
	}
	switch {
	case r.conf.membersOnly && r.lob == nil:
		r.lob = newLobby()
		r.notifyLobby(actor, lobbyNotice{Event: lobbyEnabled, Value: true}, false)
	case !r.conf.membersOnly && r.lob != nil:
		alt := r.jid
		r.closeLobby(&alt, lobbyDisabledReason)
		r.notifyLobby(actor, lobbyNotice{Event: lobbyEnabled, Value: false}, false)
	}
}

// closeLobby removes everyone from the lobby with the destroy notice; alt,
// the main room, tells knockers they may now enter it.
func (r *room) closeLobby(alt *jid.JID, reason string) {
	l := r.lob
	if l == nil {
		return
	}
	r.lob = nil
	d := stanza.New(NSUser, "destroy")
	if alt != nil {
		d.Set("jid", alt.String())
	}
	if reason != "" {
		d.Add(stanza.New(NSUser, "reason").SetText(reason))
	}
	for _, o := range slices.Clone(l.list) {
		r.lobbyRemove(l, o)
		p := r.lobbyPresence(o, true, extra{destroy: d})
		p.Set("to", o.real.String())
		r.send(p)
	}
}

// lobbyNotice is the JSON of a lobby-notify json-message.
type lobbyNotice struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	Value any    `json:"value"`
	Name  string `json:"name,omitempty"`
}

// notifyLobby sends n as a groupchat json-message from the actor's occupant
// JID in the main room (the room's JID when the actor is not in it), to
// every occupant or only to the moderators.
func (r *room) notifyLobby(actor jid.JID, n lobbyNotice, moderators bool) {
	n.Type = lobbyNotify
	body, err := json.Marshal(n)
	if err != nil {
		return
	}
	from := r.jid.String()
	if o := r.byJID[actor]; o != nil {
		from = r.occupantJID(o.nick)
	}
	m := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", from).
		Add(stanza.New(NSJitsi, "json-message").SetText(string(body)))
	for _, o := range r.list {
		if moderators && o.role != Moderator {
			continue
		}
		c := m.ShallowCopy()
		c.Set("to", o.real.String())
		r.send(c)
	}
}

// lobbyGranted tells the moderators that actor admitted invitee, when the
// invitee is waiting in the lobby (§4.5 point 4). invitee is matched as
// given, then by bare JID.
func (r *room) lobbyGranted(actor *occupant, invitee jid.JID) {
	if r.lob == nil {
		return
	}
	k := r.lob.byJID[invitee]
	if k == nil {
		for _, o := range r.lob.list {
			if o.real.Bare() == invitee.Bare() && o.role != Moderator {
				k = o
				break
			}
		}
	}
	if k == nil || k.role == Moderator {
		return
	}
	r.notifyLobby(actor.real, lobbyNotice{Event: lobbyAccessGranted, Value: r.lobbyOccupantJID(k.nick), Name: displayName(k)}, true)
}

// displayName is the <nick> a lobby occupant gave.
func displayName(o *occupant) string {
	for _, c := range o.payload {
		if c.Is(NSNick, "nick") {
			return c.Text
		}
	}
	return ""
}

// lobbyAdmits decides a join to the main room by someone who is not a
// member while the room is members-only (§4.5 point 2). A correct room
// password makes the joiner a member and admits it (failures count against
// the password throttle, so the lobby is no password oracle); otherwise the
// answer names the lobby, or asks for a display name first. It reports
// whether the join may go on; when not, it has answered.
func (r *room) lobbyAdmits(el *stanza.Element, from jid.JID, peer Peer) bool {
	if r.lob == nil {
		r.fail(el, stanza.ErrRegistrationRequired)
		return false
	}
	s := r.svc
	var given string
	if x := el.Child(NS, "x"); x != nil {
		given = x.ChildText(NS, "password")
	}
	if r.conf.password != "" && given != "" {
		key := guardKey(from, peer)
		if !s.guard.allow(key) {
			r.fail(el, errTooManyAttempts)
			return false
		}
		if r.passwordMatches(given) {
			r.affiliations[from.Bare()] = Member
			return true
		}
		s.guard.fail(key)
	}
	if strings.TrimSpace(el.ChildText(NSNick, "nick")) == "" {
		r.refuse(el, "406", errDisplayNameRequired())
		return false
	}
	lj := r.lobbyJID().String()
	e := stanza.ErrRegistrationRequired.WithText("this room has a lobby: knock at %s", lj)
	e.Extra = []*stanza.Element{stanza.New(NSJitsi, "lobbyroom").SetText(lj)}
	r.refuse(el, "407", e, stanza.New(stanza.NSClient, "lobbyroom").SetText(lj))
	return false
}

// lobbySkipsPassword: while the lobby is on, members (admitted knockers)
// enter without the room password, as in Prosody's lobby.
func (r *room) lobbySkipsPassword(aff string) bool {
	return r.lob != nil && affRank(aff) >= affRank(Member)
}

// guardKey names the password throttle's bucket for a joiner.
func guardKey(from jid.JID, peer Peer) string {
	if peer.Addr.IsValid() {
		return "ip " + peer.Addr.String()
	}
	return "jid " + from.Bare().String()
}

// refuse answers a presence with a presence error carrying the legacy code
// attribute Jitsi's clients read, and extra children of the presence after
// the error (Prosody's un-namespaced <lobbyroom>).
func (r *room) refuse(el *stanza.Element, code string, e *stanza.Error, after ...*stanza.Element) {
	p := stanza.New(stanza.NSClient, stanza.Presence, "type", "error", "from", el.Get("to"), "to", el.Get("from"))
	p.Set("id", el.Get("id"))
	ee := e.Element()
	ee.Set("code", code)
	p.Add(stanza.New(NS, "x"), ee)
	p.Add(after...)
	r.send(p)
}

// onLobby handles an event for the lobby.
func (r *room) onLobby(ev event) {
	if ev.flush != nil {
		r.lobbyFlush(ev.flush)
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
	if r.lob == nil {
		r.svc.noLobby(el)
		return
	}
	switch el.Name.Local {
	case stanza.Presence:
		r.lobbyOnPresence(el, from, to.Resource)
	case stanza.Message:
		if to.Resource == "" {
			r.lobbyGroupchat(el, from)
		} else {
			r.lobbyPrivate(el, from, to.Resource)
		}
	case stanza.IQ:
		if to.Resource == "" {
			r.lobbyIQ(el, from)
		} else {
			r.lobbyOccupantIQ(el, from, to.Resource)
		}
	}
}

func (r *room) lobbyOnPresence(el *stanza.Element, from jid.JID, nick string) {
	o := r.lob.byJID[from]
	switch el.Get("type") {
	case "unavailable", "error":
		if o != nil {
			r.lobbyLeave(o, extra{status: el.Child(stanza.NSClient, "status"), id: el.Get("id")})
		}
	case "":
		switch {
		case nick == "":
			r.fail(el, stanza.ErrJIDMalformed.WithText("a nickname is required"))
		case o == nil:
			r.lobbyJoin(el, from, nick)
		case o.nick == nick:
			r.lobbyUpdate(o, el)
		default:
			r.fail(el, errLobbyNickChange)
		}
	}
}

// knockPayload is what a knocker's presence shows the moderators: its
// display name (required) and e-mail (optional), checked and rebuilt; the
// rest of the presence is not relayed.
func knockPayload(el *stanza.Element, requireName bool) ([]*stanza.Element, *stanza.Error) {
	var out []*stanza.Element
	name := el.ChildText(NSNick, "nick")
	switch {
	case strings.TrimSpace(name) == "":
		if requireName {
			return nil, errDisplayNameRequired()
		}
	case len(name) > MaxDisplayNameBytes:
		return nil, errDisplayNameTooLong
	case !plainText(name):
		return nil, errDisplayNameInvalid
	default:
		out = append(out, stanza.New(NSNick, "nick").SetText(name))
	}
	if email := el.ChildText(stanza.NSClient, "email"); email != "" {
		if len(email) > MaxEmailBytes || !plainText(email) {
			return nil, errEmailInvalid
		}
		out = append(out, stanza.New(stanza.NSClient, "email").SetText(email))
	}
	return out, nil
}

// plainText refuses invalid UTF-8, control characters and the bidi
// controls that make a name read differently from what it is.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == utf8.RuneError || (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069') ||
			c == '\u200E' || c == '\u200F' || c == '\u061C' {
			return false
		}
	}
	return true
}

// lobbyJoin lets a knocker or a moderator into the lobby (§4.5 point 3).
func (r *room) lobbyJoin(el *stanza.Element, from jid.JID, nick string) {
	s, l := r.svc, r.lob
	if r.shut {
		r.fail(el, stanza.ErrServiceUnavailable)
		return
	}
	if err := s.validNick(nick); err != nil {
		r.fail(el, err)
		return
	}
	mod := r.lobbyModerator(from)
	payload, err := knockPayload(el, !mod)
	switch {
	case err != nil && !mod:
		r.refuse(el, codeOf(err), err)
		return
	case err != nil:
		payload = nil // a moderator's presence is shown to nobody else
	case !mod && r.affiliation(from) == Outcast:
		r.fail(el, stanza.ErrForbidden)
		return
	case !mod && l.knockers >= r.conf.maxUsers:
		r.fail(el, errLobbyFull)
		return
	}
	if l.occupants[nick] != nil {
		r.fail(el, stanza.ErrConflict)
		return
	}
	if !s.joined(from, s.cfg.RoomsPerConnection) {
		r.fail(el, errTooManyRooms)
		return
	}
	o := r.newOccupant(nick, from, false)
	o.role = Participant
	o.payload = payload
	if mod {
		o.role = Moderator
		for _, k := range l.list {
			if k.role != Moderator {
				p := r.lobbyPresence(k, false, extra{})
				p.Set("to", from.String())
				r.send(p)
			}
		}
	}
	l.occupants[nick] = o
	l.byJID[from] = o
	l.list = append(l.list, o)
	if !mod {
		l.knockers++
	}
	r.lobbyBroadcast(o, false, extra{id: el.Get("id")}, []string{"100"})
	m := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", r.lobbyJID().String(), "to", from.String())
	r.send(m.Add(stanza.New(stanza.NSClient, "subject")))
}

// codeOf is the legacy code of the presence errors the lobby refuses with.
func codeOf(e *stanza.Error) string {
	switch e.Condition {
	case "not-acceptable":
		return "406"
	case "forbidden":
		return "403"
	}
	return "400"
}

// lobbyUpdate stores a presence change, coalescing bursts as update does.
func (r *room) lobbyUpdate(o *occupant, el *stanza.Element) {
	payload, err := knockPayload(el, o.role != Moderator)
	if err != nil {
		r.refuse(el, codeOf(err), err)
		return
	}
	o.payload = payload
	if o.presences != nil && !o.presences.Allow() {
		o.dirty = true
		if o.timer == nil {
			d := o.presences.Reserve().Delay()
			o.timer = time.AfterFunc(d, func() { r.enqueue(event{flush: o, lobby: true}, 0) })
		}
		return
	}
	o.dirty = false
	r.lobbyBroadcast(o, false, extra{id: el.Get("id")}, nil)
}

func (r *room) lobbyFlush(o *occupant) {
	if o.gone {
		return
	}
	o.timer = nil
	if o.dirty {
		o.dirty = false
		r.lobbyBroadcast(o, false, extra{}, nil)
	}
}

// lobbyPresence is o's presence in the lobby; its real JID is always shown
// (only moderators and o itself receive it).
func (r *room) lobbyPresence(o *occupant, unavailable bool, x extra) *stanza.Element {
	p := stanza.New(stanza.NSClient, stanza.Presence, "from", r.lobbyOccupantJID(o.nick))
	role := o.role
	if unavailable {
		p.Set("type", "unavailable")
		role = None
		if x.status != nil {
			p.Add(x.status)
		}
	} else {
		p.Children = append(p.Children, o.payload...)
	}
	item := stanza.New(NSUser, "item", "affiliation", r.affiliation(o.real), "role", role, "jid", o.real.String())
	if x.actor != "" {
		item.Add(stanza.New(NSUser, "actor", "nick", x.actor))
	}
	if x.reason != "" {
		item.Add(stanza.New(NSUser, "reason").SetText(x.reason))
	}
	ux := stanza.New(NSUser, "x").Add(item)
	if x.destroy != nil {
		ux.Add(x.destroy)
	}
	for _, c := range x.codes {
		ux.Add(stanza.New(NSUser, "status", "code", c))
	}
	return p.Add(ux)
}

// lobbyBroadcast sends o's presence to o (with 110 and selfCodes) and, for
// a knocker, to the lobby's moderators.
func (r *room) lobbyBroadcast(o *occupant, unavailable bool, x extra, selfCodes []string) {
	if o.role != Moderator {
		var p *stanza.Element
		for _, m := range r.lob.list {
			if m == o || !r.isLobbyModerator(m) {
				continue
			}
			if p == nil {
				p = r.lobbyPresence(o, unavailable, x)
			}
			c := p.ShallowCopy()
			c.Set("to", m.real.String())
			r.send(c)
		}
	}
	sx := x
	sx.codes = append(append([]string{"110"}, selfCodes...), x.codes...)
	self := r.lobbyPresence(o, unavailable, sx)
	self.Set("to", o.real.String())
	self.Set("id", x.id)
	r.send(self)
}

// lobbyRemove takes o out of l and the service's count.
func (r *room) lobbyRemove(l *lobby, o *occupant) {
	o.gone = true
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	delete(l.occupants, o.nick)
	delete(l.byJID, o.real)
	if i := slices.Index(l.list, o); i >= 0 {
		l.list = slices.Delete(l.list, i, i+1)
	}
	if o.role != Moderator {
		l.knockers--
	}
	r.svc.left(o.real)
}

func (r *room) lobbyLeave(o *occupant, x extra) {
	// Remove first, so that o is not among the moderators told.
	r.lobbyRemove(r.lob, o)
	r.lobbyBroadcast(o, true, x, nil)
}

// lobbyIQ answers IQs to the lobby's bare JID: disco#info, a moderator's
// kick (deny, §4.5 point 4) and pings.
func (r *room) lobbyIQ(el *stanza.Element, from jid.JID) {
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		return
	}
	if el.Get("id") == "" || len(el.Children) != 1 {
		r.fail(el, stanza.ErrBadRequest)
		return
	}
	p := el.Children[0]
	var res *stanza.Element
	var err *stanza.Error
	switch {
	case typ == "get" && p.Is(stanza.NSDiscoInf, "query") && p.Get("node") == "":
		res = stanza.New(stanza.NSDiscoInf, "query").Add(
			stanza.New(stanza.NSDiscoInf, "identity", "category", "conference", "type", "text", "name", "Lobby of "+r.jid.String()))
		for _, f := range []string{NS, stanza.NSDiscoInf, "muc_hidden", "muc_temporary", "muc_open", "muc_unsecured", "muc_nonanonymous"} {
			res.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
		}
	case typ == "set" && p.Is(NSAdmin, "query"):
		err = r.lobbyKick(p, from)
	case typ == "get" && p.Is(NSPing, "ping"):
		if r.lob.byJID[from] == nil {
			err = errNotOccupant
		}
	case p.Is(NSAdmin, "query"), p.Is(NSOwner, "query"):
		err = stanza.ErrNotAllowed.WithText("the lobby follows its room's configuration")
	default:
		err = stanza.ErrServiceUnavailable
	}
	if err != nil {
		r.fail(el, err)
		return
	}
	r.send(stanza.Result(el, res))
}

// lobbyKick denies knockers: role none by nick. Only a moderator of the
// main room may; only knockers can be kicked. Nothing changes unless every
// item is valid. The room's moderators get LOBBY-ACCESS-DENIED.
func (r *room) lobbyKick(q *stanza.Element, from jid.JID) *stanza.Error {
	if !r.lobbyModerator(from) {
		return errOnlyModerators
	}
	var targets []*occupant
	var reasons []string
	for _, it := range q.Children {
		if !it.Is(NSAdmin, "item") {
			continue
		}
		if it.Get("role") != None || !it.Has("nick") || it.Has("affiliation") {
			return stanza.ErrNotAllowed.WithText("in the lobby, moderators only deny (role none by nick)")
		}
		t := r.lob.occupants[it.Get("nick")]
		switch {
		case t == nil:
			return stanza.ErrItemNotFound
		case t.role == Moderator:
			return stanza.ErrNotAllowed.WithText("moderators are not denied")
		case slices.Contains(targets, t):
			continue
		}
		targets = append(targets, t)
		reasons = append(reasons, it.ChildText(NSAdmin, "reason"))
		if len(targets) > maxAdminItems {
			return stanza.ErrBadRequest
		}
	}
	if len(targets) == 0 {
		return stanza.ErrBadRequest
	}
	actor := ""
	if a := r.lob.byJID[from]; a != nil {
		actor = a.nick
	} else if a := r.byJID[from]; a != nil {
		actor = a.nick
	}
	for i, t := range targets {
		r.lobbyLeave(t, extra{codes: []string{"307"}, actor: actor, reason: reasons[i]})
		r.notifyLobby(from, lobbyNotice{Event: lobbyAccessDenied, Value: r.lobbyOccupantJID(t.nick), Name: displayName(t)}, true)
	}
	return nil
}

// lobbyGroupchat relays lobby chat (§4.5 point 5): a moderator's to
// everyone in the lobby, a knocker's to the moderators only.
func (r *room) lobbyGroupchat(el *stanza.Element, from jid.JID) {
	typ := stanza.Type(el)
	if typ == "error" {
		return
	}
	o := r.lob.byJID[from]
	switch {
	case typ != "groupchat":
		r.fail(el, stanza.ErrBadRequest.WithText("the lobby takes groupchat and private messages only"))
		return
	case o == nil:
		r.fail(el, errNotOccupant)
		return
	case el.Child(stanza.NSClient, "subject") != nil:
		r.fail(el, stanza.ErrForbidden.WithText("the lobby has no subject"))
		return
	case !o.mayMessage():
		r.fail(el, errMessageRate)
		return
	}
	lj := r.lobbyJID().String()
	out := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", r.lobbyOccupantJID(o.nick))
	out.Set("id", el.Get("id"))
	out.Children = make([]*stanza.Element, 0, len(el.Children)+1)
	for _, c := range el.Children {
		if c.Is(NSSID, "stanza-id") && c.Get("by") == lj {
			continue
		}
		out.Children = append(out.Children, c)
	}
	out.Add(stanza.New(NSSID, "stanza-id", "id", uuid.NewString(), "by", lj))
	fromMod := r.isLobbyModerator(o)
	for _, p := range r.lob.list {
		if fromMod || (p != o && r.isLobbyModerator(p)) {
			c := out.ShallowCopy()
			c.Set("to", p.real.String())
			r.send(c)
		}
	}
}

// lobbyPrivate relays a private message between a knocker and a moderator.
func (r *room) lobbyPrivate(el *stanza.Element, from jid.JID, nick string) {
	o := r.lob.byJID[from]
	t := r.lob.occupants[nick]
	typ := stanza.Type(el)
	apart := o != nil && t != nil && !r.isLobbyModerator(o) && !r.isLobbyModerator(t)
	if typ == "error" {
		if o != nil && t != nil && !apart {
			r.lobbyRelay(el, o, t)
		}
		return
	}
	switch {
	case o == nil:
		r.fail(el, errNotOccupant)
	case typ == "groupchat":
		r.fail(el, stanza.ErrBadRequest.WithText("groupchat goes to the room"))
	case t == nil:
		r.fail(el, stanza.ErrItemNotFound)
	case apart:
		r.fail(el, errKnockersApart)
	case !o.mayMessage():
		r.fail(el, errMessageRate)
	default:
		r.lobbyRelay(el, o, t)
	}
}

func (r *room) lobbyRelay(el *stanza.Element, o, t *occupant) {
	c := el.ShallowCopy()
	c.Set("from", r.lobbyOccupantJID(o.nick))
	c.Set("to", t.real.String())
	c.Children = make([]*stanza.Element, 0, len(el.Children)+1)
	for _, ch := range el.Children {
		if !ch.Is(NSUser, "x") {
			c.Children = append(c.Children, ch)
		}
	}
	r.send(c.Add(stanza.New(NSUser, "x")))
}

// lobbyOccupantIQ answers self-pings (XEP-0410); nothing else travels
// between lobby occupants.
func (r *room) lobbyOccupantIQ(el *stanza.Element, from jid.JID, nick string) {
	typ := el.Get("type")
	if typ != "get" && typ != "set" {
		return
	}
	o := r.lob.byJID[from]
	switch {
	case o == nil:
		r.fail(el, errNotOccupant)
	case o.nick == nick && len(el.Children) == 1 && el.Children[0].Is(NSPing, "ping"):
		r.send(stanza.Result(el, nil))
	default:
		r.fail(el, stanza.ErrServiceUnavailable)
	}
}
