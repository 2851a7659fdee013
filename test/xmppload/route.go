package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The route benchmark: 2P clients in P pairs; each client sends
// <message type='chat'/> to its peer's full JID. A sender has a window of W
// tokens; it spends one per message and the peer's reader returns it on
// delivery, so at most W messages per sender are in flight and a server that
// queues instead of delivering slows the sender down rather than hiding the
// backlog. The body carries the sequence number and the send time, from
// which the receiver measures latency. Deliveries are counted between the end
// of the warm-up and the end of the run; CPU is sampled at the same instants.

type routeResult struct {
	Mode             string  `json:"mode"`
	Server           string  `json:"server"`
	ServerCmd        string  `json:"server_cmd,omitempty"`
	Command          string  `json:"command"`
	Pairs            int     `json:"pairs"`
	Window           int     `json:"window"`
	BodyBytes        int     `json:"body_bytes"`
	Seconds          float64 `json:"seconds"`
	Delivered        int64   `json:"delivered"`
	MsgsPerSec       float64 `json:"msgs_per_s"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`
	MsgsPerServerCPU float64 `json:"msgs_per_server_cpu_s,omitempty"`
	ClientCPUSeconds float64 `json:"client_cpu_s"`
	Sent             int64   `json:"sent_total"`
	Lost             int64   `json:"lost"`
	Errors           int64   `json:"errors"`
	Time             string  `json:"time"`
}

type routeOpts struct {
	common
	pairs    int
	window   int
	messages int
	duration time.Duration
	warmup   time.Duration
	bodySize int
}

// peer is one client of a pair, seen from the benchmark.
type peer struct {
	c      *client
	to     string        // the peer's full JID, escaped for an attribute
	window chan struct{} // send tokens; the peer's reader returns them

	sent atomic.Int64 // messages written

	// Updated only by this client's reader goroutine, read after it exits.
	delivered int64   // messages received in the measured interval
	received  int64   // all messages received
	errors    int64   // error stanzas received
	latencies []int64 // nanoseconds, measured interval only, capped
}

const maxLatencySamples = 4 << 20 // all peers together; 32 MiB

func runRoute(args []string) error {
	var o routeOpts
	fs := flag.NewFlagSet("route", flag.ExitOnError)
	o.register(fs)
	fs.IntVar(&o.pairs, "pairs", 50, "client pairs")
	fs.IntVar(&o.window, "window", 16, "messages in flight per sender")
	fs.IntVar(&o.messages, "messages", 0, "messages per sender (0: send until --duration)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured interval (upper bound when --messages is set)")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "sending before measuring starts")
	fs.IntVar(&o.bodySize, "body", 64, "message body size in bytes (at least the timestamp)")
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("route: unexpected argument %q", fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.pairs < 1 || o.window < 1 || o.duration <= 0 || o.warmup < 0 {
		return errors.New("route: --pairs, --window and --duration must be positive")
	}
	if o.warmup+o.duration+30*time.Second > o.timeout {
		return fmt.Errorf("route: --warmup + --duration + 30s for login and drain exceed --timeout %s", o.timeout)
	}
	if _, err := raiseNoFile(uint64(2*o.pairs) + 64); err != nil {
		return err
	}

	ctx, cancel := o.context()
	defer cancel()
	clients, err := o.connectMany(ctx, 2*o.pairs, 30*time.Second)
	if err != nil {
		return fmt.Errorf("route: login: %w", err)
	}
	peers := make([]*peer, len(clients))
	for i, c := range clients {
		peers[i] = &peer{c: c, window: make(chan struct{}, o.window)}
		for range o.window {
			peers[i].window <- struct{}{}
		}
	}
	for i, p := range peers {
		p.to = escape(peers[i^1].c.jid)
	}
	r, err := o.run(ctx, peers)
	closeAll(clients)
	if err != nil {
		return err
	}
	readable := fmt.Sprintf("route %s: %d pairs, window %d: %.0f msg/s delivered (%d in %.1fs), latency p50 %.2f ms p99 %.2f ms",
		o.server, o.pairs, o.window, r.MsgsPerSec, r.Delivered, r.Seconds, r.P50Ms, r.P99Ms)
	if o.pid != 0 {
		readable += fmt.Sprintf(", server CPU %.2fs = %.0f msg per CPU-second", r.ServerCPUSeconds, r.MsgsPerServerCPU)
	}
	readable += fmt.Sprintf(", client CPU %.2fs, lost %d, errors %d", r.ClientCPUSeconds, r.Lost, r.Errors)
	return o.emit(r, readable)
}

