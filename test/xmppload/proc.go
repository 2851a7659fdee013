package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/parley-im/parley/test/internal/procstat"
)

// cpuSeconds returns the user+system CPU time a process has used so far.
// pid 0 means this process.
func cpuSeconds(pid int) (float64, error) {
	d, err := procstat.CPUTime(pid)
	return d.Seconds(), err
}

// rssBytes returns a process's resident set size (VmRSS).
func rssBytes(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

// raiseNoFile raises this process's open-file limit to at least need,
// raising the hard limit too when allowed (root). It returns the limit in
// effect and an error saying what to do when that is still below need.
func raiseNoFile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := lim
	want.Cur = need
	if want.Max < need {
		want.Max = need
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return need, nil
	}
	// Not allowed to raise the hard limit: take what it permits.
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	if lim.Cur < need {
		return lim.Cur, fmt.Errorf("open-file limit is %d but this run needs %d: raise it (ulimit -Hn %d as root) or use fewer connections", lim.Cur, need, need)
	}
	return lim.Cur, nil
}
