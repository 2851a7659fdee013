package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/config"
)

// syncBuffer is a log destination read after the server has stopped.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts a server on loopback logging at info into the returned
// buffer, and stops it before returning.
func startLogged(t *testing.T, mutate func(*config.Config)) (*app.App, string) {
	t.Helper()
	cfg := config.Default()
	cfg.HTTP, cfg.XMPP, cfg.Media, cfg.TURN = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.TURNTLS = "off"
	cfg.Data = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	out := &syncBuffer{}
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := a.Start(); err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	return a, out.String()
}

// TestStartupLine: at info, start-up prints one line with the URL to open,
// saying when the certificate is self-signed, and none of Pion's lines
// (pionlog.TestLevels checks the levels they are mapped to).
func TestStartupLine(t *testing.T) {
	a, log := startLogged(t, nil)
	_, port, _ := net.SplitHostPort(a.HTTPAddr().String())
	url := "https://localhost:" + port + "/"
	if a.URL() != url {
		t.Errorf("URL() = %q, want %q", a.URL(), url)
	}
	var open []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "pion=") {
			t.Errorf("Pion line at info: %s", l)
		}
		if strings.Contains(l, "open https://") {
			open = append(open, l)
		}
	}
	if len(open) != 1 {
		t.Fatalf("want one line with the URL, got %d in:\n%s", len(open), log)
	}
	t.Log(open[0])
	if !strings.Contains(open[0], "open "+url+" in a browser") || !strings.Contains(open[0], "self-signed") ||
		!strings.Contains(open[0], "level=INFO") {
		t.Errorf("startup line %q lacks the URL or the self-signed note", open[0])
	}

	// With a certificate of its own and public-url, the line names
	// public-url and says nothing of a self-signed certificate.
	certs := t.TempDir()
	startLogged(t, func(c *config.Config) { c.Data = certs }) // writes a certificate to reuse
	_, log = startLogged(t, func(c *config.Config) {
		c.TLSCert, c.TLSKey = filepath.Join(certs, "tls-cert.pem"), filepath.Join(certs, "tls-key.pem")
		c.PublicURL = "https://meet.example.org"
	})
	if !strings.Contains(log, `msg="open https://meet.example.org/ in a browser"`) || strings.Contains(log, "self-signed") {
		t.Errorf("with a given certificate and public-url, log:\n%s", log)
	}
}
