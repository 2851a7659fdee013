// Package netns makes network namespaces joined to the host by a veth pair, for tests that need a
// client on a link of its own: a browser that must not see the machine's outward interface
// (test/browser/firefox), or a participant behind a rate-limited link (test/shaped).
//
//	host namespace: HostLink, Host address ── veth ── PeerLink, Peer address: the namespace
//	                                                  (lo up, default route via Host)
//
// Each namespace gets a /30 from 198.18.0.0/15, the range RFC 2544 sets aside for benchmarks,
// skipping blocks an interface of the host already uses. A token-bucket limit (tc tbf) can sit on
// either end's egress: on HostLink it limits what the namespace downloads, on PeerLink what it
// uploads. Everything here runs ip(8) and tc(8) and needs root.
package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrUnavailable: namespaces cannot be made here (not root, no ip(8), or not allowed in a container).
// Tests skip on it.
var ErrUnavailable = errors.New("no network namespace")

// NS is one namespace and its veth pair.
type NS struct {
	Name               string     // parley-TAG-PID-N, for ip netns exec
	Host, Peer         netip.Addr // the host's and the namespace's ends of the /30
	HostLink, PeerLink string     // interface names: HostLink in the host namespace, PeerLink inside
}

// count numbers the namespaces this process made, so one process can make several.
var count atomic.Int32

