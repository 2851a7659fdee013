package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const header = "| Server | Load | Sent (pkt/s) | Relayed (pkt/s) | Loss | Server CPU (cores) | Relayed packets per server CPU-second | Latency p50 / p99 (µs) | Load generator CPU (cores) |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|"

// row is the result as one Markdown table row. Relayed counts every datagram the server relayed in the
// window: client → peer, plus peer → client with --echo.
func (r *result) row(o options) string {
	secs := r.window.Seconds()
	relayed := r.atPeers + r.back
	expected := r.sent
	if o.echo {
		expected = 2 * r.sent
	}
	loss := 0.0
	if expected > 0 {
		loss = 1 - float64(relayed)/float64(expected)
	}
	perCPU := "–"
	cpu := "–"
	if o.pid != 0 {
		cpu = fmt.Sprintf("%.2f", r.serverCPU.Seconds()/secs)
		if r.serverCPU > 0 {
			perCPU = group(int64(float64(relayed) / r.serverCPU.Seconds()))
		}
	}
	dir := "one-way"
	if o.echo {
		dir = "echoed"
	}
	load := fmt.Sprintf("%s pkt/s × %d B, %d allocations × %d peers, %s", group(int64(o.rate)), o.size, o.allocs, o.peers, dir)
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s / %s | %.2f |", o.label, load,
		group(int64(float64(r.sent)/secs)), group(int64(float64(relayed)/secs)), percent(loss), cpu, perCPU,
		micros(r.p50), micros(r.p99), r.ownCPU.Seconds()/secs)
}

func percent(f float64) string {
	if f <= 0 {
		return "0 %"
	}
	if f < 0.0001 {
		return "< 0.01 %"
	}
	return strconv.FormatFloat(f*100, 'f', 2, 64) + " %"
}

func micros(d time.Duration) string { return group(d.Microseconds()) }

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
