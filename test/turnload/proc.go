package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// udpDrops returns the kernel's UDP RcvbufErrors and InErrors counters from /proc/net/snmp (for this
// network namespace, every socket together): datagrams dropped because a receiving socket's buffer was
// full, and every receive error including those.
func udpDrops() (rcvbuf, inErrors int64, err error) {
	raw, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, 0, err
	}
	var names []string
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			switch n {
			case "RcvbufErrors":
				rcvbuf = v
			case "InErrors":
				inErrors = v
			}
		}
		return rcvbuf, inErrors, nil
	}
	return 0, 0, fmt.Errorf("/proc/net/snmp: no Udp counters")
}
