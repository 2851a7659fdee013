package bwe

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The simulated path: the bridge (a sender model driving an Estimator), a FIFO bottleneck with a capacity, a
// drop-tail queue, random loss and a base delay, and a receiver that reports transport-cc-like feedback.

var simEpoch = time.Unix(1_800_000_000, 0)

// ladder is the set of media rates the sender model can pick, like an allocator choosing layers of a few
// simulcast streams: it never sends a rate that is not on it.
var ladder = []int64{150e3, 200e3, 300e3, 400e3, 500e3, 600e3, 700e3, 850e3, 1000e3, 1150e3, 1300e3,
	1500e3, 1750e3, 2000e3, 2300e3, 2600e3, 3000e3, 3500e3, 4000e3, 5000e3}

func ladderFloor(bps int64) int64 {
	best := ladder[0]
	for _, r := range ladder {
		if r <= bps {
			best = r
		}
	}
	return best
}

type inflight struct {
	seq     uint16
	stream  uint16
	size    int
	arrives time.Duration
}

type framePkt struct {
	at   time.Duration
	size int
}

type feedbackMsg struct {
	at       time.Duration
	arrivals []Arrival
}

type sim struct {
	t   *testing.T
	e   *Estimator
	rng *rand.Rand

	// link
	capacity   int64 // bit/s
	queueLimit int   // bytes
	burst      int   // bytes the link passes at once after an idle spell (a token bucket's depth: tc tbf's burst)
	dropped    int   // packets the queue dropped
	lossRate   float64
	delay      time.Duration // one way, both directions
	linkFree   time.Duration // when the link finishes the last queued packet
	queue      []inflight    // in the link or in flight, in order
	queued     int           // bytes not yet transmitted onto the link

	// sender
	framePkts     []framePkt   // media packets of the current frame not yet forwarded
	ideal         int64        // what the allocator would like
	bridge        *bridgeModel // the bridge's sender model instead of the ladder (bridgesim_test.go)
	honorProbes   bool         // the bridge sends the padding ProbeBytes asks for
	padSize       int          // bytes on the wire of one padding packet
	target        int64
	seq           uint16
	now           time.Duration
	nextFrame     time.Duration
	nextProbe     time.Duration
	nextAlloc     time.Duration
	mediaBytes    int64
	paddingBytes  int64
	receiverClock time.Duration // offset of the receiver's clock
	streams       int           // > 0: media goes on streams 1..streams in turn, packet by packet (OnSentStream),
	// as a bridge forwards many slots at once
	setUp     time.Duration // the receiver sets up stream k at setUp + (k-1) × setUpEach; before, it drops
	setUpEach time.Duration // the stream's packets before its transport-cc, as a browser drops an SSRC
	// it has no m-line for

	// receiver
	pendingRecv []Arrival // statuses not yet reported
	nextSeqRep  uint16    // next seq the receiver expects to report
	haveRep     bool
	nextFb      time.Duration
	feedback    []feedbackMsg
	recvLog     []recvEvent // every delivery, for delivered-rate measurements
}

type recvEvent struct {
	at   time.Duration
	size int
}

func newSim(t *testing.T, cfg Config, capacity int64, seed uint64) *sim {
	return &sim{
		t: t, e: New(cfg), rng: rand.New(rand.NewPCG(seed, 7)),
		capacity: capacity, queueLimit: 60_000, delay: 20 * time.Millisecond,
		ideal: 5_000_000, honorProbes: true, padSize: 1200, receiverClock: 1234 * time.Second,
	}
}

// send puts one packet on the wire.
func (s *sim) send(size int, probe bool) {
	var stream uint16
	if s.streams > 0 && !probe {
		stream = uint16(1 + int(s.seq)%s.streams)
	}
	s.seq++
	s.e.OnSentStream(s.seq, stream, size, simEpoch.Add(s.now), probe)
	if probe {
		s.paddingBytes += int64(size)
	} else {
		s.mediaBytes += int64(size)
	}
	if s.queued+size > s.queueLimit {
		s.dropped++
		return // drop-tail
	}
	if s.lossRate > 0 && s.rng.Float64() < s.lossRate {
		return
	}
	// A token bucket lets the link run ahead of its rate by up to burst bytes after an idle spell.
	ahead := time.Duration(float64(s.burst*8) / float64(s.capacity) * float64(time.Second))
	start := max(s.now-ahead, s.linkFree)
	s.linkFree = start + time.Duration(float64(size*8)/float64(s.capacity)*float64(time.Second))
	s.queued += size
	s.queue = append(s.queue, inflight{seq: s.seq, stream: stream, size: size, arrives: max(s.linkFree, s.now) + s.delay})
}

// sendProbe sends the n bytes ProbeBytes asked for, in packets of at most size bytes when size is set.
// Padding-only packets carry at most 255 padding bytes (RFC 3550 §5.1), plus RTP, extension, SRTP tag, UDP
// and IP headers (padSize 313, the bridge's); RTX probes of recent packets are full size (padSize 1200).
// A size applies to either: the sender then sends padding-only packets of that size, as the bridge does.
func (s *sim) sendProbe(n, size int) {
	least := 100 // a remainder still goes out as a packet
	if size <= 0 {
		size = s.padSize
	} else {
		least = max(min(size, least), minPadPacket)
	}
	for n > 0 {
		p := max(min(n, s.padSize, size), least)
		s.send(p, true)
		n -= p
	}
}

