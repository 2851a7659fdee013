package bridge

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Fork-join fan-out. A sender's packets are forwarded by the reader goroutine that read them (one
// sender, one reader: SO_REUSEPORT keeps a remote address on one socket), so without help one HD sender's
// fan-out to 49 receivers runs on one core however many the bridge has. Above fanOutMin subscribers the
// reader cuts the subscriber list into parts of about fanOutChunk and wakes idle workers (a pool of
// GOMAXPROCS−1 long-lived goroutines, [bridge] fan-out-workers, each with a send batch of its own on the
// bridge's socket); the reader and whichever workers came take parts one at a time until none is left,
// and the reader returns only when every part is sent. So each receiver still gets one source's packets
// in order (they are in one part, handed to the kernel before the next packet starts), and a worker that
// is busy with other readers' packets or slow to wake costs nothing: the reader takes its parts itself.
//
// Locks: a part takes each receiver's sendMu, as the reader does; the reader holds only its own rxMu
// (which no worker takes) while it waits. The pacer, the estimator and the slots are the receiver's,
// under its sendMu; the source's layer wishes and key-frame flags are atomic.

const (
	// fanOutMin is the number of subscribers from which a packet's fan-out is split.
	fanOutMin = 16
	// fanOutChunk is the usual size of a part: small enough that the reader and the workers finish
	// together, large enough that a worker's sendmmsg carries several copies.
	fanOutChunk = 8
	// fanOutMaxParts bounds the parts of one packet (larger fan-outs have larger parts).
	fanOutMaxParts = 32
	// fanOutSpin is how long a worker watches for the next packet, and the reader for the workers'
	// last parts, before sleeping.
	fanOutSpin = 50 * time.Microsecond
)

// fanPool is the bridge's fan-out workers.
type fanPool struct {
	workers int
	jobs    chan *fanOut           // unbuffered: an offer succeeds only when a worker waits for one
	offered atomic.Pointer[fanOut] // the latest packet offered, for workers that have not slept yet
	byPool  atomic.Int64           // parts forwarded by a worker (tests)
}

// fanOut is one sender endpoint's fork-join state for the packet its reader is forwarding. The reader
// (holding the sender's rxMu) writes p and subs and opens the parts; a part's fields are read only by
// whoever closed its open flag, and the results (want, sent) only after wg.Wait.
type fanOut struct {
	p     inPacket
	subs  []*slot
	parts [fanOutMaxParts]fanPart
	wg    sync.WaitGroup // parts opened and not yet sent
	left  atomic.Int32   // the same, for the reader to watch before it sleeps in wg.Wait
	want  atomic.Bool    // a slot waits for a key frame
	sent  atomic.Bool    // a worker queued copies (the forward delay is observed)
}

// fanPart is subscribers [from, to) of its fanOut's packet.
type fanPart struct {
	open     atomic.Bool // to forward; whoever swaps it to false forwards the part
	from, to int
}

// fanOutWorkers is how many fan-out workers the bridge runs.
func (b *Bridge) fanOutWorkers() int {
	n := b.cfg.FanOutWorkers
	if n == 0 {
		n = runtime.GOMAXPROCS(0) - 1
	}
	return max(n, 0)
}

// startFanOut starts the fan-out workers, once the batch socket is set (Start, or a test's rig); they
// end when the bridge closes.
func (b *Bridge) startFanOut() {
	n := b.fanOutWorkers()
	if b.batch == nil || n == 0 {
		return
	}
	p := &fanPool{workers: n, jobs: make(chan *fanOut)}
	b.fan = p
	b.wg.Add(n)
	for range n {
		go p.work(b.batch.newBatch(), b.stop, b.wg.Done)
	}
}

// work is one fan-out worker: it helps with the packets offered to it until stop is closed. After a
// packet it watches for the next one for fanOutSpin before it sleeps (yielding its core to any other
// goroutine meanwhile): a frame's packets come together, and a sleeping worker takes longer to wake
// than a part takes to send.
func (p *fanPool) work(bt *sendBatch, stop <-chan struct{}, done func()) {
	defer done()
	for {
		select {
		case <-stop:
			return
		case f := <-p.jobs:
			p.help(f, bt)
			for until := time.Now().Add(fanOutSpin); time.Now().Before(until); {
				if f := p.offered.Load(); f != nil && p.help(f, bt) {
					until = time.Now().Add(fanOutSpin)
				}
				runtime.Gosched() // a reader waiting for this worker's core goes first
			}
		}
	}
}

