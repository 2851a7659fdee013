// Package avmoderation is the AV moderation component at
// avmoderation.<domain> (jitsi-dialect.md §4.8; Jitsi's
// mod_av_moderation_component). With it a moderator switches a room into
// "ask to speak" mode per media type: while moderation is on for audio,
// video or desktop, participants who are not moderators may not unmute that
// medium until a moderator approves them.
//
// Moderators send the component plain messages; it answers with JSON in
// <json-message xmlns="http://jitsi.org/jitmeet"> from its own address:
//
//	<av_moderation enable="true|false" mediaType="audio"/>  → every occupant:
//	    {"type":"av_moderation","room":R,"enabled":bool,"mediaType":M,"actor":R/nick}
//	<av_moderation jidToWhitelist="R/nick" mediaType="audio"/>
//	    → moderators: {"type":"av_moderation","room":R,"mediaType":M,"whitelists":{M:[R/nick…]}}
//	    → the approved participant: {"type":"av_moderation","room":R,"mediaType":M,"approved":true}
//	    (moderation off for M: only the participant, with "from":R/nick of the moderator, as a request to unmute)
//	<av_moderation jidToBlacklist="R/nick" mediaType="audio"/>
//	    → moderators: the whitelists with "removed":true
//	    → the participant: {"type":"av_moderation","room":R,"mediaType":M,"removed":true}
//
// A newcomer is told which media are moderated; a moderator (newcomer or
// newly granted) also gets the whitelists. The room a message is about is
// the one the sender occupies (muc.Service.RoomOf). The state of a room
// goes with the room.
//
// The focus asks UnmuteAllowed before it accepts a participant's own
// unmute (jitsi-dialect.md §4.7). The bridge does not drop the media of a
// participant who unmutes anyway: a client that ignores the rule is heard.
package avmoderation

import (
	"encoding/json"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// NSJitMeet is the namespace of the json-message the component sends.
const NSJitMeet = "http://jitsi.org/jitmeet"

// Media types a room can moderate.
const (
	Audio   = "audio"
	Video   = "video"
	Desktop = "desktop"
)

// Commands one occupant may send per second (and in a burst); more are
// refused with policy-violation, so a moderator cannot make the room
// broadcast without bound.
const (
	commandsPerSecond = 5
	commandBurst      = 10
)

// Errors the component answers with.
var (
	ErrMediaType  = stanza.ErrBadRequest.WithText("mediaType must be audio, video or desktop")
	ErrCommand    = stanza.ErrBadRequest.WithText("expected one of enable, jidToWhitelist, jidToBlacklist")
	ErrEnable     = stanza.ErrBadRequest.WithText("enable must be true or false")
	ErrNoOccupant = stanza.ErrItemNotFound.WithText("no such occupant in your room")
	ErrRate       = &stanza.Error{Type: stanza.Wait, Condition: "policy-violation", Text: "too many moderation commands; slow down"}
)

// Router delivers stanzas.
type Router interface {
	Route(el *stanza.Element)
}

// Component is avmoderation.<domain>.
type Component struct {
	domain string
	svc    *muc.Service
	router Router
	log    *slog.Logger

	mu    sync.Mutex
	rooms map[jid.JID]*state // guarded by mu: bare room JID → moderation state
}

// state is one room's moderation. Rooms with no moderated medium and no
// rate limiter have none.
type state struct {
	actor     map[string]string         // medium → occupant JID of who enabled it; present = moderated
	whitelist map[string][]string       // medium → occupant JIDs approved to unmute
	limits    map[jid.JID]*rate.Limiter // real JID → commands budget
}

// New returns the component for domain and registers it as a watcher of
// svc (call before svc routes anything). Register it with the router
// under domain and advertise it on the server's disco#info as identity
// component/av_moderation named domain.
func New(domain string, svc *muc.Service, r Router, log *slog.Logger) *Component {
	if log == nil {
		log = slog.Default()
	}
	c := &Component{domain: domain, svc: svc, router: r, log: log.With("component", "avmoderation"),
		rooms: make(map[jid.JID]*state)}
	svc.Watch(c)
	return c
}

// Domain is the component's address.
func (c *Component) Domain() string { return c.domain }

// Rooms returns how many rooms hold moderation state (for tests and leaks).
func (c *Component) Rooms() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rooms)
}

