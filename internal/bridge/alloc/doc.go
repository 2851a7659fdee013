// Package alloc decides, for one receiver, which layer of each video source the bridge forwards within
// the receiver's estimated bandwidth: Jitsi Videobridge's allocation semantics (the dialect's
// ReceiverVideoConstraints in, ForwardedSources and SenderSourceConstraints out), written as a pure
// function without clocks, I/O, Pion or XMPP, plus a small stateful wrapper that keeps it from
// flickering.
//
// # Flow
//
//	layer table per source (height, fps, measured bit/s, active) ─┐
//	speech order (dominant, previous speakers, the rest) ─────────┤
//	receiver settings (lastN, on stage, selected, max heights) ───┼─► Allocate ─► per source: target and ideal layer,
//	estimate (bit/s, or Unlimited while not trusted) ─────────────┘              effective max height, suspended;
//	                                                                             Σtarget, Σideal, oversending, forwarded set
//
// # The algorithm
//
// Step 1, priority. On-stage sources come first in the order given, then the selected ones, then the
// others by their owner's place in the speech order (owners not in it after those in it, in input
// order). Sources whose video is off (Source.Disabled) and sources whose ID repeats an earlier one go
// last and get nothing.
//
// Step 2, effective constraints. Each source's max height is the receiver's (MaxHeight, else
// DefaultMaxHeight; 0 off, negative unlimited). Walking the priority order, the first LastN sources
// with a non-zero height keep it and all others get 0. This happens before bandwidth is weighed, so
// the bridge can tell senders which layers nobody needs (Allocation.EffectiveMaxHeight, aggregated
// over receivers into SenderSourceConstraints). Bandwidth never lowers the effective height: a source
// suspended for lack of bandwidth keeps being encoded, so it can come back without a sender restart.
//
// Step 3a, candidate layers. Only layers being sent with a measured rate count (Active and Bps > 0),
// unless none is, so that a source just announced can start. A camera keeps frame rate before
// resolution above the preferred height: a layer is a candidate when it is below the preferred height
// (OnStageHeight, 360, or the max height if lower), or within the max height at the preferred frame
// rate (OnStageFPS, 30, or the source's best if lower), or of the lowest height. With 3 encodings × 3
// temporal layers at 360p that leaves 180p at 7.5/15/30 fps, 360p30 and 720p30. Its preferred layer
// is the best candidate no taller than the preferred height. A screen share keeps resolution before
// frame rate: every layer within the max height (the lowest-height ones if none is), preferred = the
// best, and on stage an oversend layer = the cheapest layer of the best height. The lowest height is
// taken among the layers that count, so every source with a layer has a candidate, also when its
// lowest encoding stopped and the max height is below the rest (the height is a soft cap).
//
// Step 3b, the loop. Every source starts with nothing and the whole estimate is left. Passes go over
// the sources in priority order until one changes nothing. In a pass an on-stage source that has
// nothing jumps to the best layer up to its preferred one that fits; any other source climbs one
// candidate if the difference fits what is left. Then it skips to any better candidate that costs no
// more (a 720p layer whose sender is starved can cost less than the 360p one). The first source in the
// priority order may take a layer up to its oversend layer whose cost exceeds what is left by at most
// MaxOversendBps (500 kbit/s), and a one-layer on-stage share is forwarded whatever the estimate: a
// screen share nobody can read is worse than a congested moment. A pass stops after an on-stage source
// still below its preferred layer, so no thumbnail takes bits the stage needs and then loses them
// when the stage climbs. Without a stage this makes a round robin: everyone at 180p30 before anyone
// at 360p30.
//
// Results: Target is the layer reached, Ideal the best candidate (what unlimited bandwidth would
// give; Σideal − Σtarget is what probing may look for), Suspended marks sources within last-N that
// are being sent but got nothing, Forwarded lists the sources with a target in priority order.
//
// Differences from Jitsi, deliberate: a move fits when it is ≤ what is left (Jitsi: < for a climb);
// the loop ends when no source moved (Jitsi: when the bandwidth left did not change, which a free skip
// could confuse); the lowest height is taken over the layers that count (see above); at most 64
// layers per source are looked at.
//
// # Hysteresis (Allocator)
//
// The pure function follows every wiggle of the estimate: at a layer boundary a ±5% noise flips a
// layer on and off. Allocator remembers the last target of each source and allocates in two passes of
// the same loop:
//
//  1. capped at the last targets, with the latest estimate: what still fits is kept, what does not is
//     lowered at once, lowest priority first (moving down has no margin and no delay: a congested
//     link loses packets on every stream);
//  2. uncapped from there, where a move above a source's last layer must keep the whole allocation
//     within the up budget: the mean estimate of the last 2 s (UpWindow) divided by 1.15 (UpMargin).
//     After an allocation that left a source below its last layer, no source moves up for 4 s
//     (UpDelayAfterDown).
//
// One exception to moving down at once (KeepFor): the first source in the priority order (the stage,
// else the current speaker) keeps the lowest layer it had while the latest estimate is below it, for
// up to 2 s; the other sources get only what the estimate leaves without it. A moment of an estimate
// too low for one 180p picture then lowers the stage to 180p but never takes its picture, which the
// 4 s delay would otherwise keep away; an estimate that stays that low suspends it after 2 s. The
// bridge's pacer carries the excess of those 2 s and never makes audio wait behind it.
//
// Why the mean and not the latest estimate: with the latest one, a noise peak of +10% buys a layer
// with 1.1/1.15 = 96% of the capacity that the next −10% sample takes back; against the mean, what a
// move up buys is at most 87% of the capacity, below any sample of a ±10% estimator, and the decision
// no longer depends on one sample, so it settles. Why not "after the estimate held for a while"
// instead of a margin: a rule with no gap between its up and down thresholds flickers whenever the
// capacity sits at a boundary, however long it waits. The 4 s delay handles what the margin cannot, an
// estimator's own sawtooth after congestion; it is shorter than the 5 s periodic reallocation. With
// these rules the flicker tests see no move down during a noisy ramp-up and, at a steady capacity,
// at most one layer change per source per minute and no forwarded-set change.
//
// ShouldReallocate tells the caller when a new estimate needs an allocation: Jitsi's rules (the
// estimate moved by more than 15% since the last allocation, or became trusted or untrusted, or 5 s
// passed), plus two that make the hysteresis act between 15% steps: the estimate no longer carries
// the forwarded total, or the up budget now allows a move up the last allocation refused (or the
// delay after a move down ended). New settings, speech order, sources or layer activity call for an
// allocation anyway.
//
// # Calling it from the bridge
//
// Per receiver, keep one Allocator. For every other endpoint's video source pass a Source: ID the
// source name, Owner the endpoint ID, Desktop for videoType desktop, Disabled when the sender's video is
// muted, and Layers worst to best. Today the bridge forwards whole simulcast encodings, so pass one
// Layer per encoding: Encoding the index, Temporal the top temporal id (2 for L1T3), Height from the
// encoding's last key frame (or the 180/360/720 ladder guess before one), FPS the full frame rate (or 0
// if unknown), Bps the encoding's measured rate over about a second, Active whether it was heard in
// the last 500 ms. When the projection can drop temporal layers, pass one Layer per (encoding,
// temporal id) with cumulative rates instead; nothing else changes. The speech order is the dominant
// speaker and then the previous ones; settings come from ReceiverVideoConstraints, with LastN already
// the smallest of the receiver's and any bridge limit. The estimate is Unlimited until it is trusted.
//
// Call ShouldReallocate with every new estimate and Allocate when it says so or something else
// changed (at most every ~100 ms per receiver). The Result is the Allocator's and is overwritten by
// the next call: copy each Target into the source's slot (the packet path switches at the next key
// frame of that encoding), send ForwardedSources when Forwarded changed, and feed EffectiveMaxHeight
// into the per-sender maximum for SenderSourceConstraints. Allocate needs no memory once its buffers
// have grown: 50 sources × 9 layers take about 10–25 µs on a shared 2-core machine.
package alloc
