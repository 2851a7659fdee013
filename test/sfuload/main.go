// Command sfuload measures an SFU's forwarding cost and added latency under the same load for Parley's
// videobridge and for Janus's VideoRoom (Debian package), one after the other in one run, on loopback.
//
// N senders each publish VP8 (30 fps) and Opus (50 packets/s) from the bridge tests' fixtures
// (internal/bridge/testdata), paced in real time; M receivers subscribe to every sender; with N > 1 the
// senders also receive each other, as in a meeting. Clients are Pion PeerConnections in this process
// without interceptors; each SFU runs in its own process (Parley's as test/sfuload/bridgeserver).
//
// After every expected track has delivered a packet and a warm-up, the tool counts during a window:
//   - the SFU process's CPU time (user + system, /proc/PID/stat);
//   - the RTP packets every receiver reads (forwarded packets) and the packets senders write;
//   - each forwarded packet's latency: senders append their send time to every payload (both SFUs
//     forward payloads untouched past the VP8 descriptor), receivers subtract it from the read time. This
//     is end-to-end over loopback, so it includes both Pion clients' SRTP and socket paths;
//   - for Parley, the latency the bridge itself adds, as it measures it: from reading each RTP packet off
//     its socket to handing the forwarded copies to sendmmsg (delay.go).
//
// It prints Markdown table rows (see bench.sh).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-im/parley/test/internal/procstat"
	"github.com/parley-im/parley/test/internal/promtext"
)

type scenario struct {
	senders, receivers int
}

// subscriptions is how many (receiver, sender) pairs the SFU serves.
func (s scenario) subscriptions() int { return s.senders*(s.senders-1) + s.senders*s.receivers }

func (s scenario) String() string {
	if s.receivers == 0 {
		return fmt.Sprintf("meeting of %d (each receives %d)", s.senders, s.senders-1)
	}
	if s.senders == 1 {
		return fmt.Sprintf("1 sender → %d receivers", s.receivers)
	}
	return fmt.Sprintf("%d senders (meeting) + %d receivers", s.senders, s.receivers)
}

// target is one SFU under test.
type target interface {
	name() string
	start(sc scenario, dir string) error
	setup(sc scenario, fx *fixtures, st *stats) error
	pid() int
	close()
}

type result struct {
	target    string
	window    time.Duration
	sent, fwd int64
	cpu, self time.Duration
	p50, p99  time.Duration
	max       time.Duration
	in        promtext.Histogram // the SFU's own added latency over the window, when it reports it
	inErr     error
	tracks    int64
	err       error
}

