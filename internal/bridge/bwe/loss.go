package bwe

import (
	"math"
	"time"
)

// Loss-based control (draft-ietf-rmcat-gcc-02 §6 and libwebrtc's first send-side estimator; Jitsi's 2% / 10%),
// with the link's own loss told apart.
const (
	lossLow        = 0.02 // below: loss does not restrain the estimate
	lossHigh       = 0.10 // above: cut by half the loss fraction
	lossMinPackets = 50   // a loss fraction over fewer packets is noise: 5% random loss over 20 packets
	// reads above 10% one window in fourteen
	lossInterval = 500 * time.Millisecond
	lossDecrease = 300 * time.Millisecond // plus RTT: one cut per round trip, so a cut's effect is seen first
	lossGrowth   = 1.08                   // per second, when loss is low again
	maxInherent  = 0.3                    // more loss than this is never taken as the link's own
)

// lossControl is a cap on the estimate from the fraction of packets the receiver reports lost. Between 2%
// and 10% it holds the rate where it was when loss began (the loss may be the link's own, not queue drops,
// so it does not cut, but it does not let the estimate climb either), above 10% it cuts by half the loss
// fraction once per 300 ms + RTT, below 2% it lifts the cap again at 8% per second. (Cutting from 2% on
// was tried: behind a short drop-tail queue the estimate came down a few seconds sooner, but at 5%
// random loss every run of loss cut the estimate under the media before the loss was recognised as the
// link's own, and the layers it dropped cost more than the seconds gained; TestShallowQueue shows the
// delay detector finding a short queue within 10 s.)
//
// Loss the link has whatever is sent (radio, a lossy path) is told from congestion by what the cuts do:
// if the cuts of one run of high loss took the rate 10% or more under what the link was delivering when
// the run began (so the link is no longer full), the media actually sent fell by 10% or more too (a cut
// the allocation cannot follow, its lowest layers being above it, or retransmissions filling the gap,
// proves nothing), and the loss stayed at 70% or more of what it was, the
// loss does not come from the rate: it is taken as the link's own (inherent) level, and the cap goes back
// to where the run began. The rules then apply to the loss above that level, so a link that loses 15% of
// packets at any rate keeps the estimate its delay allows instead of being cut to the minimum
// (TestInherentLoss); the level is forgotten once loss stays under half of it for 2 s. Loss over 30% is
// never taken as the link's own.
type lossControl struct {
	cap          float64 // bit/s; +Inf = no cap
	inherent     float64 // the link's own loss fraction, 0 = none known
	cutRate      float64 // the estimate and loss at the first cut of a run of high loss, to tell inherent loss
	cutLoss      float64 // (0 = no run)
	cutAcked     float64 // what the link delivered when the run began
	cutSent      float64 // the media rate sent when the run began
	clearWindows int     // consecutive windows with loss under half the inherent level
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
func (l *lossControl) update(current, acked, sent float64, rtt, now time.Duration) {
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
	if l.inherent > 0 {
		// Forgotten after four windows (2 s) in a row under half of it: one quiet window is chance.
		if l.fraction < l.inherent/2 {
			if l.clearWindows++; l.clearWindows >= 4 {
				l.inherent, l.clearWindows = 0, 0
			}
		} else {
			l.clearWindows = 0
			l.inherent = 0.8*l.inherent + 0.2*l.fraction
		}
	}
	excess := max(l.fraction-l.inherent, 0) // loss above the link's own
	switch {
	case excess < lossLow:
		l.cutRate, l.cutLoss = 0, 0
		if !math.IsInf(l.cap, 1) {
			l.cap = l.cap*math.Pow(lossGrowth, dt.Seconds()) + 1000*dt.Seconds()
			if l.cap > 2*current {
				l.cap = math.Inf(1) // far above the estimate: no longer a constraint
			}
		}
	case excess <= lossHigh:
		l.cutRate, l.cutLoss = 0, 0
		// Hold: cap at the rate loss began at. Not min(cap, current) on every window, which would follow each
		// delay-based dip down and never let the estimate back up while the link's own loss lasts.
		if math.IsInf(l.cap, 1) {
			l.cap = current
		}
	default:
		settled := !l.decreased || now-l.lastDecrease >= lossDecrease+rtt // the last cut's effect is seen
		if settled && l.cutRate > 0 && current <= 0.9*l.cutAcked && sent <= 0.9*l.cutSent && l.fraction >= 0.7*l.cutLoss && l.fraction <= maxInherent {
			// The cuts since this run of loss began lowered the rate but not the loss: it is the link's
			// own. The rate before them was no worse, so the cap goes back to it.
			l.inherent = l.fraction
			l.cap = max(l.cap, l.cutRate)
			l.cutRate, l.cutLoss = 0, 0
			return
		}
		if settled {
			if l.cutRate == 0 {
				l.cutRate, l.cutLoss, l.cutAcked, l.cutSent = min(l.cap, current), l.fraction, acked, sent
			}
			l.cap = min(l.cap, current) * (1 - 0.5*excess)
			l.lastDecrease, l.decreased = now, true
		}
	}
}

// restart forgets the losses of the current window, after the start rule acted on them (start.go): the
// window would otherwise cut again for the same losses when it closes.
func (l *lossControl) restart(now time.Duration) {
	l.lost, l.total, l.windowStart = 0, 0, now
	l.started, l.lastUpdate = true, now
}

// lift raises the cap after a probe proved a higher rate gets through, unless loss is currently high.
func (l *lossControl) lift(bps float64) {
	if l.fraction < lossLow && l.cap < bps {
		l.cap = bps
	}
}
