package firefox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// The passphrase of the encrypted call.
const e2eePassphrase = "fox, chrome and bot"

// TestFirefoxEncryptedCall runs e2ee.test.js inside a fresh network
// namespace: a `parley bot --passphrase`, Firefox and Chromium join one
// room with the same passphrase (end-to-end encryption, docs/e2ee.md; the
// browsers by #k=) and each must decode the others' video from decrypted
// frames. The bot opens the room, so it is the key leader and the browsers
// open Go's HPKE seals. Skipped as TestFirefoxMixedCall is, without
// firefox-esr or network namespaces.
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
	room := "Encrypted" + randomHex(t)
	b, err := bot.Join(ctx, bot.Options{URL: "https://" + srv.HTTP + "/" + room, Insecure: true, Loopback: true, Name: "Bot", Passphrase: e2eePassphrase})
	if err != nil {
		t.Fatalf("bot: %v", err)
	}
	defer b.Close()
	// What the bot received and decrypted, for e2ee.test.js, on the veth's host end.
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ctl := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"endpoint": b.EndpointID(), "received": b.Received(), "e2ee": b.E2EE()})
	})}
	go ctl.Serve(ln)
	defer ctl.Close()

	cmd := ns.Command(ctx, node, "--test", "--test-concurrency=1", "e2ee.test.js")
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ROOM="+room,
		"PARLEY_BOT_URL=http://"+ln.Addr().String(),
		"PARLEY_PASSPHRASE="+e2eePassphrase,
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
