package bwe

import (
	"fmt"
	"math"
	"time"
)

// DelayState is the delay-based detector's verdict on the path's queue.
type DelayState int

const (
	// Normal: the queue is neither growing nor draining.
	Normal DelayState = iota
	// Overusing: the queue keeps growing; we send more than the bottleneck carries.
	Overusing
	// Underusing: the queue is draining after an overuse; hold the rate until it is empty.
	Underusing
)

func (s DelayState) String() string {
	switch s {
	case Overusing:
		return "overusing"
	case Underusing:
		return "underusing"
	default:
		return "normal"
	}
}

// MarshalText makes the state read as a word in debug JSON.
func (s DelayState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the word back (a tool reading /debug/bridge).
func (s *DelayState) UnmarshalText(b []byte) error {
	for _, st := range []DelayState{Normal, Overusing, Underusing} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("bwe: unknown delay state %q", b)
}

// Trendline constants, libwebrtc's values (TrendlineEstimator and its adaptive threshold).
const (
	trendWindow     = 20   // smoothed delay samples in the least-squares fit
	trendSmoothing  = 0.9  // exponential smoothing of the accumulated delay
	trendGain       = 4.0  // scales the slope into the threshold's units
	trendMaxDeltas  = 60   // the slope is multiplied by min(deltas seen, 60): trust grows with evidence
	thresholdInit   = 12.5 // ms
	thresholdMin    = 6.0  // ms
	thresholdMax    = 600.0
	kUp             = 0.0087 // threshold follows a larger trend slowly ...
	kDown           = 0.039  // ... and a smaller one quickly, so it does not drift up and hide congestion
	maxAdaptOffset  = 15.0   // ms: a trend this far above the threshold is a real spike, not noise to adapt to
	maxAdaptPeriod  = 100 * time.Millisecond
	overuseTimeMin  = 10 * time.Millisecond // overuse must persist this long ...
	overuseCountMin = 1                     // ... over more than one delta
)

// trendline estimates whether queueing delay is rising from the slope of the accumulated inter-group delay
// variation over a window of recent groups, and compares it with a threshold that adapts to the path's noise.
type trendline struct {
	firstArrival  time.Duration
	started       bool
	accumulated   float64 // ms
	smoothed      float64 // ms
	samples       [trendWindow]struct{ x, y float64 }
	nSamples      int // filled entries of samples, up to trendWindow
	next          int // ring position of the next sample
	numDeltas     int
	trend         float64
	prevTrend     float64
	threshold     float64
	lastThreshold time.Duration
	thresholdSet  bool
	overuseTime   time.Duration // -1 = not overusing
	overuseCount  int
	state         DelayState
}

func (t *trendline) reset() {
	*t = trendline{threshold: thresholdInit, overuseTime: -1}
}

// update takes one inter-group delta and returns the detector's state.
func (t *trendline) update(d delta) DelayState {
	variation := ms(d.arrival) - ms(d.send)
	if t.numDeltas < 1000 {
		t.numDeltas++
	}
	if !t.started {
		t.started = true
		t.firstArrival = d.arrivalAt
	}
	t.accumulated += variation
	t.smoothed = trendSmoothing*t.smoothed + (1-trendSmoothing)*t.accumulated
	t.samples[t.next] = struct{ x, y float64 }{ms(d.arrivalAt - t.firstArrival), t.smoothed}
	t.next = (t.next + 1) % trendWindow
	if t.nSamples < trendWindow {
		t.nSamples++
	}
	if t.nSamples == trendWindow {
		if slope, ok := t.slope(); ok {
			t.trend = slope
		}
	}
	t.detect(d.send, d.arrivalAt)
	return t.state
}

// slope is the least-squares slope of smoothed delay over arrival time.
func (t *trendline) slope() (float64, bool) {
	var sx, sy float64
	for _, s := range t.samples[:t.nSamples] {
		sx += s.x
		sy += s.y
	}
	n := float64(t.nSamples)
	mx, my := sx/n, sy/n
	var num, den float64
	for _, s := range t.samples[:t.nSamples] {
		num += (s.x - mx) * (s.y - my)
		den += (s.x - mx) * (s.x - mx)
	}
	if den == 0 {
		return 0, false
	}
	return num / den, true
}

func (t *trendline) detect(sendDelta, now time.Duration) {
	if t.numDeltas < 2 {
		t.state = Normal
		return
	}
	modified := float64(min(t.numDeltas, trendMaxDeltas)) * t.trend * trendGain
	switch {
	case modified > t.threshold:
		if t.overuseTime < 0 {
			t.overuseTime = sendDelta / 2 // assume the overuse began halfway through this delta
		} else {
			t.overuseTime += sendDelta
		}
		t.overuseCount++
		if t.overuseTime > overuseTimeMin && t.overuseCount > overuseCountMin && t.trend >= t.prevTrend {
			t.overuseTime = 0
			t.overuseCount = 0
			t.state = Overusing
		}
	case modified < -t.threshold:
		t.overuseTime = -1
		t.overuseCount = 0
		t.state = Underusing
	default:
		t.overuseTime = -1
		t.overuseCount = 0
		t.state = Normal
	}
	t.prevTrend = t.trend
	t.adapt(modified, now)
}

// adapt moves the threshold toward |modified| so that it tracks the path's noise: it rises slowly when the
// trend exceeds it and falls faster when the trend is below, and ignores spikes far above it.
func (t *trendline) adapt(modified float64, now time.Duration) {
	if !t.thresholdSet {
		t.thresholdSet = true
		t.lastThreshold = now
	}
	abs := math.Abs(modified)
	if abs > t.threshold+maxAdaptOffset {
		t.lastThreshold = now
		return
	}
	k := kDown
	if abs >= t.threshold {
		k = kUp
	}
	dt := min(max(now-t.lastThreshold, 0), maxAdaptPeriod)
	t.threshold += k * (abs - t.threshold) * ms(dt)
	t.threshold = min(max(t.threshold, thresholdMin), thresholdMax)
	t.lastThreshold = now
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
