package bwe

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// The estimate's bounds are Jitsi's defaults (videobridge reference.conf). Its start is lower than
// Jitsi's 2.5 Mbit/s: behind 500 kbit/s a start at 2.5 Mbit/s put the stage at 720p and sent five times
// the link for the first seconds. 1 Mbit/s (LiveKit's start for Pion's estimator; mediasoup starts at
// 600 kbit/s, libwebrtc at 300 kbit/s) carries the stage at 360p with two thumbnails, and the initial
// probes (3 × and then 2 × each result, once feedback shows the start gets through) find a wider link
// within the first second.
const (
	DefaultInitial int64 = 1_000_000
	DefaultMin     int64 = 30_000
	DefaultMax     int64 = 20_000_000
)

// maxArrival bounds a believable arrival time: transport-cc reference times (24 bits of 64 ms) span about
// 12.4 days, so anything larger is garbage that would only overflow differences.
const maxArrival = time.Duration(1 << 50)

// Config bounds the estimate, in bit/s. Zero (or negative) values take the defaults.
type Config struct {
	Initial, Min, Max int64
}

// normalized fills defaults and makes Min ≤ Initial ≤ Max.
func (c Config) normalized() Config {
	if c.Min <= 0 {
		c.Min = DefaultMin
	}
	if c.Max <= 0 {
		c.Max = DefaultMax
	}
	if c.Initial <= 0 {
		c.Initial = DefaultInitial
	}
	c.Max = max(c.Max, c.Min)
	c.Initial = min(max(c.Initial, c.Min), c.Max)
	return c
}

// Arrival is one packet status from a receiver's transport-cc feedback: At is the receiver's arrival time on
// the receiver's own clock (feedback reference time plus deltas), meaningful only as differences.
type Arrival struct {
	Seq      uint16
	Received bool
	At       time.Duration
}

// Stats is a snapshot for metrics and debug output.
type Stats struct {
	EstimateBps   int64      `json:"estimate_bps"`
	DelayBasedBps int64      `json:"delay_based_bps"`
	LossBasedBps  int64      `json:"loss_based_bps"` // 0 = loss does not cap the estimate
	DelayState    DelayState `json:"delay_state"`
	LossFraction  float64    `json:"loss_fraction"`
	InherentLoss  float64    `json:"inherent_loss"` // the loss taken as the link's own, 0 = none known
	AckedBps      int64      `json:"acked_bps"`
	Probing       bool       `json:"probing"`
	AppLimited    bool       `json:"app_limited"`
	RTTMillis     float64    `json:"rtt_ms"`
	PaddingBudget int64      `json:"padding_budget_bytes"`
	StartCut      bool       `json:"start_cut"`  // the start rule found a narrow link (start.go)
	NotSetUp      int64      `json:"not_set_up"` // packets reported lost on streams the receiver had not set up, left out
}

// Estimator is the send-side bandwidth estimate toward one receiver. It is safe for concurrent use.
type Estimator struct {
	mu         sync.Mutex // guards everything below; held briefly by every method
	cfg        Config
	epoch      time.Time // first time seen; all times are kept as durations since it
	hasEpoch   bool
	hist       history
	ia         interArrival
	trend      trendline
	rate       aimd
	loss       lossControl
	acked      ackedRate
	sentMedia  ackedRate // media and retransmissions sent (no padding), on the send clock
	alr        alrDetector
	probe      prober
	start      startCheck
	state      DelayState
	estimate   float64
	rtt        time.Duration
	received   []received    // scratch for one feedback's received packets, reused
	newestSent time.Duration // send time of the newest packet reported received
	seen       streamSet     // streams with a packet reported received (OnSentStream)
	notSetUp   int64         // packets reported lost on streams not seen, left out
}

// maxStreams bounds the stream numbers the estimator tracks (OnSentStream); packets on higher numbers are
// taken as on a stream the receiver knows.
const maxStreams = 1024

// streamSet is a set of stream numbers below maxStreams.
type streamSet [maxStreams / 64]uint64

func (s *streamSet) add(n uint16) {
	if n < maxStreams {
		s[n/64] |= 1 << (n % 64)
	}
}

