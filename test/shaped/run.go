package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/test/internal/netns"
	"github.com/parley-im/parley/test/internal/promtext"
	"github.com/parley-im/parley/test/shaped/impair"
)

// Options are a run's settings, the same for every scenario.
type Options struct {
	Parley   string        // the parley binary
	Bot      string        // the parley binary the bots run; empty: Parley
	Senders  int           // unshaped sender bots
	Duration time.Duration // the receiver's time in the room
	// ReceiverFlags go to the receiver's `parley bot` as they are (--max-height 360, --stage EP).
	ReceiverFlags []string
	// Stage has the receiver put one sender's camera on stage (--stage), the others in thumbnails.
	Stage bool
	Seed  uint64    // the relay's losses
	Log   io.Writer // progress lines; nil: none
	Dir   string    // server data and logs; a fresh temporary folder when empty
}

// Result is what one scenario's run measured. Window is the receiver's time in the room as the
// harness saw it (from the bridge allocating its endpoint to its process ending).
type Result struct {
	Scenario Scenario
	Window   time.Duration
	// Link is what the host's end of the veth carried toward the receiver (media and signalling)
	// and what its limit dropped; Bridge is what the bridge sent toward the receiver (the relay's
	// down counters, before the relay's own losses and the limit).
	Link   netns.LinkStats
	Bridge impair.Counters
	// Retransmissions and KeyframeRequests are the bridge's counters over the window (all endpoints;
	// the unshaped senders repair little).
	Retransmissions, KeyframeRequests float64
	Receiver                          BotReport
	Senders                           []BotReport
	// Samples are the link's and the bridge's counters once a second of the window, for the rates
	// of a step's phases.
	Samples []Sample
}

// Sample is the counters since the window began, At into it.
type Sample struct {
	At     time.Duration
	Link   netns.LinkStats
	Bridge impair.Counters
	// Receiver is what the bridge was doing for the receiver at that moment (its estimate and
	// allocation, from /debug/bridge), nil when it could not be read (LiveKit has none).
	Receiver *bridge.EndpointDebug `json:",omitempty"`
}

// harness is one scenario's run: a namespace, a server, a relay and the bots' processes.
type harness struct {
	o     Options
	sc    Scenario
	dir   string
	ns    *netns.NS
	relay *impair.Relay
	// senderIDs are the bridge's endpoints before the receiver joined.
	senderIDs map[string]bool
	base      string // https://HOST:PORT
	hc        *http.Client
}

// Run runs sc: it makes the receiver's namespace and limit, starts `parley serve` on the host's end
// of the veth with its media on loopback behind the relay, joins the senders, then the receiver
// inside the namespace for o.Duration, and collects every bot's --json report.
func Run(ctx context.Context, o Options, sc Scenario) (*Result, error) {
	for _, name := range netns.RemoveStale("sh") {
		o.logf("removed the network namespace %s a killed run left behind", name)
	}
	ns, err := netns.New("sh")
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h := &harness{o: o, sc: sc, ns: ns, dir: o.Dir,
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}} // the server's self-signed certificate
	if h.dir == "" {
		if h.dir, err = os.MkdirTemp("", "parley-shaped-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(h.dir)
	}
	if sc.Rate > 0 {
		if err := ns.LimitDown(netns.Limit{Rate: sc.Rate}); err != nil {
			return nil, err
		}
	}
	if sc.UpRate > 0 {
		if err := ns.LimitUp(netns.Limit{Rate: sc.UpRate}); err != nil {
			return nil, err
		}
	}
	return h.run(ctx)
}

