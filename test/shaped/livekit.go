package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pion/stun/v4"

	"github.com/parley-im/parley/test/internal/netns"
	"github.com/parley-im/parley/test/shaped/impair"
)

// LiveKit beside Parley (issue 15): the same scenario with LiveKit's server (livekit-server, built
// apart, never part of this module) in place of `parley serve`, and test/shaped/livekit's lkbot (a
// module of its own, made of LiveKit's Go SDK) in place of `parley bot`, sending the same media
// and counting frames, freezes and loss the same way. The namespace, the limit, the relay and the
// counters are the ones Parley's run uses:
//
//	senders (lkbot) ──────────────────────────────── 127.0.0.1:P  livekit-server (one UDP port)
//	receiver (ip netns exec … lkbot) ── veth (tbf) ── relay on HOST:P ──┘
//	                               └──── WebSocket signalling on HOST:PORT
//
// LiveKit must advertise both 127.0.0.1:P (for the senders) and HOST:P (for the receiver, through
// the relay) while it listens on 127.0.0.1:P only, the relay holding HOST:P. Its one way to add an
// address to its own is the NAT mapping it learns by STUN (rtc.use_external_ip with
// advertise_internal_ip), so the harness answers its STUN request itself: "you are HOST", as a NAT
// in front of it would.

// LiveKitOptions locate what a LiveKit run needs.
type LiveKitOptions struct {
	Server string // the livekit-server binary
	Bot    string // the lkbot binary (test/shaped/livekit)
	Media  string // internal/testmedia, the fixtures lkbot sends
}

// The API key and secret of a run's server, made up for it.
const liveKitKey = "shaped"

