package muc

import (
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Errors the join path answers with, beyond the generic ones.
var (
	errCreationRestricted = stanza.ErrNotAllowed.WithText("Room creation is restricted")
	errTooManyAttempts    = stanza.ErrNotAuthorized.WithText("too many failed password attempts; try again later")
	errTooManyRooms       = stanza.ErrResourceConstraint.WithText("this connection is in too many rooms")
	errPresenceRate       = stanza.ErrPolicyViolation.WithText("too many presence updates")
	errFocusNick          = stanza.ErrConflict.WithText("this nickname is reserved for the conference focus")
)

// onPresence handles presence to an occupant JID.
func (r *room) onPresence(el *stanza.Element, from jid.JID, nick string) {
	o := r.byJID[from]
	switch el.Get("type") {
	case "unavailable":
		if o != nil {
			r.leave(o, extra{status: el.Child(stanza.NSClient, "status"), id: el.Get("id")})
		}
	case "error":
		// The client refused what we sent it: it is in no state to stay
		// (XEP-0045 §9.1 status 333).
		if o != nil {
			r.leave(o, extra{codes: []string{"307", "333"}})
		}
	case "":
		switch {
		case nick == "":
			r.fail(el, stanza.ErrJIDMalformed.WithText("a nickname is required"))
		case o == nil:
			r.join(el, from, nick)
		case o.nick == nick:
			r.update(o, el)
		default:
			r.changeNick(o, el, nick)
		}
	}
}

// validNick refuses nicknames that are too long or could deceive: control,
// format (bidi overrides, zero-width) and separator characters, '/', and
// nicknames that are only spaces (threats §5.1 item 8).
func (s *Service) validNick(nick string) *stanza.Error {
	if len(nick) > s.cfg.MaxNickBytes {
		return stanza.ErrNotAcceptable.WithText("nickname longer than %d bytes", s.cfg.MaxNickBytes)
	}
	if !utf8.ValidString(nick) || strings.TrimSpace(nick) == "" {
		return stanza.ErrNotAcceptable.WithText("invalid nickname")
	}
	for _, c := range nick {
		if c == '/' || unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs) ||
			c == utf8.RuneError || c == '\u3164' || c == '\u115f' || c == '\u1160' || c == '\uffa0' {
			return stanza.ErrNotAcceptable.WithText("the nickname contains a character that is not allowed")
		}
	}
	return nil
}

// reserved reports whether nick is the focus's nickname, compared after
// compatibility normalisation and case folding so that "Focus" or a
// full-width "ｆｏｃｕｓ" cannot pass for it either.
func (s *Service) reserved(nick string) bool {
	return s.focusNick != "" && foldNick(nick) == s.focusNick
}

// foldNick is nick in NFKC, case-folded, without surrounding spaces.
func foldNick(nick string) string {
	return strings.TrimSpace(cases.Fold().String(norm.NFKC.String(nick)))
}

