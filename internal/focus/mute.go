package focus

import (
	"strings"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Mute requests (jitsi-dialect.md §4.7). A participant asks the focus to mute
// someone; the focus checks the rules and forwards the request to the target,
// whose client mutes itself. The focus does not force anything at the bridge:
// like a plain Jicofo remote mute, it relies on the target's client.
const (
	NSMuteAudio   = "http://jitsi.org/jitmeet/audio"
	NSMuteVideo   = "http://jitsi.org/jitmeet/video"
	NSMuteDesktop = "http://jitsi.org/jitmeet/desktop"
)

// muteRequest returns the mute element of an IQ set, or nil.
func muteRequest(iq *stanza.Element) *stanza.Element {
	if iq.Get("type") != "set" {
		return nil
	}
	for _, ns := range []string{NSMuteAudio, NSMuteVideo, NSMuteDesktop} {
		if m := iq.Child(ns, "mute"); m != nil {
			return m
		}
	}
	return nil
}

// onMute applies Jicofo's rules: anyone may mute or unmute themselves; muting
// somebody else needs the moderator role; unmuting somebody else is never
// allowed. A request for another participant is forwarded to it through the
// room, so it arrives from the focus's occupant JID, with the requester as
// actor.
func (c *conference) onMute(m *stanza.Element, from jid.JID) error {
	asker := c.parts[from.Resource]
	if asker == nil || from.Bare() != c.room {
		return stanza.ErrItemNotFound.WithText("not a participant of this conference")
	}
	var mute bool
	switch strings.TrimSpace(m.Text) {
	case "true":
		mute = true
	case "false":
	default:
		return stanza.ErrBadRequest.WithText("mute text must be true or false")
	}
	target, err := jid.Parse(m.Get("jid"))
	if err != nil || target.Bare() != c.room || c.parts[target.Resource] == nil {
		return stanza.ErrItemNotFound.WithText("no such participant")
	}
	t := c.parts[target.Resource]
	if t == asker {
		if !mute && asker.role != "moderator" && !c.f.unmuteAllowed(c.room, asker.occupant, mediumOf(m.Name.Space)) {
			return errUnmuteNotApproved
		}
		return nil
	}
	if !mute {
		return stanza.ErrNotAllowed.WithText("only participants can unmute themselves")
	}
	if asker.role != "moderator" {
		return stanza.ErrNotAllowed.WithText("only moderators can mute others")
	}
	fwd := stanza.New(m.Name.Space, "mute", "jid", t.occupant.String(), "actor", asker.occupant.String())
	fwd.SetText("true")
	c.request(t.occupant, "set", fwd, func(*stanza.Element) {})
	c.f.log.Debug("mute forwarded", "room", c.room.String(), "media", m.Name.Space, "by", asker.nick, "target", t.nick)
	return nil
}

// errUnmuteNotApproved refuses a participant's own unmute while AV
// moderation holds that medium and no moderator has approved it.
var errUnmuteNotApproved = stanza.ErrNotAllowed.WithText("a moderator must approve you to unmute")

// mediumOf names the medium of a mute namespace as AV moderation does.
func mediumOf(ns string) string {
	switch ns {
	case NSMuteVideo:
		return "video"
	case NSMuteDesktop:
		return "desktop"
	}
	return "audio"
}

// UnmutePolicy reports whether the occupant (room@service/nick), who is not
// a moderator, may unmute medium ("audio", "video", "desktop") itself; AV
// moderation (jitsi-dialect.md §4.8) supplies it.
type UnmutePolicy func(room, occupant jid.JID, medium string) bool

func (f *Focus) unmuteAllowed(room, occupant jid.JID, medium string) bool {
	return f.cfg.UnmuteAllowed == nil || f.cfg.UnmuteAllowed(room, occupant, medium)
}
