package alloc

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Unlimited is the estimate to pass while the bandwidth estimate is not trusted yet (no feedback, or
// the receiver did not negotiate RTX): every source then gets its ideal layer.
const Unlimited int64 = math.MaxInt64

// Layer is one forwardable layer of a video source: a simulcast encoding (or spatial layer) up to a
// temporal layer. Bps is what forwarding this layer costs, so for temporal layers it is cumulative (the
// 15 fps layer of an encoding includes its 7.5 fps layer); simulcast encodings are independent
// streams, so an encoding's Bps does not include the encodings below it.
type Layer struct {
	Encoding int     // simulcast encoding or spatial layer, 0 = lowest
	Temporal int     // highest temporal layer id included
	Height   int     // frame height in pixels (the smaller dimension); 0 = unknown
	FPS      float64 // frame rate; 0 = unknown, which counts as enough
	Bps      int64   // measured bit rate of forwarding this layer
	Active   bool    // the sender is sending it now
}

// usable reports whether the allocator can budget l: it is being sent and its rate is known. A layer
// without a measured rate cannot be weighed against the estimate.
func (l *Layer) usable() bool { return l.Active && l.Bps > 0 }

// Source is one video source a receiver could get. Layers go from worst to best, encoding by encoding
// and within each encoding by temporal layer (the order of a simulcast source's layer indices), so a
// higher index never means less quality; the allocator's results are indices into Layers.
type Source struct {
	ID       string // source name ("<endpoint>-v0")
	Owner    string // endpoint ID, matched against the speech order
	Desktop  bool   // a screen share: resolution over frame rate, may oversend on stage
	Disabled bool   // the sender's video is off: ranked last, never forwarded, takes no last-N place
	Layers   []Layer
}

// Settings are one receiver's ReceiverVideoConstraints as the bridge keeps them.
type Settings struct {
	// LastN is how many sources the receiver wants at most, -1 for no limit. The caller passes the
	// smallest of the receiver's value and any bridge- or conference-wide limit.
	LastN int
	// OnStage lists the sources shown large (stage view), in priority order; Selected are further
	// sources the receiver asked for. Both rank before the speech order.
	OnStage, Selected []string
	// DefaultMaxHeight applies to sources not in MaxHeight. Heights: 0 = never send this source,
	// negative = no limit, positive = the tallest layer wanted (soft: a source whose every layer is
	// taller still gets its lowest).
	DefaultMaxHeight int
	MaxHeight        map[string]int
}

// maxHeight is the receiver's constraint on source id, normalised to -1 for no limit.
func (s *Settings) maxHeight(id string) int {
	h, ok := s.MaxHeight[id]
	if !ok {
		h = s.DefaultMaxHeight
	}
	return max(h, -1)
}

// Limits are the bridge-wide allocation parameters.
type Limits struct {
	// OnStageHeight and OnStageFPS are the layer an on-stage camera is raised to at once, before any
	// other source gets bits; above it frame rate comes before resolution (Jitsi: 360 and 30).
	OnStageHeight int
	OnStageFPS    float64
	// MaxOversendBps is how far over the estimate the first-ranked on-stage screen share may go to show
	// its full resolution (Jitsi: 500 kbit/s); a blurred slide is worse than a congested moment.
	MaxOversendBps int64
}

// DefaultLimits are Jitsi's defaults.
func DefaultLimits() Limits {
	return Limits{OnStageHeight: 360, OnStageFPS: 30, MaxOversendBps: 500_000}
}

// ErrInvalidLimits is returned by Validate for a value the allocator cannot work with.
var ErrInvalidLimits = errors.New("alloc: invalid limits")

// Validate reports the first unusable field.
func (l Limits) Validate() error {
	switch {
	case l.OnStageHeight <= 0:
		return fmt.Errorf("%w: OnStageHeight %d must be positive", ErrInvalidLimits, l.OnStageHeight)
	case !(l.OnStageFPS > 0) || math.IsInf(l.OnStageFPS, 0):
		return fmt.Errorf("%w: OnStageFPS %v must be positive", ErrInvalidLimits, l.OnStageFPS)
	case l.MaxOversendBps < 0 || l.MaxOversendBps > maxBps:
		return fmt.Errorf("%w: MaxOversendBps %d out of range", ErrInvalidLimits, l.MaxOversendBps)
	}
	return nil
}

// Hysteresis is what keeps the stateful Allocator from flickering (see doc.go).
type Hysteresis struct {
	// UpMargin is the headroom a move up must leave: the whole allocation after it must fit in
	// mean/(1+UpMargin), where mean is the mean estimate over UpWindow (and in the latest estimate).
	// Moves down need no margin: they happen as soon as the latest estimate no longer carries what is
	// forwarded.
	UpMargin float64
	UpWindow time.Duration
	// UpDelayAfterDown is how long no source moves up after the estimate forced one down.
	UpDelayAfterDown time.Duration
	// ReallocChange and ReallocEvery drive ShouldReallocate: an estimate that moved by more than this
	// fraction of the last one allocated with, or this long since the last allocation.
	ReallocChange float64
	ReallocEvery  time.Duration
	// KeepFor is how long the first source in the priority order (the stage, else the speaker) keeps
	// the lowest layer it had while the latest estimate leaves less than that layer costs: a dip of a
	// noisy estimate then costs the stage a lower layer, not its picture. Longer than that, it is
	// suspended like any other source. 0 turns the rule off.
	KeepFor time.Duration
}

// DefaultHysteresis: a 15% margin over a 2 s mean (an estimator's ±10% jitter then never takes back
// a layer a move up bought: 1/1.15 < 0.9), 4 s without moving up after a forced move down (shorter
// than the 5 s periodic reallocation, so the next periodic run may move up again), and Jitsi's 15% and
// 5 s for ShouldReallocate; the first source keeps its lowest layer through 2 s of an estimate below
// it (behind 500 kbit/s, the delay-based estimate swung ±25% around what four speakers' audio and one
// 180p picture need, and each dip suspended the stage for the 4 s after it).
func DefaultHysteresis() Hysteresis {
	return Hysteresis{UpMargin: 0.15, UpWindow: 2 * time.Second, UpDelayAfterDown: 4 * time.Second,
		ReallocChange: 0.15, ReallocEvery: 5 * time.Second, KeepFor: 2 * time.Second}
}

// ErrInvalidHysteresis is returned by Validate for a value the Allocator cannot work with.
var ErrInvalidHysteresis = errors.New("alloc: invalid hysteresis")

// Validate reports the first unusable field.
func (h Hysteresis) Validate() error {
	switch {
	case !(h.UpMargin >= 0) || h.UpMargin > 10:
		return fmt.Errorf("%w: UpMargin %v must be in [0, 10]", ErrInvalidHysteresis, h.UpMargin)
	case h.UpWindow < 0:
		return fmt.Errorf("%w: UpWindow %v is negative", ErrInvalidHysteresis, h.UpWindow)
	case h.UpDelayAfterDown < 0:
		return fmt.Errorf("%w: UpDelayAfterDown %v is negative", ErrInvalidHysteresis, h.UpDelayAfterDown)
	case !(h.ReallocChange >= 0) || math.IsInf(h.ReallocChange, 0):
		return fmt.Errorf("%w: ReallocChange %v must be non-negative", ErrInvalidHysteresis, h.ReallocChange)
	case h.ReallocEvery <= 0:
		return fmt.Errorf("%w: ReallocEvery %v must be positive", ErrInvalidHysteresis, h.ReallocEvery)
	case h.KeepFor < 0:
		return fmt.Errorf("%w: KeepFor %v is negative", ErrInvalidHysteresis, h.KeepFor)
	}
	return nil
}

// Allocation is the outcome for one source.
type Allocation struct {
	ID string
	// Target is the index in Source.Layers to forward now, -1 for nothing. Ideal is the layer the source
	// would get with unlimited bandwidth (-1 when it gets nothing whatever the estimate).
	Target, Ideal       int
	TargetBps, IdealBps int64
	// EffectiveMaxHeight is the receiver's constraint after last-N (0 = off, -1 = no limit): what the
	// bridge aggregates over receivers into SenderSourceConstraints. Bandwidth does not lower it.
	EffectiveMaxHeight int
	// Suspended: within last-N and being sent, but the estimate leaves nothing for it.
	Suspended bool
}

// Result is one receiver's allocation. Reuse one Result across calls: it keeps its buffers, so a call
// allocates nothing once they have grown to the room's size.
type Result struct {
	// Sources has one entry per input source, in input order.
	Sources []Allocation
	// Forwarded lists the IDs of the sources with a target, highest priority first (ForwardedSources).
	Forwarded []string
	// TargetBps and IdealBps are the sums over Sources; Σideal − Σtarget is what probing may seek.
	TargetBps, IdealBps int64
	// Oversending: TargetBps exceeds the estimate (an on-stage screen share, or the first source
	// keeping its lowest layer for Hysteresis.KeepFor).
	Oversending bool

	w work
}