// join admits a new occupant, or answers why not.
func (r *room) join(el *stanza.Element, from jid.JID, nick string) {
	s := r.svc
	if r.shut {
		r.fail(el, stanza.ErrServiceUnavailable)
		return
	}
	if err := s.validNick(nick); err != nil {
		r.fail(el, err)
		return
	}
	focus := s.isFocus(from)
	if !focus && s.reserved(nick) {
		r.fail(el, errFocusNick)
		return
	}
	fresh := len(r.list) == 0
	aff := r.affiliation(from)
	var peer Peer
	if !focus {
		peer = s.peer(from)
	}
	join := el.Child(NS, "x")
	if peer.Token != nil && !peer.Token.AllowsRoom(r.jid.Local) {
		r.fail(el, errTokenRoom) // identity.go
		return
	}
	// A host becomes an owner on entry: a token user by its moderator claim,
	// on a secure domain any other authenticated user. Hosts pass the lobby
	// as members do.
	host := !focus && aff != Outcast &&
		(peer.Token != nil && peer.Token.Moderator || peer.Token == nil && s.cfg.RestrictCreation && peer.Authenticated)
	switch {
	case fresh && s.cfg.RestrictCreation && !focus && !peer.Authenticated:
		r.fail(el, errCreationRestricted)
		return
	case r.locked && !focus && aff != Owner:
		r.fail(el, stanza.ErrItemNotFound.WithText("the room is locked"))
		return
	case aff == Outcast:
		r.fail(el, stanza.ErrForbidden)
		return
	case r.conf.membersOnly && aff == None && !focus && !host && !r.lobbyAdmits(el, from, peer):
		return // lobby.go answered
	}
	if r.conf.password != "" && !focus && !r.lobbySkipsPassword(aff) {
		key := "jid " + from.Bare().String()
		if peer.Addr.IsValid() {
			key = "ip " + peer.Addr.String()
		}
		if !s.guard.allow(key) {
			r.fail(el, errTooManyAttempts)
			return
		}
		var given string
		if join != nil {
			given = join.ChildText(NS, "password")
		}
		if !r.passwordMatches(given) {
			s.guard.fail(key)
			r.fail(el, stanza.ErrNotAuthorized)
			return
		}
	}
	if r.occupants[nick] != nil {
		r.fail(el, stanza.ErrConflict)
		return
	}
	if !focus && r.real >= r.conf.maxUsers {
		r.fail(el, stanza.ErrServiceUnavailable.WithText("the room is full"))
		return
	}
	limit := s.cfg.RoomsPerConnection
	if focus {
		limit = 0
	}
	if !s.joined(from, limit) {
		r.fail(el, errTooManyRooms)
		return
	}

	if fresh {
		r.locked = s.cfg.LockOnCreate
	}
	switch {
	case focus, host:
		r.affiliations[from.Bare()] = Owner
	case peer.Token != nil || s.cfg.RestrictCreation:
		// A token user without the moderator claim, or a guest on a secure
		// domain, is never made an owner by arriving.
	case r.real == 0 && (s.cfg.AutoOwner || fresh):
		r.affiliations[from.Bare()] = Owner
	}
	o := r.newOccupant(nick, from, focus)
	o.role = r.defaultRole(r.affiliation(from))
	o.payload = presencePayload(el)
	o.identity = identityElement(peer.Token)

	// Existing occupants first, in the order they came.
	show := r.canSeeJIDs(o)
	for _, p := range r.list {
		pe := r.presenceFor(p, false, show, extra{})
		pe.Set("to", from.String())
		r.send(pe)
	}
	r.add(o)
	var self []string
	if r.conf.whoisAnyone {
		self = append(self, "100")
	}
	if fresh {
		self = append(self, "201")
	}
	r.broadcastPresence(o, false, extra{id: el.Get("id")}, self, nil)
	if len(r.list) > 1 && r.createdMS == "" {
		r.createdMS = strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	var hist *stanza.Element
	if join != nil {
		hist = join.Child(NS, "history")
	}
	r.sendHistory(o, hist)
	r.sendSubject(o)
}

// passwordMatches compares hashes in constant time (threats §1.2).
func (r *room) passwordMatches(given string) bool {
	a := sha256.Sum256([]byte(r.conf.password))
	b := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// update stores a presence change and broadcasts it, coalescing bursts
// beyond the occupant's presence budget into one later broadcast.
func (r *room) update(o *occupant, el *stanza.Element) {
	o.payload = presencePayload(el)
	if o.presences != nil && !o.presences.Allow() {
		o.dirty = true
		if o.timer == nil {
			d := o.presences.Reserve().Delay()
			o.timer = time.AfterFunc(d, func() { r.enqueue(event{flush: o}, 0) })
		}
		return
	}
	o.dirty = false
	r.broadcastPresence(o, false, extra{id: el.Get("id")}, nil, nil)
}

// flushPresence broadcasts a coalesced presence.
func (r *room) flushPresence(o *occupant) {
	if o.gone {
		return
	}
	o.timer = nil
	if o.dirty {
		o.dirty = false
		r.broadcastPresence(o, false, extra{}, nil, nil)
	}
}

// changeNick moves o to a new nickname (XEP-0045 §7.6, status 303).
func (r *room) changeNick(o *occupant, el *stanza.Element, nick string) {
	s := r.svc
	if !s.cfg.NickChange {
		r.fail(el, stanza.ErrNotAcceptable.WithText("nickname changes are not allowed"))
		return
	}
	if err := s.validNick(nick); err != nil {
		r.fail(el, err)
		return
	}
	if s.reserved(nick) && !o.focus {
		r.fail(el, errFocusNick)
		return
	}
	if r.occupants[nick] != nil {
		r.fail(el, stanza.ErrConflict)
		return
	}
	if o.presences != nil && !o.presences.Allow() {
		r.fail(el, errPresenceRate)
		return
	}
	r.broadcastPresence(o, true, extra{codes: []string{"303"}, newNick: nick}, nil, nil)
	delete(r.occupants, o.nick)
	o.nick = nick
	r.occupants[nick] = o
	o.payload = presencePayload(el)
	o.dirty = false
	r.broadcastPresence(o, false, extra{id: el.Get("id")}, nil, nil)
}

// sendHistory sends o the recent groupchat messages its join asked for
// (XEP-0045 §7.2.14): all of maxstanzas, maxchars, seconds and since apply.
func (r *room) sendHistory(o *occupant, h *stanza.Element) {
	maxStanzas, maxChars := len(r.history), -1
	var since time.Time
	if h != nil {
		if v, err := strconv.Atoi(h.Get("maxstanzas")); err == nil && v >= 0 && v < maxStanzas {
			maxStanzas = v
		}
		if v, err := strconv.Atoi(h.Get("maxchars")); err == nil && v >= 0 {
			maxChars = v
		}
		if v, err := strconv.Atoi(h.Get("seconds")); err == nil && v >= 0 {
			since = time.Now().Add(-time.Duration(v) * time.Second)
		}
		if t, err := time.Parse(time.RFC3339Nano, h.Get("since")); err == nil && t.After(since) {
			since = t
		}
	}
	start, chars := len(r.history), 0
	for i := len(r.history) - 1; i >= 0 && len(r.history)-i <= maxStanzas; i-- {
		e := r.history[i]
		if !since.IsZero() && e.at.Before(since) {
			break
		}
		if maxChars >= 0 && chars+e.chars > maxChars {
			break
		}
		chars += e.chars
		start = i
	}
	for _, e := range r.history[start:] {
		c := e.el.ShallowCopy()
		c.Set("to", o.real.String())
		r.send(c)
	}
}

// sendSubject ends a join with the subject (empty if never set).
func (r *room) sendSubject(o *occupant) {
	var m *stanza.Element
	if r.subject != nil {
		m = r.subject.ShallowCopy()
	} else {
		m = stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", r.jid.String())
		m.Add(stanza.New(stanza.NSClient, "subject"))
	}
	m.Set("to", o.real.String())
	r.send(m)
}
