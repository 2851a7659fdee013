package promtext

import (
	"strings"
	"testing"
)

func TestSum(t *testing.T) {
	const page = `# HELP parley_bridge_packets_sent_total Packets.
# TYPE parley_bridge_packets_sent_total counter
parley_bridge_packets_sent_total{kind="audio"} 10
parley_bridge_packets_sent_total{kind="video",note="a } b"} 32
parley_up 1
garbage
parley_bad x
`
	m, err := Sum(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if m["parley_bridge_packets_sent_total"] != 42 || m["parley_up"] != 1 || len(m) != 2 {
		t.Fatalf("%v", m)
	}
}
