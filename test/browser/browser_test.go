// Package browser runs the web client in Debian's headless Chromium,
// driven by playwright-core, against an in-process Parley.
package browser_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/hostile"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestBrowserClient runs `node --test` over the *.test.js files here with
// PARLEY_URL pointing at a fresh server. Screenshots land in artifacts/
// (gitignored). Without node, the packages or Chromium the test is skipped,
// or fails under CI, where .ci/run and make deps install them.
//
// A second server runs a secure domain ([auth] mode = "jwt", guests = true)
// for access.test.js: PARLEY_SECURE_URL, with PARLEY_HOST_TOKEN (a valid
// token for any room) and PARLEY_EXPIRED_TOKEN (PARLEY_JWT_APP and
// PARLEY_JWT_SECRET sign others, PARLEY_JWT_LEEWAY_S is the clock skew the
// server allows on exp); a third one ([auth] mode =
// "accounts") is PARLEY_ACCOUNTS_URL, with the account PARLEY_ACCOUNT
// (user:password). PARLEY_RESTART_URL is a fourth server that media.test.js
// restarts during a call with a POST to PARLEY_RESTART_CONTROL (see
// restartable). PARLEY_HOSTILE_URL controls a hostile bridge in the first
// server (test/internal/hostile), which e2ee.test.js has alter, inject and
// replay one participant's media. PARLEY_NO_<FEATURE> skips
// the browser test of a server feature that is not there yet, with its
// value as the reason; notYet sets it, and setting it empty runs the test.
func TestBrowserClient(t *testing.T) {
	node, chromium := nodetest.Chromium(t, "node_modules", "playwright-core")
	if testing.Short() {
		t.Skip("browser tests take a minute; skipped with -short")
	}

	srv := xmpptest.Start(t, nil)
	secure := xmpptest.Start(t, func(c *config.Config) {
		c.Auth = auth.Config{Mode: auth.ModeJWT, Guests: true}
		c.JWT = auth.JWTConfig{AppID: browserAppID, AppSecret: browserSecret}
	})
	accounts := xmpptest.Start(t, func(c *config.Config) { c.Auth = auth.Config{Mode: auth.ModeAccounts} })
	accounts.AddUser(t, "hilda", "host-password")
	restart := startRestartable(t)
	hostileURL := serveControl(t, hostile.Install(srv.App.Bridge).Control())
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(artifacts)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // under the Makefile's go test -timeout 20m
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
	args := []string{"--test", "--test-concurrency=1"}
	// PARLEY_BROWSER_TEST_NAMES=hand runs only the tests whose names match (node's --test-name-pattern).
	if names := os.Getenv("PARLEY_BROWSER_TEST_NAMES"); names != "" {
		args = append(args, "--test-name-pattern="+names)
	}
	args = append(args, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
		"PARLEY_SECURE_URL=https://"+secure.HTTP,
		"PARLEY_HOST_TOKEN="+browserToken(t, time.Hour, "Hilda", true),
		"PARLEY_EXPIRED_TOKEN="+browserToken(t, -time.Minute, "Late", false),
		"PARLEY_JWT_APP="+browserAppID,
		"PARLEY_JWT_SECRET="+browserSecret,
		"PARLEY_JWT_LEEWAY_S="+strconv.Itoa(int(auth.Leeway.Seconds())),
		"PARLEY_ACCOUNTS_URL=https://"+accounts.HTTP,
		"PARLEY_ACCOUNT=hilda:host-password",
		"PARLEY_RESTART_URL=https://"+restart.cfg.HTTP,
		"PARLEY_RESTART_CONTROL="+restart.control,
		"PARLEY_HOSTILE_URL="+hostileURL,
	)
	for feature, reason := range notYet {
		if _, set := os.LookupEnv("PARLEY_NO_" + feature); !set {
			cmd.Env = append(cmd.Env, "PARLEY_NO_"+feature+"="+reason)
		}
	}
	took, err := nodetest.Run(t, cmd)
	if err != nil {
		t.Fatalf("browser tests failed after %v: %v (screenshots in %s)", took.Round(time.Millisecond), err, artifacts)
	}
	t.Logf("screenshots in %s", artifacts)
}

// serveControl serves h on loopback for the node tests until the test ends,
// and returns its URL.
func serveControl(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// The secure server's app id and HS256 secret (test values).
const (
	browserAppID  = "parley-browser"
	browserSecret = "browser-test-secret-hs256"
)

// browserToken signs a token for any room that expires in `valid` (negative:
// already expired) for a user with this display name, a moderator (the
// context.user.moderator claim) when moderator is set.
func browserToken(t *testing.T, valid time.Duration, name string, moderator bool) string {
	t.Helper()
	claims := jwt.MapClaims{
		"iss": browserAppID, "aud": "jitsi", "sub": "*", "room": "*",
		"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(valid).Unix(),
		"context": map[string]any{"user": map[string]any{"name": name, "moderator": moderator}},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(browserSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// notYet names the server features access.test.js needs that have not
// landed, and why their tests are skipped.
var notYet = map[string]string{
	// e.g. "LOBBY": "the server has no lobby rooms yet (jitsi-dialect.md §4.5)"
}

// restartable is a server that can be restarted as an operator restarts
// one: Shutdown (every stream ends with system-shutdown; every conference
// and media session is gone), then a new App on the same HTTPS, c2s and
// media addresses with the same data directory (certificate, secrets).
// A POST to control does it and answers once the new App serves.
type restartable struct {
	t       *testing.T
	mu      sync.Mutex
	cfg     config.Config
	app     *app.App
	control string
}

func startRestartable(t *testing.T) *restartable {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP, cfg.XMPP, cfg.Media, cfg.TURN = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.LogLevel = "warn"
	cfg.C2S.LoginsPerSecond, cfg.C2S.LoginBurst = 1000, 1000
	cfg.Bridge.IncludeLoopback = true
	r := &restartable{t: t, cfg: cfg}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	r.cfg.HTTP, r.cfg.XMPP, r.cfg.Media = r.app.HTTPAddr().String(), r.app.XMPPAddr().String(), r.app.Bridge.MediaAddr().String()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.serveControl)}
	go srv.Serve(ln)
	r.control = "http://" + ln.Addr().String() + "/restart"
	t.Cleanup(func() {
		srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.app != nil {
			r.stop()
		}
	})
	return r
}

func (r *restartable) start() error {
	log := slog.New(slog.NewTextHandler(logWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(r.cfg, log)
	if err != nil {
		return fmt.Errorf("app.New: %w", err)
	}
	if err := a.Start(); err != nil {
		return fmt.Errorf("app.Start: %w", err)
	}
	r.app = a
	return nil
}

func (r *restartable) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := r.app.Shutdown(ctx); err != nil {
		r.t.Errorf("shutdown: %v", err)
	}
	r.app = nil
}

func (r *restartable) serveControl(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST restarts the server", http.StatusMethodNotAllowed)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.app != nil {
		r.stop()
	}
	if err := r.start(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "restarted")
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
