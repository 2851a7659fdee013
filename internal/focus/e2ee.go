package focus

import (
	"sort"
	"strings"

	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// End-to-end encryption (docs/e2ee.md). The focus holds no key: it keeps
// whether the room is encrypted and names the key leader, the E2EE occupant
// that has been in the room longest, in its own presence
// (<e2ee enabled leader/>). A moderator turns encryption on or off with an
// IQ; the participant who opens the room may ask for it in its conference
// request (property e2ee=true). While it is on, an occupant whose presence
// carries no e2ee key gets no Jingle session, only a message saying why.
//
//	moderator → focus     <iq set><e2ee room=R enabled=true/></iq>   (not-acceptable if someone cannot)
//	focus     → R         presence <e2ee enabled=true leader=NICK/>
//	occupant without key joins → message <e2ee-unsupported/>, no session-initiate

// e2eeState is a conference's encryption state, owned by its goroutine.
type e2eeState struct {
	enabled bool
	leader  string            // nick of the key leader; "" when off or nobody can encrypt
	keys    map[string][]byte // occupant nick → public key from its presence; nil entry: cannot
	since   map[string]uint64 // occupant nick → join order
	seq     uint64            // the next join order
	held    map[string]bool   // occupants refused a session while encryption is on
}

// Text of the focus's message to an occupant that cannot encrypt.
const unsupportedText = "This meeting is end-to-end encrypted and your client cannot encrypt; you cannot join it."

// e2eeElement is the state as the focus's presence carries it.
func (c *conference) e2eeElement() *stanza.Element {
	return e2eexml.StateElement(e2eexml.State{Enabled: c.e2ee.enabled, Leader: c.e2ee.leader})
}

// e2eeConferenceProperty turns encryption on for the participant who opens
// the room: its conference request asks for it and nobody else is there.
func (c *conference) e2eeConferenceProperty(iq *stanza.Element) {
	req := iq.Child(NSFocus, "conference")
	if req == nil || len(c.parts) > 0 || c.e2ee.enabled {
		return
	}
	for _, p := range req.Children {
		if p.Is(NSFocus, "property") && p.Get("name") == "e2ee" && p.Get("value") == "true" {
			c.setE2EE(true)
			return
		}
	}
}

// e2eeOccupant notes an occupant's key (or that it has none) from its
// presence, and its join order the first time.
func (c *conference) e2eeOccupant(nick string, p *stanza.Element) {
	s := &c.e2ee
	if s.keys == nil {
		s.keys, s.since, s.held = map[string][]byte{}, map[string]uint64{}, map[string]bool{}
	}
	pub, _ := e2eexml.ParseKey(p)
	s.keys[nick] = pub
	if _, ok := s.since[nick]; !ok {
		s.since[nick] = s.seq
		s.seq++
	}
	c.updateLeader()
}

// e2eeGone forgets an occupant that left, and names a new leader if it led.
func (c *conference) e2eeGone(nick string) {
	delete(c.e2ee.keys, nick)
	delete(c.e2ee.since, nick)
	delete(c.e2ee.held, nick)
	c.updateLeader()
}

// e2eeHolds reports whether a new participant must get no session: the
// room is encrypted and it cannot encrypt. It is told so.
func (c *conference) e2eeHolds(p *participant) bool {
	if !c.e2ee.enabled || c.e2ee.keys[p.nick] != nil {
		return false
	}
	c.e2ee.held[p.nick] = true
	msg := stanza.New(stanza.NSClient, stanza.Message, "type", "chat", "to", p.occupant.String())
	msg.Add(stanza.New(stanza.NSClient, "body").SetText(unsupportedText))
	msg.Add(e2eexml.Unsupported())
	c.send(msg)
	c.f.log.Debug("no session for an occupant that cannot encrypt", "room", c.room.String(), "endpoint", p.nick)
	return true
}

// e2eeFeatures is what the offer may use of a participant's features: no
// RED in an encrypted room (each Opus frame is a whole SFrame ciphertext).
func (c *conference) e2eeFeatures(features map[string]bool) map[string]bool {
	if !c.e2ee.enabled || !features[featureRED] {
		return features
	}
	out := make(map[string]bool, len(features))
	for k, v := range features {
		out[k] = v
	}
	delete(out, featureRED)
	return out
}

// updateLeader names the capable occupant that has been here longest and
// tells the room when the name changes.
func (c *conference) updateLeader() { c.electLeader(false) }

// electLeader names the leader and sends the focus's presence when the
// name changed, or always when announce is set (the state changed).
func (c *conference) electLeader(announce bool) {
	leader := ""
	if c.e2ee.enabled {
		var best uint64
		for nick, pub := range c.e2ee.keys {
			if pub == nil {
				continue
			}
			if o := c.e2ee.since[nick]; leader == "" || o < best {
				leader, best = nick, o
			}
		}
	}
	if leader != c.e2ee.leader || announce {
		c.e2ee.leader = leader
		c.sendPresence()
	}
}

// setE2EE turns encryption on or off and tells the room. Turning it off
// lets the occupants that were refused a session have one.
func (c *conference) setE2EE(on bool) {
	if c.e2ee.enabled == on {
		return
	}
	c.e2ee.enabled = on
	c.electLeader(true)
	if on {
		return
	}
	for nick := range c.e2ee.held {
		delete(c.e2ee.held, nick)
		if p := c.parts[nick]; p != nil {
			p.invite() // held ones were never invited
		}
	}
}

// cannotEncrypt lists, sorted, the occupants whose presence has no key.
func (c *conference) cannotEncrypt() []string {
	var out []string
	for nick := range c.parts {
		if c.e2ee.keys[nick] == nil {
			out = append(out, nick)
		}
	}
	sort.Strings(out)
	return out
}

// onE2EEToggle applies a moderator's request from the occupant asker.
func (c *conference) onE2EEToggle(t e2eexml.Toggle, asker *participant) error {
	if asker == nil {
		return stanza.ErrForbidden.WithText("only a moderator of the room may turn end-to-end encryption on or off")
	}
	if asker.role != "moderator" {
		return stanza.ErrForbidden.WithText("only moderators may turn end-to-end encryption on or off")
	}
	if t.Enabled {
		if who := c.cannotEncrypt(); len(who) > 0 {
			return stanza.ErrNotAcceptable.WithText("cannot encrypt: %s", strings.Join(who, ", "))
		}
	}
	c.setE2EE(t.Enabled)
	return nil
}

// e2eeToggle returns the e2ee element of a moderator's IQ set, or nil.
func e2eeToggle(iq *stanza.Element) *stanza.Element {
	if iq.Name.Local != stanza.IQ || iq.Get("type") != "set" {
		return nil
	}
	return iq.Child(e2eexml.NS, "e2ee")
}

// routeE2EEToggle handles a moderator's IQ sent to the focus's service or
// user JID (not through the room): the asker is found by its real JID.
func (f *Focus) routeE2EEToggle(iq *stanza.Element) {
	reply := func(err error) {
		var r *stanza.Element
		if err != nil {
			r = stanza.ErrorReply(iq, stanza.AsError(err))
		} else {
			r = stanza.Result(iq, nil)
		}
		f.router.Route(r)
	}
	t, err := e2eexml.ParseToggle(e2eeToggle(iq))
	if err != nil {
		reply(stanza.ErrBadRequest.WithText("%v", err))
		return
	}
	room, err := jid.Parse(t.Room)
	if err != nil || room.Local == "" || room.Resource != "" {
		reply(stanza.ErrBadRequest.WithText("room %q is not a room JID", t.Room))
		return
	}
	c := f.conference(room)
	if c == nil {
		reply(stanza.ErrItemNotFound.WithText("no conference in %s", room))
		return
	}
	from := iq.Get("from")
	c.post(func() {
		var asker *participant
		for _, p := range c.parts {
			if p.real != "" && p.real == from {
				asker = p
			}
		}
		reply(c.onE2EEToggle(t, asker))
	})
}

// onRoomE2EEToggle handles the same IQ sent through the room (to R/focus).
func (c *conference) onRoomE2EEToggle(iq *stanza.Element, from jid.JID) error {
	t, err := e2eexml.ParseToggle(e2eeToggle(iq))
	if err != nil {
		return stanza.ErrBadRequest.WithText("%v", err)
	}
	if t.Room != c.room.String() {
		return stanza.ErrBadRequest.WithText("room %q is not this room", t.Room)
	}
	var asker *participant
	if from.Bare() == c.room {
		asker = c.parts[from.Resource]
	}
	return c.onE2EEToggle(t, asker)
}
