package nodetest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal and then ends its
// goroutine as they do, so Missing's choice can be checked.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()              {}
func (r *recorder) Skip(args ...any)     { r.skipped = args[0].(string); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)    { r.failed = args[0].(string); runtime.Goexit() }
func (r *recorder) Skipf(string, ...any) { panic("unexpected Skipf") }

// TestMissingSkipsWithoutNode: with node not on PATH, a node suite skips and
// says what to install; under CI it fails with the same message instead.
func TestMissingSkipsWithoutNode(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Missing(r, "node is not installed", "run make deps")
			}()
			<-done
			got := r.skipped
			if ci != "" {
				got = r.failed
				if r.skipped != "" {
					t.Errorf("skipped under CI: %q", r.skipped)
				}
			} else if r.failed != "" {
				t.Errorf("failed outside CI: %q", r.failed)
			}
			for _, want := range []string{"node is not installed: run make deps", "install Node.js >= 20.10 with npm"} {
				if !strings.Contains(got, want) {
					t.Errorf("message %q lacks %q", got, want)
				}
			}
		})
	}
}

// TestMakeDepsWithoutNode: on a machine with Go and no node or npm, `make
// deps` (which `make test` runs first) says in one line what else to install
// and succeeds, so that the Go tests run and the node suites skip; under CI
// it fails, naming what is missing.
func TestMakeDepsWithoutNode(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			cmd := exec.Command(mk, "-s", "-C", root, "deps")
			// An empty PATH: neither node nor npm is found (make runs recipes with /bin/sh by its full path).
			cmd.Env = []string{"PATH=" + t.TempDir(), "CI=" + ci}
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if ci == "" {
				if err != nil {
					t.Fatalf("make deps without node: %v", err)
				}
				for _, want := range []string{"node or npm not found", "will be skipped", "install Node.js >= 20.10 with npm"} {
					if !strings.Contains(string(out), want) {
						t.Errorf("output %q lacks %q", out, want)
					}
				}
				if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n != 0 {
					t.Errorf("%d lines, want one: %q", n+1, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), "node and npm are required under CI") {
				t.Errorf("make deps under CI without node: %v, %q", err, out)
			}
		})
	}
}
