package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestWebSocketOrigins: /xmpp-websocket and /colibri-ws apply one Origin
// rule (the host the request came in on, public-url's host, [c2s]
// allowed-ws-origins), and the bridge-channel URL in the offer is built on
// public-url. Before, /colibri-ws took only the request's own host, so a
// Jitsi client on another site host got 403 and no bridge channel.
func TestWebSocketOrigins(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.PublicURL = "https://meet.example.org"
		c.C2S.AllowedWSOrigins = []string{"*.allowed.example"}
	})
	c := srv.DialWS(t, "")
	c.Login("", "")
	const (
		nsFocus  = "http://jitsi.org/protocol/focus"
		nsJingle = "urn:xmpp:jingle:1"
	)
	c.Send(fmt.Sprintf(`<iq type="set" id="conf" to="focus.localhost"><conference xmlns="%s" room="origins@conference.localhost"/></iq>`, nsFocus))
	c.ExpectSkip("conference result", xmpptest.IsResult("conf"))
	c.Send(`<presence to="origins@conference.localhost/ada"><x xmlns="http://jabber.org/protocol/muc"/></presence>`)
	disco := c.ExpectSkip("disco#info from the focus", func(e *stanza.Element) bool {
		return e.Name.Local == "iq" && e.Get("type") == "get" && e.Child(stanza.NSDiscoInf, "query") != nil
	})
	c.Send(fmt.Sprintf(`<iq type="result" id="%s" to="%s"><query xmlns="%s"><feature var="urn:xmpp:jingle:apps:rtp:audio"/><feature var="urn:xmpp:jingle:apps:rtp:video"/></query></iq>`,
		disco.Get("id"), disco.Get("from"), stanza.NSDiscoInf))
	si := c.ExpectSkip("session-initiate", func(e *stanza.Element) bool {
		j := e.Child(nsJingle, "jingle")
		return j != nil && j.Get("action") == "session-initiate"
	})
	var channel string
	for _, ct := range si.Child(nsJingle, "jingle").Children {
		for _, tr := range ct.Children {
			if ws := tr.Child("http://jitsi.org/protocol/colibri", "web-socket"); ws != nil {
				channel = ws.Get("url")
			}
		}
	}
	if !strings.HasPrefix(channel, "wss://meet.example.org/colibri-ws/") {
		t.Fatalf("bridge-channel URL %q is not on public-url", channel)
	}
	// The proxy in front would forward it to us: dial this server instead.
	u, err := url.Parse(channel)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = srv.HTTP
	channel = u.String()

	dial := func(target, origin string, protocols ...string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, target, &websocket.DialOptions{
			HTTPClient: xmpptest.HTTPClient(), HTTPHeader: http.Header{"Origin": {origin}}, Subprotocols: protocols,
		})
		if err == nil {
			ws.CloseNow()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("%s from %s: %v", target, origin, err)
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://" + srv.HTTP, http.StatusSwitchingProtocols},          // the host the request came in on
		{"https://meet.example.org", http.StatusSwitchingProtocols},     // public-url
		{"https://room.allowed.example", http.StatusSwitchingProtocols}, // allowed-ws-origins
		{"https://evil.example", http.StatusForbidden},
		{"https://meet.example.org.evil.example", http.StatusForbidden},
	} {
		if got := dial(srv.WSURL(""), tc.origin, "xmpp"); got != tc.want {
			t.Errorf("/xmpp-websocket from %s: %d, want %d", tc.origin, got, tc.want)
		}
		if got := dial(channel, tc.origin); got != tc.want {
			t.Errorf("/colibri-ws from %s: %d, want %d", tc.origin, got, tc.want)
		}
	}
}