func (o Options) bot() string {
	if o.Bot != "" {
		return o.Bot
	}
	return o.Parley
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func (h *harness) run(ctx context.Context) (*Result, error) {
	media, err := h.startRelay()
	if err != nil {
		return nil, err
	}
	defer h.relay.Close()
	server, err := h.startServer(ctx, media)
	if err != nil {
		return nil, err
	}
	defer server.stop(syscall.SIGTERM, 10*time.Second)

	room := h.base + "/shaped" + randomHex()
	senders, err := h.join(ctx, "senders", exec.CommandContext(ctx, h.o.bot(), "bot", "--url", room, "--insecure",
		"--loopback", "--bots", strconv.Itoa(h.o.Senders), "--json", "--duration", (h.o.Duration+2*time.Minute).String()), h.o.Senders)
	if err != nil {
		return nil, err
	}
	defer senders.stop(syscall.SIGKILL, 0)
	h.o.logf("%s: %d senders in the room; the receiver joins behind %s", h.sc.Name, h.o.Senders, h.describe())

	h.senderIDs = h.endpointIDs()
	args := append([]string{"bot", "--url", room, "--insecure", "--bots", "1", "--json",
		"--duration", h.o.Duration.String()}, h.o.ReceiverFlags...)
	if h.o.Stage {
		ids := slices.Sorted(maps.Keys(h.senderIDs))
		if len(ids) == 0 {
			return nil, errors.New("no sender to put on stage: /debug/bridge listed no endpoint")
		}
		args = append(args, "--stage", ids[0])
	}
	receiver, err := h.join(ctx, "receiver", h.ns.Command(ctx, h.o.bot(), args...), h.o.Senders+1)
	if err != nil {
		return nil, err
	}
	defer receiver.stop(syscall.SIGKILL, 0)
	res, err := h.measure(receiver)
	if err != nil {
		return nil, err
	}

	// The senders print their reports when interrupted.
	_ = senders.cmd.Process.Signal(syscall.SIGINT)
	if err := senders.wait(15 * time.Second); err != nil {
		return nil, fmt.Errorf("senders: %v: %s", err, tail(h.dir, "senders"))
	}
	if res.Senders, err = ParseReports(senders.out.Bytes()); err != nil {
		return nil, fmt.Errorf("senders' --json: %w", err)
	}
	return res, nil
}

// join starts bots and waits until the bridge has endpoints of them all (want in the room).
func (h *harness) join(ctx context.Context, name string, cmd *exec.Cmd, want int) (*proc, error) {
	p, err := h.start(cmd, name)
	if err != nil {
		return nil, err
	}
	if err := h.awaitEndpoints(ctx, want, p); err != nil {
		p.stop(syscall.SIGKILL, 0)
		return nil, fmt.Errorf("%s joining: %w: %s", name, err, tail(h.dir, name))
	}
	return p, nil
}

// measure takes the counters from now (the receiver's session is up) until the receiver leaves,
// stepping the limit meanwhile, and reads the receiver's report.
func (h *harness) measure(receiver *proc) (*Result, error) {
	start := time.Now()
	link0, err := h.ns.Down()
	if err != nil {
		return nil, err
	}
	bridge0 := h.relay.Down()
	m0, err := h.metrics()
	if err != nil {
		return nil, err
	}
	stepsDone := make(chan struct{})
	go h.applySteps(start, stepsDone)
	samples := make(chan []Sample, 1)
	go func() { samples <- h.sample(start, link0, bridge0, stepsDone) }()

	werr := receiver.wait(h.o.Duration + time.Minute)
	close(stepsDone)
	res := &Result{Scenario: h.sc, Window: time.Since(start), Bridge: h.relay.Down().Sub(bridge0), Samples: <-samples}
	link1, err := h.ns.Down()
	if err != nil {
		return nil, err
	}
	res.Link = link1.Sub(link0)
	if m1, err := h.metrics(); err == nil {
		res.Retransmissions = m1["parley_bridge_retransmissions_total"] - m0["parley_bridge_retransmissions_total"]
		res.KeyframeRequests = m1["parley_bridge_keyframe_requests_received_total"] - m0["parley_bridge_keyframe_requests_received_total"]
	}
	if werr != nil {
		return nil, fmt.Errorf("receiver: %v: %s", werr, tail(h.dir, "receiver"))
	}
	reports, err := ParseReports(receiver.out.Bytes())
	if err != nil || len(reports) != 1 {
		return nil, fmt.Errorf("receiver's --json: %d reports, %v: %q", len(reports), err, receiver.out.String())
	}
	res.Receiver = reports[0]
	return res, nil
}

func (h *harness) describe() string {
	var parts []string
	if h.sc.Rate > 0 {
		parts = append(parts, "down "+netns.Limit{Rate: h.sc.Rate}.String())
	}
	if p := h.sc.Down.String(); p != "none" {
		parts = append(parts, "down "+p)
	}
	if h.sc.UpRate > 0 {
		parts = append(parts, "up "+netns.Limit{Rate: h.sc.UpRate}.String())
	}
	if p := h.sc.Up.String(); p != "none" {
		parts = append(parts, "up "+p)
	}
	if len(parts) == 0 {
		return "an unshaped link"
	}
	return strings.Join(parts, ", ")
}

// startRelay listens on the host's end of the veth, on a port also free on loopback: the bridge
// takes that port on 127.0.0.1, and advertises the veth address (--public-ip) on it too, so the
// receiver reaches the bridge only through the relay while the senders (loopback candidates) reach it
// directly. It returns the bridge's media address.
func (h *harness) startRelay() (string, error) {
	for range 20 {
		ln, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.ns.Host, 0)))
		if err != nil {
			return "", fmt.Errorf("relay: listen on %v: %w", h.ns.Host, err)
		}
		port := ln.LocalAddr().(*net.UDPAddr).Port
		probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			ln.Close() // that port is taken on loopback: another
			continue
		}
		probe.Close()
		bridge := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
		prefix := h.ns.Prefix()
		h.relay = impair.NewRelay(ln, bridge, h.sc.Up, h.sc.Down,
			func(a netip.AddrPort) bool { return prefix.Contains(a.Addr()) }, h.o.Seed)
		go h.relay.Serve()
		return bridge.String(), nil
	}
	return "", errors.New("relay: no UDP port free on both the veth and loopback")
}

