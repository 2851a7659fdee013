package config

import (
	"io"
	"os"
	"path/filepath"
	"slices"
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
		{[]string{"--public-url", "http://meet.example.org"}, "public-url"},
		{[]string{"--public-url", "https://meet.example.org/room"}, "public-url"},
		{[]string{"--public-url", "https://meet.example.org:99999"}, "public-url"},
		{[]string{"--public-url", "https://user@meet.example.org"}, "public-url"},
		{[]string{"--public-url", "meet.example.org"}, "public-url"},
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

// TestTURNTLS: the TURN TLS address is a top-level key like turn (flag, key, variable), "off" turns it off,
// a file's old [turn-server] tls-port still sets it, and clashes are refused with the key named.
func TestTURNTLS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	key := write("key.toml", "turn-tls = \"127.0.0.1:6349\"\n")
	legacy := write("legacy.toml", "[turn-server]\ntls-port = 6350\nrealm = \"turn.example\"\n")
	legacyOff := write("legacy-off.toml", "[turn-server]\ntls-port = 0\n")
	both := write("both.toml", "turn-tls = \":6349\"\n[turn-server]\ntls-port = 6350\n")
	badLegacy := write("bad-legacy.toml", "[turn-server]\ntls-port = 70000\nrealm = \"r\"\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // TURNConfig().TLSListen
	}{
		{"default", nil, nil, ":5349"},
		{"flag", []string{"--turn-tls", ":15349"}, nil, ":15349"},
		{"env", nil, map[string]string{"PARLEY_TURN_TLS": "[::1]:25349"}, "[::1]:25349"},
		{"flag over env", []string{"--turn-tls=:15349"}, map[string]string{"PARLEY_TURN_TLS": ":25349"}, ":15349"},
		{"off", []string{"--turn-tls", "off"}, nil, ""},
		{"empty flag", []string{"--turn-tls="}, nil, ""},
		{"file key", []string{"--config", key}, nil, "127.0.0.1:6349"},
		{"tls-port", []string{"--config", legacy}, nil, ":6350"},
		{"tls-port 0", []string{"--config", legacyOff}, nil, ""},
		{"flag over tls-port", []string{"--config", legacy, "--turn-tls", ":7349"}, nil, ":7349"},
	} {
		cfg, err := Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := cfg.TURNConfig().TLSListen; got != tc.want {
			t.Errorf("%s: TLSListen %q, want %q", tc.name, got, tc.want)
		}
		if slices.Contains(tc.args, legacy) && cfg.TURNConfig().Realm != "turn.example" {
			t.Errorf("%s: the section's other keys were lost: realm %q", tc.name, cfg.TURNConfig().Realm)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--turn-tls", "5349"}, "turn-tls"},
		{[]string{"--turn-tls", ":http"}, "turn-tls"},
		{[]string{"--turn-tls", ":70000"}, "turn-tls"},
		{[]string{"--turn", ":4000", "--turn-tls", ":4000"}, "turn-tls"},
		{[]string{"--http", ":5349"}, "turn-tls"},
		{[]string{"--xmpp", ":6000", "--turn-tls", ":6000"}, "turn-tls"},
		{[]string{"--config", both}, "tls-port and turn-tls"},
		{[]string{"--config", badLegacy}, "tls-port 70000"},
	} {
		_, err := Load(tc.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// Two servers on one machine: every listener of the second moves with the documented flags.
	var help strings.Builder
	Load([]string{"--help"}, func(string) string { return "" }, &help)
	if !strings.Contains(help.String(), "-turn-tls") || !strings.Contains(help.String(), ":5349") {
		t.Errorf("serve --help does not show --turn-tls and its default:\n%s", help.String())
	}
}

// TestPublicURL: public-url gives the scheme and host clients use; unset is "".
func TestPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"https://Meet.Example.org":     "https://meet.example.org",
		"https://meet.example.org/":    "https://meet.example.org",
		"https://meet.example.org:443": "https://meet.example.org:443",
		"https://[2001:db8::1]:8443":   "https://[2001:db8::1]:8443",
	} {
		c, err := Load([]string{"--public-url", in}, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got, err := c.PublicBase(); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	c, err := Load(nil, func(k string) string { return map[string]string{"PARLEY_PUBLIC_URL": "https://proxy.example"}[k] }, io.Discard)
	if err != nil || c.PublicURL != "https://proxy.example" {
		t.Fatalf("env: %q, %v", c.PublicURL, err)
	}
}

// TestErrorsNameTheSource: a bad top-level value is reported under the name
// it was given by (flag, environment variable or file key), once, with the
// value once.
func TestErrorsNameTheSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.toml")
	os.WriteFile(file, []byte("http = \"8443\"\nlog-level = \"loud\"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PARLEY_HTTP": "8443"}, `PARLEY_HTTP: "8443" is not host:port (":8443" listens on every address)`},
		{nil, map[string]string{"PARLEY_HTTP": "localhost"}, `PARLEY_HTTP: "localhost" is not host:port`},
		{nil, map[string]string{"PARLEY_XMPP": ":99999"}, `PARLEY_XMPP: ":99999" has a bad port (0-65535)`},
		{[]string{"--http", "8443"}, nil, `--http: "8443" is not host:port (":8443" listens on every address)`},
		{[]string{"--media=:x"}, nil, `--media: ":x" has a bad port (0-65535)`},
		// The flag wins over the variable, and so does its name.
		{[]string{"--http", "nope"}, map[string]string{"PARLEY_HTTP": ":8443"}, `--http: "nope" is not host:port`},
		{[]string{"--config", file}, nil, `http: "8443" is not host:port (":8443" listens on every address)`},
		{[]string{"--config", file, "--http", ":1"}, nil, `log-level: "loud" is not debug, info, warn or error`},
		{nil, map[string]string{"PARLEY_LOG_LEVEL": "loud"}, `PARLEY_LOG_LEVEL: "loud" is not debug, info, warn or error`},
		{nil, map[string]string{"PARLEY_PUBLIC_IP": "example.com"}, `PARLEY_PUBLIC_IP: "example.com" is not an IP address`},
		{nil, map[string]string{"PARLEY_PUBLIC_URL": "http://x"}, `PARLEY_PUBLIC_URL: "http://x" is not https://HOST[:PORT]`},
		{[]string{"--metrics-allow", "10.0.0.1"}, nil, `--metrics-allow: "10.0.0.1" is not a CIDR`},
		{nil, map[string]string{"PARLEY_TURN_ALLOW_PEERS": "x"}, `PARLEY_TURN_ALLOW_PEERS: "x" is not a CIDR`},
		{nil, map[string]string{"PARLEY_DOMAIN": "Bad Domain"}, `PARLEY_DOMAIN: "Bad Domain" is not a valid, normalised domain name`},
	} {
		_, err := Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v %v: got %v, want %s", tc.args, tc.env, err, tc.want)
		}
	}
}

// TestNamed: an error found after Load (an unreadable tls-cert, say) is
// named as the value was given; an error of a key from the file or a
// default keeps the key's name.
func TestNamed(t *testing.T) {
	env := map[string]string{"PARLEY_TLS_CERT": "c.pem", "PARLEY_TLS_KEY": "k.pem"}
	cfg, err := Load([]string{"--tls-key", "k2.pem"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"tls-cert": "PARLEY_TLS_CERT: unreadable",
		"tls-key":  "--tls-key: unreadable",
		"data":     "data: unreadable",
	} {
		if got := cfg.Named(&KeyError{Key: key, Problem: "unreadable"}).Error(); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	if got := cfg.Named(io.EOF); got != io.EOF {
		t.Errorf("other error changed: %v", got)
	}
}
