package firefox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// netns is a network namespace for browsers, joined to the host by a veth pair: Host (on the host's
// end) and Peer (inside, the namespace's default route via Host). Its addresses are a /30 from
// 198.18.0.0/15, the range RFC 2544 sets aside for benchmarks, as test/sfuload's namespace uses.
// Firefox gathers no ICE candidates in a namespace without a default route, and outside one a browser
// would gather on the machine's outward interface too; inside, it has only lo and the veth.
type netns struct {
	Name       string
	Host, Peer netip.Addr
	hostLink   string
}

// netnsPrefix names this test's namespaces: parley-ff-<pid of the go test>.
const netnsPrefix = "parley-ff-"

// errNoNetns: namespaces cannot be made here (not root, no ip(8), or not allowed in a container).
var errNoNetns = errors.New("no network namespace")

// newNetns makes the namespace and its veth pair; both go when the test ends, failed or not (deleting
// the namespace deletes the veth pair). A namespace a killed run left behind (its go test process gone)
// is removed first.
func newNetns(t *testing.T) (*netns, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root", errNoNetns)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: ip(8) is not installed (iproute2)", errNoNetns)
	}
	removeStale(t)

	pid := os.Getpid()
	// One /30 per process, so two runs on one machine do not collide: 198.18.0.0/15 holds 32768.
	n := uint32(198)<<24 + uint32(18)<<16 + uint32(pid%32768)*4
	addr := func(i uint32) netip.Addr {
		v := n + i
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	ns := &netns{Name: netnsPrefix + strconv.Itoa(pid), Host: addr(1), Peer: addr(2), hostLink: fmt.Sprintf("pff%dh", pid)}
	peerLink := fmt.Sprintf("pff%dn", pid)

	if err := ip("netns", "add", ns.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoNetns, err)
	}
	t.Cleanup(func() {
		ns.killAll()
		if err := ip("netns", "delete", ns.Name); err != nil {
			t.Errorf("remove network namespace: %v", err)
		}
		// Gone with the namespace, unless moving its peer in failed.
		if _, err := os.Stat("/sys/class/net/" + ns.hostLink); err == nil {
			_ = ip("link", "delete", ns.hostLink)
		}
	})
	for _, args := range [][]string{
		{"link", "add", ns.hostLink, "type", "veth", "peer", "name", peerLink},
		{"link", "set", peerLink, "netns", ns.Name},
		{"addr", "add", ns.Host.String() + "/30", "dev", ns.hostLink},
		{"link", "set", ns.hostLink, "up"},
		{"-n", ns.Name, "link", "set", "lo", "up"},
		{"-n", ns.Name, "addr", "add", ns.Peer.String() + "/30", "dev", peerLink},
		{"-n", ns.Name, "link", "set", peerLink, "up"},
		{"-n", ns.Name, "route", "add", "default", "via", ns.Host.String()},
	} {
		if err := ip(args...); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoNetns, err)
		}
	}
	return ns, nil
}

// CommandContext runs name inside the namespace (ip netns exec, which becomes name).
func (ns *netns) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// killAll ends the processes still in the namespace (browsers a killed node left behind): they all
// were started by this test.
func (ns *netns) killAll() {
	out, err := exec.Command("ip", "netns", "pids", ns.Name).Output()
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

// removeStale deletes namespaces of this test whose go test process is gone.
func removeStale(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		pid, ok := strings.CutPrefix(name, netnsPrefix)
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // that run is still going
		}
		if err := ip("netns", "delete", name); err == nil {
			t.Logf("removed the network namespace %s a killed run left behind", name)
		}
	}
}

func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
