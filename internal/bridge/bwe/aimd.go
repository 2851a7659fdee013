package bwe

import (
	"math"
	"time"
)

// Rate control constants (libwebrtc's AimdRateControl and LinkCapacityEstimator).
const (
	beta              = 0.85 // on overuse: estimate = 0.85 × delivered rate, just under what the link carried
	multiplicativeMax = 1.08 // per second, far from the last congestion point
	minIncreasePerSec = 4000 // bit/s per second of additive increase, floor
	packetBits        = 1200 * 8
	frameInterval     = time.Second / 30
	responseExtra     = 100 * time.Millisecond // the detector's own reaction time, added to the RTT
	defaultRTT        = 200 * time.Millisecond
	throughputFactor  = 1.5   // never increase beyond 1.5 × delivered + 10 kbit/s ...
	throughputSlack   = 10000 // ... so an idle sender cannot run the estimate up (pion/interceptor#299)
	capacityAlpha     = 0.05  // smoothing of the link-capacity estimate, updated at each overuse
	// widerFactor: delivering this much more than the link capacity seen at overuses says the path got
	// wider. Less would be a token bucket's burst: tc tbf's 3200 bytes at 500 kbit/s read up to 17% above
	// the rate over the 300 ms delivered-rate window, and took the probe back-off away now and then.
	widerFactor = 1.2
)

type rateState int

const (
	rateHold rateState = iota
	rateIncrease
	rateDecrease
)

// linkCapacity remembers the delivered rate at recent overuses: near it we creep up additively, far above
// or below it (the path changed) we forget it and go multiplicative again.
type linkCapacity struct {
	kbps      float64 // 0 = no estimate
	deviation float64 // normalized variance, kept within [0.4, 2.5]
}

func (l *linkCapacity) has() bool { return l.kbps > 0 }
func (l *linkCapacity) reset()    { l.kbps = 0 }
func (l *linkCapacity) stddev() float64 {
	return math.Sqrt(l.deviation * l.kbps)
}
func (l *linkCapacity) upper() float64 { return (l.kbps + 3*l.stddev()) * 1000 }
func (l *linkCapacity) lower() float64 { return (l.kbps - 3*l.stddev()) * 1000 }

func (l *linkCapacity) onOveruse(ackedBps float64) {
	sample := ackedBps / 1000
	if l.kbps == 0 {
		l.kbps = sample
		l.deviation = 0.4
		return
	}
	l.kbps = (1-capacityAlpha)*l.kbps + capacityAlpha*sample
	norm := max(l.kbps, 1)
	e := l.kbps - sample
	l.deviation = (1-capacityAlpha)*l.deviation + capacityAlpha*e*e/norm
	l.deviation = min(max(l.deviation, 0.4), 2.5)
}

// aimd is the delay-based rate controller: additive/multiplicative increase while the queue is stable, a
// multiplicative decrease to just under the delivered rate on overuse, hold while the queue drains.
type aimd struct {
	bps          float64
	min, max     float64
	state        rateState
	lastChange   time.Duration
	lastDecrease time.Duration
	changed      bool // lastChange is set
	decreased    bool // lastDecrease is set
	rtt          time.Duration
	link         linkCapacity
	// wider is set when the delivered rate went clearly above the link capacity seen at recent overuses
	// (widerFactor), while increasing or while a queue drains: the path got wider. The estimator reads and
	// clears it.
	wider bool
}

func newAIMD(initial, lo, hi int64) aimd {
	return aimd{bps: float64(initial), min: float64(lo), max: float64(hi), state: rateHold, rtt: defaultRTT}
}

