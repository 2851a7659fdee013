package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux for every
// architecture Go supports there).
const clockTicks = 100

// cpuTime returns the user + system CPU time of process pid (0 = this process), all its threads, from
// /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; the fields after the last ')' are
	// space-separated, starting with field 3 (state). utime is field 14, stime field 15.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

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
