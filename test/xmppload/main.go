// Command xmppload measures an XMPP server's c2s performance over loopback
// TCP: stanza routing throughput between sessions and memory per idle
// authenticated connection. It is the harness behind the figures in
// docs/performance.md and measures Parley and Prosody on the same load.
//
// It speaks RFC 6120 c2s itself with a small client (encoding/xml): stream
// header, STARTTLS (certificate not verified: test servers are self-signed
// and the tool only connects to loopback), SASL ANONYMOUS or PLAIN, resource
// binding, initial presence, then a XEP-0199 ping whose answer proves the
// session is established.
//
//	xmppload route [flags]   P pairs send to each other's full JID, at most W
//	                         messages in flight per sender; reports delivered
//	                         messages/s, latency p50/p99 and, with --pid, the
//	                         server's CPU seconds and messages per CPU-second.
//	xmppload idle [flags]    opens N available sessions, reports the server's
//	                         VmRSS growth per connection (needs --pid).
//	xmppload muc-fanout      N occupants of one room (XEP-0045), S of them
//	                         sending groupchat; reports stanzas delivered/s.
//	xmppload muc-join        join storms of N occupants into fresh rooms;
//	                         reports the time and presence stanzas per storm.
//	xmppload table FILE...   turns the JSON results into Markdown table rows.
//
// Each result is one JSON line on stdout (also appended to --out) and one
// readable line on stderr. Every run is bounded by --timeout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "route":
		err = runRoute(os.Args[2:])
	case "idle":
		err = runIdle(os.Args[2:])
	case "muc-fanout", "muc-join":
		err = runMUC(os.Args[1], os.Args[2:])
	case "table":
		err = runTable(os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "xmppload: unknown mode %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xmppload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: xmppload route|idle|muc-fanout|muc-join [flags]   (xmppload MODE -h lists the flags)
       xmppload table RESULTS.jsonl...`)
	os.Exit(2)
}

// common holds the flags both load modes share.
type common struct {
	addr        string
	domain      string
	user        string
	password    string
	pid         int
	server      string
	command     string
	concurrency int
	spread      int
	timeout     time.Duration
	out         string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:5222", "c2s address (loopback only)")
	fs.StringVar(&c.domain, "domain", "localhost", "server domain")
	fs.StringVar(&c.user, "user", "", "SASL PLAIN user name; %d is replaced by the client number (default: SASL ANONYMOUS)")
	fs.StringVar(&c.password, "password", "", "SASL PLAIN password (or $XMPPLOAD_PASSWORD)")
	fs.IntVar(&c.pid, "pid", 0, "server process ID, for its CPU time and RSS from /proc")
	fs.StringVar(&c.server, "server", "server", "server label for the results (e.g. \"prosody 0.12.3\")")
	fs.StringVar(&c.command, "server-cmd", "", "command that started the server, recorded with the results")
	fs.IntVar(&c.concurrency, "concurrency", 32, "logins in progress at once")
	fs.IntVar(&c.spread, "spread", 1, "connect from this many source addresses 127.0.0.1, .2, … (servers limit logins per IP)")
	fs.DurationVar(&c.timeout, "timeout", 170*time.Second, "hard limit for the whole run")
	fs.StringVar(&c.out, "out", "", "also append the JSON result to this file")
}

func (c *common) check() error {
	if c.password == "" {
		c.password = os.Getenv("XMPPLOAD_PASSWORD")
	}
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--addr %s: only loopback IP addresses are allowed", c.addr)
	}
	c.addr = net.JoinHostPort(ip.String(), port)
	if c.spread < 1 || c.spread > 250 {
		return fmt.Errorf("--spread must be between 1 and 250")
	}
	if c.spread > 1 && ip.To4() == nil {
		return fmt.Errorf("--spread needs an IPv4 --addr")
	}
	if c.concurrency < 1 {
		c.concurrency = 1
	}
	if c.timeout <= 0 || c.timeout > 30*time.Minute {
		return fmt.Errorf("--timeout must be between 0 and 30m")
	}
	if c.pid != 0 {
		if _, err := cpuSeconds(c.pid); err != nil {
			return fmt.Errorf("--pid %d: %w", c.pid, err)
		}
	}
	return nil
}

// context returns the run's context: bounded by --timeout, cancelled by
// SIGINT/SIGTERM so connections still get closed.
func (c *common) context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	return ctx, func() { stop(); cancel() }
}

func (c *common) login(i int) login {
	l := login{addr: c.addr, domain: c.domain, resource: fmt.Sprintf("xmppload-%d", i)}
	if c.spread > 1 {
		l.local = net.IPv4(127, 0, 0, byte(1+i%c.spread))
	}
	if c.user != "" {
		l.user, l.password = c.user, c.password
		if strings.Contains(c.user, "%d") {
			l.user = fmt.Sprintf(c.user, i)
		}
	}
	return l
}

// connectMany logs in n clients, at most --concurrency at a time, each login
// bounded by loginTimeout. It stops at the first failure (and closes what it
// opened) since a benchmark with missing sessions measures something else.
func (c *common) connectMany(ctx context.Context, n int, loginTimeout time.Duration) ([]*client, error) {
	clients := make([]*client, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				lctx, lcancel := context.WithTimeout(ctx, loginTimeout)
				cl, err := dial(lctx, c.login(i))
				lcancel()
				if err != nil {
					cancel(fmt.Errorf("client %d: %w", i, err))
					continue
				}
				clients[i] = cl
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		for _, cl := range clients {
			if cl != nil {
				cl.close()
			}
		}
		return nil, err
	}
	return clients, nil
}

// closeAll ends every session, a few at a time in parallel.
func closeAll(clients []*client) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, cl := range clients {
		if cl == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			cl.close()
			<-sem
		}()
	}
	wg.Wait()
}

// emit prints a result as one JSON line on stdout (and appends it to --out)
// and a readable line on stderr.
func (c *common) emit(result any, readable string) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	fmt.Fprintln(os.Stderr, readable)
	if c.out == "" {
		return nil
	}
	f, err := os.OpenFile(c.out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// toolCommand reconstructs how this tool was invoked, for the results: the
// output file and server command are left out, and the server's PID, which
// differs on every run, reads $PID.
func toolCommand() string {
	args := []string{"go run ./test/xmppload"}
	in := os.Args[1:]
	for i := 0; i < len(in); i++ {
		a := in[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") {
			switch name {
			case "out", "server-cmd":
				if !hasValue {
					i++
				}
				continue
			case "pid":
				if !hasValue {
					i++
				}
				a = "--pid=$PID"
			}
		}
		if name != "pid" && strings.ContainsAny(a, " '\"$%*?&;|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v >= 0 {
		return float64(int64(v*p+0.5)) / p
	}
	return float64(int64(v*p-0.5)) / p
}