// update applies one detector verdict at time now. acked is the delivered rate (0 = unknown); appLimited
// forbids increases because the sender is not filling the estimate, so feedback cannot confirm more.
func (a *aimd) update(s DelayState, acked float64, appLimited bool, now time.Duration) {
	switch s {
	case Normal:
		if a.state == rateHold {
			a.state = rateIncrease
			a.lastChange = now
			a.changed = true
		}
	case Overusing:
		if a.state != rateDecrease {
			a.state = rateDecrease
		}
	case Underusing:
		a.state = rateHold
		// A queue draining faster than the link carried at overuses: the link under it got wider (after a
		// step up, the full queue of the narrow link drains at the new rate, before anything else shows it).
		a.checkWider(acked)
	}
	switch a.state {
	case rateIncrease:
		a.increase(acked, appLimited, now)
	case rateDecrease:
		a.decrease(acked, now)
	}
	a.bps = min(max(a.bps, a.min), a.max)
}

func (a *aimd) increase(acked float64, appLimited bool, now time.Duration) {
	throughput := acked
	if throughput <= 0 {
		throughput = a.bps
	}
	if a.link.has() && throughput > a.link.upper() {
		a.checkWider(throughput)
		a.link.reset() // the path got faster than anything seen at overuse: search multiplicatively again
	}
	limit := throughputFactor*throughput + throughputSlack
	if appLimited {
		limit = a.bps // the feedback cannot vouch for more than what is actually sent
	}
	if a.bps < limit {
		var inc float64
		if a.link.has() {
			inc = a.additive(now)
		} else {
			inc = a.multiplicative(now)
		}
		a.bps = min(a.bps+inc, limit)
	}
	a.lastChange = now
	a.changed = true
}

// checkWider sets wider when acked (the delivered rate) is clearly above the link capacity.
func (a *aimd) checkWider(acked float64) {
	if a.link.has() && acked > max(a.link.upper(), widerFactor*a.link.kbps*1000) {
		a.wider = true
	}
}

func (a *aimd) elapsed(now time.Duration) float64 {
	if !a.changed {
		return 0
	}
	return min(max(now-a.lastChange, 0), time.Second).Seconds()
}

func (a *aimd) multiplicative(now time.Duration) float64 {
	alpha := math.Pow(multiplicativeMax, a.elapsed(now))
	return max(a.bps*(alpha-1), 1000)
}

// additive is about one packet per response time: the rate at which a queue built by a single extra
// packet per frame would be noticed before it harms.
func (a *aimd) additive(now time.Duration) float64 {
	frameBits := a.bps * frameInterval.Seconds()
	packets := math.Ceil(frameBits / packetBits)
	avgPacket := frameBits / max(packets, 1)
	response := (a.rtt + responseExtra).Seconds()
	perSec := max(avgPacket/response, minIncreasePerSec)
	return perSec * a.elapsed(now)
}

func (a *aimd) decrease(acked float64, now time.Duration) {
	if acked > 0 {
		next := beta * acked
		if next > a.bps && a.link.has() {
			next = beta * a.link.kbps * 1000
		}
		if next < a.bps {
			a.bps = next
		}
		if a.link.has() && acked < a.link.lower() {
			a.link.reset()
		}
		a.link.onOveruse(acked)
	} else {
		a.bps /= 2 // overuse before anything was delivered: halve
	}
	a.state = rateHold
	a.lastChange, a.lastDecrease = now, now
	a.changed, a.decreased = true, true
}

// canDecreaseAgain limits decreases to one per round trip (10–200 ms), unless the delivered rate has fallen
// below half the estimate, when waiting would only keep the queue full.
func (a *aimd) canDecreaseAgain(acked float64, now time.Duration) bool {
	if !a.decreased {
		return true
	}
	interval := min(max(a.rtt, 10*time.Millisecond), 200*time.Millisecond)
	if now-a.lastDecrease >= interval {
		return true
	}
	return acked > 0 && acked < 0.5*a.bps
}

// set forces the estimate, after a probe showed the path carries more.
func (a *aimd) set(bps float64, now time.Duration) {
	a.bps = min(max(bps, a.min), a.max)
	a.lastChange = now
	a.changed = true
}