// has reports whether n is in the set; stream 0 and numbers from maxStreams on always are.
func (s *streamSet) has(n uint16) bool {
	return n == 0 || n >= maxStreams || s[n/64]&(1<<(n%64)) != 0
}

type received struct {
	sent, arrived time.Duration
	size          int
}

// New returns an estimator starting at cfg.Initial.
func New(cfg Config) *Estimator {
	cfg = cfg.normalized()
	e := &Estimator{
		cfg:      cfg,
		rate:     newAIMD(cfg.Initial, cfg.Min, cfg.Max),
		loss:     newLossControl(),
		estimate: float64(cfg.Initial),
		rtt:      defaultRTT,
		received: make([]received, 0, 256),
	}
	e.hist.init()
	e.trend.reset()
	e.probe.budget = e.probe.budgetMax(e.estimate)
	return e
}

// sinceLocked converts a wall time into the estimator's time line.
func (e *Estimator) sinceLocked(t time.Time) time.Duration {
	if !e.hasEpoch {
		e.epoch, e.hasEpoch = t, true
	}
	return t.Sub(e.epoch)
}

// OnSent records one packet sent to this receiver with transport-wide sequence number seq, its size on the
// wire and when, on a stream the receiver knows from the start. probe marks padding and probe packets. It
// does not allocate.
func (e *Estimator) OnSent(seq uint16, size int, at time.Time, probe bool) {
	e.OnSentStream(seq, 0, size, at, probe)
}

// OnSentStream is OnSent for a packet on stream, a small number naming the RTP stream (SSRC) it went on.
// Stream 0 is one the receiver knows from the start. Any other may be one the receiver sets up only
// later: the bridge's slots, each an m-line a browser adds when a sources map first names it, after
// the bridge has begun to send on it. Firefox drops the packets of an SSRC it has not set up before
// they reach its transport-cc (Chromium's transport-cc reports them received), so its feedback reports
// them lost although the link carried them; in a room of 50, where a browser adds dozens of m-lines at
// its join, that read as 60% loss and cut the estimate to tens of kbit/s. So until feedback reports a packet
// of a stream received, the packets of it reported lost count neither as loss nor in a probe's result.
func (e *Estimator) OnSentStream(seq, stream uint16, size int, at time.Time, probe bool) {
	e.mu.Lock()
	t := e.sinceLocked(at)
	r := e.hist.put(seq, stream, size, t, probe)
	e.alr.update(t, int(r.size), e.estimate)
	if probe {
		e.probe.spend(int(r.size), e.estimate)
	} else {
		e.probe.accrue(int(r.size), e.estimate)
		e.sentMedia.add(t, int(r.size))
	}
	c := &e.probe.cur
	if c.open && c.ends(t) {
		e.closeClusterLocked(t)
	}
	if c.open && t >= c.start {
		r.cluster = c.id
		c.onSent(r.ext, int(r.size), t, probe)
	}
	e.mu.Unlock()
}

// OnRTT takes a round-trip time measurement (from RTCP receiver reports); it paces decreases and sizes the
// additive increase.
func (e *Estimator) OnRTT(rtt time.Duration, now time.Time) {
	if rtt <= 0 {
		return
	}
	rtt = min(rtt, 10*time.Second)
	e.mu.Lock()
	e.sinceLocked(now)
	e.rtt = rtt
	e.rate.rtt = rtt
	e.mu.Unlock()
}

// OnFeedback takes one feedback packet's statuses, in sequence order, received at now. Statuses for
// packets never sent, already reported or too old are ignored.
func (e *Estimator) OnFeedback(now time.Time, arrivals []Arrival) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.sinceLocked(now)
	e.received = e.received[:0]
	// A stream with any packet received in this feedback is known to the receiver before the losses
	// on it are counted: the packets before the first received one were lost on the link too.
	for _, a := range arrivals {
		if a.Received && a.At <= maxArrival && a.At >= -maxArrival {
			if r := e.hist.lookup(a.Seq); r != nil {
				e.seen.add(r.stream)
			}
		}
	}
	matched := 0
	for _, a := range arrivals {
		if e.matchLocked(a) {
			matched++
		}
	}
	// Delay variation is measured in arrival order (feedback is in sequence order; the path may reorder).
	slices.SortStableFunc(e.received, func(a, b received) int { return cmp.Compare(a.arrived, b.arrived) })
	for _, p := range e.received {
		e.acked.add(p.arrived, p.size)
		if d, ok := e.ia.add(p.sent, p.arrived, t, p.size); ok {
			e.state = e.trend.update(d)
		}
	}
	if matched > 0 {
		e.updateLocked(t) // feedback about nothing we know of (stale, hostile, empty) changes nothing
	}
}

