// Package browser runs the web client in Debian's headless Chromium,
// driven by playwright-core, against an in-process Parley.
package browser_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestBrowserClient runs `node --test` over the *.test.js files here with
// PARLEY_URL pointing at a fresh server. Screenshots land in artifacts/
// (gitignored). Without node, the packages or Chromium the test is skipped,
// or fails under CI, where .ci/run and make deps install them.
func TestBrowserClient(t *testing.T) {
	missing := func(what string) {
		t.Helper()
		nodetest.Missing(t, what, "run make deps (.ci/run installs node and chromium on a fresh machine)")
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

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// PARLEY_BROWSER_TESTS=meeting runs meeting.test.js alone (while working on one file).
	pattern := "*.test.js"
	if only := os.Getenv("PARLEY_BROWSER_TESTS"); only != "" {
		pattern = only + ".test.js"
	}
	files, _ := filepath.Glob(pattern)
	if len(files) == 0 {
		t.Fatalf("no browser tests match %s", pattern)
	}
	args := append([]string{"--test", "--test-concurrency=1"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	took, err := nodetest.Run(t, cmd)
	if err != nil {
		t.Fatalf("browser tests failed after %v: %v (screenshots in %s)", took.Round(time.Millisecond), err, artifacts)
	}
	t.Logf("screenshots in %s", artifacts)
}
