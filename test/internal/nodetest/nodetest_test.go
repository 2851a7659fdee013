package nodetest

import (
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
