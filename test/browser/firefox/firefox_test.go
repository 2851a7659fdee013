// Package firefox holds the browser tests in Debian's firefox-esr, driven
// by puppeteer-core over WebDriver BiDi, beside Chromium (Playwright, as in
// test/browser) and, for the calls, a `parley bot`, on an in-process
// server. Firefox runs in a network namespace of its own (netns_test.go);
// it is a package apart from test/browser so each keeps go test's 10
// minutes.
package firefox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/hostile"
	"github.com/parley-im/parley/test/internal/nodetest"
)

// TestFirefoxMixedCall runs firefox.test.js: Firefox and Chromium join a
// room a bot is in, and each of the three must receive video and audio from
// both others. PARLEY_BOT_URL/received answers what the bot received, and
// /bridge the bridge's debug state (each receiver's bandwidth estimate),
// which the server serves to loopback only.
func TestFirefoxMixedCall(t *testing.T) {
	runSuite(t, suite{
		file: "firefox.test.js",
		room: "Firefox",
		bot:  &bot.Options{Name: "Bot"},
		control: func(b *bot.Bot, srv *xmpptest.Server) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/received":
					writeJSON(w, map[string]any{"endpoint": b.EndpointID(), "received": b.Received()})
				case "/bridge":
					writeJSON(w, srv.App.Bridge.Debug())
				default:
					http.NotFound(w, r)
				}
			}
		},
		todo: notYet,
	})
}

// The passphrase of the encrypted call.
const e2eePassphrase = "fox, chrome and bot"

// TestFirefoxEncryptedCall runs e2ee.test.js: a `parley bot --passphrase`,
// Firefox and Chromium join one room with the same passphrase (end-to-end
// encryption, docs/e2ee.md; the browsers by #k=) and each must decode the
// others' video from decrypted frames. The bot opens the room, so it is
// the key leader and the browsers open Go's HPKE seals. PARLEY_BOT_URL
// answers what the bot received and decrypted; under /hostile/ it drives a
// hostile bridge (test/internal/hostile) that alters, injects and replays
// the bot's media, which neither browser may decode.
func TestFirefoxEncryptedCall(t *testing.T) {
	runSuite(t, suite{
		file: "e2ee.test.js",
		room: "Encrypted",
		bot:  &bot.Options{Name: "Bot", Passphrase: e2eePassphrase},
		control: func(b *bot.Bot, srv *xmpptest.Server) http.HandlerFunc {
			h := http.StripPrefix("/hostile", hostile.Install(srv.App.Bridge).Control())
			return func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/hostile/") {
					h.ServeHTTP(w, r)
					return
				}
				writeJSON(w, map[string]any{"endpoint": b.EndpointID(), "received": b.Received(), "e2ee": b.E2EE()})
			}
		},
		env: []string{"PARLEY_PASSPHRASE=" + e2eePassphrase},
	})
}

// TestFirefoxMeeting runs meeting.test.js: the meeting's features used from
// Firefox with Chromium in the room (raised hands, reactions, the
// participants pane, chat notifications, shortcuts and push to talk, the
// settings dialog, the phone layout in German, the stage around a screen
// share).
func TestFirefoxMeeting(t *testing.T) {
	runSuite(t, suite{file: "meeting.test.js", room: "Meeting"})
}

// TestFirefoxTiles runs tiles.test.js: what each tile shows and offers, in
// Firefox with Chromium in the room (the connection indicator's numbers from
// Firefox's getStats, the media pill only for media that failed, avatar
// initials, the moderator's Mute and Remove), and the preferred video
// quality as the bridge applies it (PARLEY_CONTROL_URL/bridge is its debug
// state, which the server serves to loopback only).
func TestFirefoxTiles(t *testing.T) {
	runSuite(t, suite{
		file:    "tiles.test.js",
		room:    "Tiles",
		control: bridgeState,
	})
}

// TestFirefoxSixPeople runs six.test.js: Firefox and five Chromium
// participants in one meeting, at desktop and phone width, with the chat,
// the participants pane and the settings open, in each browser (screenshots
// for people to look at).
func TestFirefoxSixPeople(t *testing.T) {
	runSuite(t, suite{file: "six.test.js", room: "Six"})
}

// TestFirefoxLateSlots runs lateslots.test.js: Firefox, then Chromium, each
// alone with a bot sending video, each holding back the renegotiations that
// add the bridge's slots; the bridge's estimate toward the browser must not
// fall for the packets the browser dropped meanwhile (PARLEY_CONTROL_URL/bridge
// is the bridge's debug state).
func TestFirefoxLateSlots(t *testing.T) {
	runSuite(t, suite{
		file:    "lateslots.test.js",
		room:    "Late",
		bot:     &bot.Options{Name: "Bot"},
		control: bridgeState,
	})
}

// bridgeState answers PARLEY_CONTROL_URL/bridge with the bridge's debug state.
func bridgeState(_ *bot.Bot, srv *xmpptest.Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bridge" {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, srv.App.Bridge.Debug())
	}
}