// RunLiveKit runs sc as Run does, in a namespace of its own with the same limits, with LiveKit's
// server and bots (o.LiveKit). The result's scenario is named "NAME · LiveKit", so that its rows
// and phases stand beside Parley's in one table.
func RunLiveKit(ctx context.Context, o Options, lk LiveKitOptions, sc Scenario) (*Result, error) {
	for _, name := range netns.RemoveStale("sh") {
		o.logf("removed the network namespace %s a killed run left behind", name)
	}
	ns, err := netns.New("sh")
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h := &harness{o: o, sc: sc, ns: ns, dir: o.Dir, hc: &http.Client{Timeout: 5 * time.Second}}
	if h.dir == "" {
		if h.dir, err = os.MkdirTemp("", "livekit-shaped-"); err != nil {
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
	res, err := h.runLiveKit(ctx, lk)
	if res != nil {
		res.Scenario.Name += " · LiveKit"
	}
	return res, err
}

func (h *harness) runLiveKit(ctx context.Context, lk LiveKitOptions) (*Result, error) {
	media, err := h.startRelay()
	if err != nil {
		return nil, err
	}
	defer h.relay.Close()
	_, mediaPort, _ := net.SplitHostPort(media)
	stunAddr, stopSTUN, err := answerSTUN(h.ns.Host)
	if err != nil {
		return nil, err
	}
	defer stopSTUN()
	secret := liveKitSecretHex()
	server, url, err := h.startLiveKit(ctx, lk.Server, mediaPort, stunAddr, secret)
	if err != nil {
		return nil, err
	}
	defer server.stop(syscall.SIGTERM, 10*time.Second)

	room := "shaped" + randomHex()
	common := []string{"--url", url, "--api-key", liveKitKey, "--api-secret", secret, "--room", room,
		"--media", lk.Media, "--json"}
	senders, err := h.start(exec.CommandContext(ctx, lk.Bot, append(common, "--bots", strconv.Itoa(h.o.Senders))...), "senders")
	if err != nil {
		return nil, err
	}
	defer senders.stop(syscall.SIGKILL, 0)
	if err := h.awaitBots(ctx, "senders", senders); err != nil {
		return nil, fmt.Errorf("senders joining: %w: %s", err, tail(h.dir, "senders"))
	}
	h.o.logf("%s (LiveKit): %d senders in the room; the receiver joins behind %s", h.sc.Name, h.o.Senders, h.describe())

	receiver, err := h.start(h.ns.Command(ctx, lk.Bot, append(common, "--bots", "1", "--duration", h.o.Duration.String())...), "receiver")
	if err != nil {
		return nil, err
	}
	defer receiver.stop(syscall.SIGKILL, 0)
	if err := h.awaitBots(ctx, "receiver", receiver); err != nil {
		return nil, fmt.Errorf("receiver joining: %w: %s", err, tail(h.dir, "receiver"))
	}
	// From here on as Parley's run (run.go), but for the bridge's counters.
	start := time.Now()
	link0, err := h.ns.Down()
	if err != nil {
		return nil, err
	}
	bridge0 := h.relay.Down()
	m0, _ := h.liveKitMetrics()
	stepsDone := make(chan struct{})
	go h.applySteps(start, stepsDone)
	samples := make(chan []Sample, 1)
	go func() { samples <- h.sample(start, link0, bridge0, stepsDone) }()

	werr := receiver.wait(h.o.Duration + time.Minute)
	close(stepsDone)
	res := &Result{Scenario: h.sc, Window: time.Since(start), Bridge: sinceCounters(h.relay.Down(), bridge0), Samples: <-samples}
	link1, err := h.ns.Down()
	if err != nil {
		return nil, err
	}
	res.Link = netns.LinkStats{Bytes: link1.Bytes - link0.Bytes, Packets: link1.Packets - link0.Packets,
		Dropped: link1.Dropped - link0.Dropped}
	if m1, err := h.liveKitMetricsFlushed(ctx); err == nil && m0 != nil {
		res.Retransmissions = m1.retransmissions - m0.retransmissions
		res.KeyframeRequests = m1.plis - m0.plis
	}
	if werr != nil {
		return nil, fmt.Errorf("receiver: %v: %s", werr, tail(h.dir, "receiver"))
	}
	reports, err := ParseReports(receiver.out.Bytes())
	if err != nil || len(reports) != 1 {
		return nil, fmt.Errorf("receiver's --json: %d reports, %v: %q", len(reports), err, receiver.out.String())
	}
	res.Receiver = reports[0]
	_ = senders.cmd.Process.Signal(syscall.SIGINT)
	if err := senders.wait(15 * time.Second); err != nil {
		return nil, fmt.Errorf("senders: %v: %s", err, tail(h.dir, "senders"))
	}
	if res.Senders, err = ParseReports(senders.out.Bytes()); err != nil {
		return nil, fmt.Errorf("senders' --json: %w", err)
	}
	return res, nil
}

// startLiveKit starts livekit-server: signalling on the host's end of the veth, media on
// 127.0.0.1:mediaPort only (one UDP port, no ICE over TCP, which would pass by the relay),
// advertised there and on HOST:mediaPort (the STUN answer). Congestion control uses LiveKit's
// send-side estimator from transport-cc: its default, the receiver's REMB, needs a browser, and
// Pion's receivers (lkbot's, like Parley's) send transport-cc feedback, not REMB.
func (h *harness) startLiveKit(ctx context.Context, bin, mediaPort, stunAddr, secret string) (*proc, string, error) {
	port, err := freeTCPPort(h.ns.Host)
	if err != nil {
		return nil, "", err
	}
	metricsPort, err := freeTCPPort(h.ns.Host)
	if err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf(`port: %d
bind_addresses: [%q]
log_level: warn
prometheus:
  port: %d
keys:
  %s: %s
rtc:
  udp_port: %s
  tcp_port: 0
  enable_loopback_candidate: true
  ips:
    includes: ["127.0.0.1/32"]
  use_external_ip: true
  advertise_internal_ip: true
  skip_external_ip_validation: true
  stun_servers: [%q]
  congestion_control:
    enabled: true
    use_send_side_bwe: true
`, port, h.ns.Host.String(), metricsPort, liveKitKey, secret, mediaPort, stunAddr)
	path := filepath.Join(h.dir, "livekit.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, "", err
	}
	server, err := h.start(exec.CommandContext(ctx, bin, "--config", path), "server")
	if err != nil {
		return nil, "", err
	}
	h.base = "http://" + net.JoinHostPort(h.ns.Host.String(), strconv.Itoa(metricsPort)) // bind_addresses holds for it too
	addr := net.JoinHostPort(h.ns.Host.String(), strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := h.hc.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return server, "ws://" + addr, nil
			}
		}
		if server.exited() || time.Now().After(deadline) {
			server.stop(syscall.SIGKILL, 0)
			return nil, "", fmt.Errorf("livekit-server did not answer on %s: %v: %s", addr, err, tail(h.dir, "server"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitBots waits until lkbot says its bots are in the room (a line on its standard error, in
// NAME.log), or it has ended.
func (h *harness) awaitBots(ctx context.Context, name string, p *proc) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(h.dir, name+".log")); strings.Contains(string(b), "bots in room") {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("the bots ended first: %v", p.err)
		}
		if time.Now().After(deadline) {
			return errors.New("the bots are not in the room after 60 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// liveKitCounters are the server's counters a row reports.
type liveKitCounters struct {
	packets         float64 // every RTP packet in and out (livekit_packet_total), to see a flush
	retransmissions float64 // RTP packets sent again (livekit_packet_total, transmission="retransmit", outgoing)
	plis            float64 // PLIs its subscribers sent (livekit_pli_total of the outgoing streams)
}

// liveKitMetrics reads livekit-server's Prometheus counters.
func (h *harness) liveKitMetrics() (*liveKitCounters, error) {
	resp, err := h.hc.Get(h.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("livekit /metrics: %s", resp.Status)
	}
	var c liveKitCounters
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		if strings.HasPrefix(line, "livekit_packet_total{") {
			c.packets += v
		}
		switch {
		case strings.HasPrefix(line, "livekit_packet_total{") && strings.Contains(line, `transmission="retransmit"`) &&
			strings.Contains(line, `direction="outgoing"`):
			c.retransmissions += v
		case strings.HasPrefix(line, "livekit_pli_total{") && strings.Contains(line, `direction="outgoing"`):
			c.plis += v
		}
	}
	return &c, sc.Err()
}

// liveKitMetricsFlushed reads livekit-server's counters once they have moved after now: it adds
// its streams' statistics to them every few seconds, so counters read as the receiver leaves lack
// the last seconds of its run. The senders, still in the room, move them at each addition.
func (h *harness) liveKitMetricsFlushed(ctx context.Context) (*liveKitCounters, error) {
	c0, err := h.liveKitMetrics()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(35 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		if c, err := h.liveKitMetrics(); err == nil && c.packets != c0.packets {
			return c, nil
		}
	}
	return nil, errors.New("livekit-server's counters did not move in 35 s")
}

// answerSTUN answers STUN binding requests on a loopback port with the mapped address host (and
// the asker's port): what LiveKit asks to learn the address it is reached at. It returns the port's
// address and a function that stops it.
func answerSTUN(host netip.Addr) (string, func(), error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", nil, fmt.Errorf("STUN responder: %w", err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			resp, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: host.AsSlice(), Port: from.Port}, stun.Fingerprint)
			if err != nil {
				continue
			}
			_, _ = conn.WriteToUDP(resp.Raw, from)
		}
	}()
	return conn.LocalAddr().String(), func() { conn.Close() }, nil
}

// prepare builds lkbot when o.Bot is empty (cleanup removes it) and finds the test media from the
// working directory, the repository's root.
func (o *LiveKitOptions) prepare(ctx context.Context) (cleanup func(), err error) {
	cleanup = func() {}
	if o.Media, err = filepath.Abs(filepath.Join("internal", "testmedia")); err != nil {
		return cleanup, err
	}
	if _, err := os.Stat(filepath.Join(o.Media, "audio.ogg")); err != nil {
		return cleanup, fmt.Errorf("the test media (run from the repository's root): %w", err)
	}
	if o.Bot != "" {
		return cleanup, nil
	}
	dir, err := os.MkdirTemp("", "livekit-shaped-bin-")
	if err != nil {
		return cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if o.Bot, err = buildLKBot(ctx, dir); err != nil {
		cleanup()
		return func() {}, err
	}
	return cleanup, nil
}

// buildLKBot builds test/shaped/livekit (its own module) into dir.
func buildLKBot(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "lkbot")
	cmd := exec.CommandContext(ctx, "go", "build", "-C", filepath.Join("test", "shaped", "livekit"), "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build test/shaped/livekit: %v: %s", err, out)
	}
	return bin, nil
}

// sinceCounters is a since an earlier reading b.
func sinceCounters(a, b impair.Counters) impair.Counters {
	return impair.Counters{Packets: a.Packets - b.Packets, Bytes: a.Bytes - b.Bytes, Lost: a.Lost - b.Lost}
}

// liveKitSecretHex is a random hex string for a run's API secret.
func liveKitSecretHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