// help forwards the open parts of f, from the last on (the reader goes from the first), sends them,
// then counts them done: the reader must not return before its copies are with the kernel. It reports
// whether it found a part open. A worker offered f late may find the parts of a later packet of the same
// sender open, and forwards those.
func (p *fanPool) help(f *fanOut, bt *sendBatch) bool {
	taken, want, before := 0, false, bt.queued
	for i := len(f.parts) - 1; i >= 0; i-- {
		if f.parts[i].open.CompareAndSwap(true, false) {
			if f.forwardPart(i, bt) {
				want = true
			}
			taken++
		}
	}
	if taken == 0 {
		return false
	}
	if bt.pending() {
		bt.flush()
	}
	if want {
		f.want.Store(true)
	}
	if bt.queued != before {
		f.sent.Store(true)
	}
	p.byPool.Add(int64(taken))
	f.left.Add(int32(-taken))
	for range taken {
		f.wg.Done()
	}
	return true
}

// forwardPart forwards part i's subscribers onto bt; it reports whether one of their slots waits for a key
// frame.
func (f *fanOut) forwardPart(i int, bt *sendBatch) bool {
	part := &f.parts[i]
	return forwardTo(f.subs[part.from:part.to], &f.p, bt)
}

// forwardTo forwards p to each slot in subs onto bt; it reports whether one of them waits for a key
// frame.
func forwardTo(subs []*slot, p *inPacket, bt *sendBatch) (want bool) {
	for _, sl := range subs {
		if sl.recv.forward(sl, p, bt) {
			want = true
		}
	}
	return want
}

// fanOut forwards p to every slot in subs, on the reader's batch bt (nil when the socket does not
// batch) and, when the list is long, with the workers' help. It reports whether a slot waits for a key
// frame. Once the last copy is with the kernel, the time since bt.readAt (the packet was read) is
// observed in the forward-delay histogram.
func (e *Endpoint) fanOut(subs []*slot, p *inPacket, bt *sendBatch) (want bool) {
	if bt == nil {
		return forwardTo(subs, p, nil)
	}
	readAt := bt.readAt
	bt.readAt = time.Time{} // observed below, once, and not by a flush halfway
	before := bt.queued
	sent := false
	if pool := e.b.fan; pool == nil || len(subs) < fanOutMin {
		want = forwardTo(subs, p, bt)
		if bt.pending() {
			bt.flush()
		}
	} else {
		want, sent = e.fanOutParts(pool, subs, p, bt)
	}
	if !readAt.IsZero() {
		if sent || bt.queued != before {
			bt.observe(readAt)
		} else {
			bt.readAt = readAt // nothing sent here: a relay's copies still to flush observe it
		}
	}
	return want
}

// fanOutParts is fanOut with the list cut into parts for the reader and the workers; it returns after
// every part is sent, and reports whether a slot waits for a key frame and whether a worker sent copies.
func (e *Endpoint) fanOutParts(pool *fanPool, subs []*slot, p *inPacket, bt *sendBatch) (want, sent bool) {
	f := e.fan
	if f == nil {
		f = &fanOut{}
		e.fan = f // once per sender
	}
	n := min((len(subs)+fanOutChunk-1)/fanOutChunk, fanOutMaxParts)
	f.p, f.subs = *p, subs
	f.want.Store(false)
	f.sent.Store(false)
	f.wg.Add(n)
	f.left.Store(int32(n))
	for i := range n {
		part := &f.parts[i]
		part.from, part.to = i*len(subs)/n, (i+1)*len(subs)/n
		part.open.Store(true)
	}
	pool.offered.Store(f)
offer:
	for range min(pool.workers, n-1) {
		select {
		case pool.jobs <- f:
		default: // no worker waits: the reader forwards what is left itself
			break offer
		}
	}
	for i := range n {
		if f.parts[i].open.CompareAndSwap(true, false) {
			if f.forwardPart(i, bt) {
				want = true
			}
			f.left.Add(-1)
			f.wg.Done()
		}
	}
	if bt.pending() {
		bt.flush()
	}
	for until := time.Now().Add(fanOutSpin); f.left.Load() > 0 && time.Now().Before(until); {
		runtime.Gosched()
	}
	f.wg.Wait()
	f.subs = nil
	return want || f.want.Load(), f.sent.Load()
}