// minPadPacket is the smallest padding-only packet on the link: 1 byte of padding and the headers.
const minPadPacket = 1 + 12 + 8 + 10 + 28

// step advances the simulation by 1 ms.
func (s *sim) step() {
	if s.bridge != nil {
		s.bridgeStep()
		s.finishStep()
		return
	}
	if s.now >= s.nextAlloc {
		s.target = min(ladderFloor(s.e.Estimate()), s.ideal)
		s.nextAlloc = s.now + 100*time.Millisecond
	}
	if s.now >= s.nextFrame {
		frame := int(s.target / 8 / 30)
		// A key-frame-free video stream still varies frame to frame.
		frame = int(float64(frame) * (0.8 + 0.4*s.rng.Float64()))
		// The publisher's pacer (2.5 × its rate in libwebrtc) spreads a frame over 40% of the frame interval,
		// and the bridge forwards packets as they come.
		n := (frame + 1199) / 1200
		for i := 0; i < n; i++ {
			size := min(1200, frame-i*1200)
			at := s.now + time.Duration(i)*(time.Second/30*4/10)/time.Duration(n)
			s.framePkts = append(s.framePkts, framePkt{at: at, size: size})
		}
		s.nextFrame += time.Second / 30
	}
	for len(s.framePkts) > 0 && s.framePkts[0].at <= s.now {
		s.send(s.framePkts[0].size, false)
		s.framePkts = s.framePkts[1:]
	}
	if s.now >= s.nextProbe {
		n, size := s.e.ProbeBytes(simEpoch.Add(s.now), s.target, s.ideal)
		if s.honorProbes && n > 0 {
			s.sendProbe(n, size)
		}
		s.nextProbe += 15 * time.Millisecond
	}
	s.finishStep()
}

// finishStep is step's link and receiver part.
func (s *sim) finishStep() {
	s.deliver()
	if s.now >= s.nextFb {
		s.report()
		s.nextFb = s.now + time.Duration(50+s.rng.IntN(51))*time.Millisecond
	}
	if s.now%time.Second == 0 {
		// What RTCP receiver reports would measure: both directions' delay plus the queue.
		s.e.OnRTT(2*s.delay+max(s.linkFree-s.now, 0), simEpoch.Add(s.now))
	}
	for len(s.feedback) > 0 && s.feedback[0].at <= s.now {
		s.e.OnFeedback(simEpoch.Add(s.now), s.feedback[0].arrivals)
		s.feedback = s.feedback[1:]
	}
	s.now += time.Millisecond
}

// deliver moves packets whose arrival time has come to the receiver.
func (s *sim) deliver() {
	for len(s.queue) > 0 && s.queue[0].arrives <= s.now {
		p := s.queue[0]
		s.queue = s.queue[1:]
		s.queued -= p.size
		if p.stream != 0 && p.arrives < s.setUp+time.Duration(p.stream-1)*s.setUpEach {
			continue // not set up yet: dropped before transport-cc, reported lost
		}
		s.recvLog = append(s.recvLog, recvEvent{at: p.arrives, size: p.size})
		// Everything between the last reported seq and this one that did not arrive was lost (FIFO path).
		if !s.haveRep {
			s.nextSeqRep, s.haveRep = p.seq, true
		}
		for ; s.nextSeqRep != p.seq; s.nextSeqRep++ {
			s.pendingRecv = append(s.pendingRecv, Arrival{Seq: s.nextSeqRep})
		}
		s.pendingRecv = append(s.pendingRecv, Arrival{Seq: p.seq, Received: true, At: p.arrives + s.receiverClock})
		s.nextSeqRep = p.seq + 1
	}
	// The link's queue shrinks as the link transmits; approximate queued bytes by what is not yet sent out.
	s.queued = 0
	for _, p := range s.queue {
		if p.arrives-s.delay > s.now {
			s.queued += p.size
		}
	}
}

// report sends the receiver's pending statuses back as one feedback packet.
func (s *sim) report() {
	if len(s.pendingRecv) == 0 {
		return
	}
	fb := feedbackMsg{at: s.now + s.delay, arrivals: s.pendingRecv}
	s.pendingRecv = nil
	s.feedback = append(s.feedback, fb)
}

// run advances d, calling each every 100 ms.
func (s *sim) run(d time.Duration, each func()) {
	end := s.now + d
	for s.now < end {
		s.step()
		if each != nil && s.now%(100*time.Millisecond) == 0 {
			each()
		}
	}
}

// delivered is the receiver's delivered rate over the window ending now.
func (s *sim) delivered(window time.Duration) int64 {
	var sum int
	for i := len(s.recvLog) - 1; i >= 0 && s.recvLog[i].at > s.now-window; i-- {
		sum += s.recvLog[i].size
	}
	return int64(float64(sum*8) / window.Seconds())
}
