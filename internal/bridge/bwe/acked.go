package bwe

import "time"

// Acked-rate window: 300 ms of arrival time in 10 ms buckets. Long enough to span ~9 video frames at 30 fps,
// short enough that after a capacity drop the next overuse decision already sees the new delivered rate.
const (
	ackedBucket  = 10 * time.Millisecond
	ackedBuckets = 30
	ackedWindow  = ackedBucket * ackedBuckets
	ackedMinSpan = 100 * time.Millisecond // a rate over less than this is a burst, not a rate
)

// ackedRate measures the delivered (acknowledged) bit rate from received packets' sizes and their arrival
// times on the receiver's clock.
type ackedRate struct {
	bytes   [ackedBuckets]int64
	newest  int64         // index (arrival / ackedBucket) of the newest bucket written
	last    time.Duration // latest arrival time seen
	first   int64         // index of the first bucket written since the last reset
	started bool
}

func (a *ackedRate) reset() { *a = ackedRate{} }

// add counts one received packet.
func (a *ackedRate) add(arrived time.Duration, size int) {
	idx := int64(arrived / ackedBucket)
	if arrived < 0 {
		idx-- // floor
	}
	if !a.started {
		a.started, a.newest, a.first, a.last = true, idx, idx, arrived
	}
	a.last = max(a.last, arrived)
	switch {
	case idx > a.newest:
		if idx-a.newest >= ackedBuckets {
			clear(a.bytes[:])
		} else {
			for i := a.newest + 1; i <= idx; i++ {
				a.bytes[mod(i, ackedBuckets)] = 0
			}
		}
		a.newest = idx
	case a.newest-idx >= ackedBuckets:
		if a.newest-idx > 100*ackedBuckets {
			// The receiver's clock went far back: its arrival times restarted. Start over from here.
			a.reset()
			a.add(arrived, size)
		}
		return // older than the window
	}
	if idx < a.first {
		a.first = idx
	}
	a.bytes[mod(idx, ackedBuckets)] += int64(size)
}

// rate returns the delivered rate in bit/s, or 0 when less than ackedMinSpan of arrivals was seen.
func (a *ackedRate) rate() float64 {
	if !a.started {
		return 0
	}
	// The window runs from the start of its oldest bucket to the latest arrival, not to the end of the newest
	// bucket: feedback tends to end just after a frame's burst, and counting the rest of that bucket as idle
	// would read about one frame low.
	span := min(a.newest-a.first+1, ackedBuckets)
	oldest := a.newest - span + 1
	iv := a.last - time.Duration(oldest)*ackedBucket
	if iv < ackedMinSpan {
		return 0
	}
	var sum int64
	for i := oldest; i <= a.newest; i++ {
		sum += a.bytes[mod(i, ackedBuckets)]
	}
	return float64(sum*8) / iv.Seconds()
}

func mod(i, n int64) int64 {
	m := i % n
	if m < 0 {
		m += n
	}
	return m
}
