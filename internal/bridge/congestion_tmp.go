package bridge

import "time"

// TEMPORARY until internal/bridge/bwe lands.
type estimator struct{ sent, fb int }

func (e *estimator) OnSent(seq uint16, size int, at time.Time, probe bool) { e.sent++ }
func (e *estimator) OnFeedback(now time.Time, a []tccArrival)              { e.fb++ }
func (b *Bridge) newEstimator() *estimator                                 { return &estimator{} }
