package app_test

import (
	"net"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestExternalServicesAtMostFour: with TURN over UDP, TCP, its TLS port and the HTTPS port, XEP-0215
// hands out four entries, not five (Firefox warns that five or more ICE servers slow down discovery):
// the STUN entry on the TURN/UDP port is left out, and every TURN transport stays.
func TestExternalServicesAtMostFour(t *testing.T) {
	srv := xmpptest.Start(t, func(c *config.Config) { c.TURNTLS = "127.0.0.1:0" })
	c := srv.DialTCP(t)
	c.Login("", "")
	c.Send(`<iq type="get" id="s1" to="` + srv.Domain + `"><services xmlns="urn:xmpp:extdisco:2"/></iq>`)
	res := c.ExpectSkip("services", xmpptest.IsResult("s1"))
	services := res.Child("urn:xmpp:extdisco:2", "services")
	if services == nil {
		t.Fatalf("no <services/> in %s", res)
	}
	got := map[string]bool{}
	var n int
	for _, s := range services.Children {
		n++
		got[s.Get("type")+"/"+s.Get("transport")+"/"+s.Get("port")] = true
		if s.Get("type") == "stun" {
			t.Errorf("STUN entry next to TURN/UDP on the same port: %s", s)
		}
	}
	if n > 4 {
		t.Errorf("%d services, want at most 4: %s", n, services)
	}
	_, httpsPort, err := net.SplitHostPort(srv.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	has := func(prefix string) int {
		k := 0
		for e := range got {
			if strings.HasPrefix(e, prefix) {
				k++
			}
		}
		return k
	}
	for _, want := range []string{"turn/udp/", "turn/tcp/", "turns/tcp/" + httpsPort} {
		if has(want) == 0 {
			t.Errorf("no %s… entry in %s", want, services)
		}
	}
	if has("turns/") != 2 {
		t.Errorf("%d TURNS entries, want the TLS port and the HTTPS port: %s", has("turns/"), services)
	}
}
