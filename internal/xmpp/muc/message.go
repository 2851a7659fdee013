package muc

import (
	"encoding/xml"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

var (
	errNotOccupant = stanza.ErrNotAcceptable.WithText("only occupants may do that")
	errMessageRate = &stanza.Error{Type: stanza.Wait, Condition: "policy-violation", Text: "too many messages; slow down"}
)

// maxInvites bounds the invitations in one message and the invitations a
// room remembers for declines.
const maxInvites = 10
const maxPendingInvites = 256

func (o *occupant) mayMessage() bool { return o.messages == nil || o.messages.Allow() }

// NSE2EE is Parley's end-to-end encryption namespace (docs/e2ee.md).
const NSE2EE = "urn:parley:e2ee:0"

// mayPrivate takes a private message from o's budget: a message that carries
// nothing but end-to-end encryption keys from the key budget, any other from
// the message budget. (A key leader seals each epoch to every member at once;
// groupchat, which fans out, always takes the message budget.)
func (o *occupant) mayPrivate(el *stanza.Element) bool {
	if keysOnly(el) {
		return o.keys == nil || o.keys.Allow()
	}
	return o.mayMessage()
}

// keysOnly reports whether el's payload is end-to-end encryption elements
// and nothing else (no body, no other extension).
func keysOnly(el *stanza.Element) bool {
	keys := false
	for _, c := range el.Children {
		if c.Name.Space != NSE2EE {
			return false
		}
		keys = true
	}
	return keys
}

// onRoomMessage handles a message to the room's bare JID.
func (r *room) onRoomMessage(el *stanza.Element, from jid.JID) {
	o := r.byJID[from]
	switch stanza.Type(el) {
	case "groupchat":
		r.groupchat(o, el)
	case "error":
	default:
		if x := el.Child(NSUser, "x"); x != nil {
			if d := x.Child(NSUser, "decline"); d != nil {
				r.decline(from, d)
				return
			}
			if x.Child(NSUser, "invite") != nil {
				r.invite(o, el, x)
				return
			}
		}
		r.fail(el, stanza.ErrBadRequest.WithText("send groupchat to the room, or address an occupant"))
	}
}

// groupchat echoes a message to every occupant, the sender included, with
// a stanza-id the room assigns (XEP-0359); it may set the subject.
func (r *room) groupchat(o *occupant, el *stanza.Element) {
	if o == nil {
		r.fail(el, errNotOccupant)
		return
	}
	if o.role == Visitor {
		r.fail(el, stanza.ErrForbidden.WithText("visitors may not speak in a moderated room"))
		return
	}
	body := el.Child(stanza.NSClient, "body")
	subject := el.Child(stanza.NSClient, "subject")
	isSubject := subject != nil && body == nil
	if isSubject && o.role != Moderator && !(r.conf.changeSubject && o.role == Participant) {
		r.fail(el, stanza.ErrForbidden.WithText("only moderators may change the subject"))
		return
	}
	if !o.mayMessage() {
		r.fail(el, errMessageRate)
		return
	}
	out := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", r.occupantJID(o.nick))
	out.Set("id", el.Get("id"))
	if lang := el.Lang(); lang != "" {
		out.Attr = append(out.Attr, langAttr(lang))
	}
	room := r.jid.String()
	out.Children = make([]*stanza.Element, 0, len(el.Children)+1)
	for _, c := range el.Children {
		if c.Is(NSSID, "stanza-id") && c.Get("by") == room {
			continue // only the room may claim ids by the room
		}
		out.Children = append(out.Children, c)
	}
	out.Add(stanza.New(NSSID, "stanza-id", "id", uuid.NewString(), "by", room))
	switch {
	case isSubject:
		r.subject = out
	case body != nil && r.svc.cfg.HistoryLength > 0 && el.Child(NSHints, "no-store") == nil:
		r.remember(out)
	}
	for _, p := range r.list {
		c := out.ShallowCopy()
		c.Set("to", p.real.String())
		r.send(c)
	}
}

// remember keeps out for the history of later joiners, with a delay stamp.
func (r *room) remember(out *stanza.Element) {
	now := time.Now()
	h := out.ShallowCopy()
	h.Children = append(slices.Clip(out.Children), stanza.New(NSDelay, "delay",
		"from", r.jid.String(), "stamp", now.UTC().Format("2006-01-02T15:04:05.000Z")))
	if n := r.svc.cfg.HistoryLength; len(r.history) >= n {
		r.history = slices.Delete(r.history, 0, len(r.history)-n+1)
	}
	r.history = append(r.history, histEntry{el: h, at: now, chars: len(h.String())})
}

// onPrivate relays a message to one occupant (XEP-0045 §7.5).
func (r *room) onPrivate(el *stanza.Element, from jid.JID, nick string) {
	o := r.byJID[from]
	t := r.occupants[nick]
	typ := stanza.Type(el)
	if typ == "error" {
		if o != nil && t != nil {
			r.relay(el, o, t)
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
	case !o.mayPrivate(el):
		r.fail(el, errMessageRate)
	default:
		r.relay(el, o, t)
	}
}

// relay sends el from o's occupant JID to t's real JID, marked as coming
// through the room.
func (r *room) relay(el *stanza.Element, o, t *occupant) {
	c := el.ShallowCopy()
	c.Set("from", r.occupantJID(o.nick))
	c.Set("to", t.real.String())
	if el.Name.Local == stanza.Message {
		c.Children = make([]*stanza.Element, 0, len(el.Children)+1)
		for _, ch := range el.Children {
			if !ch.Is(NSUser, "x") {
				c.Children = append(c.Children, ch)
			}
		}
		c.Add(stanza.New(NSUser, "x"))
	}
	r.send(c)
}

// onOccupantIQ relays an IQ between occupants (the focus's Jingle travels
// this way) and answers XEP-0410 self-pings.
func (r *room) onOccupantIQ(el *stanza.Element, from jid.JID, nick string) {
	typ := el.Get("type")
	request := typ == "get" || typ == "set"
	o := r.byJID[from]
	t := r.occupants[nick]
	switch {
	case o == nil:
		if request {
			r.fail(el, errNotOccupant)
		}
	case t == nil:
		if request {
			r.fail(el, stanza.ErrItemNotFound)
		}
	case request && t == o && len(el.Children) == 1 && el.Children[0].Is(NSPing, "ping"):
		r.send(stanza.Result(el, nil))
	default:
		r.relay(el, o, t)
	}
}

// inviterJID is how an inviter is named to the invitee.
func (r *room) inviterJID(o *occupant) string {
	if r.conf.whoisAnyone {
		return o.real.String()
	}
	return r.occupantJID(o.nick)
}

// invite sends mediated invitations (XEP-0045 §7.8.2), with the password
// when the room has one. In a members-only room an invitation by someone
// allowed to invite makes the invitee a member (how Jitsi's lobby admits).
func (r *room) invite(o *occupant, el, x *stanza.Element) {
	if o == nil && r.conf.membersOnly {
		r.fail(el, stanza.ErrForbidden.WithText("only occupants may invite to this room"))
		return
	}
	if o == nil {
		r.fail(el, errNotOccupant)
		return
	}
	may := o.role == Moderator || affRank(r.affiliation(o.real)) >= affRank(Admin) || r.conf.allowInvites
	if r.conf.membersOnly && !may {
		r.fail(el, stanza.ErrForbidden.WithText("only moderators may invite to this room"))
		return
	}
	if !o.mayMessage() {
		r.fail(el, errMessageRate)
		return
	}
	var targets []jid.JID
	for _, inv := range x.Children {
		if !inv.Is(NSUser, "invite") {
			continue
		}
		to, err := jid.Parse(inv.Get("to"))
		if err != nil {
			r.fail(el, stanza.ErrJIDMalformed)
			return
		}
		targets = append(targets, to)
		if len(targets) > maxInvites {
			r.fail(el, stanza.ErrPolicyViolation.WithText("at most %d invitations at once", maxInvites))
			return
		}
	}
	i := 0
	for _, inv := range x.Children {
		if !inv.Is(NSUser, "invite") {
			continue
		}
		to := targets[i]
		i++
		m := stanza.New(stanza.NSClient, stanza.Message, "from", r.jid.String(), "to", to.String())
		m.Set("id", el.Get("id"))
		iv := stanza.New(NSUser, "invite", "from", r.inviterJID(o))
		if reason := inv.ChildText(NSUser, "reason"); reason != "" {
			iv.Add(stanza.New(NSUser, "reason").SetText(reason))
		}
		ux := stanza.New(NSUser, "x").Add(iv)
		if r.conf.password != "" && r.lob == nil { // admitted knockers need no password
			ux.Add(stanza.New(NSUser, "password").SetText(r.conf.password))
		}
		m.Add(ux, stanza.New(stanza.NSClient, "body").SetText(o.nick+" invites you to the room "+r.jid.String()))
		if r.conf.membersOnly && may && r.affiliation(to) == None {
			r.affiliations[to.Bare()] = Member
		}
		if len(r.invites) >= maxPendingInvites {
			for k := range r.invites {
				delete(r.invites, k)
				break
			}
		}
		r.invites[to.Bare()] = o.real
		r.send(m)
		if may {
			r.lobbyGranted(o, to)
		}
	}
}

// decline tells the inviter that an invitation was declined. Only a pending
// invitation can be declined, so the room relays nothing to strangers.
func (r *room) decline(from jid.JID, d *stanza.Element) {
	inviter, ok := r.invites[from.Bare()]
	if !ok {
		return
	}
	delete(r.invites, from.Bare())
	dx := stanza.New(NSUser, "decline", "from", from.Bare().String())
	if reason := d.ChildText(NSUser, "reason"); reason != "" {
		dx.Add(stanza.New(NSUser, "reason").SetText(reason))
	}
	m := stanza.New(stanza.NSClient, stanza.Message, "from", r.jid.String(), "to", inviter.String())
	r.send(m.Add(stanza.New(NSUser, "x").Add(dx)))
}

func langAttr(lang string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: stanza.NSXML, Local: "lang"}, Value: lang}
}
