package muc

import (
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Affiliations and roles (XEP-0045 §5).
const (
	Owner   = "owner"
	Admin   = "admin"
	Member  = "member"
	None    = "none"
	Outcast = "outcast"

	Moderator   = "moderator"
	Participant = "participant"
	Visitor     = "visitor"
)

// affRank orders affiliations; a role or affiliation change needs an actor
// ranked at least as high as its target.
func affRank(a string) int {
	switch a {
	case Owner:
		return 3
	case Admin:
		return 2
	case Member:
		return 1
	case Outcast:
		return -1
	}
	return 0
}

// occupant is one real full JID present in the room under a nick.
type occupant struct {
	nick    string
	real    jid.JID
	role    string
	focus   bool
	payload []*stanza.Element // presence children broadcast verbatim
	// identity is <identity> from the occupant's token (identity.go), added
	// to its available presences; nil without a token.
	identity *stanza.Element

	presences *rate.Limiter // nil = unlimited
	messages  *rate.Limiter
	keys      *rate.Limiter // private key-exchange messages (Config.KeyMessagesPerSecond)
	timer     *time.Timer   // a coalesced presence is scheduled
	dirty     bool          // payload changed since the last broadcast
	gone      bool
}

func (r *room) newOccupant(nick string, real jid.JID, focus bool) *occupant {
	o := &occupant{nick: nick, real: real, focus: focus}
	cfg := r.svc.cfg
	if !focus && cfg.PresencesPerSecond > 0 {
		o.presences = rate.NewLimiter(rate.Limit(cfg.PresencesPerSecond), cfg.PresenceBurst)
	}
	if !focus && cfg.MessagesPerSecond > 0 {
		o.messages = rate.NewLimiter(rate.Limit(cfg.MessagesPerSecond), cfg.MessageBurst)
	}
	if !focus && cfg.KeyMessagesPerSecond > 0 {
		o.keys = rate.NewLimiter(rate.Limit(cfg.KeyMessagesPerSecond), cfg.KeyMessageBurst)
	}
	return o
}

// affiliation of a real JID (full or bare).
func (r *room) affiliation(real jid.JID) string {
	if a, ok := r.affiliations[real.Bare()]; ok {
		return a
	}
	return None
}

// defaultRole is the role an affiliation gives on entry (XEP-0045 §5.1.2).
func (r *room) defaultRole(aff string) string {
	switch aff {
	case Owner, Admin:
		return Moderator
	case Member:
		return Participant
	}
	if r.conf.moderated {
		return Visitor
	}
	return Participant
}

// presencePayload keeps what a client put in its presence, except the MUC
// elements the room writes itself (a client cannot forge its own item).
func presencePayload(el *stanza.Element) []*stanza.Element {
	out := make([]*stanza.Element, 0, len(el.Children))
	for _, c := range el.Children {
		if c.Name.Local == "identity" {
			continue // only the server vouches for an identity (identity.go)
		}
		switch c.Name.Space {
		case NS, NSUser:
			continue
		case stanza.NSClient:
			if c.Name.Local == "error" {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// extra is what an occupant presence carries besides the item.
type extra struct {
	codes   []string
	actor   string // nick of the moderator who acted
	reason  string
	newNick string          // 303
	destroy *stanza.Element // room destroyed
	status  *stanza.Element // leave status text
	id      string          // the id of the presence that caused this, reflected to its sender
}

// presenceFor builds o's presence as a recipient sees it; showJID says
// whether the recipient may see real JIDs. to is left unset.
func (r *room) presenceFor(o *occupant, unavailable, showJID bool, x extra) *stanza.Element {
	p := stanza.New(stanza.NSClient, stanza.Presence, "from", r.occupantJID(o.nick))
	role := o.role
	if unavailable {
		p.Set("type", "unavailable")
		if x.newNick == "" {
			role = None // 303: the occupant stays, under another nick
		}
		if x.status != nil {
			p.Add(x.status)
		}
	} else {
		p.Children = append(p.Children, o.payload...)
		if o.identity != nil {
			p.Add(o.identity)
		}
	}
	ux := stanza.New(NSUser, "x")
	item := stanza.New(NSUser, "item", "affiliation", r.affiliation(o.real), "role", role)
	if showJID {
		item.Set("jid", o.real.String())
	}
	item.Set("nick", x.newNick)
	if x.actor != "" {
		item.Add(stanza.New(NSUser, "actor", "nick", x.actor))
	}
	if x.reason != "" {
		item.Add(stanza.New(NSUser, "reason").SetText(x.reason))
	}
	ux.Add(item)
	if x.destroy != nil {
		ux.Add(x.destroy)
	}
	for _, c := range x.codes {
		ux.Add(stanza.New(NSUser, "status", "code", c))
	}
	return p.Add(ux)
}

// canSeeJIDs reports whether recipient sees real JIDs in presence.
func (r *room) canSeeJIDs(recipient *occupant) bool {
	return r.conf.whoisAnyone || recipient.role == Moderator
}

// broadcastPresence sends o's presence to every occupant; o itself gets
// 110 and selfCodes in addition to x.codes. Recipients listed in skip get
// nothing.
func (r *room) broadcastPresence(o *occupant, unavailable bool, x extra, selfCodes []string, skip *occupant) {
	var shown, hidden *stanza.Element
	for _, p := range r.list {
		if p == skip {
			continue
		}
		if p == o {
			continue
		}
		var base *stanza.Element
		if r.canSeeJIDs(p) {
			if shown == nil {
				shown = r.presenceFor(o, unavailable, true, x)
			}
			base = shown
		} else {
			if hidden == nil {
				hidden = r.presenceFor(o, unavailable, false, x)
			}
			base = hidden
		}
		c := base.ShallowCopy()
		c.Set("to", p.real.String())
		r.send(c)
	}
	if o != skip {
		sx := x
		sx.codes = append(append([]string{"110"}, selfCodes...), x.codes...)
		self := r.presenceFor(o, unavailable, true, sx)
		self.Set("to", o.real.String())
		self.Set("id", x.id)
		r.send(self)
	}
}

// add puts o into the room's maps.
func (r *room) add(o *occupant) {
	r.occupants[o.nick] = o
	r.byJID[o.real] = o
	r.list = append(r.list, o)
	r.svc.mod.track(o.real, r.jid.Local)
	if !o.focus {
		r.real++
	}
	r.summary()
}

// remove takes o out of the room's maps and the service's count.
func (r *room) remove(o *occupant) {
	o.gone = true
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	delete(r.occupants, o.nick)
	delete(r.byJID, o.real)
	if i := slices.Index(r.list, o); i >= 0 {
		r.list = slices.Delete(r.list, i, i+1)
	}
	if !o.focus {
		r.real--
	}
	r.svc.left(o.real)
	r.svc.mod.untrack(o.real, r.jid.Local)
	r.summary()
	r.watchLeft(o)
}

// leave removes o and tells everyone, o included, with x; then, if only the
// focus (or nobody) is left, the room is destroyed.
func (r *room) leave(o *occupant, x extra) {
	r.remove(o)
	r.broadcastPresence(o, true, x, nil, nil) // o is out of the list but still told
	r.afterLeave(o)
}

// afterLeave destroys a room left to its focus and hands on ownership.
func (r *room) afterLeave(gone *occupant) {
	if r.real == 0 {
		if len(r.list) > 0 {
			r.destroy(nil, "")
		}
		r.reset()
		return
	}
	cfg := r.svc.cfg
	if gone.focus || !cfg.AutoOwner || cfg.RestrictCreation || r.affiliation(gone.real) != Owner {
		return
	}
	var next *occupant
	for _, p := range r.list {
		if p.focus {
			continue
		}
		if r.affiliation(p.real) == Owner {
			return
		}
		if next == nil {
			next = p
		}
	}
	if next != nil {
		r.setAffiliation(next.real.Bare(), Owner, "", "")
	}
}

// destroy removes every occupant with the destroy notice (XEP-0045 §10.9)
// and forgets the room.
func (r *room) destroy(alt *jid.JID, reason string) {
	d := stanza.New(NSUser, "destroy")
	if alt != nil {
		d.Set("jid", alt.String())
	}
	if reason != "" {
		d.Add(stanza.New(NSUser, "reason").SetText(reason))
	}
	for _, o := range slices.Clone(r.list) {
		r.remove(o)
		p := r.presenceFor(o, true, true, extra{destroy: d})
		p.Set("to", o.real.String())
		r.send(p)
	}
	r.reset()
}
