package impair

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Relay forwards UDP between clients and one server address, like a NAT with a bad link behind it:
// each client that sends to the relay's socket gets a socket of its own toward the server, so the
// server sees one address per client, and what the server sends back to that socket goes to the
// client. Up applies to what clients send, Down to what they receive.
//
//	client ──(Up)──▶ relay socket ─▶ per-client socket ──▶ server
//	client ◀──────── relay socket ◀─(Down)─ per-client socket ◀── server
//
// Datagrams from addresses Accept refuses are dropped, so a relay advertised to everybody only
// carries the clients it is meant for.
type Relay struct {
	ln     *net.UDPConn
	server *net.UDPAddr
	accept func(netip.AddrPort) bool
	up     Profile
	down   Profile

	upStats, downStats counters
	refused            atomic.Uint64

	mu      sync.Mutex
	clients map[netip.AddrPort]*client // guarded by mu
	seed    uint64                     // guarded by mu: the next Link's seed
	closed  bool                       // guarded by mu

	done chan struct{}
	wg   sync.WaitGroup
}

// Counters are one direction's datagrams through a Relay.
type Counters struct {
	Packets, Bytes uint64 // arrived at the relay
	Lost           uint64 // dropped by the Profile
}

// Sub is c since an earlier reading d.
func (c Counters) Sub(d Counters) Counters {
	return Counters{Packets: c.Packets - d.Packets, Bytes: c.Bytes - d.Bytes, Lost: c.Lost - d.Lost}
}

type counters struct{ packets, bytes, lost atomic.Uint64 }

func (c *counters) load() Counters {
	return Counters{Packets: c.packets.Load(), Bytes: c.bytes.Load(), Lost: c.lost.Load()}
}

// NewRelay relays datagrams arriving on ln to server and back; accept nil accepts every client.
// The seed makes the losses of a run repeatable. Serve does the work.
func NewRelay(ln *net.UDPConn, server *net.UDPAddr, up, down Profile, accept func(netip.AddrPort) bool, seed uint64) *Relay {
	if accept == nil {
		accept = func(netip.AddrPort) bool { return true }
	}
	return &Relay{ln: ln, server: server, accept: accept, up: up, down: down, seed: seed,
		clients: map[netip.AddrPort]*client{}, done: make(chan struct{})}
}

// Up counts what clients sent, Down what the server sent them.
func (r *Relay) Up() Counters   { return r.upStats.load() }
func (r *Relay) Down() Counters { return r.downStats.load() }

// Refused counts datagrams from addresses accept refused.
func (r *Relay) Refused() uint64 { return r.refused.Load() }

// Serve reads the relay's socket until Close.
func (r *Relay) Serve() error {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if r.isClosed() {
				return nil
			}
			return fmt.Errorf("relay: read: %w", err)
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !r.accept(from) {
			r.refused.Add(1)
			continue
		}
		c, err := r.client(from)
		if err != nil {
			return err
		}
		if c == nil {
			return nil // closed
		}
		r.upStats.packets.Add(1)
		r.upStats.bytes.Add(uint64(n))
		if !c.up.push(buf[:n]) {
			r.upStats.lost.Add(1)
		}
	}
}

// Close stops the relay and every client's socket; packets still delayed are dropped.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	err := r.ln.Close()
	for _, c := range r.clients {
		c.conn.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

func (r *Relay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// client is one client's socket toward the server and its two delay lines.
type client struct {
	addr     netip.AddrPort
	conn     *net.UDPConn // connected to the server
	up, down *delayLine
}

// client returns from's client, making it (socket, delay lines, reader) on its first datagram; nil
// once the relay is closed.
func (r *Relay) client(from netip.AddrPort) (*client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil
	}
	if c := r.clients[from]; c != nil {
		return c, nil
	}
	conn, err := net.DialUDP("udp", nil, r.server)
	if err != nil {
		return nil, fmt.Errorf("relay: socket toward %s for %s: %w", r.server, from, err)
	}
	c := &client{addr: from, conn: conn}
	c.up = r.newDelayLine(r.up, func(p []byte) { _, _ = conn.Write(p) })
	c.down = r.newDelayLine(r.down, func(p []byte) { _, _ = r.ln.WriteToUDPAddrPort(p, from) })
	r.clients[from] = c
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.readServer(c)
	}()
	return c, nil
}

// readServer carries what the server sends to c's socket down to c.
func (r *Relay) readServer(c *client) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || r.isClosed() {
				return
			}
			continue // ICMP port unreachable (the server not listening yet) is reported once: go on
		}
		r.downStats.packets.Add(1)
		r.downStats.bytes.Add(uint64(n))
		if !c.down.push(buf[:n]) {
			r.downStats.lost.Add(1)
		}
	}
}

// delayLine holds one direction's packets of one client until they are due.
type delayLine struct {
	link *Link
	send func([]byte)
	pass bool // the Profile does nothing: send at once

	mu   sync.Mutex
	q    queue // guarded by mu: packets by due time
	seq  uint64
	wake chan struct{} // a packet was queued
}

func (r *Relay) newDelayLine(p Profile, send func([]byte)) *delayLine {
	r.seed++
	d := &delayLine{link: NewLink(p, r.seed), send: send, pass: p.zero(), wake: make(chan struct{}, 1)}
	if !d.pass {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			d.run(r.done)
		}()
	}
	return d
}

// push takes a packet that arrived now; false when the link lost it. The packet is copied.
func (d *delayLine) push(p []byte) bool {
	if d.pass {
		d.send(p)
		return true
	}
	at, ok := d.link.Admit(time.Now())
	if !ok {
		return false
	}
	d.mu.Lock()
	d.seq++
	heap.Push(&d.q, item{at: at, seq: d.seq, p: append([]byte(nil), p...)})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return true
}

// run sends each queued packet when it is due, until done.
func (d *delayLine) run(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var due []item
		now := time.Now()
		for d.q.Len() > 0 && !d.q[0].at.After(now) {
			due = append(due, heap.Pop(&d.q).(item))
		}
		wait := time.Hour
		if d.q.Len() > 0 {
			wait = d.q[0].at.Sub(now)
		}
		d.mu.Unlock()
		for _, it := range due {
			d.send(it.p)
		}
		timer.Reset(wait)
		select {
		case <-done:
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// item is a delayed packet; seq keeps packets due at the same time in arrival order.
type item struct {
	at  time.Time
	seq uint64
	p   []byte
}

type queue []item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
