package bwe

import (
	"math"
	"time"
)

// Probing constants. The cluster scales and intervals are libwebrtc's ProbeController values as Jitsi's
// GoogleCc2 runs them; the measurement rules are its ProbeBitrateEstimator's.
const (
	probeDuration      = 45 * time.Millisecond  // three 15 ms scheduler slices: enough packets, short enough to be cheap
	probeSlice         = 15 * time.Millisecond  // the scheduler's period (Jitsi's padding-period)
	probeInitialScale  = 3.0                    // first probe at 3 × the initial rate ...
	probeFurtherScale  = 2.0                    // ... then 2 × each result (so 3×, ~6×, ...) while results keep up
	probeFurtherMin    = 0.7                    // "keep up": result ≥ 70% of the probed rate
	probeALRScale      = 2.0                    // application-limited: probe 2 × the estimate ...
	probeALRInterval   = 5 * time.Second        // ... every 5 s
	probeDeficitPeriod = 3 * time.Second        // the allocator wants more than the estimate: probe every 3 s ...
	probeDeficitMax    = 5 * time.Second        // ... or up to this much less often after probes that found no room
	probeRetry         = 500 * time.Millisecond // after a cluster that measured nothing, the next comes this soon
	probeBackoff       = 2.0                    // the interval's growth per probe that found no room
	probeLostShare     = 0.05                   // a cluster losing more than this share of its packets found no room
	probeAllocScale    = 2.0                    // never probe above 2 × the allocator's ideal rate
	probeMinGain       = 1.1                    // a probe must be able to raise the estimate by 10% to be worth it
	probeMinPackets    = 5
	probeSplit         = 2 * probeMinPackets // a cluster's planned bytes make at least this many packets
	probeMinFill       = 0.8                 // a cluster must have sent 80% of its planned bytes to count
	probeGrace         = 2 * probeSlice      // an unfilled cluster stays open this long past its end for its bytes
	probeMinReceived   = 0.8                 // fraction of a cluster's packets that must arrive for a valid result
	probeMaxInterval   = time.Second
	probeSaturated     = 0.9  // receive rate < 90% of send rate: the probe filled the link ...
	probeUtilization   = 0.95 // ... so take 95% of the receive rate
	probeMaxRatio      = 2.0  // receive rate above 2 × send rate is not a measurement
	probeTimeout       = time.Second
	probeSettle        = 300 * time.Millisecond // after a cluster: the detector's window and smoothing still hold its groups
	paddingShare       = 0.15                   // probe and padding bytes may be at most 15% of media bytes when they gain nothing
	paddingBudgetSpan  = 5 * time.Second
	probeBudgetWait    = probeDeficitMax // the budget holds a probe off at most this long after the last
)

// cluster is one probe: for probeDuration everything sent (media and padding) is tagged with its id and its
// total rate is brought up to bps; feedback on the tagged packets tells what the path delivered.
type cluster struct {
	id         uint16
	bps        float64
	estAtStart float64 // the estimate when the probe began
	start, end time.Duration
	open       bool // still sending
	pending    bool // sent, waiting for feedback
	closedAt   time.Duration

	sentBytes, probeBytes int64
	fillBytes             int64 // what counts toward the planned bytes: all sent until end, then padding only
	sentPackets           int
	firstSent, lastSent   time.Duration
	lastSentSize          int
	lastExt               int64

	recvBytes         int64
	recvPackets       int
	firstArr, lastArr time.Duration
	firstArrSize      int
	covered           bool // feedback reached the cluster's last packet
	saturated         bool // set by result: the path delivered clearly less than was sent
}

// ends reports whether the open cluster closes at t: at its end once its planned bytes and
// probeMinPackets packets are sent, or probeGrace later with what was sent by then. The scheduler's
// slices come late on a busy machine: the bytes of the slice that missed the end go out at the next one,
// and the cluster can still measure. And media can fill the bytes in fewer packets than a result needs
// (at 250 kbit/s one video packet of 1,250 bytes is 90% of them): the next slice's padding adds the
// packets (clusterDue), as libwebrtc keeps a cluster going until it has both its bytes and its packets.
func (c *cluster) ends(t time.Duration) bool {
	return t >= c.end && (c.probeBytes == 0 || c.filled(1) && c.sentPackets >= probeMinPackets || t >= c.end+probeGrace)
}

// packetSize is the most bytes on the link a packet of the cluster should take so that its planned bytes
// make probeSplit packets: at a low rate the planned bytes are a few hundred (80 kbit/s for 45 ms: 450),
// fewer than probeMinPackets of the bridge's padding packets (313 bytes on the link), and the cluster
// would measure nothing. Twice the minimum: media may take part of the cluster's bytes in a few large
// packets, and packets in each of its three slices spread it over its 45 ms. Above 560 kbit/s the
// size is more than a full padding packet's: the packets are the usual ones, and the bridge counts each
// whole against the bytes asked for, which the next slice's due makes up anyway.
func (c *cluster) packetSize() int {
	return max(int(c.bps*probeDuration.Seconds()/8)/probeSplit, 1)
}

