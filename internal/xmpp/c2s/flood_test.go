package c2s_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// A flood paced in chunks just under the burst, far above the rate, is cut
// once it has been over budget for max-throttle, although a token sometimes
// comes free while the server is busy handling a stanza (which used to
// reset the clock: such a flood stayed connected indefinitely).
func TestPacedFloodDisconnected(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.StanzasPerSec = 1000
		c.C2S.StanzaBurst = 200
		c.C2S.MaxThrottle = time.Second
	})
	c := srv.DialTCP(t)
	c.Login("", "")
	chunk := strings.Repeat(`<presence to="x@localhost"/>`, 190)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // 19,000 stanzas a second until the server hangs up
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if c.TrySend(chunk) != nil {
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				return
			}
		}
	}()
	c.ExpectStreamError("policy-violation")
	stillServes(t, srv)
}

// A client that bursts past its budget and then keeps within it is held
// back for the burst and stays connected for longer than max-throttle.
func TestBurstThenWithinBudgetStays(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.C2S.StanzasPerSec = 20
		c.C2S.StanzaBurst = 10
		c.C2S.MaxThrottle = time.Second
	})
	c := srv.DialTCP(t)
	c.Login("", "")
	c.Send(strings.Repeat(`<presence to="x@localhost"/>`, 15)) // 5 over: held back 250 ms
	tick := time.NewTicker(100 * time.Millisecond)             // then 10/s, half the budget, for 2 s
	defer tick.Stop()
	for i := range 20 {
		<-tick.C
		c.Send(fmt.Sprintf(`<iq type="get" id="p%d" to="localhost"><ping xmlns="urn:xmpp:ping"/></iq>`, i))
		c.ExpectSkip("ping answered", xmpptest.IsResult(fmt.Sprintf("p%d", i)))
	}
}
