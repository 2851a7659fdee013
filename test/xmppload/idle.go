package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

// The idle benchmark: read the server's VmRSS, open N sessions (logged in,
// bound, available, each confirmed by a ping round trip), wait for the server
// to settle, read VmRSS again and divide the growth by N. The sessions answer
// server pings meanwhile, then all are closed.

type idleResult struct {
	Mode           string  `json:"mode"`
	Server         string  `json:"server"`
	ServerCmd      string  `json:"server_cmd,omitempty"`
	Command        string  `json:"command"`
	Connections    int     `json:"connections"`
	LoginSeconds   float64 `json:"login_s"`
	LoginsPerSec   float64 `json:"logins_per_s"`
	RSSBeforeBytes int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes  int64   `json:"rss_after_bytes,omitempty"`
	BytesPerConn   int64   `json:"bytes_per_conn,omitempty"`
	ServerCPUSecs  float64 `json:"server_cpu_s,omitempty"`
	Time           string  `json:"time"`
}

func runIdle(args []string) error {
	var o common
	var n int
	var settle time.Duration
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	o.register(fs)
	fs.IntVar(&n, "conns", 10000, "connections to open")
	fs.DurationVar(&settle, "settle", 5*time.Second, "wait after the last login before reading RSS")
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("idle: unexpected argument %q", fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return err
	}
	if n < 1 || settle < 0 {
		return errors.New("idle: --conns must be positive")
	}
	if o.pid == 0 {
		fmt.Fprintln(os.Stderr, "xmppload: idle: no --pid, so no memory figure; only login rate")
	}
	if _, err := raiseNoFile(uint64(n) + 64); err != nil {
		return err
	}

	ctx, cancel := o.context()
	defer cancel()
	var r idleResult
	var cpu0 float64
	if o.pid != 0 {
		var err error
		if r.RSSBeforeBytes, err = rssBytes(o.pid); err != nil {
			return err
		}
		if cpu0, err = cpuSeconds(o.pid); err != nil {
			return err
		}
	}

	t0 := time.Now()
	clients, err := o.connectMany(ctx, n, 60*time.Second)
	if err != nil {
		return fmt.Errorf("idle: login: %w", err)
	}
	defer closeAll(clients)
	loginTime := time.Since(t0)
	fmt.Fprintf(os.Stderr, "xmppload: idle: %d sessions up in %.1fs; settling %s\n", n, loginTime.Seconds(), settle)

	// Keep answering the server (pings) while we wait; a session that ends
	// now would make the figure wrong, so count those.
	ended := make(chan error, n)
	for _, c := range clients {
		go func() { ended <- c.readLoop(func(*stanza) {}) }()
	}
	select {
	case <-time.After(settle):
	case err := <-ended:
		return fmt.Errorf("idle: a session ended while idle: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("idle: %w", context.Cause(ctx))
	}
	if o.pid != 0 {
		if r.RSSAfterBytes, err = rssBytes(o.pid); err != nil {
			return err
		}
		cpu1, err := cpuSeconds(o.pid)
		if err != nil {
			return err
		}
		r.ServerCPUSecs = round(cpu1-cpu0, 2)
		r.BytesPerConn = (r.RSSAfterBytes - r.RSSBeforeBytes) / int64(n)
	}
	select {
	case err := <-ended:
		return fmt.Errorf("idle: a session ended while idle: %w", err)
	default:
	}

	r.Mode, r.Server, r.ServerCmd, r.Command = "idle", o.server, o.command, toolCommand()
	r.Connections = n
	r.LoginSeconds = round(loginTime.Seconds(), 2)
	r.LoginsPerSec = round(float64(n)/loginTime.Seconds(), 0)
	r.Time = t0.UTC().Format(time.RFC3339)
	readable := fmt.Sprintf("idle %s: %d sessions logged in in %.1fs (%.0f/s)", o.server, n, r.LoginSeconds, r.LoginsPerSec)
	if o.pid != 0 {
		readable += fmt.Sprintf(", server RSS %.1f → %.1f MiB = %d bytes per connection",
			float64(r.RSSBeforeBytes)/(1<<20), float64(r.RSSAfterBytes)/(1<<20), r.BytesPerConn)
	}
	return o.emit(r, readable)
}
