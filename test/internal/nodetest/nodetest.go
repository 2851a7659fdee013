// Package nodetest holds what the Go tests that drive node test suites
// share: skipping (or failing under CI) when a prerequisite is missing, and
// running node with its output passed to t.Log a line at a time.
package nodetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Missing skips the test because a prerequisite is missing, or fails it
// when CI is set: there, .ci/run and `make deps` must have installed it.
// Without node on PATH the message also says what to install first, since
// `make deps` cannot install the packages without it.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	msg := what + ": " + hint
	if _, err := exec.LookPath("node"); err != nil {
		msg += "; first install Node.js >= 20.10 with npm (the Go tests do not need it)"
	}
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Chromium checks what a suite driving Debian's Chromium from node needs:
// node on PATH, each package under nodeModules, and Chromium (the CHROMIUM
// variable, else /usr/bin/chromium). It returns node's and Chromium's paths,
// and skips (fails under CI) through Missing when something is not there.
func Chromium(t testing.TB, nodeModules string, packages ...string) (node, chromium string) {
	t.Helper()
	const hint = "run make deps (.ci/run installs node, chromium and firefox-esr on a fresh machine)"
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node is not installed", hint)
	}
	for _, pkg := range packages {
		if _, err := os.Stat(filepath.Join(nodeModules, pkg)); err != nil {
			Missing(t, filepath.ToSlash(filepath.Join(nodeModules, pkg))+" is missing", hint)
		}
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		Missing(t, "chromium is not installed (apt-get install chromium)", hint)
	}
	return node, chromium
}

// Run runs cmd with its output in the test log and returns how long it took.
// A child process that outlives node and holds the output pipe is not
// waited for more than 5 s.
func Run(t testing.TB, cmd *exec.Cmd) (time.Duration, error) {
	out := &lineLog{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	out.flush()
	return time.Since(start), err
}

// lineLog passes a process's output to t.Log a line at a time. exec calls
// Write from one goroutine when Stdout and Stderr are the same writer.
type lineLog struct {
	t   testing.TB
	buf []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log("node: " + strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// flush logs a last line without a newline.
func (l *lineLog) flush() {
	if len(l.buf) > 0 {
		l.t.Log("node: " + string(l.buf))
		l.buf = nil
	}
}