func main() {
	senders := flag.Int("senders", 1, "senders N (with N > 1 they also receive each other)")
	receivers := flag.Int("receivers", 20, "receive-only participants M, each receiving every sender")
	targets := flag.String("targets", "parley,janus", "SFUs to run, in order: parley, janus")
	warmup := flag.Duration("warmup", 5*time.Second, "time after every track flows before measuring")
	window := flag.Duration("duration", 20*time.Second, "measuring window")
	fixDir := flag.String("fixtures", "internal/bridge/testdata", "folder with video.ivf and audio.ogg")
	bridgeBin := flag.String("bridgeserver", "", "bridgeserver binary (default: go build it)")
	bridgeReaders := flag.Int("bridge-readers", 0, "sockets on Parley's media port, each with a reader (0 = one per core)")
	bridgeFanOut := flag.Int("bridge-fan-out-workers", -1, "Parley's fan-out workers (0 = one per core but one, -1 = none: the flag is not passed)")
	bridgeProfile := flag.String("bridge-cpuprofile", "", "have bridgeserver write a CPU profile to this file (the last scenario's)")
	janusBin := flag.String("janus", "janus", "janus binary")
	janusIface := flag.String("janus-iface", "sfuload0", "the only interface Janus gathers candidates on (bench.sh's veth)")
	serverIP := flag.String("server-ip", "127.0.0.1", "address Parley's bridge takes its media port on")
	clientIface := flag.String("client-iface", "lo", "interface the clients gather candidates on")
	clientIP := flag.String("client-ip", "127.0.0.1", "address the clients use on -client-iface")
	header := flag.Bool("header", false, "print the Markdown table header first")
	keep := flag.Bool("keep", false, "keep the work folder (configs and logs)")
	flag.Parse()

	sc := scenario{senders: *senders, receivers: *receivers}
	nc := netConfig{iface: *clientIface, ip: net.ParseIP(*clientIP)}
	if nc.ip == nil || net.ParseIP(*serverIP) == nil {
		fatalf("-client-ip and -server-ip must be IP addresses")
	}
	if sc.senders < 1 || sc.receivers < 0 || sc.subscriptions() == 0 {
		fatalf("need at least one subscription")
	}
	fx, err := loadFixtures(*fixDir)
	if err != nil {
		fatalf("fixtures: %v", err)
	}
	dir, err := os.MkdirTemp("", "sfuload-")
	if err != nil {
		fatalf("%v", err)
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "work folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	var results []result
	for _, name := range strings.Split(*targets, ",") {
		var t target
		switch strings.TrimSpace(name) {
		case "parley":
			bin := *bridgeBin
			if bin == "" {
				bin = filepath.Join(dir, "bridgeserver")
				cmd := exec.Command("go", "build", "-o", bin, "github.com/parley-im/parley/test/sfuload/bridgeserver")
				cmd.Stderr = os.Stderr
				if err := cmd.Run(); err != nil {
					fatalf("build bridgeserver: %v", err)
				}
			}
			t = &parleyTarget{bin: bin, serverIP: *serverIP, clients: nc, cpuProfile: *bridgeProfile, readers: *bridgeReaders, fanOut: *bridgeFanOut}
		case "janus":
			t = &janusTarget{bin: *janusBin, iface: *janusIface, clients: nc}
		default:
			fatalf("unknown target %q", name)
		}
		sub := filepath.Join(dir, t.name())
		if err := os.MkdirAll(sub, 0o755); err != nil {
			fatalf("%v", err)
		}
		r := measure(t, sc, fx, sub, *warmup, *window)
		if r.err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", r.target, r.err)
		}
		results = append(results, r)
	}
	if *header {
		fmt.Println("| Scenario | SFU | Forwarded packets/s | SFU CPU (% of one core) | CPU µs per forwarded packet | Forwarded packets per CPU-second | Latency p50 | p99 | In-SFU p50 | p99 | Delivered |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	}
	rate := fx.packetRate()
	for _, r := range results {
		if r.err != nil {
			fmt.Printf("| %s | %s | failed: %v | | | | | | | | |\n", sc, r.target, r.err)
			continue
		}
		secs := r.window.Seconds()
		perCPU := float64(r.fwd) / r.cpu.Seconds()
		// Each sent packet should reach (senders−1) + receivers subscribers.
		want := float64(r.sent) * float64(sc.subscriptions()) / float64(sc.senders)
		inP50, inP99 := "", ""
		if r.in.Count() > 0 {
			inP50, inP99 = fmtLatFine(r.in.Quantile(0.50)), fmtLatFine(r.in.Quantile(0.99))
		} else if r.inErr != nil {
			fmt.Fprintf(os.Stderr, "%s: in-SFU latency: %v\n", r.target, r.inErr)
		}
		fmt.Printf("| %s | %s | %.0f | %.1f | %.2f | %.0f | %s | %s | %s | %s | %.1f%% |\n", sc, r.target,
			float64(r.fwd)/secs, 100*r.cpu.Seconds()/secs, r.cpu.Seconds()*1e6/float64(r.fwd), perCPU,
			fmtLat(r.p50), fmtLat(r.p99), inP50, inP99, 100*float64(r.fwd)/want)
		fmt.Fprintf(os.Stderr, "%s: %s window, %d sent, %d forwarded (%.0f pkt/s per sender expected), SFU CPU %v, load tool CPU %v, latency max %v, in-SFU observations %.0f\n",
			r.target, r.window, r.sent, r.fwd, rate, r.cpu, r.self, r.max, r.in.Count())
	}
	byName := map[string]result{}
	for _, r := range results {
		byName[r.target] = r
	}
	if p, j := byName["parley"], byName["janus"]; p.fwd > 0 && j.fwd > 0 && p.err == nil && j.err == nil {
		rp := float64(p.fwd) / p.cpu.Seconds()
		rj := float64(j.fwd) / j.cpu.Seconds()
		fmt.Printf("| %s | parley ÷ janus | | | | **%.2f×** | | | | | |\n", sc, rp/rj)
	}
}

// measure starts t's server, joins the clients, waits for every track, warms up and measures a window.
func measure(t target, sc scenario, fx *fixtures, dir string, warmup, window time.Duration) (r result) {
	r.target = t.name()
	st := &stats{}
	defer t.close()
	if r.err = t.start(sc, dir); r.err != nil {
		return r
	}
	if r.err = t.setup(sc, fx, st); r.err != nil {
		return r
	}
	want := int64(2 * sc.subscriptions())
	deadline := time.Now().Add(30 * time.Second)
	for st.tracks.Load() < want {
		if time.Now().After(deadline) {
			r.err = fmt.Errorf("only %d of %d tracks flowing after 30 s", st.tracks.Load(), want)
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(warmup)
	dr, _ := t.(delayReporter)
	var in0 promtext.Histogram
	if dr != nil {
		in0, r.inErr = dr.forwardDelay()
	}
	cpu0, err := procstat.CPUTime(t.pid())
	self0, _ := procstat.CPUTime(0)
	if err != nil {
		r.err = err
		return r
	}
	t0 := time.Now()
	st.measuring.Store(true)
	time.Sleep(window)
	st.measuring.Store(false)
	r.window = time.Since(t0)
	cpu1, err := procstat.CPUTime(t.pid())
	self1, _ := procstat.CPUTime(0)
	if err != nil {
		r.err = err
		return r
	}
	r.cpu, r.self = cpu1-cpu0, self1-self0
	if dr != nil && r.inErr == nil {
		var in1 promtext.Histogram
		if in1, r.inErr = dr.forwardDelay(); r.inErr == nil {
			r.in, r.inErr = in1.Sub(in0)
		}
	}
	r.sent, r.fwd, r.tracks = st.sent.Load(), st.recv.Load(), st.tracks.Load()
	r.p50, r.p99, r.max = st.quantile(0.50), st.quantile(0.99), time.Duration(st.maxLat.Load())
	if r.fwd == 0 || r.cpu == 0 {
		r.err = fmt.Errorf("nothing measured: %d packets forwarded, %v CPU", r.fwd, r.cpu)
	}
	return r
}

func fmtLat(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// fmtLatFine shows sub-millisecond latencies in microseconds.
func fmtLatFine(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmtLat(d)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sfuload: "+format+"\n", args...)
	os.Exit(1)
}