// suite is one node test file of this directory and what it runs against.
type suite struct {
	file string // run by node --test
	room string // the prefix of PARLEY_ROOM, a room name of its own
	// bot, when set, joins PARLEY_ROOM first (URL, Insecure and Loopback are filled in), and
	// control answers PARLEY_CONTROL_URL (PARLEY_BOT_URL too, with a bot) with what the test
	// needs to know of it or of the server (the bot is nil without one).
	bot     *bot.Options
	control func(*bot.Bot, *xmpptest.Server) http.HandlerFunc
	env     []string          // more of node's environment
	todo    map[string]string // known faults, as notYet
}

// runSuite runs s.file with node inside a fresh network namespace, against
// a server listening on the host's end of its veth (HTTPS, c2s, media and
// TURN all there); PARLEY_URL is that server and PARLEY_ROOM a fresh room
// name. Screenshots land in artifacts/ (gitignored), emptied once per run.
//
// Without firefox-esr, root or network namespaces the test is skipped
// (.ci/run installs firefox-esr; CI runs as root). Without node, the node
// packages or Chromium it skips, or fails under CI, as test/browser does.
func runSuite(t *testing.T, s suite) {
	node, chromium := nodetest.Chromium(t, filepath.Join("..", "node_modules"), "playwright-core", "puppeteer-core")
	firefox := os.Getenv("FIREFOX")
	if firefox == "" {
		firefox = "/usr/bin/firefox-esr"
	}
	if _, err := os.Stat(firefox); err != nil {
		t.Skipf("firefox-esr is not installed (apt-get install firefox-esr; .ci/run does): %s is not run", s.file)
	}
	if testing.Short() {
		t.Skipf("%s runs two browsers for a minute or more; skipped with -short", s.file)
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
	artifacts := emptyArtifacts(t)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // each suite's part of go test's 10 minutes
	defer cancel()
	room := s.room + randomHex(t)
	env := append(os.Environ(),
		"PARLEY_URL=https://"+srv.HTTP,
		"PARLEY_ROOM="+room,
		"PARLEY_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
		"FIREFOX="+firefox,
	)
	var b *bot.Bot
	if s.bot != nil {
		o := *s.bot
		// The bot runs on the host; its loopback candidates reach the bridge on the veth's host end.
		o.URL, o.Insecure, o.Loopback = "https://"+srv.HTTP+"/"+room, true, true
		b, err = bot.Join(ctx, o)
		if err != nil {
			t.Fatalf("bot: %v", err)
		}
		defer b.Close()
	}
	if s.control != nil {
		// What the bot received or the bridge's state, for the node test, on the veth's host end.
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ctl := &http.Server{Handler: s.control(b, srv)}
		go ctl.Serve(ln)
		defer ctl.Close()
		env = append(env, "PARLEY_CONTROL_URL=http://"+ln.Addr().String())
		if b != nil {
			env = append(env, "PARLEY_BOT_URL=http://"+ln.Addr().String())
		}
	}
	env = append(env, s.env...)
	if _, set := os.LookupEnv("PARLEY_WAIT_MS"); !set {
		// Two browsers start cold beside test/browser's (go test runs packages side by side): every
		// wait returns once its condition holds, so room costs nothing when the machine is idle.
		env = append(env, "PARLEY_WAIT_MS=25000")
	}
	for key, reason := range s.todo {
		if _, set := os.LookupEnv("PARLEY_FIREFOX_TODO_" + key); !set {
			env = append(env, "PARLEY_FIREFOX_TODO_"+key+"="+reason)
		}
	}
	args := []string{"--test", "--test-concurrency=1"}
	// PARLEY_FIREFOX_TESTS=hands runs only the tests whose names match (while working on one).
	if only := os.Getenv("PARLEY_FIREFOX_TESTS"); only != "" {
		args = append(args, "--test-name-pattern="+only)
	}
	cmd := ns.Command(ctx, node, append(args, s.file)...)
	cmd.Env = env
	took, err := nodetest.Run(t, cmd)
	if err != nil {
		t.Fatalf("%s failed after %v: %v (screenshots in %s)", s.file, took.Round(time.Millisecond), err, artifacts)
	}
	t.Logf("%s took %v; screenshots in %s", s.file, took.Round(time.Millisecond), artifacts)
}

// notYet names known faults that firefox.test.js reports as todo (run, logged, not failing) instead
// of failing, and why; each sets PARLEY_FIREFOX_TODO_<KEY>. Setting the variable empty
// (PARLEY_FIREFOX_TODO_LATCH=) makes them fail again; drop the entry once fixed.
var notYet = map[string]string{}

var clearArtifacts sync.Once

// emptyArtifacts returns the absolute path of artifacts/, emptied by the first suite of the run so
// the suites' screenshots end up side by side.
func emptyArtifacts(t *testing.T) string {
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	clearArtifacts.Do(func() { os.RemoveAll(artifacts) })
	return artifacts
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
