package bwe

import (
	"math"
	"time"
)

// Loss-based control (draft-ietf-rmcat-gcc-02 §6 and libwebrtc's first send-side estimator; Jitsi's 2% / 10%).
const (
	lossLow        = 0.02 // below: loss does not restrain the estimate
	lossHigh       = 0.10 // above: cut by half the loss fraction
	lossMinPackets = 50   // a loss fraction over fewer packets is noise: 5% random loss over 20 packets
	// reads above 10% one window in fourteen
	lossInterval = 500 * time.Millisecond
	lossDecrease = 300 * time.Millisecond // plus RTT: one cut per round trip, so a cut's effect is seen first
	lossGrowth   = 1.08                   // per second, when loss is low again
)

// lossControl is a cap on the estimate from the fraction of packets the receiver reports lost. Between 2%
// and 10% it holds the rate where it was when loss began (the loss may be the link's own, not queue drops,
// so it does not cut, but it does not let the estimate climb either), above 10% it cuts, below 2% it lifts the cap again at 8% per second.
type lossControl struct {
	cap          float64 // bit/s; +Inf = no cap
	lost, total  int     // packets in the current window
	fraction     float64 // of the last completed window
	windowStart  time.Duration
	lastUpdate   time.Duration
	lastDecrease time.Duration
	started      bool
	decreased    bool
}

func newLossControl() lossControl { return lossControl{cap: math.Inf(1)} }

// count records one packet's fate from feedback. lostBefore marks a packet earlier reported lost and now
// received (reordered feedback): it turns one loss back into a delivery.
func (l *lossControl) count(received, lostBefore bool) {
	switch {
	case lostBefore && received:
		if l.lost > 0 {
			l.lost--
		}
	case received:
		l.total++
	default:
		l.lost++
		l.total++
	}
}

// update closes the window when it is long and full enough and adjusts the cap. current is the estimate
// now, the cap's starting point when it engages.
func (l *lossControl) update(current float64, rtt, now time.Duration) {
	if !l.started {
		l.started, l.windowStart, l.lastUpdate = true, now, now
	}
	if now-l.windowStart < lossInterval || l.total < lossMinPackets {
		return
	}
	l.fraction = float64(l.lost) / float64(l.total)
	l.lost, l.total, l.windowStart = 0, 0, now
	dt := min(max(now-l.lastUpdate, 0), time.Second)
	l.lastUpdate = now
	switch {
	case l.fraction < lossLow:
		if !math.IsInf(l.cap, 1) {
			l.cap = l.cap*math.Pow(lossGrowth, dt.Seconds()) + 1000*dt.Seconds()
			if l.cap > 2*current {
				l.cap = math.Inf(1) // far above the estimate: no longer a constraint
			}
		}
	case l.fraction <= lossHigh:
		// Hold: cap at the rate loss began at. Not min(cap, current) on every window, which would follow each
		// delay-based dip down and never let the estimate back up while the link's own loss lasts.
		if math.IsInf(l.cap, 1) {
			l.cap = current
		}
	default:
		if !l.decreased || now-l.lastDecrease >= lossDecrease+rtt {
			l.cap = min(l.cap, current) * (1 - 0.5*l.fraction)
			l.lastDecrease, l.decreased = now, true
		}
	}
}

// lift raises the cap after a probe proved a higher rate gets through, unless loss is currently high.
func (l *lossControl) lift(bps float64) {
	if l.fraction < lossLow && l.cap < bps {
		l.cap = bps
	}
}
