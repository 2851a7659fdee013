package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/auth"
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
	if code, _, stderr := runCmd("", "serve", "--help"); code != 0 || !strings.Contains(stderr, "-turn-allow-peers") {
		t.Fatalf("serve --help: %d %q", code, stderr)
	}
	if code, _, stderr := runCmd("", "serve", "--domain", "bad domain"); code != 2 || !strings.Contains(stderr, "domain") {
		t.Fatalf("bad flag: %d %q", code, stderr)
	}
}
