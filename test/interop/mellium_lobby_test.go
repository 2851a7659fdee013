package interop_test

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	pstanza "github.com/parley-im/parley/internal/xmpp/stanza"
)

// TestMelliumLobbyKnock: a mellium client meets a room whose lobby an
// owner (a raw client) turned on. A plain join is refused; it knocks at
// room@lobby.D with a display name, the owner sees the knock with its real
// JID and admits it with a mediated invite; mellium, now a member, joins
// the room.
func TestMelliumLobbyKnock(t *testing.T) {
	srv, tlsConf := server(t, nil)
	roomJID := "lobbied@conference." + srv.Domain
	lobbyJID := "lobbied@lobby." + srv.Domain

	owner := srv.DialTCP(t)
	owner.Login("", "")
	owner.Send(fmt.Sprintf(`<presence to="%s/owner"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, roomJID))
	owner.ExpectSkip("owner in", func(e *pstanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == roomJID+"/owner"
	})
	owner.Send(fmt.Sprintf(`<iq type="set" to="%s" id="lobby"><query xmlns="http://jabber.org/protocol/muc#owner">`+
		`<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var="muc#roomconfig_membersonly"><value>true</value></field></x></query></iq>`, roomJID))
	owner.ExpectSkip("lobby on", func(e *pstanza.Element) bool { return e.Get("id") == "lobby" && e.Get("type") == "result" })
	owner.Send(fmt.Sprintf(`<presence to="%s/owner"><x xmlns="http://jabber.org/protocol/muc"/></presence>`, lobbyJID))
	owner.ExpectSkip("owner in the lobby", func(e *pstanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == lobbyJID+"/owner"
	})

	mel := dialMUC(t, srv, tlsConf)
	roomAddr := jid.MustParse(roomJID + "/mel")
	_, err := mel.muc.Join(ctxWait(t), roomAddr, mel.s)
	var se stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.NotAcceptable {
		t.Fatalf("plain join of a room with a lobby: %v, want not-acceptable (display name required)", err)
	}

	// Knock with a display name (mellium's MUC client cannot add <nick>, so
	// the presence is written with its stanza package).
	knock := xmlstream.MultiReader(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/muc", Local: "x"}}),
		xmlstream.Wrap(xmlstream.Token(xml.CharData("Mel")), xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/nick", Local: "nick"}}),
	)
	if err := mel.s.Send(ctxWait(t), stanza.Presence{To: jid.MustParse(lobbyJID + "/mel")}.Wrap(knock)); err != nil {
		t.Fatalf("knocking: %v", err)
	}

	seen := owner.ExpectSkip("the knock", func(e *pstanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == lobbyJID+"/mel" && e.Get("type") == ""
	})
	x := seen.Child("http://jabber.org/protocol/muc#user", "x")
	real := x.Child("http://jabber.org/protocol/muc#user", "item").Get("jid")
	if real == "" || seen.ChildText("http://jabber.org/protocol/nick", "nick") != "Mel" {
		t.Fatalf("knock seen as %s", seen)
	}
	owner.Send(fmt.Sprintf(`<message to="%s"><x xmlns="http://jabber.org/protocol/muc#user"><invite to="%s"/></x></message>`, roomJID, real))

	deadline := time.After(wait)
	for invited := false; !invited; {
		select {
		case m := <-mel.messages:
			invited = m.From.String() == roomJID && strings.Contains(m.Body, "invites you")
		case <-deadline:
			t.Fatal("no invitation")
		}
	}
	// Join as a member, no display name needed now. (Not through mellium's
	// muc.Client: a successful Join races inside mellium v0.22 under -race.)
	join := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "http://jabber.org/protocol/muc", Local: "x"}})
	if err := mel.s.Send(ctxWait(t), stanza.Presence{To: roomAddr}.Wrap(join)); err != nil {
		t.Fatalf("joining once admitted: %v", err)
	}
	in := owner.ExpectSkip("mel in the room", func(e *pstanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == roomJID+"/mel" && e.Get("type") == ""
	})
	if it := in.Child("http://jabber.org/protocol/muc#user", "x").Child("http://jabber.org/protocol/muc#user", "item"); it.Get("affiliation") != "member" {
		t.Fatalf("mel entered as %s", in)
	}
}