// filled reports whether the cluster sent share of its planned bytes, counting media only up to its
// end: media sent in the grace after it would otherwise fill a cluster the sender never filled.
func (c *cluster) filled(share float64) bool {
	return float64(c.fillBytes*8) >= share*c.bps*probeDuration.Seconds()
}

func (c *cluster) onSent(ext int64, size int, at time.Duration, probe bool) {
	if c.sentPackets == 0 || at < c.firstSent {
		c.firstSent = at
	}
	if c.sentPackets == 0 || at >= c.lastSent {
		c.lastSent, c.lastSentSize = at, size
	}
	c.sentPackets++
	c.sentBytes += int64(size)
	if probe {
		c.probeBytes += int64(size)
	}
	if probe || at < c.end {
		c.fillBytes += int64(size)
	}
	c.lastExt = max(c.lastExt, ext)
}

func (c *cluster) onFeedback(r *record, received bool, arrived time.Duration) {
	if !c.open && r.ext >= c.lastExt {
		c.covered = true // only a closed cluster's last packet is final
	}
	if !received {
		return
	}
	if c.recvPackets == 0 || arrived < c.firstArr {
		c.firstArr, c.firstArrSize = arrived, int(r.size)
	}
	if c.recvPackets == 0 || arrived > c.lastArr {
		c.lastArr = arrived
	}
	c.recvPackets++
	c.recvBytes += int64(r.size)
}

// forget takes a packet the receiver dropped before it could measure it (OnSentStream) out of the cluster.
func (c *cluster) forget(r *record) {
	c.sentPackets--
	c.sentBytes -= int64(r.size)
}

// lossy reports whether feedback showed more than probeLostShare of the cluster's packets lost.
func (c *cluster) lossy() bool {
	lost := c.sentPackets - c.recvPackets
	return lost > 0 && float64(lost) > probeLostShare*float64(c.sentPackets)
}

// result is the rate the cluster proved the path carries, or false when the cluster cannot tell.
func (c *cluster) result() (float64, bool) {
	c.saturated = false
	if c.sentPackets < probeMinPackets || float64(c.recvPackets) < probeMinReceived*float64(c.sentPackets) {
		return 0, false
	}
	// A cluster the sender did not fill (no padding available, or it ignored ProbeBytes) measured only media,
	// and a video frame's burst inside 45 ms would look like a saturating probe.
	if !c.filled(probeMinFill) {
		return 0, false
	}
	sendIv, recvIv := c.lastSent-c.firstSent, c.lastArr-c.firstArr
	if sendIv <= 0 || recvIv <= 0 || sendIv > probeMaxInterval || recvIv > probeMaxInterval {
		return 0, false
	}
	// The last packet sent and the first received only mark the interval's ends.
	send := float64(c.sentBytes-int64(c.lastSentSize)) * 8 / sendIv.Seconds()
	recv := float64(c.recvBytes-int64(c.firstArrSize)) * 8 / recvIv.Seconds()
	// A receive rate far above what was sent is a queue upstream releasing a burst, not the path's rate
	// (libwebrtc's check, against the send rate measured). The scheduler sends each slice at the start
	// of its 15 ms, so the measured send rate overstates the planned one by up to a slice, and media
	// above the planned rate (a frame, or the allocator's floor above a low estimate) raises it too: the
	// planned rate is the better send rate for the result, and the path delivered at least that.
	if recv > probeMaxRatio*send {
		return 0, false
	}
	send = min(send, c.bps)
	if recv < probeSaturated*send {
		c.saturated = true
		return probeUtilization * recv, true
	}
	return min(send, recv), true
}

// prober decides when to start clusters, how many bytes each scheduler slice must send, and keeps the
// padding budget.
type prober struct {
	cur       cluster
	nextID    uint16
	lastStart time.Duration
	started   bool    // a cluster was ever started
	initial   bool    // the initial probe was made
	further   float64 // rate of the follow-up probe to start next, 0 = none
	lastCall  time.Duration
	called    bool
	carry     float64       // fractional padding bytes carried to the next slice
	budget    float64       // bytes of padding/probe allowed now
	wait      time.Duration // between deficit probes now; 0 = probeDeficitPeriod
	retryAt   time.Duration // a deficit probe is due from then (the last cluster measured nothing), 0 = none
	retried   bool          // the last cluster was such a retry
	soon      bool          // a deficit probe is due at once (widened)
}

// deficitWait is the interval between probes while the allocator wants more than the estimate.
func (p *prober) deficitWait() time.Duration {
	if p.wait <= 0 {
		return probeDeficitPeriod
	}
	return p.wait
}

