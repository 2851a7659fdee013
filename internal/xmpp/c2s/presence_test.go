package c2s_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func isPresence(from, typ string) func(*stanza.Element) bool {
	return func(e *stanza.Element) bool {
		return e.Name.Local == "presence" && e.Get("from") == from && e.Get("type") == typ
	}
}

// Whoever got directed presence hears when the sender vanishes, whether it
// leaves cleanly or its connection just dies; a directed unavailable
// presence takes the recipient off the list.
func TestDirectedPresenceUnavailableOnDisconnect(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	watcher, other := srv.DialWS(t, ""), srv.DialWS(t, "")
	jw, jo := watcher.Login("", ""), other.Login("", "")
	for _, leave := range []string{"drop", "close"} {
		c := srv.DialTCP(t)
		jc := c.Login("", "")
		c.Send(fmt.Sprintf(`<presence to="%s"><status>here</status></presence>`, jw))
		watcher.ExpectSkip("directed presence", isPresence(jc, ""))
		c.Send(fmt.Sprintf(`<presence to="%s"/>`, jo))
		other.ExpectSkip("directed presence", isPresence(jc, ""))
		c.Send(fmt.Sprintf(`<presence to="%s" type="unavailable"/>`, jo))
		other.ExpectSkip("directed unavailable", isPresence(jc, "unavailable"))
		if leave == "drop" {
			c.Drop()
		} else {
			c.Send(`</stream:stream>`)
		}
		watcher.ExpectSkip("unavailable after "+leave, isPresence(jc, "unavailable"))
	}
	// other was taken off the list: the next thing it sees is its own ping.
	other.Send(`<iq type="get" id="o" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
	other.Expect("only the ping result", xmpptest.IsResult("o"))
}

// Broadcast presence reaches the account's other resources (RFC 6121 §4.2.2).
func TestPresenceToOwnResources(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	srv.AddUser(t, "frank", "pw f")
	a, b := srv.DialTCP(t), srv.DialWS(t, "")
	a.Login("frank", "pw f")
	jb := b.Login("frank", "pw f")
	a.ExpectSkip("b's presence", isPresence(jb, ""))
	b.Send(`<presence type="unavailable"/>`)
	a.ExpectSkip("b unavailable", isPresence(jb, "unavailable"))
}

// XEP-0368: a client may start TLS at once on the c2s port.
func TestDirectTLS(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	conn, err := tls.Dial("tcp", srv.TCP, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := xmpptest.Wrap(t, srv, conn)
	f := c.Open()
	if f.Child(stream.NSTLS, "starttls") != nil || f.Child(stream.NSSASL, "mechanisms") == nil {
		t.Fatalf("features on direct TLS: %s", f)
	}
	if r := c.Auth("PLAIN", []byte("\x00nobody\x00x"), nil); !r.Is(stream.NSSASL, "failure") {
		t.Fatalf("PLAIN over direct TLS: %s", r)
	}
}

// permessage-deflate is never negotiated (a decompression bomb needs it).
func TestWebSocketCompressionRefused(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, srv.WSURL(""), &websocket.DialOptions{
		HTTPClient:      xmpptest.HTTPClient(),
		Subprotocols:    []string{"xmpp"},
		CompressionMode: websocket.CompressionContextTakeover,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("extensions %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
}