// UnmuteAllowed reports whether the occupant (room@service/nick) may unmute
// medium itself: yes unless the room moderates that medium and the occupant
// is not approved. Moderators are the caller's to let through.
func (c *Component) UnmuteAllowed(room, occupant jid.JID, medium string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.rooms[room.Bare()]
	if st == nil {
		return true
	}
	if _, on := st.actor[medium]; !on {
		return true
	}
	return slices.Contains(st.whitelist[medium], occupant.String())
}

// Route implements router.Component.
func (c *Component) Route(el *stanza.Element) {
	switch el.Name.Local {
	case stanza.IQ:
		if t := el.Get("type"); t == "get" || t == "set" {
			c.fail(el, stanza.ErrServiceUnavailable)
		}
		return
	case stanza.Message:
	default:
		return
	}
	if el.Get("type") == "error" {
		return
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil || from.Resource == "" {
		return
	}
	// LJM builds <av_moderation/> under the message's jabber:client
	// namespace, so it is matched by local name.
	var cmd *stanza.Element
	for _, ch := range el.Children {
		if ch.Name.Local == "av_moderation" {
			cmd = ch
			break
		}
	}
	if cmd == nil {
		c.fail(el, stanza.ErrBadRequest.WithText("expected <av_moderation/>"))
		return
	}
	name, err := c.svc.RoomOf(from, cmd.Get("room"))
	if err == nil {
		err = c.svc.Inspect(name, func(v muc.RoomView) { c.command(v, from, el, cmd) })
	}
	if err != nil {
		c.fail(el, stanza.AsError(err))
	}
}

// command runs on the room's goroutine.
func (c *Component) command(v muc.RoomView, from jid.JID, el, cmd *stanza.Element) {
	o, ok := v.ByReal(from)
	if !ok {
		c.fail(el, muc.ErrNotInRoom)
		return
	}
	if o.Role != muc.Moderator {
		c.fail(el, muc.ErrNotModerator)
		return
	}
	if !c.allow(v.JID(), from) {
		c.fail(el, ErrRate)
		return
	}
	medium := cmd.Get("mediaType")
	switch medium {
	case Audio, Video, Desktop:
	default:
		c.fail(el, ErrMediaType)
		return
	}
	n := 0
	for _, a := range []string{"enable", "jidToWhitelist", "jidToBlacklist"} {
		if cmd.Has(a) {
			n++
		}
	}
	if n != 1 {
		c.fail(el, ErrCommand)
		return
	}
	var out []*stanza.Element
	var err *stanza.Error
	switch {
	case cmd.Has("enable"):
		out, err = c.enable(v, o, medium, cmd.Get("enable"))
	case cmd.Has("jidToWhitelist"):
		out, err = c.approve(v, o, medium, cmd.Get("jidToWhitelist"))
	default:
		out, err = c.reject(v, medium, cmd.Get("jidToBlacklist"))
	}
	if err != nil {
		c.fail(el, err)
		return
	}
	for _, m := range out {
		c.router.Route(m)
	}
}

// allow takes one command from the budget of real in room.
func (c *Component) allow(room, real jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state(room)
	l := st.limits[real]
	if l == nil {
		l = rate.NewLimiter(commandsPerSecond, commandBurst)
		st.limits[real] = l
	}
	return l.Allow()
}

// state returns room's state, creating it; c.mu is held.
func (c *Component) state(room jid.JID) *state {
	st := c.rooms[room]
	if st == nil {
		st = &state{actor: make(map[string]string), whitelist: make(map[string][]string),
			limits: make(map[jid.JID]*rate.Limiter)}
		c.rooms[room] = st
	}
	return st
}

func (c *Component) enable(v muc.RoomView, actor muc.Occupant, medium, value string) ([]*stanza.Element, *stanza.Error) {
	var on bool
	switch value {
	case "true":
		on = true
	case "false":
	default:
		return nil, ErrEnable
	}
	c.mu.Lock()
	st := c.state(v.JID())
	_, was := st.actor[medium]
	if was == on {
		c.mu.Unlock()
		return nil, nil // already so: nothing to tell (as Prosody)
	}
	if on {
		st.actor[medium] = actor.JID.String()
		st.whitelist[medium] = nil
	} else {
		delete(st.actor, medium)
		delete(st.whitelist, medium)
	}
	c.mu.Unlock()
	c.log.Debug("av moderation", "room", v.JID().String(), "medium", medium, "enabled", on, "by", actor.Nick)
	body := c.enabledBody(v.JID(), medium, on, actor.JID.String())
	var out []*stanza.Element
	for _, p := range v.Occupants() {
		if !p.Focus {
			out = append(out, c.message(p.Real, body))
		}
	}
	return out, nil
}

// target finds the occupant a whitelist command names (room@service/nick).
func target(v muc.RoomView, s string) (muc.Occupant, bool) {
	j, err := jid.Parse(s)
	if err != nil || j.Bare() != v.JID() || j.Resource == "" {
		return muc.Occupant{}, false
	}
	o, ok := v.ByNick(j.Resource)
	if !ok || o.Focus {
		return muc.Occupant{}, false
	}
	return o, true
}

func (c *Component) approve(v muc.RoomView, actor muc.Occupant, medium, who string) ([]*stanza.Element, *stanza.Error) {
	t, ok := target(v, who)
	if !ok {
		return nil, ErrNoOccupant
	}
	room := v.JID()
	c.mu.Lock()
	st := c.state(room)
	if _, on := st.actor[medium]; !on {
		c.mu.Unlock()
		// Not moderated: a moderator asking the participant to unmute.
		return []*stanza.Element{c.message(t.Real, map[string]any{"type": "av_moderation", "room": room.String(),
			"mediaType": medium, "approved": true, "from": actor.JID.String()})}, nil
	}
	// Keep only occupants still here, so the list never outgrows the room.
	wl := slices.DeleteFunc(st.whitelist[medium], func(s string) bool {
		j, err := jid.Parse(s)
		if err != nil {
			return true
		}
		_, here := v.ByNick(j.Resource)
		return !here
	})
	if !slices.Contains(wl, t.JID.String()) {
		wl = append(wl, t.JID.String())
	}
	st.whitelist[medium] = wl
	lists := st.lists()
	c.mu.Unlock()
	return c.whitelistChange(v, t, medium, lists, false), nil
}

func (c *Component) reject(v muc.RoomView, medium, who string) ([]*stanza.Element, *stanza.Error) {
	t, ok := target(v, who)
	if !ok {
		return nil, ErrNoOccupant
	}
	c.mu.Lock()
	st := c.state(v.JID())
	wl := st.whitelist[medium]
	i := slices.Index(wl, t.JID.String())
	if _, on := st.actor[medium]; !on || i < 0 {
		c.mu.Unlock()
		return nil, nil // nothing to take back (as Prosody)
	}
	st.whitelist[medium] = slices.Delete(wl, i, i+1)
	lists := st.lists()
	c.mu.Unlock()
	return c.whitelistChange(v, t, medium, lists, true), nil
}

// lists copies the whitelists of the moderated media; c.mu is held.
func (st *state) lists() map[string][]string {
	out := make(map[string][]string, len(st.actor))
	for m := range st.actor {
		out[m] = append([]string{}, st.whitelist[m]...)
	}
	return out
}

// whitelistChange tells moderators the new whitelists and the participant
// t that it was approved (or removed).
func (c *Component) whitelistChange(v muc.RoomView, t muc.Occupant, medium string, lists map[string][]string, removed bool) []*stanza.Element {
	room := v.JID().String()
	mods := map[string]any{"type": "av_moderation", "room": room, "mediaType": medium, "whitelists": lists}
	user := map[string]any{"type": "av_moderation", "room": room, "mediaType": medium}
	if removed {
		mods["removed"] = true
		user["removed"] = true
	} else {
		user["approved"] = true
	}
	var out []*stanza.Element
	for _, p := range v.Occupants() {
		switch {
		case p.Focus:
		case p.Role == muc.Moderator:
			out = append(out, c.message(p.Real, mods))
		case p.Nick == t.Nick:
			out = append(out, c.message(p.Real, user))
		}
	}
	return out
}

func (c *Component) enabledBody(room jid.JID, medium string, on bool, actor string) map[string]any {
	return map[string]any{"type": "av_moderation", "room": room.String(), "enabled": on, "mediaType": medium, "actor": actor}
}

// message is a json-message from the component to a client.
func (c *Component) message(to jid.JID, body map[string]any) *stanza.Element {
	b, _ := json.Marshal(body)
	return stanza.New(stanza.NSClient, stanza.Message, "from", c.domain, "to", to.String()).
		Add(stanza.New(NSJitMeet, "json-message").SetText(string(b)))
}

// fail answers a refused message with an error from the component.
func (c *Component) fail(el *stanza.Element, err *stanza.Error) {
	if r := stanza.ErrorReply(el, err); r != nil && r.Get("to") != "" {
		c.router.Route(r)
	}
}

// Joined tells a newcomer which media are moderated, and a moderator the
// whitelists (muc.Watcher).
func (c *Component) Joined(v muc.RoomView, o muc.Occupant) {
	if o.Focus {
		return
	}
	c.mu.Lock()
	st := c.rooms[v.JID()]
	if st == nil || len(st.actor) == 0 {
		c.mu.Unlock()
		return
	}
	actors := make(map[string]string, len(st.actor))
	for m, a := range st.actor {
		actors[m] = a
	}
	lists := st.lists()
	c.mu.Unlock()
	for _, m := range []string{Audio, Video, Desktop} {
		if a, on := actors[m]; on {
			c.router.Route(c.message(o.Real, c.enabledBody(v.JID(), m, true, a)))
		}
	}
	if o.Role == muc.Moderator {
		c.sendLists(v.JID(), o, lists)
	}
}

// RoleChanged gives a new moderator the whitelists (muc.Watcher).
func (c *Component) RoleChanged(v muc.RoomView, o muc.Occupant) {
	if o.Focus || o.Role != muc.Moderator {
		return
	}
	c.mu.Lock()
	st := c.rooms[v.JID()]
	if st == nil || len(st.actor) == 0 {
		c.mu.Unlock()
		return
	}
	lists := st.lists()
	c.mu.Unlock()
	c.sendLists(v.JID(), o, lists)
}

// sendLists sends o the whitelists, one message per moderated medium (LJM
// reads the list of the message's mediaType).
func (c *Component) sendLists(room jid.JID, o muc.Occupant, lists map[string][]string) {
	for _, m := range []string{Audio, Video, Desktop} {
		if _, on := lists[m]; on {
			c.router.Route(c.message(o.Real, map[string]any{"type": "av_moderation", "room": room.String(),
				"mediaType": m, "whitelists": lists}))
		}
	}
}

// Left forgets an occupant's approvals and budget (muc.Watcher).
func (c *Component) Left(room jid.JID, o muc.Occupant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.rooms[room]
	if st == nil {
		return
	}
	delete(st.limits, o.Real)
	for m, wl := range st.whitelist {
		st.whitelist[m] = slices.DeleteFunc(wl, func(s string) bool { return s == o.JID.String() })
	}
	if len(st.actor) == 0 && len(st.limits) == 0 {
		delete(c.rooms, room)
	}
}

// Ended forgets the room (muc.Watcher).
func (c *Component) Ended(room jid.JID) {
	c.mu.Lock()
	delete(c.rooms, room)
	c.mu.Unlock()
}
