package c2s_test

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// Sessions that end every way (clean close, dropped link while resumable,
// dropped link without resumption, protocol error) leave no goroutine, no
// session and no connection behind once the server stops.
func TestNoLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := xmpptest.Start(t, nil)
	for i := range 20 {
		var c *xmpptest.Client
		if i%2 == 0 {
			c = srv.DialTCP(t)
		} else {
			c = srv.DialWS(t, "")
		}
		c.Login("", "")
		switch i % 4 {
		case 0:
			c.Send(`</stream:stream>`)
			c.ExpectEnd()
		case 1:
			enableSM(t, c)
			c.Drop()
		case 2:
			c.Drop()
		case 3:
			c.Send(`<bogus xmlns="urn:x"/>`)
			c.ExpectStreamError("unsupported-stanza-type")
		}
	}
	// Everything that did not hibernate is gone while the server still runs.
	probe := srv.DialWS(t, "")
	probe.Login("", "")
	probe.Send(`<iq type="get" id="s" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`)
	probe.ExpectSkip("ping", xmpptest.IsResult("s"))
	probe.Close()
	if err := srv.App.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := srv.App.C2S.Sessions(); n != 0 {
		t.Fatalf("%d sessions after shutdown", n)
	}
	if n := srv.App.Router.Count(); n != 0 {
		t.Fatalf("%d routes after shutdown", n)
	}
}

// A resumable client that never acknowledges is cut off when its queue of
// unacknowledged stanzas is full, and its senders learn it is gone.
func TestUnackedQueueBounded(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) { c.C2S.MaxUnacked = 20 })
	c := srv.DialWS(t, "")
	j := c.Login("", "")
	enableSM(t, c)
	peer := srv.DialTCP(t)
	peer.Login("", "")
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("never cut off")
		}
		peer.Send(fmt.Sprintf(`<message to="%s" type="chat" id="u%d"><body>x</body></message>`, j, i))
		peer.Send(fmt.Sprintf(`<iq type="get" id="q%d" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`, i))
		el := peer.ExpectSkip("ping or bounce", func(e *stanza.Element) bool {
			return e.Get("id") == fmt.Sprintf("q%d", i) || e.Get("type") == "error"
		})
		if el.Get("type") == "error" {
			break
		}
	}
	c.ExpectStreamError("policy-violation")
}
