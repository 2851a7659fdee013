package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps DESIGN.md's rules true as the code grows:
// the bridge and TURN know nothing of XMPP, the XMPP packages know nothing
// of the bridge, and only app (and the commands and test harnesses above
// it) imports everything.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/parley-im/parley/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Deps " "}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rules := []struct{ pkg, forbidden string }{
		{"internal/bridge", "internal/xmpp/"},
		{"internal/bridge", "internal/focus"},
		{"internal/turn", "internal/xmpp/"},
		{"internal/xmpp/", "internal/bridge"},
		{"internal/xmpp/", "internal/turn"},
		{"internal/auth", "internal/xmpp/"},
		{"internal/config", "internal/app"},
		// The focus–bridge API is NATS-free; only internal/cluster speaks NATS.
		{"internal/focus", "internal/cluster"},
		{"internal/focus", "github.com/nats-io/"},
		{"internal/bridge", "internal/cluster"}, // and internal/bridgeapi
		{"internal/bridge", "github.com/nats-io/"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(pkg, mod)
		for _, d := range strings.Fields(deps) {
			d = strings.TrimPrefix(d, mod)
			for _, r := range rules {
				if strings.HasPrefix(rel, r.pkg) && strings.HasPrefix(d, r.forbidden) && rel != "internal/xmpp/xmpptest" {
					t.Errorf("%s imports %s", rel, d)
				}
			}
			if d == "internal/app" && !strings.HasPrefix(rel, "cmd/") && !strings.HasPrefix(rel, "test/") && rel != "internal/xmpp/xmpptest" {
				t.Errorf("%s imports internal/app; only commands and test harnesses may", rel)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed", checked)
	}
}
