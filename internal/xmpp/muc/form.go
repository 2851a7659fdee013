package muc

import (
	"slices"
	"strconv"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// maxTextField bounds free-text configuration values (name, description,
// secret).
const maxTextField = 1024

func field(typ, name, label string, values ...string) *stanza.Element {
	f := stanza.New(NSData, "field", "var", name)
	f.Set("type", typ).Set("label", label)
	for _, v := range values {
		f.Add(stanza.New(NSData, "value").SetText(v))
	}
	return f
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func truthy(s string) bool { return s == "1" || s == "true" }

// configForm is the muc#owner form with the room's current values.
func (r *room) configForm() *stanza.Element {
	c := r.conf
	whois := "moderators"
	if c.whoisAnyone {
		whois = "anyone"
	}
	max := field("list-single", "muc#roomconfig_maxusers", "Maximum number of occupants", strconv.Itoa(c.maxUsers))
	opts := []int{10, 20, 50, 100, 200, 500, 1000, r.svc.cfg.MaxOccupants, c.maxUsers}
	slices.Sort(opts)
	for _, n := range slices.Compact(opts) {
		if n <= r.svc.cfg.MaxOccupants {
			max.Add(stanza.New(NSData, "option").Add(stanza.New(NSData, "value").SetText(strconv.Itoa(n))))
		}
	}
	whoisField := field("list-single", "muc#roomconfig_whois", "Who may see real JIDs", whois)
	for _, v := range []string{"moderators", "anyone"} {
		whoisField.Add(stanza.New(NSData, "option").Add(stanza.New(NSData, "value").SetText(v)))
	}
	return stanza.New(NSData, "x", "type", "form").Add(
		stanza.New(NSData, "title").SetText("Configuration of "+r.jid.String()),
		field("hidden", "FORM_TYPE", "", formRoomConfig),
		field("text-single", "muc#roomconfig_roomname", "Name", c.name),
		field("text-single", "muc#roomconfig_roomdesc", "Description", c.desc),
		field("boolean", "muc#roomconfig_persistentroom", "Persistent (not supported)", "0"),
		field("boolean", "muc#roomconfig_publicroom", "Listed in the room directory", boolValue(c.public)),
		field("boolean", "muc#roomconfig_membersonly", "Members only", boolValue(c.membersOnly)),
		field("boolean", "muc#roomconfig_moderatedroom", "Moderated", boolValue(c.moderated)),
		field("boolean", "muc#roomconfig_passwordprotectedroom", "Password protected", boolValue(c.password != "")),
		field("text-private", "muc#roomconfig_roomsecret", "Password", c.password),
		max,
		whoisField,
		field("boolean", "muc#roomconfig_changesubject", "Participants may change the subject", boolValue(c.changeSubject)),
		field("boolean", "muc#roomconfig_allowinvites", "Participants may invite", boolValue(c.allowInvites)),
		field("text-single", "muc#roominfo_meetingId", "Meeting id", r.meetingID),
	)
}

// applyConfig applies a submitted form; nothing changes if a value is bad.
func (r *room) applyConfig(x *stanza.Element) *stanza.Error {
	f := make(map[string]string)
	for _, fl := range x.Children {
		if fl.Is(NSData, "field") {
			f[fl.Get("var")] = fl.ChildText(NSData, "value")
		}
	}
	if ft, ok := f["FORM_TYPE"]; ok && ft != formRoomConfig {
		return stanza.ErrBadRequest.WithText("unknown FORM_TYPE")
	}
	c := r.conf
	text := func(name string, dst *string) *stanza.Error {
		if v, ok := f[name]; ok {
			if len(v) > maxTextField {
				return stanza.ErrNotAcceptable.WithText("%s is too long", name)
			}
			*dst = v
		}
		return nil
	}
	flag := func(name string, dst *bool) {
		if v, ok := f[name]; ok {
			*dst = truthy(v)
		}
	}
	if err := text("muc#roomconfig_roomname", &c.name); err != nil {
		return err
	}
	if err := text("muc#roomconfig_roomdesc", &c.desc); err != nil {
		return err
	}
	if err := text("muc#roomconfig_roomsecret", &c.password); err != nil {
		return err
	}
	if v, ok := f["muc#roomconfig_passwordprotectedroom"]; ok {
		if !truthy(v) {
			c.password = ""
		} else if c.password == "" {
			return stanza.ErrNotAcceptable.WithText("a password-protected room needs muc#roomconfig_roomsecret")
		}
	}
	if v := f["muc#roomconfig_persistentroom"]; truthy(v) {
		return stanza.ErrNotAcceptable.WithText("rooms are temporary")
	}
	flag("muc#roomconfig_publicroom", &c.public)
	flag("muc#roomconfig_membersonly", &c.membersOnly)
	flag("muc#roomconfig_moderatedroom", &c.moderated)
	flag("muc#roomconfig_changesubject", &c.changeSubject)
	flag("muc#roomconfig_allowinvites", &c.allowInvites)
	if v, ok := f["muc#roomconfig_maxusers"]; ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > r.svc.cfg.MaxOccupants {
			return stanza.ErrNotAcceptable.WithText("muc#roomconfig_maxusers must be between 1 and %d", r.svc.cfg.MaxOccupants)
		}
		c.maxUsers = n
	}
	if v, ok := f["muc#roomconfig_whois"]; ok {
		switch v {
		case "anyone":
			c.whoisAnyone = true
		case "moderators":
			c.whoisAnyone = false
		default:
			return stanza.ErrNotAcceptable.WithText("muc#roomconfig_whois is anyone or moderators")
		}
	}
	old := r.conf
	r.conf = c
	r.locked = false
	r.summary()
	if c.membersOnly && !old.membersOnly {
		// Whoever is present when the room closes stays a member (Jitsi's
		// clients grant this themselves before enabling the lobby).
		for _, o := range r.list {
			if r.affiliation(o.real) == None {
				r.affiliations[o.real.Bare()] = Member
			}
		}
	}
	if c == old {
		return nil
	}
	codes := []string{"104"}
	if c.whoisAnyone != old.whoisAnyone {
		codes = append(codes, map[bool]string{true: "172", false: "173"}[c.whoisAnyone])
	}
	ux := stanza.New(NSUser, "x")
	for _, code := range codes {
		ux.Add(stanza.New(NSUser, "status", "code", code))
	}
	m := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "from", r.jid.String()).Add(ux)
	for _, o := range r.list {
		c := m.ShallowCopy()
		c.Set("to", o.real.String())
		r.send(c)
	}
	return nil
}

