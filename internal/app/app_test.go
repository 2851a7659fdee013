package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func TestHealthzAndConfigJSON(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	cl := xmpptest.HTTPClient()
	r, err := cl.Get("https://" + srv.HTTP + "/healthz")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", err, r)
	}
	r.Body.Close()
	r, err = cl.Get("https://" + srv.HTTP + "/config.json")
	if err != nil || r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("config.json: %v %v", err, r)
	}
	r.Body.Close()
	r, err = cl.Get("https://" + srv.HTTP + "/a/b/../../../etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode == http.StatusOK {
		t.Fatal("path traversal answered 200")
	}
}

// SIGTERM's path: every stream ends with system-shutdown, nothing new is
// accepted, and health turns off.
func TestShutdownEndsStreams(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	a, b := srv.DialTCP(t), srv.DialWS(t, "")
	a.Login("", "")
	b.Login("", "")
	done := make(chan error, 1)
	go func() { done <- srv.App.Shutdown(context.Background()) }()
	a.ExpectStreamError("system-shutdown")
	b.ExpectStreamError("system-shutdown")
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if c, err := tls.Dial("tcp", srv.HTTP, &tls.Config{InsecureSkipVerify: true}); err == nil {
		c.Close()
		t.Fatal("HTTPS still accepting after shutdown")
	}
}

// The self-signed certificate is generated once into the data directory
// and reused by the next start.
func TestSelfSignedCertificateReused(t *testing.T) {
	dir := t.TempDir()
	srv := xmpptest.Start(t, func(c *config.Config) { c.Data = dir })
	first, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv.App.Shutdown(context.Background())
	xmpptest.Start(t, func(c *config.Config) { c.Data = dir })
	second, _ := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if !bytes.Equal(first, second) {
		t.Fatal("certificate regenerated")
	}
}

func TestMetricsAndBridgeChannelMounted(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	c := srv.DialWS(t, "")
	c.Login("", "")
	cl := xmpptest.HTTPClient()
	r, err := cl.Get("https://" + srv.HTTP + "/metrics")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %v %v", err, r)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{"parley_xmpp_sessions 1", "parley_xmpp_connections 1", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The bridge's debug state is JSON, from where /metrics may be read.
	r, err = cl.Get("https://" + srv.HTTP + "/debug/bridge")
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("debug/bridge: %v %v", err, r)
	}
	var dbg struct{ Conferences []any }
	if err := json.NewDecoder(r.Body).Decode(&dbg); err != nil || dbg.Conferences == nil {
		t.Errorf("debug/bridge: %v %+v", err, dbg)
	}
	r.Body.Close()
	// The bridge channel answers 404 for a conference that does not exist.
	r, err = cl.Get("https://" + srv.HTTP + "/colibri-ws/parley/nope/nobody?pwd=x")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("colibri-ws for an unknown conference: %d", r.StatusCode)
	}
}
