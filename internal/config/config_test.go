package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.toml")
	os.WriteFile(file, []byte(`
domain = "meet.example"
http = ":9443"
xmpp = ":6222"
turn-allow-peers = ["192.0.2.0/24"]
[c2s]
ping-interval = "20s"
allow-anonymous = false
`), 0o600)
	env := map[string]string{"PARLEY_HTTP": ":7443", "PARLEY_TURN_ALLOW_PEERS": "198.51.100.0/24, 203.0.113.7/32"}
	cfg, err := Load([]string{"--config", file, "--xmpp", ":7222"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// file < environment < flags; untouched keys keep their defaults.
	if cfg.Domain != "meet.example" || cfg.HTTP != ":7443" || cfg.XMPP != ":7222" || cfg.Media != ":10000" {
		t.Fatalf("layers: %+v", cfg)
	}
	if strings.Join(cfg.TURNAllowPeers, " ") != "198.51.100.0/24 203.0.113.7/32" {
		t.Fatalf("list from env: %v", cfg.TURNAllowPeers)
	}
	if cfg.C2S.PingInterval != 20*time.Second || cfg.C2S.AllowAnonymous || cfg.C2S.PingTimeout != Default().C2S.PingTimeout {
		t.Fatalf("c2s section: %+v", cfg.C2S)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("domian = \"x\"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", typo}, `unknown key "domian"`},
		{[]string{"--config", filepath.Join(dir, "missing.toml")}, "no such file"},
		{[]string{"--domain", "Bad Domain"}, "domain"},
		{[]string{"--http", "8443"}, "http"},
		{[]string{"--turn-allow-peers", "10.0.0.0"}, "turn-allow-peers"},
		{[]string{"--public-ip", "example.com"}, "public-ip"},
		{[]string{"--tls-cert", "a.pem"}, "tls-cert and tls-key"},
		{[]string{"--log-level", "loud"}, "log-level"},
		{[]string{"--nope"}, "not defined"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		_, err := Load(tc.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestEnvName(t *testing.T) {
	if EnvName("tls-cert") != "PARLEY_TLS_CERT" || EnvName("turn-allow-peers") != "PARLEY_TURN_ALLOW_PEERS" {
		t.Fatal(EnvName("tls-cert"))
	}
}
