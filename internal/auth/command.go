package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrUsage is wrapped by RunUserCommand's command-line errors.
var ErrUsage = errors.New("usage: parley user add|passwd|del NAME (password on the first line of stdin)")

// DatabaseFile is the account database's name inside the data directory.
const DatabaseFile = "accounts.db"

// RunUserCommand implements `parley user add|passwd|del NAME`. add and passwd
// read the password from the first line of stdin (a prompt goes to stderr when
// stdin is a terminal; the password is echoed). The store is
// filepath.Join(dataDir, DatabaseFile); dataDir is created (0700) if missing.
func RunUserCommand(ctx context.Context, dataDir string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand", ErrUsage)
	}
	sub := args[0]
	switch sub {
	case "add", "passwd", "del":
	default:
		return fmt.Errorf("%w: unknown subcommand %q", ErrUsage, sub)
	}
	if len(args) < 2 || args[1] == "" {
		return fmt.Errorf("%w: missing NAME", ErrUsage)
	}
	if len(args) > 2 {
		return fmt.Errorf("%w: unexpected arguments after NAME: %q", ErrUsage, args[2:])
	}
	name, err := NormalizeUsername(args[1])
	if err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	var password string
	if sub != "del" {
		if isTerminal(stdin) {
			fmt.Fprintf(stderr, "Password for %s: ", name)
		}
		if password, err = readPassword(stdin); err != nil {
			return fmt.Errorf("user %s %s: %w", sub, name, err)
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	s, err := Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	defer s.Close()
	var done string
	switch sub {
	case "add":
		err, done = s.AddUser(ctx, name, password), "added"
	case "passwd":
		err, done = s.SetPassword(ctx, name, password), "password changed for"
	case "del":
		err, done = s.DeleteUser(ctx, name), "deleted"
	}
	if err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	fmt.Fprintf(stdout, "%s user %s\n", done, name)
	return nil
}

// readPassword returns the first line of r without its line ending. It reads
// at most a little more than MaxPassword bytes; a longer line is refused later
// by the password length check.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, MaxPassword+2), MaxPassword+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", fmt.Errorf("%w: no password on the first line of stdin", ErrInvalidPassword)
	}
	return line, nil
}

// isTerminal reports whether r is a character device such as a TTY.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
