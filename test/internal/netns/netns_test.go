package netns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func newOrSkip(t *testing.T) *NS {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc(8) is not installed (iproute2): no namespace test")
	}
	ns, err := New("nt")
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("network namespaces cannot be made here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return ns
}

// TestNamespaceReachesHost: a command inside sees the namespace's end of the veth and reaches the
// host's end; both ends are in the namespace's /30 and the host sees it as used.
func TestNamespaceReachesHost(t *testing.T) {
	ns := newOrSkip(t)
	if !ns.Prefix().Contains(ns.Host) || !ns.Prefix().Contains(ns.Peer) || ns.Host == ns.Peer {
		t.Fatalf("ends %v and %v, prefix %v", ns.Host, ns.Peer, ns.Prefix())
	}
	out, err := ns.Command(context.Background(), "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr inside: %v: %s", err, out)
	}
	if !strings.Contains(string(out), ns.Peer.String()+"/30") {
		t.Errorf("inside, the addresses are:\n%s\nwant %v", out, ns.Peer)
	}
	if out, err := ns.Command(context.Background(), "ping", "-c", "1", "-W", "5", ns.Host.String()).CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath("ping"); lerr == nil {
			t.Errorf("ping the host's end from inside: %v: %s", err, out)
		}
	}
	used, err := usedAddrs()
	if err != nil {
		t.Fatal(err)
	}
	if !overlaps(ns.Prefix(), used) {
		t.Errorf("the host does not list %v as used: the next namespace could take it", ns.Prefix())
	}
}

// TestLimitDown sends about 4 Mbit/s toward the namespace for 2 s through a 500 kbit/s limit: the
// link carries no more than the limit (plus its burst) and the limit drops the rest; a step up to
// 3 Mbit/s then carries more.
func TestLimitDown(t *testing.T) {
	ns := newOrSkip(t)
	if err := ns.LimitDown(Limit{Rate: 500_000}); err != nil {
		t.Fatal(err)
	}
	rate500, drop500 := blast(t, ns, 2*time.Second)
	t.Logf("500 kbit/s limit: %.0f kbit/s carried, %d dropped", rate500/1000, drop500)
	if rate500 > 500_000*1.1 || rate500 < 500_000*0.7 {
		t.Errorf("carried %.0f bit/s through a 500 kbit/s limit", rate500)
	}
	if drop500 == 0 {
		t.Error("the limit dropped nothing of 4 Mbit/s")
	}
	if err := ns.LimitDown(Limit{Rate: 3_000_000}); err != nil {
		t.Fatal(err)
	}
	rate3m, _ := blast(t, ns, 2*time.Second)
	t.Logf("3 Mbit/s limit: %.0f kbit/s carried", rate3m/1000)
	if rate3m > 3_000_000*1.1 || rate3m < 2*rate500 {
		t.Errorf("carried %.0f bit/s through a 3 Mbit/s limit (%.0f through 500 kbit/s)", rate3m, rate500)
	}
}

// blast sends 1,000-byte datagrams to the namespace's end at about 4 Mbit/s for d and returns the
// bit rate the host's end carried and the packets its limit dropped meanwhile.
func blast(t *testing.T, ns *NS, d time.Duration) (float64, uint64) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ns.Peer, 9)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := ns.Down()
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1000)
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond) // 1 packet per 2 ms = 4 Mbit/s
	defer tick.Stop()
	for time.Since(start) < d {
		<-tick.C
		_, _ = c.Write(p) // ICMP port unreachable comes back as an error on the next write
	}
	after, err := ns.Down()
	if err != nil {
		t.Fatal(err)
	}
	return float64(after.Bytes-before.Bytes) * 8 / time.Since(start).Seconds(), after.Dropped - before.Dropped
}
