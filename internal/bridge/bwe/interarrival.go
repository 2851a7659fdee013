package bwe

import "time"

// Grouping constants (libwebrtc's inter-arrival module uses the same values).
const (
	// groupLength: packets sent within 5 ms of a group's first packet form one group. A video frame leaves the
	// bridge as such a burst; comparing groups instead of single packets removes the frame's own spread.
	groupLength = 5 * time.Millisecond
	// burstArrival: a packet arriving within 5 ms of the group's last one, sooner than its send spacing, was
	// held in a queue upstream and released in a burst; it joins the group.
	burstArrival = 5 * time.Millisecond
	// maxBurst bounds how long a group can be extended by bursts.
	maxBurst = 100 * time.Millisecond
	// reorderedReset: this many groups in a row arriving earlier than their predecessor reset the grouping.
	reorderedReset = 3
	// arrivalJump: when the receiver's clock moves this much more than ours between two groups, its clock
	// jumped (or the feedback is hostile); start over.
	arrivalJump = 3 * time.Second
)

type group struct {
	firstSent, lastSent time.Duration // send times, our clock
	firstArr, lastArr   time.Duration // arrival times, receiver's clock
	local               time.Duration // our clock when the group's last packet's feedback came
	size                int64
	n                   int
}

// interArrival turns per-packet send and arrival times into deltas between consecutive packet groups.
type interArrival struct {
	cur, prev group
	reordered int
}

// delta is the result of completing one group: how far apart the last two groups were sent and arrived.
type delta struct {
	send, arrival time.Duration
	arrivalAt     time.Duration // arrival time of the completed group, receiver's clock
}

func (ia *interArrival) reset() { *ia = interArrival{} }

// add feeds one received packet (in arrival order) and reports a delta when it completes a group.
func (ia *interArrival) add(sent, arrived, local time.Duration, size int) (delta, bool) {
	if ia.cur.n == 0 {
		ia.start(sent, arrived, local, size)
		return delta{}, false
	}
	if sent < ia.cur.firstSent {
		return delta{}, false // sent before the current group: a late, reordered packet
	}
	if !ia.newGroup(sent, arrived) {
		ia.extend(sent, arrived, local, size)
		return delta{}, false
	}
	var d delta
	ok := false
	if ia.prev.n > 0 {
		d = delta{
			send:      ia.cur.lastSent - ia.prev.lastSent,
			arrival:   ia.cur.lastArr - ia.prev.lastArr,
			arrivalAt: ia.cur.lastArr,
		}
		localDelta := ia.cur.local - ia.prev.local
		switch {
		case d.arrival-localDelta >= arrivalJump || d.arrival < -arrivalJump:
			ia.reset()
			ia.start(sent, arrived, local, size)
			return delta{}, false
		case d.arrival < 0:
			ia.reordered++
			if ia.reordered >= reorderedReset {
				ia.reset()
				ia.start(sent, arrived, local, size)
				return delta{}, false
			}
		default:
			ia.reordered = 0
			ok = true
		}
	}
	ia.prev = ia.cur
	ia.start(sent, arrived, local, size)
	return d, ok
}

func (ia *interArrival) start(sent, arrived, local time.Duration, size int) {
	ia.cur = group{firstSent: sent, lastSent: sent, firstArr: arrived, lastArr: arrived, local: local,
		size: int64(size), n: 1}
}

func (ia *interArrival) extend(sent, arrived, local time.Duration, size int) {
	if sent > ia.cur.lastSent {
		ia.cur.lastSent = sent
	}
	if arrived > ia.cur.lastArr {
		ia.cur.lastArr = arrived
	}
	ia.cur.local = local
	ia.cur.size += int64(size)
	ia.cur.n++
}

// newGroup reports whether a packet starts a new group rather than joining the current one.
func (ia *interArrival) newGroup(sent, arrived time.Duration) bool {
	if ia.inBurst(sent, arrived) {
		return false
	}
	return sent-ia.cur.firstSent > groupLength
}

func (ia *interArrival) inBurst(sent, arrived time.Duration) bool {
	arrDelta := arrived - ia.cur.lastArr
	sendDelta := sent - ia.cur.lastSent
	if sendDelta == 0 {
		return true
	}
	propagation := arrDelta - sendDelta
	return propagation < 0 && arrDelta <= burstArrival && arrived-ia.cur.firstArr < maxBurst
}
