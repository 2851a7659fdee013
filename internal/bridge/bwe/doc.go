// Package bwe is the bridge's send-side bandwidth estimator toward one receiver: from the transport-wide
// sequence numbers the bridge stamps on what it sends (draft-holmer-rmcat-transport-wide-cc-extensions-01)
// and the receiver's transport-cc feedback, it estimates how many bits per second the path to that receiver
// carries, and says how much padding to send to find out whether it carries more. It follows Google
// Congestion Control as libwebrtc runs it (and Jitsi's GoogleCc2 port), written anew; pure Go, no Pion types,
// no clocks (every method takes the time), no goroutines.
//
// Flow, per receiver:
//
//	send path   OnSent(seq, size, at, probe)          a record in a fixed ring (8192 entries), O(1), no allocation
//	feedback    OnFeedback(now, []Arrival)            match records → loss counts, delivered rate, delay groups
//	                                                   → trendline detector → AIMD; loss cap; probe results
//	RTCP RR     OnRTT(rtt, now)                       paces decreases and the additive increase
//	scheduler   ProbeBytes(now, target, ideal)        every ~15 ms: bytes of padding/RTX to send now, and a packet size
//	pacer       ProbeRate()                           the open cluster's rate: waiting media leaves at it
//	allocator   Estimate(), Stats()
//
// # Delay-based estimate
//
// Packets sent within 5 ms of each other form a group (a frame leaves as a burst); packets that arrive in a
// burst sooner than they were sent (a queue upstream released them) join the group, up to 100 ms. For each
// pair of groups the delay variation is (arrival spacing − send spacing). The trendline filter accumulates
// it, smooths it (α 0.9), and fits a least-squares slope over the last 20 groups; the slope × min(groups,
// 60) × 4 is compared with a threshold that starts at 12.5 ms and follows the signal (k_up 0.0087 when above,
// k_down 0.039 when below, clamped to 6–600 ms, ignoring spikes 15 ms above it), so that it tracks the path's
// noise without drifting up and hiding congestion. Overuse is declared only when the signal stays above the
// threshold for more than 10 ms and more than one group while the slope keeps rising; below −threshold is
// underuse (the queue drains). These are libwebrtc's constants.
//
// AIMD rate control: on overuse the estimate becomes 0.85 × the delivered (acknowledged) rate, at most once
// per RTT (10–200 ms) unless delivery fell below half the estimate; on underuse it holds; otherwise it grows,
// multiplicatively (8% per second) while no congestion point is known, additively (about one 1200-byte packet
// per frame per RTT + 100 ms, at least 4 kbit/s per second) near the delivered rate seen at recent overuses
// (mean ± 3 deviations). It never grows beyond 1.5 × the delivered rate + 10 kbit/s, and not at all while the
// sender is application-limited: feedback about 300 kbit/s of traffic cannot vouch for 3 Mbit/s
// (pion/interceptor#299, where an estimator without this ran from 784 kbit/s of traffic to 4 Mbit/s).
//
// The delivered rate is measured from the receiver's arrival times over the last 300 ms.
//
// # Loss-based cap
//
// Every ≥ 500 ms with ≥ 50 packets reported: below 2% loss the cap rises 8% per second (and disappears when
// far above the estimate); between 2% and 10% it holds the estimate where it was when the loss began (the
// loss may be the link's own, so no cut, but no climbing on a lossy path either); above 10% it cuts to
// estimate × (1 − 0.5 × loss), once per 300 ms + RTT (draft-ietf-rmcat-gcc-02 §6, Jitsi's 2%/10%); loss
// that stays when the cuts have taken the rate under what the link delivered is the link's own, and only
// loss above that level counts from then on (loss.go). Windows of
// 50 packets, not 20: with 5% random loss a 20-packet window reads above 10% about one time in fourteen.
//
// # Application-limited region
//
// A budget refills at 65% of the estimate and every byte sent spends it (500 ms window); when the budget is
// over 80% unspent the sender is application-limited until it drops below 50% (libwebrtc's AlrDetector).
//
// # Probing and padding
//
// ProbeBytes combines two things. Jitsi's rule: while the allocator would like more than the estimate
// (ideal > estimate) and uses less (target < estimate), send min(ideal − target, estimate − target) per slice,
// so the path runs at the estimate and feedback can show whether more fits. And probe clusters: for 45 ms
// (three 15 ms slices) everything sent is tagged and its total rate is brought up to the cluster's rate;
// the feedback on the tagged packets gives the send rate and the receive rate, and the cluster's result is
// min of the two, or 95% of the receive rate when the path delivered less than 90% of what was sent
// (libwebrtc's ProbeBitrateEstimator; at least 5 packets, 80% of them received, intervals under 1 s). A
// cluster the sender did not fill to 80% of its planned bytes (it had no padding to send) measures nothing:
// a video frame's burst inside 45 ms would look like a saturating probe and pull the estimate down. Clusters:
// the first at 3 × the initial rate once the first feedback shows the start gets through, then 2 × each
// result while results reach 70% of what was probed and the probe neither filled the path nor lost packets
// (so 3×, ~6×, ...); every 5 s at 2 × the estimate when application-limited; every 3 s at 2 × the estimate
// while the allocator wants more than the estimate, twice as long (up to 5 s) after each probe that found
// no room (it filled the path, lost over 5% of its packets, or ended with the detector overusing), 3 s
// again after one that raised the estimate by 10%, and with a probe at once when the path delivers 20%
// more than the capacity seen at recent overuses, while increasing or while a queue drains (the link got
// wider; less would be a token bucket's burst). A cluster the sender did not fill says nothing about room
// and leaves the interval as it was; like any cluster that measured nothing without finding the path
// full, it is followed by the next probe 500 ms later (once in a row). A cluster whose last slice came
// late (the scheduler on a busy machine) stays open up to two slices past its end for those bytes, and
// so does one whose bytes media sent in fewer than its 5 packets: each slice asks for its share of the 5
// packets as well as of the bytes (libwebrtc keeps a cluster going until it has both). No probe goes
// above 2 × the allocator's ideal rate
// (libwebrtc caps probes at twice the allocated rate) or is started when it could not raise the estimate
// by 10%, while overusing, or while loss is above 2%.
//
// At a low rate a cluster plans few bytes: 450 at 80 kbit/s, fewer than 5 of the bridge's padding
// packets (313 bytes on the link). So while a cluster is open ProbeBytes also returns a packet size, its
// planned bytes over 10, and the bridge sends padding packets of that size (1 byte of padding and the
// headers, 59 bytes, at the least). libwebrtc does the same in its own way: its pacer sends probe packets
// of the probe rate × 2 ms and keeps a cluster going until it has both its bytes and its 5 packets. The
// receive rate is checked against the send rate measured (over 2 × is a queue's burst, as libwebrtc's
// check), and only then is the send rate capped at the cluster's planned rate for the result: the
// scheduler sends each slice at once, and media above a low estimate (the allocator keeps a layer, and a
// frame is a few large packets) makes a cluster send more than planned. Before both, from 40 kbit/s on a
// 3 Mbit/s link no cluster measured and the estimate crept up at 8% a second (simulated: 4.6-8.5 s to
// 1.5 Mbit/s; now 0.8-1.4 s).
//
// A cluster can be made of the sender's paced media (libwebrtc's pacer sends at the probe rate while a
// cluster is active). While one is open, ProbeRate gives its rate, and the bridge's pacer lets its
// waiting video go at that rate instead of 2.5 × the estimate; the padding ProbeBytes still asks for
// (the cluster's bytes and packets less what was sent in it) goes before the pacer's turn and spends
// its tokens, so the link sees the cluster's rate and not the pacer's on top of it. The padding goes
// first because a result's receive rate leaves out the first packet to arrive and its send rate the
// last sent (libwebrtc's rule, right for a path that spaces the packets at its rate): a cluster at
// 246 kbit/s that began with a 1,250-byte video packet and had four of padding read 84-155 kbit/s
// received through a 3 Mbit/s path, and no follow-up came. Before, the bridge started no probe while
// video waited in its pacer, which is when the estimate is under what the allocator still sends (it
// keeps a layer up to 2 s above a falling estimate): with the stage kept at its lowest layer, from
// 40 kbit/s behind 3 Mbit/s, the estimate crept up at 8% a second and took 18.9-19.7 s to reach the
// allocator's ideal in the simulated link (10.8-11.5 s with one sender's video alone); now 0.7-0.9 s.
// Through the bridge (one sender's video, no audio): 3.5-3.6 s from the first feedback before, 0.2-0.3
// s now.
//
// A result above the estimate raises it. A probe that filled the path (saturated) teaches the link capacity,
// so later increases are additive; one that filled it below the estimate shows we have been sending above the
// capacity, and sets the estimate to 0.85 × what was delivered, as an overuse would. This catches the case the
// delay detector cannot see: a queue that filled before the detector had a window of samples stays full and
// shows no delay trend, only loss. While a cluster is sending or waiting for its feedback, and until packets
// sent 300 ms after it are reported (the trendline's window and smoothing still hold the probe's groups till
// then), overuse does not cut the estimate: the queue the probe builds is expected, and the probe's result
// decides. Measured in the simulated link, this lifts the sawtooth's floor from about 0.80 to 0.86 of the
// capacity; the price is that a real capacity drop during a probe is acted on up to half a second later
// (still well inside the 2 s of the step-down criterion, and a probe that saturates below the estimate
// lowers it by itself).
//
// Padding and probe bytes together stay below 15% of the media bytes over time: a budget accrues 15% of each
// media packet (up to 5 s worth at the estimate) and every padding byte spends it; a cluster's padding is
// refunded when it raised the estimate by 10% or more, since that padding was not waste. Jitsi's padding
// leaves enough budget for the next probe cluster. The budget holds a probe off at most 5 s after the
// last, and never a follow-up (2 × a result that raised the estimate): toward a receiver whose only media
// the low estimate suspended, nothing refills it, and the estimate stayed under the media for good.
//
// # Start
//
// The estimate starts at 1 Mbit/s (Jitsi starts at 2.5). In its first 2 s of feedback, if more than 30% of
// the packets reported were lost and what arrived is under 70% of the estimate, the link is much narrower
// than the start: the estimate is cut at once to 0.85 × what arrived, which is taken as the link's
// capacity (start.go).
//
// # Streams the receiver has not set up
//
// OnSentStream names the RTP stream each packet went on. Firefox drops packets on an SSRC it has no
// m-line for before its transport-cc sees them (Chromium reports them received), and the bridge sends on
// a slot before the browser has added it, so until feedback reports a packet of a stream received, the
// packets of it reported lost are left out of the loss rules, the start rule and probe results. In the same feedback, a stream with any
// packet received counts as set up before its losses are counted.
//
// Defaults: initial 1 Mbit/s; minimum 30 kbit/s and maximum 20 Mbit/s (Jitsi's reference.conf).
package bwe
