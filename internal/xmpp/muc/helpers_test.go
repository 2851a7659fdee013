package muc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/muc"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

const (
	service = "conference.localhost"
	room    = "room@conference.localhost"
)

// start runs a server whose MUC configuration mutate adjusts.
func start(t *testing.T, mutate func(*muc.Config)) *xmpptest.Server {
	t.Helper()
	return xmpptest.Start(t, func(c *config.Config) {
		if mutate != nil {
			mutate(&c.MUC)
		}
	})
}

// guest logs in anonymously over TCP.
func guest(t *testing.T, srv *xmpptest.Server) *xmpptest.Client {
	t.Helper()
	c := srv.DialTCP(t)
	c.Login("", "")
	return c
}

// joinXML is a join presence to room/nick with extra children.
func joinXML(roomJID, nick, inner string) string {
	return fmt.Sprintf(`<presence to="%s/%s"><x xmlns="http://jabber.org/protocol/muc">%s</x></presence>`, roomJID, nick, inner)
}

// join enters roomJID as nick and waits for the self-presence and the
// subject that end the join; it returns the self-presence.
func join(t *testing.T, c *xmpptest.Client, roomJID, nick string) *stanza.Element {
	t.Helper()
	c.Send(joinXML(roomJID, nick, ""))
	self := c.ExpectSkip("self-presence", isSelf(roomJID+"/"+nick))
	c.ExpectSkip("subject", isSubject(roomJID))
	return self
}

func isPresence(from string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == from && e.Get("type") != "error"
	}
}

func isUnavailable(from string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == from && e.Get("type") == "unavailable"
	}
}

func isSelf(from string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return isPresence(from)(e) && hasStatus(e, "110")
	}
}

func isSubject(roomJID string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Child(stanza.NSClient, "subject") != nil &&
			e.Child(stanza.NSClient, "body") == nil && strings.HasPrefix(e.Get("from"), roomJID)
	}
}

func isGroupchat(from, body string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Get("type") == "groupchat" && e.Get("from") == from &&
			e.ChildText(stanza.NSClient, "body") == body
	}
}

func isMessage(from, body string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "message" && e.Get("from") == from && e.ChildText(stanza.NSClient, "body") == body
	}
}

// isPresenceError matches a presence error with cond from from.
func isPresenceError(from, cond string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == from && xmpptest.IsError("", cond)(e)
	}
}

func userX(e *stanza.Element) *stanza.Element { return e.Child(muc.NSUser, "x") }

func item(e *stanza.Element) *stanza.Element {
	if x := userX(e); x != nil {
		return x.Child(muc.NSUser, "item")
	}
	return nil
}

func statuses(e *stanza.Element) []string {
	var out []string
	if x := userX(e); x != nil {
		for _, c := range x.Children {
			if c.Is(muc.NSUser, "status") {
				out = append(out, c.Get("code"))
			}
		}
	}
	return out
}

func hasStatus(e *stanza.Element, code string) bool { return slices.Contains(statuses(e), code) }

// wantItem checks an occupant item's affiliation, role and jid ("" = absent).
func wantItem(t *testing.T, e *stanza.Element, aff, role, jid string) {
	t.Helper()
	it := item(e)
	if it == nil {
		t.Fatalf("no muc#user item in %s", e)
	}
	if it.Get("affiliation") != aff || it.Get("role") != role || it.Get("jid") != jid {
		t.Fatalf("item affiliation=%q role=%q jid=%q, want %q %q %q in %s",
			it.Get("affiliation"), it.Get("role"), it.Get("jid"), aff, role, jid, e)
	}
}

// iq sends an IQ and waits for its answer.
func iq(t *testing.T, c *xmpptest.Client, typ, to, id, payload string) *stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<iq type="%s" to="%s" id="%s">%s</iq>`, typ, to, id, payload))
	return c.ExpectSkip("answer to "+id, func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("id") == id && (e.Get("type") == "result" || e.Get("type") == "error")
	})
}

func wantResult(t *testing.T, e *stanza.Element) {
	t.Helper()
	if e.Get("type") != "result" {
		t.Fatalf("expected result, got %s", e)
	}
}

func wantError(t *testing.T, e *stanza.Element, cond string) {
	t.Helper()
	if !xmpptest.IsError("", cond)(e) {
		t.Fatalf("expected error %s, got %s", cond, e)
	}
}

// submit sends the muc#owner form with the given fields.
func submit(t *testing.T, c *xmpptest.Client, roomJID, id string, fields map[string]string) *stanza.Element {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="submit">`)
	b.WriteString(`<field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>`)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, `<field var="%s"><value>%s</value></field>`, k, fields[k])
	}
	b.WriteString(`</x></query>`)
	return iq(t, c, "set", roomJID, id, b.String())
}

// formValue returns a data-form field's value.
func formValue(x *stanza.Element, name string) (string, bool) {
	for _, f := range x.Children {
		if f.Is("jabber:x:data", "field") && f.Get("var") == name {
			return f.ChildText("jabber:x:data", "value"), true
		}
	}
	return "", false
}

// waitRooms waits (on room retirement events) until at most n rooms live.
func waitRooms(t *testing.T, srv *xmpptest.Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := srv.App.MUC.WaitRooms(ctx, n); err != nil {
		t.Fatalf("rooms: %+v: %v", srv.App.MUC.Stats(), err)
	}
}
