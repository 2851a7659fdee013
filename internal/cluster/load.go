package cluster

import (
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LoadFrom measures a bridge's load for its heartbeats from the bridge's metrics in g (the registry
// the bridge was built with) and from the process's CPU time: endpoints and conferences as the gauges
// say, packets per second and CPU share since the previous call.
func LoadFrom(g prometheus.Gatherer) func() Load {
	var (
		mu       sync.Mutex
		last     time.Time
		lastPkts float64
		lastCPU  time.Duration
	)
	return func() Load {
		var l Load
		var pkts float64
		mfs, _ := g.Gather()
		for _, mf := range mfs {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
			switch mf.GetName() {
			case "parley_bridge_endpoints":
				l.Endpoints = int(sum)
			case "parley_bridge_conferences":
				l.Conferences = int(sum)
			case "parley_bridge_packets_received_total", "parley_bridge_packets_sent_total":
				pkts += sum
			}
		}
		now, cpu := time.Now(), processCPU()
		mu.Lock()
		defer mu.Unlock()
		if !last.IsZero() {
			if dt := now.Sub(last); dt > 0 {
				l.PacketsPerSecond = max(pkts-lastPkts, 0) / dt.Seconds()
				l.CPU = min(max(float64(cpu-lastCPU)/float64(dt)/float64(runtime.NumCPU()), 0), 1)
			}
		}
		last, lastPkts, lastCPU = now, pkts, cpu
		return l
	}
}