// run drives the benchmark on logged-in peers, closing them at the end.
func (o *routeOpts) run(ctx context.Context, peers []*peer) (*routeResult, error) {
	start := time.Now() // the clock the bodies carry
	var measuring atomic.Bool
	var deliveredAll atomic.Int64
	doneDelivering := make(chan struct{})
	want := int64(o.messages) * int64(len(peers))
	sampleCap := maxLatencySamples / len(peers)

	var readers sync.WaitGroup
	for i, p := range peers {
		from := peers[i^1]
		p.latencies = make([]int64, 0, min(sampleCap, 1<<16))
		readers.Add(1)
		go func() {
			defer readers.Done()
			p.c.readLoop(func(s *stanza) {
				if s.typ == "error" {
					p.errors++
					return
				}
				seq, sentAt, ok := parseBody(s.body)
				if !ok || seq < 0 {
					return
				}
				p.received++
				if measuring.Load() {
					p.delivered++
					if len(p.latencies) < sampleCap {
						p.latencies = append(p.latencies, int64(time.Since(start))-sentAt)
					}
				}
				select {
				case from.window <- struct{}{}:
				default: // a duplicate delivery; never grow the window
				}
				if n := deliveredAll.Add(1); n == want {
					close(doneDelivering)
				}
			})
		}()
	}

	stopSending := make(chan struct{})
	stop := sync.OnceFunc(func() { close(stopSending) })
	defer stop()
	var senders sync.WaitGroup
	for _, p := range peers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			o.send(p, start, stopSending)
		}()
	}

	// Warm up, then measure.
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
	srv0, cli0, err := o.cpu()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	measuring.Store(true)
	select {
	case <-time.After(o.duration):
	case <-doneDelivering:
	case <-ctx.Done():
	}
	measuring.Store(false)
	t1 := time.Now()
	srv1, cli1, err := o.cpu()
	if err != nil {
		return nil, err
	}
	stop()
	senders.Wait()

	// Let what is in flight arrive, so losses are not mistaken for latency.
	var sent int64
	for _, p := range peers {
		sent += p.sent.Load()
	}
	drainBy := time.Now().Add(5 * time.Second)
	for deliveredAll.Load() < sent && time.Now().Before(drainBy) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range peers {
		p.c.close()
	}
	readers.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("route: %w", context.Cause(ctx))
	}

	r := routeResult{
		Mode: "route", Server: o.server, ServerCmd: o.command, Command: toolCommand(),
		Pairs: o.pairs, Window: o.window, BodyBytes: o.bodySize,
		Seconds: round(t1.Sub(t0).Seconds(), 3), Sent: sent,
		ClientCPUSeconds: round(cli1-cli0, 2), Time: t0.UTC().Format(time.RFC3339),
	}
	var lat []int64
	var received int64
	for _, p := range peers {
		r.Delivered += p.delivered
		r.Errors += p.errors
		received += p.received
		lat = append(lat, p.latencies...)
	}
	r.Lost = sent - received
	r.MsgsPerSec = round(float64(r.Delivered)/t1.Sub(t0).Seconds(), 0)
	slices.Sort(lat)
	r.P50Ms = round(percentile(lat, 0.50)/1e6, 3)
	r.P99Ms = round(percentile(lat, 0.99)/1e6, 3)
	if o.pid != 0 {
		r.ServerCPUSeconds = round(srv1-srv0, 2)
		if r.ServerCPUSeconds > 0 {
			r.MsgsPerServerCPU = round(float64(r.Delivered)/(srv1-srv0), 0)
		}
	}
	return &r, nil
}

// send writes messages to p's peer while it has window tokens, batching
// whatever the window allows into one flush.
func (o *routeOpts) send(p *peer, start time.Time, stop <-chan struct{}) {
	prefix := []byte(`<message type='chat' to='` + p.to + `'><body>`)
	const suffix = `</body></message>`
	pad := strings.Repeat("x", max(0, o.bodySize-32))
	buf := make([]byte, 0, 256)
	for seq := 0; o.messages == 0 || seq < o.messages; {
		select {
		case <-p.window:
		case <-stop:
			return
		}
		n := 1
	more:
		for o.messages == 0 || seq+n < o.messages {
			select {
			case <-p.window:
				n++
			default:
				break more
			}
		}
		p.c.wmu.Lock()
		var err error
		for range n {
			buf = append(buf[:0], prefix...)
			buf = strconv.AppendInt(buf, int64(seq), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(time.Since(start)), 10)
			buf = append(buf, ' ')
			buf = append(buf, pad...)
			buf = append(buf, suffix...)
			if _, err = p.c.w.Write(buf); err != nil {
				break
			}
			seq++
		}
		if err == nil {
			err = p.c.w.Flush()
		}
		p.c.wmu.Unlock()
		if err != nil {
			return
		}
		p.sent.Add(int64(n))
	}
}

// parseBody reads "SEQ SENTNANOS ...".
func parseBody(b string) (seq, sentAt int64, ok bool) {
	a, rest, ok1 := strings.Cut(b, " ")
	t, _, _ := strings.Cut(rest, " ")
	seq, err1 := strconv.ParseInt(a, 10, 64)
	sentAt, err2 := strconv.ParseInt(t, 10, 64)
	return seq, sentAt, ok1 && err1 == nil && err2 == nil
}

// cpu samples the server's (if --pid) and this process's CPU seconds.
func (o *routeOpts) cpu() (server, self float64, err error) {
	if o.pid != 0 {
		if server, err = cpuSeconds(o.pid); err != nil {
			return 0, 0, fmt.Errorf("server CPU: %w", err)
		}
	}
	self, err = cpuSeconds(0)
	return server, self, err
}

// percentile of sorted nanosecond samples (nearest rank).
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return float64(sorted[min(max(i, 0), len(sorted)-1)])
}
