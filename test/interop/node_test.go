package interop_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestNodeXMPPClient runs the @xmpp/client tests (WebSocket, RFC 7395)
// in test/interop/node; the variables they read are in node/lib/xmpp.js.
func TestNodeXMPPClient(t *testing.T) { runNodeSuite(t, "node") }

// TestStropheClient runs the Strophe.js tests in test/interop/strophe:
// Strophe is what Jitsi's own client is built on.
func TestStropheClient(t *testing.T) { runNodeSuite(t, "strophe") }

// runNodeSuite runs a node interop suite against an in-process server:
// `node --test` in test/interop/DIR, with the command line that `npm test`
// would run there, so the flags live in package.json only.
func runNodeSuite(t *testing.T, nodeDir string) {
	node, args := nodeCommand(t, nodeDir)

	srv := xmpptest.Start(t, nil)
	const user, password = "interop", "interop-secret"
	srv.AddUser(t, user, password)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = nodeDir
	cmd.Env = append(parentEnv(),
		"XMPP_WS_URL="+srv.WSURL(""),
		"XMPP_DOMAIN="+srv.Domain,
		"XMPP_USER="+user,
		"XMPP_PASSWORD="+password,
		// The server's certificate is self-signed.
		"NODE_TLS_REJECT_UNAUTHORIZED=0",
	)
	took, err := nodetest.Run(t, cmd)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node tests did not finish within 2 minutes: %v", err)
	case err != nil:
		t.Fatalf("node tests failed after %v: %v", took.Round(time.Millisecond), err)
	}
}

// parentEnv is this process's environment without the XMPP_* variables
// that point the node tests elsewhere (those dev-prosody.sh prints, say),
// keeping XMPP_WAIT_MS for slow machines.
func parentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "XMPP_") && !strings.HasPrefix(kv, "XMPP_WAIT_MS=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// nodeCommand finds node and the installed test dependencies, and returns
// the program and arguments of package.json's "test" script. When node or
// the packages are missing it skips the test, or fails it under CI, where
// `make deps` should have installed them.
func nodeCommand(t *testing.T, nodeDir string) (string, []string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		nodetest.Missing(t, what, "run make deps (.ci/run installs node itself on a fresh machine)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	pkg, err := os.ReadFile(filepath.Join(nodeDir, "package.json"))
	if err != nil {
		missing("no test/interop/" + nodeDir + "/package.json")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules")); err != nil {
		missing("test/interop/" + nodeDir + "/node_modules is missing")
	}

	var p struct {
		Scripts struct {
			Test string `json:"test"`
		} `json:"scripts"`
	}
	if err := json.Unmarshal(pkg, &p); err != nil {
		t.Fatalf("test/interop/%s/package.json: %v", nodeDir, err)
	}
	// Run without a shell, so only a plain "node ARGS…" is accepted.
	fields := strings.Fields(p.Scripts.Test)
	if len(fields) < 2 || fields[0] != "node" || strings.ContainsAny(p.Scripts.Test, "\"'`$&|;<>\\") || !slices.Contains(fields, "--test") {
		t.Fatalf(`test/interop/%s/package.json: scripts.test is %q, want a plain "node … --test …" command`, nodeDir, p.Scripts.Test)
	}
	return node, fields[1:]
}
