package firefox_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestFirefoxEncryptedCall runs e2ee.test.js inside a fresh network
// namespace: Firefox and Chromium join one room with the same #k=
// passphrase (end-to-end encryption, docs/e2ee.md) and each must decode
// the other's video from decrypted frames. Skipped as TestFirefoxMixedCall
// is, without firefox-esr or network namespaces.
func TestFirefoxEncryptedCall(t *testing.T) {
	node, chromium := nodetest.Chromium(t, filepath.Join("..", "node_modules"), "playwright-core", "puppeteer-core")
	firefox := os.Getenv("FIREFOX")
	if firefox == "" {
		firefox = "/usr/bin/firefox-esr"
	}
	if _, err := os.Stat(firefox); err != nil {
		t.Skip("firefox-esr is not installed (apt-get install firefox-esr; .ci/run does): the encrypted Firefox call is not tested")
	}
	if testing.Short() {
		t.Skip("the encrypted Firefox call takes a minute; skipped with -short")
	}
	ns, err := newNetns(t)
	if errors.Is(err, errNoNetns) {
		t.Skipf("Firefox runs in a network namespace, and none can be made here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	host := ns.Host.String()
	srv := xmpptest.Start(t, func(c *config.Config) {
		c.HTTP = net.JoinHostPort(host, "0")
		c.XMPP = net.JoinHostPort(host, "0")
		c.Media = net.JoinHostPort(host, "0")
		c.TURN = net.JoinHostPort(host, "0")
	})
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := ns.Command(ctx, node, "--test", "--test-concurrency=1", "e2ee.test.js")
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ROOM=Encrypted"+randomHex(t),
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
		"FIREFOX="+firefox,
	)
	if _, set := os.LookupEnv("PARLEY_WAIT_MS"); !set {
		cmd.Env = append(cmd.Env, "PARLEY_WAIT_MS=25000")
	}
	took, err := nodetest.Run(t, cmd)
	if err != nil {
		t.Fatalf("encrypted Firefox call failed after %v: %v (screenshots in %s)", took.Round(time.Millisecond), err, artifacts)
	}
}
