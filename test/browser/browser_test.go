// Package browser runs the web client in Debian's headless Chromium,
// driven by playwright-core, against an in-process Parley.
package browser_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestBrowserClient runs `node --test` over the *.test.js files here with
// PARLEY_URL pointing at a fresh server. Screenshots land in artifacts/
// (gitignored). Without node, the packages or Chromium the test is skipped,
// or fails under CI, where .ci/run and make deps install them.
func TestBrowserClient(t *testing.T) {
	missing := func(what string) {
		t.Helper()
		msg := what + ": run make deps (.ci/run installs node and chromium on a fresh machine)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		missing("test/browser/node_modules is missing")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("chromium is not installed (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("browser tests take a minute; skipped with -short")
	}

	srv := xmpptest.Start(t, nil)
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(artifacts)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	files, _ := filepath.Glob("*.test.js")
	args := append([]string{"--test", "--test-concurrency=1"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	out := &lineLog{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	out.flush()
	if err != nil {
		t.Fatalf("browser tests failed after %v: %v (screenshots in %s)", time.Since(start).Round(time.Millisecond), err, artifacts)
	}
	t.Logf("screenshots in %s", artifacts)
}

// lineLog passes the node output to t.Log a line at a time.
type lineLog struct {
	t   *testing.T
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

func (l *lineLog) flush() {
	if len(l.buf) > 0 {
		l.t.Log("node: " + string(l.buf))
		l.buf = nil
	}
}