// New makes a namespace named parley-TAG-PID-N with its veth pair. tag is a short lower-case name of
// the caller (at most 3 characters: interface names have 15). Close removes it.
func New(tag string) (*NS, error) {
	if len(tag) == 0 || len(tag) > 3 {
		return nil, fmt.Errorf("netns: tag %q must be 1-3 characters", tag)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root", ErrUnavailable)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: ip(8) is not installed (iproute2)", ErrUnavailable)
	}
	pid, n := os.Getpid(), int(count.Add(1)-1)
	block, err := freeBlock(pid, n)
	if err != nil {
		return nil, err
	}
	ns := &NS{
		Name:     fmt.Sprintf("parley-%s-%d-%d", tag, pid, n),
		Host:     block.Addr().Next(),
		Peer:     block.Addr().Next().Next(),
		HostLink: fmt.Sprintf("p%s%dh%d", tag, pid, n),
		PeerLink: fmt.Sprintf("p%s%dn%d", tag, pid, n),
	}
	if err := run("ip", "netns", "add", ns.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	for _, args := range [][]string{
		{"link", "add", ns.HostLink, "type", "veth", "peer", "name", ns.PeerLink},
		{"link", "set", ns.PeerLink, "netns", ns.Name},
		{"addr", "add", ns.Host.String() + "/30", "dev", ns.HostLink},
		{"link", "set", ns.HostLink, "up"},
		{"-n", ns.Name, "link", "set", "lo", "up"},
		{"-n", ns.Name, "addr", "add", ns.Peer.String() + "/30", "dev", ns.PeerLink},
		{"-n", ns.Name, "link", "set", ns.PeerLink, "up"},
		{"-n", ns.Name, "route", "add", "default", "via", ns.Host.String()},
	} {
		if err := run("ip", args...); err != nil {
			ns.Close()
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return ns, nil
}

// Prefix is the /30 the two ends share: what a relay accepts as "from this namespace".
func (ns *NS) Prefix() netip.Prefix {
	return netip.PrefixFrom(ns.Host, 30).Masked()
}

// Command runs name inside the namespace (ip netns exec, which becomes name).
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Close ends the processes still in the namespace (all were started by its maker) and deletes it,
// which deletes the veth pair and its limits.
func (ns *NS) Close() error {
	killAll(ns.Name)
	err := run("ip", "netns", "delete", ns.Name)
	// Gone with the namespace, unless moving its peer in failed.
	if _, serr := os.Stat("/sys/class/net/" + ns.HostLink); serr == nil {
		_ = run("ip", "link", "delete", ns.HostLink)
	}
	return err
}

// Limit is a token-bucket rate limit (tc tbf) on one end's egress. Packets that would wait in its
// queue longer than Latency are dropped, as a router's full buffer drops them.
type Limit struct {
	Rate    int64         // bit/s
	Burst   int           // bytes the bucket holds; 0: 20 ms at Rate, at least 3,200 (two full packets)
	Latency time.Duration // longest wait in the queue; 0: 100 ms
}

func (l Limit) String() string {
	return fmt.Sprintf("tbf rate %dbit burst %d latency %dms", l.Rate, l.burst(), l.latency().Milliseconds())
}

func (l Limit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(int(l.Rate/8/50), 3200)
}

func (l Limit) latency() time.Duration {
	if l.Latency > 0 {
		return l.Latency
	}
	return 100 * time.Millisecond
}

// LimitDown puts l on the host end (what the namespace receives), or changes the limit already
// there; the counters (Down) carry on. Safe to call mid-run for a step in capacity.
func (ns *NS) LimitDown(l Limit) error { return tbf(nil, ns.HostLink, l) }

// LimitUp puts l on the namespace's end (what the namespace sends).
func (ns *NS) LimitUp(l Limit) error { return tbf([]string{"-n", ns.Name}, ns.PeerLink, l) }

func tbf(where []string, dev string, l Limit) error {
	if l.Rate <= 0 {
		return fmt.Errorf("netns: limit on %s: rate %d bit/s", dev, l.Rate)
	}
	args := append(where, "qdisc", "replace", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(l.Rate, 10)+"bit",
		"burst", strconv.Itoa(l.burst()),
		"latency", strconv.FormatInt(l.latency().Milliseconds(), 10)+"ms")
	return run("tc", args...)
}

// LinkStats are a direction's counters since the namespace was made.
type LinkStats struct {
	Bytes   uint64 // bytes the link carried (after the limit)
	Packets uint64
	Dropped uint64 // packets the limit dropped (its queue full)
}

// Sub is s since an earlier reading t.
func (s LinkStats) Sub(t LinkStats) LinkStats {
	return LinkStats{Bytes: s.Bytes - t.Bytes, Packets: s.Packets - t.Packets, Dropped: s.Dropped - t.Dropped}
}

// Down is what the host end has sent into the namespace: its interface counters, and the drops of
// its limit when it has one.
func (ns *NS) Down() (LinkStats, error) {
	var s LinkStats
	var err error
	if s.Bytes, err = sysCounter(ns.HostLink, "tx_bytes"); err != nil {
		return s, err
	}
	if s.Packets, err = sysCounter(ns.HostLink, "tx_packets"); err != nil {
		return s, err
	}
	out, err := exec.Command("tc", "-s", "-j", "qdisc", "show", "dev", ns.HostLink).Output()
	if err != nil {
		return s, fmt.Errorf("netns: tc -s qdisc show dev %s: %w", ns.HostLink, err)
	}
	var qdiscs []struct {
		Kind  string `json:"kind"`
		Root  bool   `json:"root"`
		Drops uint64 `json:"drops"`
	}
	if err := json.Unmarshal(out, &qdiscs); err != nil {
		return s, fmt.Errorf("netns: tc -s -j qdisc show dev %s: %w", ns.HostLink, err)
	}
	for _, q := range qdiscs {
		if q.Root {
			s.Dropped = q.Drops
		}
	}
	return s, nil
}

func sysCounter(dev, name string) (uint64, error) {
	b, err := os.ReadFile("/sys/class/net/" + dev + "/statistics/" + name)
	if err != nil {
		return 0, fmt.Errorf("netns: %s counter %s: %w", dev, name, err)
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// RemoveStale deletes namespaces of tag whose maker process is gone (a killed run) and returns
// their names.
func RemoveStale(tag string) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var removed []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "parley-"+tag+"-")
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // that run is still going
		}
		killAll(name)
		if run("ip", "netns", "delete", name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// freeBlock picks a /30 in 198.18.0.0/15 that no host interface has an address in, starting from one
// derived from the process and namespace numbers so that concurrent runs rarely even look at the
// same blocks. Block 0 is left to test/sfuload's private namespace.
func freeBlock(pid, n int) (netip.Prefix, error) {
	used, err := usedAddrs()
	if err != nil {
		return netip.Prefix{}, err
	}
	const blocks = 1 << 15 // 198.18.0.0/15 in /30s
	start := (pid*16 + n) % blocks
	for i := range blocks {
		b := (start + i) % blocks
		if b == 0 {
			continue
		}
		v := uint32(198)<<24 | uint32(18)<<16 | uint32(b)*4
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
		if !overlaps(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("netns: every /30 of 198.18.0.0/15 is in use")
}

func overlaps(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Overlaps(p) {
			return true
		}
	}
	return false
}

// usedAddrs lists the host's interface addresses (IPv4) with their prefixes.
func usedAddrs() ([]netip.Prefix, error) {
	out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: ip addr show: %v", ErrUnavailable, err)
	}
	var used []netip.Prefix
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					used = append(used, p)
				}
			}
		}
	}
	return used, nil
}

// killAll ends the processes in a namespace.
func killAll(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
}

func run(name string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