// judge lengthens or resets the interval between deficit probes from how a cluster ended: one that
// filled the path (it delivered under 90% of what was sent), lost packets, or ended with the delay
// detector overusing found no room, and the next probe waits twice as long, up to probeDeficitMax
// (LiveKit's probe regulator does the same, ×1.5 up to 2 min); one that raised the estimate by 10% or
// more without any of that found room, and probes come every probeDeficitPeriod again. Behind a link
// already full, a probe every 3 s only fills its queue: the drops and the freezes follow it. The cap
// keeps a link that widens found within a few seconds (§7.5 criterion 4: HD within 8 s of a step up; at
// 6 s, a step just after a probe left the estimate 5.9 s to find it in the simulated link, the allocator's
// up window and a key frame then need the rest; at 5 s, 5.2 s), and so does widened.
// measured reports whether the cluster's result was valid (c.saturated is set by result); t is now.
//
// A cluster the sender did not fill (the scheduler's slices came late on a busy machine, or no padding
// could be sent at all) pushed nothing through the path and says nothing about room, whatever the delay
// detector or the loss said meanwhile. It leaves the interval as it was, and, like any cluster that
// measured nothing without finding the path full (its feedback never came, or a key frame's burst
// inside it made the rates unreadable), it is followed by the next probe probeRetry later instead of a
// whole interval later, once in a row (a receiver that takes no padding would otherwise get a cluster every probeRetry). Before,
// such a cluster as the first probe after a step up left the next one probeDeficitMax away (in the
// simulated link with the bridge's pacer and late ticks, 9 s to the estimate the allocator needs).
func (p *prober) judge(c *cluster, measured bool, res float64, overusing bool, t time.Duration) {
	if filled := c.sentPackets >= probeMinPackets && c.filled(probeMinFill); filled && c.covered {
		switch {
		case overusing || c.lossy() || measured && c.saturated:
			p.wait = min(time.Duration(float64(p.deficitWait())*probeBackoff), probeDeficitMax)
			return
		case measured && res >= probeMinGain*c.estAtStart:
			p.wait = probeDeficitPeriod
		}
	}
	if !measured && !p.retried {
		p.retryAt = t + probeRetry
	}
}

// widened is told that the path delivered clearly more than the link capacity seen at recent overuses
// (aimd.wider): the link the probes found full got wider, so the back-off ends and a deficit probe is due
// at once. Without it, a step up just after a probe that found no room waited the whole probeDeficitMax
// for the probe that finds the new capacity. It only helps when the delivered rate shows it: behind a
// link the media alone fills, the full queue draining at the new rate does; when the queue was empty at
// the step and the sender sends no more than the old capacity, nothing does, and the back-off runs out.
func (p *prober) widened() {
	p.wait = probeDeficitPeriod
	p.soon = true
}

// deficitDue reports whether a probe for the allocator's deficit may start at t.
func (p *prober) deficitDue(t time.Duration) bool {
	return !p.started || p.soon || p.retryAt > 0 && t >= p.retryAt || t-p.lastStart >= p.deficitWait()
}

// active reports whether a cluster is sending or waiting for its feedback.
func (p *prober) active() bool { return p.cur.open || p.cur.pending }

// accrue adds a media packet's share to the padding budget.
func (p *prober) accrue(size int, estimate float64) {
	p.budget = min(p.budget+paddingShare*float64(size), p.budgetMax(estimate))
}

func (p *prober) budgetMax(estimate float64) float64 {
	return paddingShare * estimate / 8 * paddingBudgetSpan.Seconds()
}

// spend charges probe or padding bytes to the budget.
func (p *prober) spend(size int, estimate float64) {
	p.budget = max(p.budget-float64(size), -p.budgetMax(estimate))
}

// refund returns a cluster's padding to the budget when it raised the estimate: that padding was not waste.
func (p *prober) refund(bytes int64, estimate float64) {
	p.budget = min(p.budget+float64(bytes), p.budgetMax(estimate))
}

// startCluster opens a probe at bps.
func (p *prober) startCluster(bps, estimate float64, now time.Duration) {
	p.nextID++
	if p.nextID == 0 {
		p.nextID = 1
	}
	p.cur = cluster{id: p.nextID, bps: bps, estAtStart: estimate, start: now, end: now + probeDuration, open: true}
	p.lastStart = now
	p.started = true
	p.retried = p.retryAt > 0
	p.retryAt, p.soon = 0, false
}

// clusterDue is how many bytes the open cluster still needs by the end of the current slice: its planned
// bytes, and its share of probeMinPackets packets of packetSize when media sent the bytes in fewer.
func (p *prober) clusterDue(now time.Duration) int {
	c := &p.cur
	elapsed := min(now-c.start+probeSlice, probeDuration)
	due := c.bps*elapsed.Seconds()/8 - float64(c.sentBytes)
	short := int(math.Ceil(probeMinPackets*elapsed.Seconds()/probeDuration.Seconds())) - c.sentPackets
	due = max(due, float64(short*c.packetSize()))
	if due <= 0 {
		return 0
	}
	return int(math.Ceil(due))
}
