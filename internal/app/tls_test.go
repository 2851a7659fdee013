package app_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/config"
)

// TestTLSFileErrors: an unreadable or wrong certificate or key file is
// reported under tls-cert or tls-key (the flag's and PARLEY_TLS_*'s name),
// naming the file once and crypto/tls's reason without a doubled "tls: ".
func TestTLSFileErrors(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	startLogged(t, func(c *config.Config) { c.Data = a })
	startLogged(t, func(c *config.Config) { c.Data = b })
	certA, keyA := filepath.Join(a, "tls-cert.pem"), filepath.Join(a, "tls-key.pem")
	keyB := filepath.Join(b, "tls-key.pem")
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not PEM at all\n"), 0o600)
	missing := filepath.Join(t.TempDir(), "missing.pem")

	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"unreadable cert", missing, keyA, "tls-cert: open " + missing + ": no such file or directory"},
		{"unreadable key", certA, missing, "tls-key: open " + missing + ": no such file or directory"},
		{"cert not PEM", junk, keyA, "tls-cert: " + junk + " holds no PEM CERTIFICATE block"},
		{"key not PEM", certA, junk, "tls-key: " + junk + " holds no PEM PRIVATE KEY block"},
		{"key is a certificate", certA, certA, "tls-key: " + certA + " holds no PEM PRIVATE KEY block"},
		{"key of another certificate", certA, keyB,
			"tls-cert: " + certA + " with tls-key " + keyB + ": private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Data = t.TempDir()
			cfg.TLSCert, cfg.TLSKey = tc.cert, tc.key
			_, err := app.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "tls: ") {
				t.Errorf("crypto/tls's prefix left in %q", err)
			}
		})
	}
	// The good pair loads.
	startLogged(t, func(c *config.Config) { c.TLSCert, c.TLSKey = certA, keyA })
}