// matchLocked pairs one status with its send record and counts it; false when it tells nothing new.
func (e *Estimator) matchLocked(a Arrival) bool {
	r := e.hist.lookup(a.Seq)
	if r == nil {
		return false
	}
	if a.Received && (a.At > maxArrival || a.At < -maxArrival) {
		return false
	}
	switch {
	case r.state == stateReceived:
		return false // duplicate report
	case (r.state == stateLost || r.state == stateUnseen) && !a.Received:
		return false // repeated loss report
	case !a.Received && !e.seen.has(r.stream):
		// Dropped by a receiver that has not set up the stream yet, as far as anyone can tell: not the
		// link's loss.
		r.state = stateUnseen
		e.notSetUp++
		if c := &e.probe.cur; (c.open || c.pending) && r.cluster == c.id {
			c.forget(r)
		}
		return false
	}
	lostBefore := r.state == stateLost
	e.loss.count(a.Received, lostBefore)
	e.start.count(a.Received, lostBefore)
	if c := &e.probe.cur; c.open || c.pending {
		if r.cluster == c.id {
			c.onFeedback(r, a.Received, a.At)
		} else if !c.open && r.ext >= c.lastExt && c.sentPackets > 0 {
			c.covered = true
		}
	}
	if !a.Received {
		r.state = stateLost
		return true
	}
	r.state = stateReceived
	e.newestSent = max(e.newestSent, r.sent)
	e.received = append(e.received, received{sent: r.sent, arrived: a.At, size: int(r.size)})
	return true
}

// updateLocked runs the rate controllers after a feedback packet.
func (e *Estimator) updateLocked(t time.Duration) {
	acked := e.acked.rate()
	if e.startLocked(t, acked) {
		return
	}
	e.loss.update(e.estimate, acked, e.sentMediaLocked(t), e.rtt, t)
	switch {
	case e.state != Overusing:
		e.rate.update(e.state, acked, e.alr.in, t)
	case e.probe.active() || (e.probe.started && e.newestSent < e.probe.cur.closedAt+probeSettle):
		// A probe cluster is sending or waiting for its feedback, or the delay detector's window still holds
		// groups sent during it: the queue a probe builds is expected. Its result decides (below, and in
		// onProbeResultLocked), not the delay it causes.
	case e.rate.canDecreaseAgain(acked, t):
		e.rate.update(Overusing, acked, e.alr.in, t)
	}
	if e.rate.wider {
		e.rate.wider = false
		e.probe.widened()
	}
	e.combineLocked()
	if c := &e.probe.cur; c.pending && (c.covered || t-c.closedAt > probeTimeout) {
		c.pending = false
		res, ok := c.result()
		ok = ok && c.covered
		if ok {
			e.onProbeResultLocked(res, c, t)
		}
		e.probe.judge(c, ok, res, e.state == Overusing, t)
	}
}

// onProbeResultLocked raises the estimate to what a probe proved, and plans a follow-up probe while the
// path keeps carrying what is probed.
func (e *Estimator) onProbeResultLocked(res float64, c *cluster, t time.Duration) {
	e.probe.further = 0
	switch {
	case c.saturated && res < e.estimate:
		// The probe filled the path and it delivered less than the estimate: we have been sending above the
		// capacity, as on an overuse. This catches a queue that filled before the delay detector had a window of
		// samples: a standing full queue shows no delay trend, only loss.
		delivered := res / probeUtilization
		e.rate.set(beta*delivered, t)
		e.rate.link.onOveruse(delivered)
		e.rate.state = rateHold
		e.combineLocked()
	case res > e.estimate:
		if res >= probeMinGain*e.estimate {
			e.probe.refund(c.probeBytes, res)
		}
		e.rate.set(res, t)
		if c.saturated {
			// The path's capacity is now known: from here increase additively, not 8% a second, so the queue
			// this probe left behind can drain before the estimate passes the capacity again.
			e.rate.link.onOveruse(res / probeUtilization)
		}
		e.loss.lift(res)
		e.combineLocked()
	}
	// A follow-up at twice the result only after a probe that got through whole: one that filled the path or
	// lost packets has found the capacity. (Behind a token bucket, as tc tbf's, a short probe on a full link
	// reads the bucket's burst as capacity, and a chain of ever bigger probes followed.)
	if res >= probeFurtherMin*c.bps && !c.saturated && !c.lossy() {
		e.probe.further = probeFurtherScale * res
	}
}

