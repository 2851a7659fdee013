package bot_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// restartable runs a server on loopback that can be restarted as an
// operator restarts one: Shutdown (every stream ends with system-shutdown;
// every conference and media session is gone), then a new App on the same
// HTTPS, c2s and media addresses with the same data directory.
type restartable struct {
	t   *testing.T
	cfg config.Config
	app *app.App
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
	r.start()
	r.cfg.HTTP, r.cfg.XMPP, r.cfg.Media = r.app.HTTPAddr().String(), r.app.XMPPAddr().String(), r.app.Bridge.MediaAddr().String()
	t.Cleanup(func() {
		if r.app != nil {
			r.stop()
		}
	})
	return r
}

func (r *restartable) start() {
	r.t.Helper()
	log := slog.New(slog.NewTextHandler(logWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(r.cfg, log)
	if err != nil {
		r.t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(); err != nil {
		r.t.Fatalf("app.Start: %v", err)
	}
	r.app = a
}

func (r *restartable) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()
	if err := r.app.Shutdown(ctx); err != nil {
		r.t.Errorf("shutdown: %v", err)
	}
	r.app = nil
}

func (r *restartable) restart() {
	r.t.Helper()
	r.stop()
	r.start()
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// more reports whether got has at least this much more audio and video
// from each endpoint than before.
func more(before map[string]bot.Remote, audio, video int, from ...*bot.Bot) func(map[string]bot.Remote) bool {
	return func(got map[string]bot.Remote) bool {
		for _, b := range from {
			id := b.EndpointID()
			if got[id].AudioPackets < before[id].AudioPackets+audio || got[id].VideoFrames < before[id].VideoFrames+video {
				return false
			}
		}
		return true
	}
}

// issue 14 item 3: bots (load tests) recover from a restart of the server
// by themselves: they dial again, ask the focus, join as the same
// endpoint, take the new session and receive each other again.
func TestBotsRecoverFromServerRestart(t *testing.T) {
	srv := startRestartable(t)
	url := "https://" + srv.cfg.HTTP + "/phoenix"
	joinAt := func() *bot.Bot {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b, err := bot.Join(ctx, bot.Options{URL: url, Insecure: true, Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, b := joinAt(), joinAt()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := a.Wait(ctx, hears(b)); err != nil {
		t.Fatal(err)
	}
	if err := b.Wait(ctx, hears(a)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv.restart()
	// The old bridge is gone: more media means a new session through the new one.
	beforeA, beforeB := a.Received(), b.Received()
	if err := a.Wait(ctx, more(beforeA, 50, 20, b)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if err := b.Wait(ctx, more(beforeB, 50, 20, a)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	t.Logf("media back %v after the restart", time.Since(start).Round(time.Millisecond))
}
