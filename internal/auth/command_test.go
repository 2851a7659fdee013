package auth

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUserCommand(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data") // created by the command
	run := func(stdin string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := RunUserCommand(ctx, dir, args, strings.NewReader(stdin), &out, &errOut)
		if errOut.Len() != 0 {
			t.Errorf("%v: unexpected stderr %q (stdin is not a terminal)", args, errOut.String())
		}
		return out.String(), err
	}
	tests := []struct {
		stdin   string
		args    []string
		wantOut string
		wantErr error  // errors.Is target
		errText string // substring of the message
	}{
		{"", nil, "", ErrUsage, "missing subcommand"},
		{"", []string{"list"}, "", ErrUsage, `unknown subcommand "list"`},
		{"", []string{"add"}, "", ErrUsage, "missing NAME"},
		{"pw\n", []string{"add", "alice", "extra"}, "", ErrUsage, "unexpected arguments"},
		{"pw\n", []string{"add", "a@b"}, "", ErrInvalidUsername, "JID localpart"},
		{"", []string{"add", "alice"}, "", ErrInvalidPassword, "no password"},
		{"\n", []string{"add", "alice"}, "", ErrInvalidPassword, "no password"},
		{"pencil\r\nignored\n", []string{"add", "Alice"}, "added user alice\n", nil, ""},
		{"pencil\n", []string{"add", "alice"}, "", ErrUserExists, "user exists: alice"},
		{"crayon", []string{"passwd", "alice"}, "password changed for user alice\n", nil, ""},
		{"crayon\n", []string{"passwd", "bob"}, "", ErrNoSuchUser, "no such user: bob"},
		{"", []string{"del", "bob"}, "", ErrNoSuchUser, "no such user: bob"},
	}
	for _, tt := range tests {
		out, err := run(tt.stdin, tt.args...)
		if tt.wantErr == nil {
			if err != nil || out != tt.wantOut {
				t.Errorf("%v: got %q, %v; want %q", tt.args, out, err, tt.wantOut)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
			t.Errorf("%v: got error %v; want %v containing %q", tt.args, err, tt.wantErr, tt.errText)
		}
	}

	// The password set by passwd is the one that works, read from stdin's
	// first line only.
	s, err := Open(filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyPassword(ctx, "alice", "crayon"); err != nil {
		t.Errorf("verify after passwd: %v", err)
	}
	if err := s.VerifyPassword(ctx, "alice", "pencil"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("old password: %v", err)
	}
	s.Close()

	if out, err := run("", "del", "ALICE"); err != nil || out != "deleted user alice\n" {
		t.Errorf("del: %q, %v", out, err)
	}
	if out, err := run("", "del", "alice"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("del again: %q, %v", out, err)
	}
}