// discoInfo describes the room (XEP-0045 §6.4) with the fields Jitsi's
// client reads (dialect §4.3).
func (r *room) discoInfo(q *stanza.Element) (*stanza.Element, *stanza.Error) {
	if q.Get("node") != "" {
		return nil, stanza.ErrItemNotFound
	}
	c := r.conf
	name := c.name
	if name == "" {
		name = r.jid.Local
	}
	pick := func(b bool, yes, no string) string {
		if b {
			return yes
		}
		return no
	}
	res := stanza.New(stanza.NSDiscoInf, "query").Add(
		stanza.New(stanza.NSDiscoInf, "identity", "category", "conference", "type", "text", "name", name))
	for _, f := range []string{
		NS, stanza.NSDiscoInf, NSSID, "muc_temporary",
		pick(c.public, "muc_public", "muc_hidden"),
		pick(c.membersOnly, "muc_membersonly", "muc_open"),
		pick(c.moderated, "muc_moderated", "muc_unmoderated"),
		pick(c.whoisAnyone, "muc_nonanonymous", "muc_semianonymous"),
		pick(c.password != "", "muc_passwordprotected", "muc_unsecured"),
	} {
		res.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
	}
	form := stanza.New(NSData, "x", "type", "result").Add(
		field("hidden", "FORM_TYPE", "", formRoomInfo),
		field("text-single", "muc#roominfo_occupants", "Number of occupants", strconv.Itoa(len(r.list))),
		field("text-single", "muc#roomconfig_roomname", "Name", c.name),
		field("text-single", "muc#roominfo_description", "Description", c.desc),
		field("boolean", "muc#roomconfig_passwordprotectedroom", "Password protected", boolValue(c.password != "")),
		field("list-single", "muc#roomconfig_whois", "Who may see real JIDs", pick(c.whoisAnyone, "anyone", "moderators")),
		field("text-single", "muc#roominfo_meetingId", "Meeting id", r.meetingID),
	)
	if r.createdMS != "" {
		form.Add(field("text-single", "muc#roominfo_created_timestamp", "Created (ms since 1970)", r.createdMS))
	}
	if r.lob != nil {
		form.Add(field("text-single", "muc#roominfo_lobbyroom", "Lobby room jid", r.lobbyJID().String()))
	}
	if r.subject != nil {
		form.Add(field("text-single", "muc#roominfo_subject", "Subject", r.subject.ChildText(stanza.NSClient, "subject")))
	}
	return res.Add(form), nil
}

// discoItems lists the occupants to occupants (XEP-0045 §6.5); others see
// none.
func (r *room) discoItems(from jid.JID, q *stanza.Element) (*stanza.Element, *stanza.Error) {
	if q.Get("node") != "" {
		return nil, stanza.ErrItemNotFound
	}
	res := stanza.New(stanza.NSDiscoIt, "query")
	if r.byJID[from] == nil {
		return res, nil
	}
	for _, o := range r.list {
		res.Add(stanza.New(stanza.NSDiscoIt, "item", "jid", r.occupantJID(o.nick), "name", o.nick))
	}
	return res, nil
}
