package sasl

import (
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a settable time source for the Limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(cfg LimiterConfig) (*Limiter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = clk.now
	return NewLimiter(cfg), clk
}

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
)

// TestLimiterLockout: 1000 failed logins from one address lock it out
// (after MaxFailures), while another address is unaffected; the lockout ends
// after Lockout.
func TestLimiterLockout(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{})
	allowed := 0
	for i := 0; i < 1000; i++ {
		if l.Allow(ip1) == nil {
			allowed++
			l.Failure(ip1)
		}
		clk.advance(100 * time.Millisecond) // 100 s in all, inside the lockout
	}
	if allowed != 10 {
		t.Errorf("%d attempts allowed before lockout, want 10", allowed)
	}
	wantCondition(t, "locked out", l.Allow(ip1), "temporary-auth-failure")
	wantCondition(t, "other address", l.Allow(ip2), "")
	clk.advance(15 * time.Minute)
	wantCondition(t, "after lockout", l.Allow(ip1), "")
}

// TestLimiterRate: a burst, then AttemptsPerSecond.
func TestLimiterRate(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{AttemptsPerSecond: 2, Burst: 5})
	for i := 0; i < 5; i++ {
		wantCondition(t, "burst", l.Allow(ip1), "")
	}
	wantCondition(t, "over burst", l.Allow(ip1), "temporary-auth-failure")
	wantCondition(t, "other address", l.Allow(ip2), "")
	clk.advance(500 * time.Millisecond)
	wantCondition(t, "one token back", l.Allow(ip1), "")
	wantCondition(t, "and gone", l.Allow(ip1), "temporary-auth-failure")
	clk.advance(time.Hour)
	for i := 0; i < 5; i++ {
		wantCondition(t, "refilled up to burst", l.Allow(ip1), "")
	}
	wantCondition(t, "not beyond burst", l.Allow(ip1), "temporary-auth-failure")
}

func TestLimiterWindowAndSuccess(t *testing.T) {
	l, clk := newTestLimiter(LimiterConfig{MaxFailures: 3, Window: time.Minute})
	l.Failure(ip1)
	l.Failure(ip1)
	clk.advance(2 * time.Minute) // the window passed: count starts again
	l.Failure(ip1)
	l.Failure(ip1)
	wantCondition(t, "2 failures in window", l.Allow(ip1), "")
	l.Success(ip1)
	l.Failure(ip1)
	l.Failure(ip1)
	wantCondition(t, "success reset the count", l.Allow(ip1), "")
	l.Failure(ip1)
	wantCondition(t, "third failure", l.Allow(ip1), "temporary-auth-failure")
}

// TestLimiterAddressGrouping: IPv4-mapped IPv6 is the IPv4 address, and an
// IPv6 /64 is one client.
func TestLimiterAddressGrouping(t *testing.T) {
	l, _ := newTestLimiter(LimiterConfig{MaxFailures: 1})
	l.Failure(netip.MustParseAddr("::ffff:192.0.2.1"))
	wantCondition(t, "mapped", l.Allow(ip1), "temporary-auth-failure")
	l.Failure(netip.MustParseAddr("2001:db8:1:2::1"))
	wantCondition(t, "same /64", l.Allow(netip.MustParseAddr("2001:db8:1:2:ffff::9")), "temporary-auth-failure")
	wantCondition(t, "same /64, zone", l.Allow(netip.MustParseAddr("2001:db8:1:2::5%eth0")), "temporary-auth-failure")
	wantCondition(t, "other /64", l.Allow(netip.MustParseAddr("2001:db8:1:3::1")), "")
	wantCondition(t, "invalid address", l.Allow(netip.Addr{}), "")
}

// TestLimiterBounded: memory stays at MaxEntries however many addresses
// come, and the least recently used entry is the one forgotten.
func TestLimiterBounded(t *testing.T) {
	l, _ := newTestLimiter(LimiterConfig{MaxEntries: 100, MaxFailures: 1})
	l.Failure(ip1) // locked out
	for i := 0; i < 10000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(a)
		if i%50 == 0 {
			l.Allow(ip1) // keeps ip1 recently used
		}
		if n := l.Len(); n > 100 {
			t.Fatalf("%d entries after %d addresses", n, i+1)
		}
	}
	wantCondition(t, "recently used entry kept", l.Allow(ip1), "temporary-auth-failure")
	if len(l.entries) != l.lru.Len() {
		t.Fatalf("map %d and list %d disagree", len(l.entries), l.lru.Len())
	}
}

func TestLimiterDefaults(t *testing.T) {
	c := LimiterConfig{}.withDefaults()
	if c.AttemptsPerSecond != 3 || c.Burst != 10 || c.MaxFailures != 10 || c.Window != 10*time.Minute ||
		c.Lockout != 15*time.Minute || c.MaxEntries != 10000 || c.Now == nil {
		t.Errorf("defaults: %+v", c)
	}
}
