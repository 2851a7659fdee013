package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func runCmd(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCmd("s3cret pass\n", "user", "--data", dir, "add", "alice"); code != 0 {
		t.Fatalf("add: %d %s", code, stderr)
	}
	if code, _, stderr := runCmd("again\n", "user", "add", "alice", "--data", dir); code == 0 || !strings.Contains(stderr, "exists") {
		t.Fatalf("duplicate add: %d %s", code, stderr)
	}
	st, err := auth.Open(filepath.Join(dir, "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.VerifyPassword(context.Background(), "alice", "s3cret pass"); err != nil {
		t.Fatalf("password: %v", err)
	}
	st.Close()
	if code, _, stderr := runCmd("", "user", "--data", dir, "del", "alice"); code != 0 {
		t.Fatalf("del: %d %s", code, stderr)
	}
	if code, _, _ := runCmd("", "user", "--data", dir, "del", "alice"); code == 0 {
		t.Fatal("deleting a missing user succeeded")
	}
}

func TestCommandLine(t *testing.T) {
	if code, out, _ := runCmd("", "version"); code != 0 || !strings.HasPrefix(out, "parley ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, stderr := runCmd("", "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("unknown: %d %q", code, stderr)
	}
	if code, _, stderr := runCmd("", "serve", "--help"); code != 0 || !strings.Contains(stderr, "-turn-allow-peers") || !strings.Contains(stderr, "-turn-tls") {
		t.Fatalf("serve --help: %d %q", code, stderr)
	}
	if code, _, stderr := runCmd("", "serve", "--domain", "bad domain"); code != 2 || !strings.Contains(stderr, "domain") {
		t.Fatalf("bad flag: %d %q", code, stderr)
	}
}

// TestServeErrorsNameTheFlag: `parley serve` reports a bad value under the
// name it was given by: an unreadable certificate as --tls-cert, a bad
// listen address from the environment as PARLEY_HTTP.
func TestServeErrorsNameTheFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "cert.pem")
	code, _, stderr := runCmd("", "serve", "--data", t.TempDir(), "--tls-cert", missing, "--tls-key", missing)
	if want := "--tls-cert: open " + missing + ": no such file or directory"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("unreadable --tls-cert: %d %q, want %q", code, stderr, want)
	}
	t.Setenv("PARLEY_HTTP", "8443")
	code, _, stderr = runCmd("", "serve", "--data", t.TempDir())
	if want := `parley serve: PARLEY_HTTP: "8443" is not host:port (":8443" listens on every address)`; code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("bad PARLEY_HTTP: %d %q, want %q", code, stderr, want)
	}
}

// `parley bot --bots 2 --json` against a server: one JSON object per bot,
// each having received audio and video from the other.
func TestBotCommand(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	code, out, stderr := runCmd("", "bot", "--url", "https://"+srv.HTTP+"/cli-room", "--insecure", "--loopback",
		"--bots", "2", "--duration", "1500ms", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", out)
	}
	for _, l := range lines {
		var r struct {
			Endpoint string `json:"endpoint"`
			Received map[string]struct {
				AudioPackets int `json:"audioPackets"`
				VideoFrames  int `json:"videoFrames"`
			} `json:"received"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Endpoint == "" || len(r.Received) != 1 {
			t.Fatalf("line %q: %v", l, err)
		}
		for from, got := range r.Received {
			if from == r.Endpoint || got.AudioPackets == 0 || got.VideoFrames == 0 {
				t.Fatalf("%s received %+v from %s", r.Endpoint, got, from)
			}
		}
	}
	if code, _, _ := runCmd("", "bot"); code != 2 {
		t.Fatal("bot without --url")
	}
}
