package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/parley-im/parley/test/internal/botrun"
	"github.com/parley-im/parley/test/internal/parleyproc"
	"github.com/parley-im/parley/test/internal/procstat"
)

// CPURun is one run of -mode cpu: the server's CPU over a window of steady
// media in a room with encryption on or off.
type CPURun struct {
	Room    string   `json:"room"`
	E2EE    bool     `json:"e2ee"`
	Bots    int      `json:"bots"`
	Load    string   `json:"load"` // load average at the window's end
	Window  Duration `json:"window"`
	CPU     Duration `json:"cpu"`         // the server's utime + stime in the window
	Sent    float64  `json:"packetsSent"` // parley_bridge_packets_sent_total in the window
	Recv    float64  `json:"packetsReceived"`
	BytesTx float64  `json:"bytesSent"`
	// PerPacket is CPU / Sent.
	PerPacket Duration `json:"perPacket"`
}

func (r *CPURun) print(w io.Writer) {
	on := "off"
	if r.E2EE {
		on = "on "
	}
	fmt.Fprintf(w, "cpu e2ee %s %d bots, %v: server CPU %v (%.2f cores), %.0f packets sent (%.0f/s), %.0f received, %.1f Mbit/s sent; %.2f µs CPU per packet sent; load average %s\n",
		on, r.Bots, r.Window, r.CPU, time.Duration(r.CPU).Seconds()/time.Duration(r.Window).Seconds(), r.Sent,
		r.Sent/time.Duration(r.Window).Seconds(), r.Recv, r.BytesTx*8/1e6/time.Duration(r.Window).Seconds(),
		float64(r.PerPacket)/float64(time.Microsecond), r.Load)
}

// cpuRun fills a room, waits until media flows (and, encrypted, everyone
// shares an epoch), and measures the server over o.Window.
func cpuRun(ctx context.Context, o Options, e2ee bool, name string) (*CPURun, error) {
	if err := awaitEndpoints(ctx, o.Server, 0); err != nil {
		return nil, err
	}
	r := newRoom(o, name, e2ee)
	defer r.close()
	if err := r.fill(ctx, o.Bots); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, o.SettleTimeout)
	defer cancel()
	if e2ee {
		if err := await(sctx, r.bots, func() bool { return settled(r.bots, 0) }); err != nil {
			return nil, fmt.Errorf("the room never settled on one epoch: %w", err)
		}
	}
	if err := awaitVideo(sctx, r.bots, o.videoSources(), 30); err != nil {
		return nil, err
	}
	m0, err := metrics(o.Server)
	if err != nil {
		return nil, err
	}
	c0, err := procstat.CPUTime(o.PID)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := botrun.Sleep(ctx, o.Window); err != nil {
		return nil, err
	}
	c1, err := procstat.CPUTime(o.PID)
	if err != nil {
		return nil, err
	}
	m1, err := metrics(o.Server)
	if err != nil {
		return nil, err
	}
	run := &CPURun{Room: name, E2EE: e2ee, Bots: o.Bots, Load: procstat.LoadAverage(), Window: Duration(time.Since(t0)), CPU: Duration(c1 - c0),
		Sent:    m1["parley_bridge_packets_sent_total"] - m0["parley_bridge_packets_sent_total"],
		Recv:    m1["parley_bridge_packets_received_total"] - m0["parley_bridge_packets_received_total"],
		BytesTx: m1["parley_bridge_bytes_sent_total"] - m0["parley_bridge_bytes_sent_total"]}
	if run.Sent > 0 {
		run.PerPacket = Duration(float64(run.CPU) / run.Sent)
	}
	return run, nil
}

// metrics reads the server's /metrics: each metric's samples summed over
// their labels.
func metrics(base string) (map[string]float64, error) { return parleyproc.Metrics(base) }

// awaitEndpoints waits until the bridge holds at most n endpoints (the
// previous run's are gone). The bridge tells nobody, so this polls.
func awaitEndpoints(ctx context.Context, base string, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := metrics(base)
		if err == nil && m["parley_bridge_endpoints"] <= float64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bridge still has %v endpoints after 60 s (%v)", m["parley_bridge_endpoints"], err)
		}
		if err := botrun.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// selfCPU is this process's CPU time so far (0 if unreadable).
func selfCPU() time.Duration {
	d, _ := procstat.CPUTime(0)
	return d
}

func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}
