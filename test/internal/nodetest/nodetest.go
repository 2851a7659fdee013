// Package nodetest holds what the Go tests that drive node test suites
// share: skipping (or failing under CI) when a prerequisite is missing, and
// running node with its output passed to t.Log a line at a time.
package nodetest

import (
	"bytes"
	"os"
	"os/exec"
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
