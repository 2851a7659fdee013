package main

import "github.com/parley-im/parley/test/internal/promtext"

// The SFU's own share of the latency, where the SFU measures it: Parley's bridge observes, for every
// forwarded RTP packet, the time from reading it off the socket to handing its copies to sendmmsg
// (parley_bridge_forward_delay_seconds). The tool reads that histogram before and after the window and
// takes quantiles of the difference (promtext.Histogram).

// delayReporter is a target that measures its own added latency.
type delayReporter interface {
	forwardDelay() (promtext.Histogram, error)
}
