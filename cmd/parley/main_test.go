package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// `parley bot --bots 2 --json --max-height 180` against a server: one JSON
// object per bot, each having received audio and video from the other, the
// video at 180p, over the bot's time in the room; each sent its 180p
// encoding.
func TestBotCommand(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	code, out, stderr := runCmd("", "bot", "--url", "https://"+srv.HTTP+"/cli-room", "--insecure", "--loopback",
		"--bots", "2", "--duration", "1500ms", "--json", "--max-height", "180")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", out)
	}
	for _, l := range lines {
		var r struct {
			Endpoint string    `json:"endpoint"`
			Start    time.Time `json:"start"`
			End      time.Time `json:"end"`
			Received map[string]struct {
				AudioPackets int `json:"audioPackets"`
				VideoFrames  int `json:"videoFrames"`
				Sources      map[string]struct {
					Kind  string `json:"kind"`
					Video *struct {
						Frames int `json:"frames"`
						Height int `json:"height"`
					} `json:"video"`
				} `json:"sources"`
			} `json:"received"`
			Sent struct {
				Encodings []struct {
					Height int `json:"height"`
					Frames int `json:"frames"`
				} `json:"encodings"`
			} `json:"sent"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Endpoint == "" || len(r.Received) != 1 {
			t.Fatalf("line %q: %v", l, err)
		}
		if r.Start.IsZero() || r.End.Sub(r.Start) < 1500*time.Millisecond {
			t.Errorf("start %v, end %v: shorter than --duration", r.Start, r.End)
		}
		for from, got := range r.Received {
			if from == r.Endpoint || got.AudioPackets == 0 || got.VideoFrames == 0 {
				t.Fatalf("%s received %+v from %s", r.Endpoint, got, from)
			}
			v := got.Sources[from+"-v0"].Video
			if got.Sources[from+"-a0"].Kind != "audio" || v == nil || v.Frames != got.VideoFrames || v.Height != 180 {
				t.Fatalf("%s received from %s: %s", r.Endpoint, from, l)
			}
		}
		if e := r.Sent.Encodings; len(e) != 3 || e[0].Height != 180 || e[0].Frames == 0 {
			t.Fatalf("%s sent %+v", r.Endpoint, e)
		}
	}
	if code, _, _ := runCmd("", "bot"); code != 2 {
		t.Fatal("bot without --url")
	}
}

// TestBotFlagErrors: a bad receive constraint is reported under its flag,
// before joining.
func TestBotFlagErrors(t *testing.T) {
	for _, c := range []struct{ args, want []string }{
		{[]string{"--max-height", "-2"}, []string{"parley bot: --max-height -2: must be -1 (no limit), 0 (no video) or a height in pixels"}},
		{[]string{"--last-n", "-5"}, []string{"parley bot: --last-n -5: must be -1 (every source) or a number of sources"}},
		{[]string{"--max-height", "tall"}, []string{`invalid value "tall" for flag -max-height`}},
	} {
		args := append([]string{"bot", "--url", "https://127.0.0.1:1/room"}, c.args...)
		code, _, stderr := runCmd("", args...)
		if code != 2 || !strings.Contains(stderr, c.want[0]) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want[0])
		}
	}
}

// `parley bot --bots 2 --passphrase X --json`: both bots decrypt each
// other's frames and report the same epoch and security code; no frame
// failed to authenticate.
func TestBotCommandE2EE(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	code, out, stderr := runCmd("", "bot", "--url", "https://"+srv.HTTP+"/cli-secret", "--insecure", "--loopback",
		"--bots", "2", "--duration", "4s", "--json", "--passphrase", "correct horse")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q", out)
	}
	var codes []string
	for _, l := range lines {
		var r struct {
			Received map[string]struct {
				VideoFrames int `json:"videoFrames"`
			} `json:"received"`
			E2EE *struct {
				Enabled      bool   `json:"enabled"`
				Epoch        uint32 `json:"epoch"`
				SecurityCode string `json:"security_code"`
				Decrypted    uint64 `json:"decrypted"`
				Failed       struct {
					Auth uint64 `json:"auth"`
				} `json:"failed"`
			} `json:"e2ee"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.E2EE == nil {
			t.Fatalf("line %q: %v", l, err)
		}
		e := r.E2EE
		if !e.Enabled || e.Epoch == 0 || e.Decrypted == 0 || e.Failed.Auth != 0 || len(r.Received) != 1 {
			t.Errorf("e2ee report %s", l)
		}
		for _, got := range r.Received {
			if got.VideoFrames == 0 {
				t.Errorf("no video decrypted: %s", l)
			}
		}
		codes = append(codes, e.SecurityCode)
	}
	if codes[0] == "" || codes[0] != codes[1] {
		t.Errorf("security codes %q in\n%s", codes, out)
	}
}
