// Command parley is the Parley server and its tools.
//
//	parley serve [flags]              run the server (see parley serve -h)
//	parley user add|passwd|del NAME   manage accounts (password on stdin)
//	parley bot --url https://HOST/ROOM  join a room with Go participants
//	parley cluster-creds DIR HOST…    credentials and configuration for a nats-server cluster
//	parley version                    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-im/parley/internal/app"
	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/config"
)

const usage = `usage: parley <command> [arguments]

commands:
  serve                    run the server (parley serve -h lists the flags)
  user add|passwd|del NAME manage accounts; the password is read from stdin
  bot --url URL            join a room with Go participants (parley bot -h)
  cluster-creds DIR HOST…  credentials and nats-server configuration for a cluster on nats-server
  version                  print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "user":
		return user(args[1:], stdin, stdout, stderr)
	case "bot":
		return botCmd(args[1:], stdout, stderr)
	case "cluster-creds":
		return clusterCreds(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "parley", app.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, stderr io.Writer) int {
	cfg, err := config.Load(args, config.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley serve:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("parley stopped", "err", err)
		return 1
	}
	return 0
}

func level(s string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(s))
	return l
}

// user runs `parley user …`; --data (or PARLEY_DATA, or the config file's
// data key) says where the accounts are.
func user(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", config.Getenv(config.EnvName("config")), "TOML configuration file")
	data := fs.String("data", "", "state directory (default from the configuration, else ./data)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley user [--data DIR] add|passwd|del NAME   (password on stdin)")
	}
	// Flags may come before or after the subcommand words.
	var words []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	dir := *data
	if dir == "" {
		var cargs []string
		if *cfgPath != "" {
			cargs = []string{"--config", *cfgPath}
		}
		cfg, err := config.Load(cargs, config.Getenv, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "parley user:", err)
			return 2
		}
		dir = cfg.Data
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "parley user:", err)
		return 1
	}
	if err := auth.RunUserCommand(context.Background(), dir, words, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "parley user:", err)
		return 1
	}
	return 0
}