// combineLocked sets the estimate: the delay-based rate under the loss-based cap, within the configured bounds.
func (e *Estimator) combineLocked() {
	e.estimate = min(max(min(e.rate.bps, e.loss.cap), float64(e.cfg.Min)), float64(e.cfg.Max))
}

func (e *Estimator) closeClusterLocked(t time.Duration) {
	c := &e.probe.cur
	c.open = false
	c.pending = c.sentPackets > 0
	c.closedAt = t
}

// Estimate returns the current estimate in bit/s.
func (e *Estimator) Estimate() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int64(e.estimate)
}

// Losing reports whether the last window of feedback lost more than the link's own loss allows
// (over 2% above it): what is sent overflows a queue on the path.
func (e *Estimator) Losing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.loss.fraction-e.loss.inherent > lossLow
}

// Stats returns a snapshot of the estimator's state.
func (e *Estimator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{
		EstimateBps:   int64(e.estimate),
		DelayBasedBps: int64(e.rate.bps),
		DelayState:    e.state,
		LossFraction:  e.loss.fraction,
		InherentLoss:  e.loss.inherent,
		AckedBps:      int64(e.acked.rate()),
		Probing:       e.probe.active(),
		AppLimited:    e.alr.in,
		RTTMillis:     ms(e.rtt),
		PaddingBudget: int64(e.probe.budget),
		StartCut:      e.start.cut,
		NotSetUp:      e.notSetUp,
	}
	if !math.IsInf(e.loss.cap, 1) {
		s.LossBasedBps = int64(e.loss.cap)
	}
	return s
}

// ProbeBytes says how many bytes of padding or probe traffic to send now. The scheduler calls it about every
// 15 ms with the bit rate the allocator uses (target) and the rate it would like (ideal). It combines Jitsi's
// rule (fill up to the estimate while the allocator wants more than the estimate) with the estimator's own
// probe clusters, and keeps both within the padding budget. The bytes should go out at once (RTX of recent
// packets, else padding-only packets), each reported to OnSent with probe set.
//
// n counts bytes on the link, as OnSent is told them. size, when not 0, is the most bytes on the link one
// packet should take: a probe cluster at a low rate plans so few bytes that the scheduler's usual packets
// would make fewer than a result needs (probeMinPackets), so it asks for smaller ones.
func (e *Estimator) ProbeBytes(now time.Time, target, ideal int64) (n, size int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.sinceLocked(now)
	e.alr.update(t, 0, e.estimate)
	p := &e.probe
	dt := probeSlice
	if p.called {
		dt = min(max(t-p.lastCall, 0), 4*probeSlice)
	}
	p.lastCall, p.called = t, true

	if p.cur.open && p.cur.ends(t) {
		e.closeClusterLocked(t)
	}
	out := 0
	switch {
	case p.cur.open:
		out = p.clusterDue(t)
	case !p.cur.pending || t-p.cur.closedAt > probeTimeout:
		p.cur.pending = false
		if rate := e.probeRateLocked(t, float64(ideal)); rate > 0 {
			p.startCluster(rate, e.estimate, t)
			out = p.clusterDue(t)
		}
	}
	n = max(out, e.paddingLocked(dt, float64(target), float64(ideal)))
	if p.cur.open {
		size = p.cur.packetSize()
	}
	return n, size
}