// startServer starts `parley serve`: HTTPS on the host's end of the veth (the receiver's only way
// in; the senders reach it there too), XMPP and TURN on loopback, media on loopback.
func (h *harness) startServer(ctx context.Context, media string) (*proc, error) {
	conf := filepath.Join(h.dir, "parley.toml")
	// Many logins from one address; loopback candidates for the senders.
	const toml = "[c2s]\nlogins-per-second = 1000\nlogin-burst = 1000\n\n[bridge]\ninclude-loopback = true\n"
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		return nil, err
	}
	port, err := freeTCPPort(h.ns.Host)
	if err != nil {
		return nil, err
	}
	httpAddr := net.JoinHostPort(h.ns.Host.String(), strconv.Itoa(port))
	cmd := exec.CommandContext(ctx, h.o.Parley, "serve", "--config", conf, "--data", filepath.Join(h.dir, "data"),
		"--http", httpAddr, "--xmpp", "127.0.0.1:0", "--media", media, "--turn", "127.0.0.1:0", "--turn-tls", "off",
		"--public-ip", h.ns.Host.String(), "--metrics-allow", "127.0.0.0/8,"+h.ns.Prefix().String(), "--log-level", "warn")
	server, err := h.start(cmd, "server")
	if err != nil {
		return nil, err
	}
	h.base = "https://" + httpAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := h.hc.Get(h.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return server, nil
			}
		}
		if server.exited() || time.Now().After(deadline) {
			server.stop(syscall.SIGKILL, 0)
			return nil, fmt.Errorf("parley serve did not answer on %s/healthz: %v: %s", h.base, err, tail(h.dir, "server"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitEndpoints waits until the bridge has n endpoints (the bots' sessions are up), or cmd has
// ended.
func (h *harness) awaitEndpoints(ctx context.Context, n int, p *proc) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := h.metrics()
		if err == nil && m["parley_bridge_endpoints"] >= float64(n) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("the bots ended first: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bridge has %v endpoints after 60 s, want %d (%v)", m["parley_bridge_endpoints"], n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// metrics reads the server's /metrics: each metric's samples summed over their labels.
func (h *harness) metrics() (map[string]float64, error) {
	return promtext.Get(h.hc, h.base+"/metrics")
}

// debug reads the server's /debug/bridge.
func (h *harness) debug() (*bridge.DebugState, error) {
	resp, err := h.hc.Get(h.base + "/debug/bridge")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/debug/bridge: %s", resp.Status)
	}
	var st bridge.DebugState
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// endpointIDs are the bridge's endpoints now.
func (h *harness) endpointIDs() map[string]bool {
	ids := map[string]bool{}
	if st, err := h.debug(); err == nil {
		for _, c := range st.Conferences {
			for _, e := range c.Endpoints {
				ids[e.ID] = true
			}
		}
	}
	return ids
}

// receiverDebug is the bridge's state for the one endpoint that is not a sender, nil if there is none.
func (h *harness) receiverDebug() *bridge.EndpointDebug {
	st, err := h.debug()
	if err != nil {
		return nil
	}
	for _, c := range st.Conferences {
		for _, e := range c.Endpoints {
			if !h.senderIDs[e.ID] {
				return &e
			}
		}
	}
	return nil
}

// applySteps changes the download limit at the scenario's steps, counted from start, until done is
// closed.
func (h *harness) applySteps(start time.Time, done <-chan struct{}) {
	for i, at := range h.sc.StepTimes(h.o.Duration) {
		select {
		case <-done:
			return
		case <-time.After(time.Until(start.Add(at))):
		}
		rate := h.sc.Steps[i].Rate
		if err := h.ns.LimitDown(netns.Limit{Rate: rate}); err != nil {
			h.o.logf("%s: step %d: %v", h.sc.Name, i+1, err)
			continue
		}
		h.o.logf("%s: %v in: download limit now %d kbit/s", h.sc.Name, time.Since(start).Round(time.Millisecond), rate/1000)
	}
}

// sample notes the counters every second from start until done is closed.
func (h *harness) sample(start time.Time, link0 netns.LinkStats, bridge0 impair.Counters, done <-chan struct{}) []Sample {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var out []Sample
	for {
		select {
		case <-done:
			return out
		case <-tick.C:
		}
		l, err := h.ns.Down()
		if err != nil {
			continue
		}
		out = append(out, Sample{At: time.Since(start), Link: l.Sub(link0), Bridge: h.relay.Down().Sub(bridge0), Receiver: h.receiverDebug()})
	}
}

// proc is a started command whose end is awaited once, by its own goroutine.
type proc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer // stdout, complete once done is closed
	done chan struct{}
	err  error // once done is closed
}

// start starts cmd with its stdout kept and its stderr in NAME.log.
func (h *harness) start(cmd *exec.Cmd, name string) (*proc, error) {
	logf, err := os.Create(filepath.Join(h.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the command to end; an error when it did not, or ended badly.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

// stop signals the command and waits up to grace, then kills it.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	if p.wait(grace) != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freeTCPPort(host netip.Addr) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		return 0, fmt.Errorf("a free port on %v: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail is the end of NAME.log in dir, for an error message.
func tail(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
