package bwe

import "time"

// The start: the estimate begins at Config.Initial, a guess. A link much narrower than the guess shows
// in the first feedback as heavy loss while the receiver gets far less than is sent; the regular rules
// are slow to act on it there (the loss rule cuts by half the loss once per window, 2.5 → 0.4 Mbit/s
// took 4 s behind a 500 kbit/s tbf, and a queue that short never shows a delay trend), and every
// second at the guess drops key frames and audio. So in its first startPeriod of feedback the estimator
// cuts at once, to 0.85 × what the receiver got, when more than startLoss of the packets reported so far
// were lost (more than any link's own loss: see maxInherent) and what arrived is under
// startNarrow × the estimate. It cuts once, and takes what arrived as the link's capacity, so it climbs
// from there additively. (libwebrtc starts low, at 300 kbit/s, and probes up; LiveKit starts high and
// commits the estimate on the first congestion: this is the second, done on the first feedback.)
const (
	startPeriod     = 2 * time.Second
	startMinPackets = 30
	startLoss       = maxInherent
	startNarrow     = 0.7
)

// startCheck is the state of the start rule.
type startCheck struct {
	seen        bool          // feedback came
	at          time.Duration // when the first did
	done        bool          // the rule fired, or its period ended
	cut         bool          // the rule fired
	lost, total int           // packets reported since the first feedback
}

// count records one packet's fate while the start rule is on.
func (s *startCheck) count(received, lostBefore bool) {
	if s.done {
		return
	}
	switch {
	case lostBefore && received:
		if s.lost > 0 {
			s.lost--
		}
	case received:
		s.total++
	default:
		s.lost++
		s.total++
	}
}

// startLocked applies the start rule after a feedback at t; acked is the delivered rate. It reports
// whether it cut.
func (e *Estimator) startLocked(t time.Duration, acked float64) bool {
	s := &e.start
	if s.done {
		return false
	}
	if !s.seen {
		s.seen, s.at = true, t
	}
	if t-s.at > startPeriod {
		s.done = true
		e.probe.initial = true // from here the deficit and ALR probes look for more
		return false
	}
	if s.total < startMinPackets || acked <= 0 || float64(s.lost) <= startLoss*float64(s.total) ||
		acked >= startNarrow*e.estimate {
		return false
	}
	s.done, s.cut = true, true
	e.rate.set(beta*acked, t)
	e.rate.link.onOveruse(acked)
	e.rate.state = rateHold
	e.rate.lastDecrease, e.rate.decreased = t, true
	e.loss.restart(t)
	e.probe.initial = true // the initial probes are for a link wider than the guess
	e.combineLocked()
	return true
}
