package interop_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"net"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/muc"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// mucClient is a mellium session whose presence goes to mellium's own MUC
// client (muc.Client, which completes joins on the self-presence) and whose
// messages with a body are handed to the test.
type mucClient struct {
	s        *xmpp.Session
	muc      *muc.Client
	mux      *mux.ServeMux
	messages chan chat
	ended    chan struct{}
}

func dialMUC(t *testing.T, srv *xmpptest.Server, tlsConf *tls.Config) *mucClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.TCP)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	s, err := xmpp.NewClientSession(ctx, jid.MustParse(srv.Domain), conn,
		xmpp.StartTLS(tlsConf), xmpp.SASL("", "", sasl.Anonymous), xmpp.BindResource())
	if err != nil {
		conn.Close()
		t.Fatalf("session: %v", err)
	}
	c := &mucClient{s: s, muc: &muc.Client{}, messages: make(chan chat, 64), ended: make(chan struct{})}
	c.mux = mux.New(stanza.NSClient, muc.HandleClient(c.muc),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: ping.NS, Local: "ping"}, ping.Handler{}.HandleIQ))
	go func() {
		s.Serve(xmpp.HandlerFunc(c.handle))
		close(c.ended)
	}()
	t.Cleanup(func() {
		s.Conn().SetReadDeadline(time.Now().Add(wait))
		s.Close()
		<-c.ended
		s.Conn().Close()
	})
	return c
}

func (c *mucClient) handle(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local == "message" {
		var m chat
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m); err != nil {
			return err
		}
		if m.Body != "" {
			c.messages <- m
		}
		return nil
	}
	return c.mux.HandleXMPP(r, start)
}

func (c *mucClient) say(t *testing.T, room jid.JID, body string) {
	t.Helper()
	m := chat{Message: stanza.Message{To: room.Bare(), Type: stanza.GroupChatMessage}, Body: body}
	if err := c.s.Encode(ctxWait(t), m); err != nil {
		t.Fatalf("groupchat: %v", err)
	}
}

// hear waits for a groupchat message with body from the occupant JID from.
func (c *mucClient) hear(t *testing.T, from jid.JID, body string) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-c.messages:
			if m.Body == body && m.From.Equal(from) && m.Type == stanza.GroupChatMessage {
				return
			}
		case <-c.ended:
			t.Fatalf("%s: session ended waiting for %q", c.s.LocalAddr(), body)
		case <-deadline:
			t.Fatalf("%s: no groupchat %q from %s", c.s.LocalAddr(), body, from)
		}
	}
}

// TestMelliumMUC: mellium's muc package creates a room and makes it
// password-protected through the owner form; a second client is refused
// without the password and admitted with it; both chat across the room.
func TestMelliumMUC(t *testing.T) {
	srv, tlsConf := server(t, nil)
	alice, bob := dialMUC(t, srv, tlsConf), dialMUC(t, srv, tlsConf)
	aliceAddr := jid.MustParse("secret@conference." + srv.Domain + "/alice")
	bobAddr := jid.MustParse("secret@conference." + srv.Domain + "/bob")

	ch, err := alice.muc.Join(ctxWait(t), aliceAddr, alice.s)
	if err != nil {
		t.Fatalf("alice creates the room: %v", err)
	}
	form, err := muc.GetConfig(ctxWait(t), aliceAddr.Bare(), alice.s)
	if err != nil {
		t.Fatalf("owner form: %v", err)
	}
	for field, v := range map[string]any{
		"muc#roomconfig_roomsecret":            "open sesame",
		"muc#roomconfig_passwordprotectedroom": true,
	} {
		if ok, err := form.Set(field, v); !ok || err != nil {
			t.Fatalf("form field %s: ok=%v %v", field, ok, err)
		}
	}
	if err := muc.SetConfig(ctxWait(t), aliceAddr.Bare(), form, alice.s); err != nil {
		t.Fatalf("submitting the form: %v", err)
	}

	_, err = bob.muc.Join(ctxWait(t), bobAddr, bob.s)
	var se stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.NotAuthorized {
		t.Fatalf("joining without the password: %v, want not-authorized", err)
	}
	_, err = bob.muc.Join(ctxWait(t), bobAddr, bob.s, muc.Password("wrong"))
	if !errors.As(err, &se) || se.Condition != stanza.NotAuthorized {
		t.Fatalf("joining with a wrong password: %v, want not-authorized", err)
	}
	if _, err := bob.muc.Join(ctxWait(t), bobAddr, bob.s, muc.Password("open sesame")); err != nil {
		t.Fatalf("joining with the password: %v", err)
	}

	alice.say(t, aliceAddr, "welcome, bob")
	bob.hear(t, aliceAddr, "welcome, bob")
	alice.hear(t, aliceAddr, "welcome, bob") // the room echoes to the sender
	bob.say(t, bobAddr, "thanks, alice")
	alice.hear(t, bobAddr, "thanks, alice")

	if err := ch.Leave(ctxWait(t), "bye"); err != nil {
		t.Fatalf("leaving: %v", err)
	}
}