// ProbeRate is the rate of the probe cluster open now, bit/s, 0 when none is: while one is, the sender's
// pacer should let the media waiting in it go at this rate, the media itself being the probe, and pad only
// what ProbeBytes still asks for (it counts the media sent in the cluster), the padding before the
// waiting media and within the same rate (see the package doc). A cluster ends at a call of ProbeBytes
// or OnSent past its end; ProbeRate does not move the clock.
func (e *Estimator) ProbeRate() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.probe.cur.open {
		return 0
	}
	return int64(e.probe.cur.bps)
}

// probeRateLocked decides whether a probe cluster should start now, and at what rate (0 = none).
func (e *Estimator) probeRateLocked(t time.Duration, ideal float64) float64 {
	p := &e.probe
	est := e.estimate
	if ideal <= 0 || e.state == Overusing || e.loss.fraction > lossLow {
		p.further = 0
		return 0
	}
	var rate float64
	followUp := p.further > 0
	switch {
	case followUp:
		rate = p.further
	case !p.initial && !e.start.seen:
		return 0 // the initial probe waits for the first feedback: on a link narrower than the guess it only adds loss
	case !p.initial && float64(e.start.lost) > lossHigh*float64(e.start.total):
		return 0 // the start rate does not get through: the start rule or the loss rule decides first
	case !p.initial:
		rate = probeInitialScale * est
	case e.alr.in && (!p.started || t-p.lastStart >= probeALRInterval):
		rate = probeALRScale * est
	case ideal > est && p.deficitDue(t):
		rate = probeFurtherScale * est
	default:
		return 0
	}
	rate = min(rate, float64(e.cfg.Max), probeAllocScale*ideal)
	if rate < probeMinGain*est {
		p.further, p.initial = 0, true
		return 0
	}
	// Wait for the budget (the same probe is tried at the next slice), but not past probeBudgetWait, and
	// not for a follow-up, which comes only after a probe that raised the estimate: the budget accrues
	// from media, and a receiver whose only media the low estimate suspended would otherwise never see a
	// probe again (behind 3 Mbit/s, from 40 kbit/s with no audio, 2 runs in 6 stayed under 160 kbit/s
	// for 30 s), or one probe that doubles the estimate every probeBudgetWait.
	if need := rate * probeDuration.Seconds() / 8; p.budget < need && !followUp && (!p.started || t-p.lastStart < probeBudgetWait) {
		return 0
	}
	p.further, p.initial = 0, true
	return rate
}

// sentMediaLocked is the rate of media and retransmissions sent over the last 300 ms up to t, 0 when
// less than 100 ms of it is known.
func (e *Estimator) sentMediaLocked(t time.Duration) float64 {
	e.sentMedia.add(t, 0) // moves the window to t: a pause counts as sending nothing
	return e.sentMedia.rate()
}

// RoomFor reports whether a retransmission may be sent at now: whether the media and retransmissions
// sent over the last 300 ms stay under the estimate. Retransmitting what a full link dropped fills it
// further (each loss begets more); padding never takes a retransmission's place, it only fills what
// media and retransmissions leave of the estimate.
func (e *Estimator) RoomFor(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sentMediaLocked(e.sinceLocked(now)) < e.estimate
}

// paddingLocked is Jitsi's padding rule for one slice of dt: while the allocator would like more than the
// estimate (ideal > estimate), send min(ideal − target, estimate − target) so the path is exercised up to the
// estimate and feedback can show whether more fits. Limited by the padding budget; none while loss is over
// 2% (padding cannot tell the link's loss from its own).
func (e *Estimator) paddingLocked(dt time.Duration, target, ideal float64) int {
	p := &e.probe
	est := e.estimate
	// What is sent counts as well as what the allocation planned: retransmissions and key frames above the
	// plan leave less room for padding.
	sent := max(target, e.sentMediaLocked(e.probe.lastCall))
	if ideal <= est || sent >= est || e.state == Overusing || e.loss.fraction > lossLow {
		p.carry = 0
		return 0
	}
	bytes := min(ideal-target, est-sent)*dt.Seconds()/8 + p.carry
	// Keep enough budget for the next probe cluster: a probe finds headroom, padding only uses it.
	reserve := probeFurtherScale * est * probeDuration.Seconds() / 8
	bytes = min(bytes, max(p.budget-reserve, 0))
	n := int(bytes)
	p.carry = bytes - float64(n)
	return n
}
