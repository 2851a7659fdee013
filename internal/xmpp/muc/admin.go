package muc

import (
	"slices"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// maxAdminItems bounds the items of one muc#admin request.
const maxAdminItems = 32

// onRoomIQ answers IQs to the room's bare JID.
func (r *room) onRoomIQ(el *stanza.Element, from jid.JID) {
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
	case typ == "get" && p.Is(stanza.NSDiscoInf, "query"):
		res, err = r.discoInfo(p)
	case typ == "get" && p.Is(stanza.NSDiscoIt, "query"):
		res, err = r.discoItems(from, p)
	case p.Is(NSAdmin, "query"):
		res, err = r.admin(typ, p, from)
	case p.Is(NSOwner, "query"):
		res, err = r.owner(typ, p, from)
	case typ == "get" && p.Is(NSPing, "ping"):
		if r.byJID[from] == nil {
			err = errNotOccupant
		}
	default:
		err = stanza.ErrServiceUnavailable
	}
	if err != nil {
		r.fail(el, err)
		return
	}
	r.send(stanza.Result(el, res))
}

// admin handles muc#admin (XEP-0045 §8, §9): role and affiliation changes
// and lists.
func (r *room) admin(typ string, q *stanza.Element, from jid.JID) (*stanza.Element, *stanza.Error) {
	actor := r.byJID[from]
	actorAff := r.affiliation(from)
	var items []*stanza.Element
	for _, c := range q.Children {
		if c.Is(NSAdmin, "item") {
			items = append(items, c)
		}
	}
	if len(items) == 0 || len(items) > maxAdminItems {
		return nil, stanza.ErrBadRequest
	}
	if typ == "get" {
		return r.adminList(items[0], actor, actorAff)
	}
	for _, it := range items {
		var err *stanza.Error
		switch {
		case it.Has("role") && it.Has("nick"):
			err = r.changeRole(actor, actorAff, it)
		case it.Has("affiliation") && it.Has("jid"):
			err = r.changeAffiliation(actor, actorAff, from, it)
		default:
			err = stanza.ErrBadRequest
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// adminList answers a request for the occupants with a role (moderators
// ask) or the JIDs with an affiliation (admins and owners ask).
func (r *room) adminList(it *stanza.Element, actor *occupant, actorAff string) (*stanza.Element, *stanza.Error) {
	res := stanza.New(NSAdmin, "query")
	switch {
	case it.Has("role"):
		if actor == nil || actor.role != Moderator {
			return nil, stanza.ErrForbidden
		}
		for _, o := range r.list {
			if o.role == it.Get("role") {
				res.Add(stanza.New(NSAdmin, "item", "nick", o.nick, "role", o.role,
					"affiliation", r.affiliation(o.real), "jid", o.real.String()))
			}
		}
	case it.Has("affiliation"):
		if affRank(actorAff) < affRank(Admin) {
			return nil, stanza.ErrForbidden
		}
		want := it.Get("affiliation")
		var jids []string
		for j, a := range r.affiliations {
			if a == want {
				jids = append(jids, j.String())
			}
		}
		slices.Sort(jids)
		for _, j := range jids {
			res.Add(stanza.New(NSAdmin, "item", "affiliation", want, "jid", j))
		}
	default:
		return nil, stanza.ErrBadRequest
	}
	return res, nil
}

// changeRole kicks (role none), grants or revokes moderator and voice.
func (r *room) changeRole(actor *occupant, actorAff string, it *stanza.Element) *stanza.Error {
	if actor == nil || actor.role != Moderator {
		return stanza.ErrForbidden
	}
	role := it.Get("role")
	switch role {
	case None, Visitor, Participant, Moderator:
	default:
		return stanza.ErrBadRequest.WithText("unknown role")
	}
	t := r.occupants[it.Get("nick")]
	if t == nil {
		return stanza.ErrItemNotFound
	}
	tAff := r.affiliation(t.real)
	switch {
	case t.focus:
		return stanza.ErrNotAllowed.WithText("the focus stays")
	case affRank(actorAff) < affRank(tAff):
		return stanza.ErrNotAllowed
	case role != Moderator && affRank(tAff) >= affRank(Admin):
		// An admin or owner is always a moderator (XEP-0045 §8.2, §8.6).
		return stanza.ErrNotAllowed
	}
	reason := it.ChildText(NSAdmin, "reason")
	if role == None {
		r.leave(t, extra{codes: []string{"307"}, actor: actor.nick, reason: reason})
		return nil
	}
	if t.role != role {
		t.role = role
		r.broadcastPresence(t, false, extra{actor: actor.nick, reason: reason}, nil, nil)
		r.watchRole(t)
	}
	return nil
}

// changeAffiliation grants or revokes owner, admin and member, or bans.
func (r *room) changeAffiliation(actor *occupant, actorAff string, from jid.JID, it *stanza.Element) *stanza.Error {
	aff := it.Get("affiliation")
	switch aff {
	case Owner, Admin, Member, None, Outcast:
	default:
		return stanza.ErrBadRequest.WithText("unknown affiliation")
	}
	target, err := jid.Parse(it.Get("jid"))
	if err != nil {
		return stanza.ErrJIDMalformed
	}
	target = target.Bare()
	cur := r.affiliation(target)
	switch {
	case affRank(actorAff) < affRank(Admin):
		return stanza.ErrForbidden
	case r.svc.isFocus(target) || r.focusBare(target):
		return stanza.ErrNotAllowed.WithText("the focus stays")
	case actorAff == Admin && (affRank(cur) >= affRank(Admin) || affRank(aff) >= affRank(Admin)):
		return stanza.ErrNotAllowed
	case target == from.Bare() && cur == Owner && aff != Owner && r.owners() == 1:
		return stanza.ErrConflict.WithText("a room keeps at least one owner")
	}
	nick := ""
	if actor != nil {
		nick = actor.nick
	}
	r.setAffiliation(target, aff, nick, it.ChildText(NSAdmin, "reason"))
	return nil
}

// focusBare reports whether bare belongs to an occupant that is the focus.
func (r *room) focusBare(bare jid.JID) bool {
	for _, o := range r.list {
		if o.focus && o.real.Bare() == bare {
			return true
		}
	}
	return false
}

func (r *room) owners() int {
	n := 0
	for _, a := range r.affiliations {
		if a == Owner {
			n++
		}
	}
	return n
}

// setAffiliation records aff for bare and updates its occupants: banned
// ones are removed (301), non-members of a members-only room too (321),
// the others get their new role broadcast.
func (r *room) setAffiliation(bare jid.JID, aff, actor, reason string) {
	if aff == None {
		delete(r.affiliations, bare)
	} else {
		r.affiliations[bare] = aff
	}
	for _, o := range slices.Clone(r.list) {
		if o.real.Bare() != bare {
			continue
		}
		x := extra{actor: actor, reason: reason}
		switch {
		case aff == Outcast:
			x.codes = []string{"301"}
			r.leave(o, x)
		case aff == None && r.conf.membersOnly:
			x.codes = []string{"321"}
			r.leave(o, x)
		default:
			if role := r.defaultRole(aff); role == Moderator || o.role == Moderator || role == Participant && o.role == Visitor {
				o.role = role
			}
			r.broadcastPresence(o, false, x, nil, nil)
			r.watchRole(o)
		}
	}
}

// owner handles muc#owner (XEP-0045 §10): the configuration form and destroy.
func (r *room) owner(typ string, q *stanza.Element, from jid.JID) (*stanza.Element, *stanza.Error) {
	if r.affiliation(from) != Owner {
		return nil, stanza.ErrForbidden
	}
	if typ == "get" {
		return stanza.New(NSOwner, "query").Add(r.configForm()), nil
	}
	if d := q.Child(NSOwner, "destroy"); d != nil {
		var alt *jid.JID
		if a, err := jid.Parse(d.Get("jid")); err == nil {
			alt = &a
		}
		r.destroy(alt, d.ChildText(NSOwner, "reason"))
		return nil, nil
	}
	x := q.Child(NSData, "x")
	if x == nil {
		return nil, stanza.ErrBadRequest
	}
	switch x.Get("type") {
	case "cancel":
		return nil, nil
	case "submit":
	default:
		return nil, stanza.ErrBadRequest
	}
	if err := r.applyConfig(x); err != nil {
		return nil, err
	}
	r.lobbyAfterConfig(from)
	return nil, nil
}
