package firefox_test

import (
	"testing"

	"github.com/parley-im/parley/test/internal/netns"
)

// errNoNetns: namespaces cannot be made here (not root, no ip(8), or not allowed in a container).
var errNoNetns = netns.ErrUnavailable

// newNetns makes Firefox's network namespace (test/internal/netns): joined to the host by a veth
// pair, its addresses a /30 from 198.18.0.0/15, its default route via the host's end. Firefox gathers
// no ICE candidates in a namespace without a default route, and outside one a browser would gather on
// the machine's outward interface too; inside, it has only lo and the veth. The namespace goes when
// the test ends, failed or not, with the browsers a killed node left in it; one a killed run left
// behind is removed first.
func newNetns(t *testing.T) (*netns.NS, error) {
	for _, name := range netns.RemoveStale("ff") {
		t.Logf("removed the network namespace %s a killed run left behind", name)
	}
	ns, err := netns.New("ff")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("remove network namespace: %v", err)
		}
	})
	return ns, nil
}
