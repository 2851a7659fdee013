package bwe

import "time"

// Application-limited region detection (libwebrtc's AlrDetector): a budget refills at 65% of the estimate
// and every sent byte spends it. When the budget stays mostly unspent the sender is not using the estimate,
// so transport feedback cannot confirm a higher one.
const (
	alrUsage  = 0.65
	alrWindow = 500 * time.Millisecond
	alrEnter  = 0.80 // budget level above which the sender is application-limited ...
	alrLeave  = 0.50 // ... and below which it is not any more (hysteresis)
)

type alrDetector struct {
	budget  float64 // bytes
	last    time.Duration
	started bool
	in      bool
}

// update accounts bytes sent at now with the current estimate.
func (d *alrDetector) update(now time.Duration, bytes int, estimate float64) {
	if !d.started {
		d.started, d.last = true, now
	}
	dt := min(max(now-d.last, 0), alrWindow)
	if now > d.last {
		d.last = now
	}
	rate := alrUsage * estimate / 8 // bytes per second
	limit := rate * alrWindow.Seconds()
	d.budget += rate*dt.Seconds() - float64(bytes)
	d.budget = min(max(d.budget, -limit), limit)
	if limit <= 0 {
		return
	}
	level := d.budget / limit
	switch {
	case !d.in && level > alrEnter:
		d.in = true
	case d.in && level < alrLeave:
		d.in = false
	}
}
