package bridge

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The receive side of the media socket. One goroutine reads the socket (recvmmsg on Linux, many datagrams
// per system call) and sorts each datagram by its first byte (RFC 7983) and its source address:
//
//	STUN (0–3), or from an address no endpoint has selected → pion's UDP mux, through icePacketConn
//	DTLS, RTP, RTCP from an endpoint's selected pair         → Endpoint.receive, on this goroutine
//
// pion/ice keeps doing ICE: connectivity checks, nomination, keepalives and consent freshness (RFC 7675)
// are all STUN, which still reaches it. What it no longer sees is the media of a connected endpoint,
// which used to cross three goroutines (the mux's reader, the candidate's reader, the endpoint's
// readLoop) before it was forwarded; that hand-off cost more CPU than the forwarding. An endpoint is
// routed here once ICE selects a pair (Endpoint.setDst) and unrouted when it expires; until then, and
// for datagrams from any other address, its readLoop reads what pion passes on (Endpoint.rxMu makes the
// two paths take turns).
//
// The demultiplexer works on any net.PacketConn (Pion's vnet in tests); only the batched receive needs
// a kernel UDP socket.
//
// One reader would mean every endpoint's forwarding runs on one goroutine, with at most one core. So
// the media port may have several sockets (SO_REUSEPORT, mediasocket.go; the kernel keeps each remote
// address on one of them, so each sender's order holds), each with a reader of its own; they share the
// routes and pion's queue. An endpoint whose address moves to another socket's share is received by
// that reader from then on (Endpoint.rxMu keeps its packets to one reader at a time).

// recvMTU is the largest datagram the bridge receives; a longer one is dropped (WebRTC stays under
// 1,500 bytes, and the packet path's buffers hold 1,600).
const recvMTU = 2048

// maxRecv is the most datagrams one recvmmsg call returns.
const maxRecv = 32

// iceQueue is how many datagrams can wait for pion's mux; more are dropped (checks are retransmitted).
const iceQueue = 256

// recvBatch receives datagrams from the media socket.
type recvBatch interface {
	// recv blocks until at least one datagram arrives and returns how many the batch holds; 0 with a nil
	// error means nothing usable arrived (try again).
	recv() (int, error)
	// datagram returns the i-th datagram of the last recv and its source address (IPv4 unmapped).
	datagram(i int) ([]byte, netip.AddrPort)
}

// newRecvBatch returns the batched reader for c when the platform has one, else one datagram per read.
func newRecvBatch(c net.PacketConn) recvBatch {
	uc, _ := c.(*net.UDPConn)
	if uc != nil {
		if r := newSysRecvBatch(uc); r != nil {
			return r
		}
	}
	return &connRecv{c: c, uc: uc}
}

// connRecv reads one datagram per call, from any net.PacketConn.
type connRecv struct {
	c    net.PacketConn
	uc   *net.UDPConn // c, when it is a kernel socket (allocation-free reads)
	n    int
	from netip.AddrPort
	buf  [recvMTU]byte
}

func (r *connRecv) recv() (int, error) {
	var err error
	if r.uc != nil {
		r.n, r.from, err = r.uc.ReadFromUDPAddrPort(r.buf[:])
	} else {
		var a net.Addr
		r.n, a, err = r.c.ReadFrom(r.buf[:])
		if ua, ok := a.(*net.UDPAddr); ok && err == nil {
			r.from = ua.AddrPort()
		} else if err == nil {
			return 0, nil
		}
	}
	if err != nil {
		return 0, err
	}
	r.from = canonicalAddr(r.from)
	if r.n == 0 || r.n == len(r.buf) || !r.from.IsValid() {
		return 0, nil // empty, or possibly truncated
	}
	return 1, nil
}

func (r *connRecv) datagram(int) ([]byte, netip.AddrPort) { return r.buf[:r.n], r.from }

// canonicalAddr is the form routes are keyed by: IPv4 unmapped, no zone.
func canonicalAddr(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// demux owns the reading side of the media socket.
type demux struct {
	conn  net.PacketConn   // the media socket: pion's mux reads through the demux and writes on it
	rb    recvBatch        // conn's reader, owned by run
	extra []net.PacketConn // the port's other sockets (SO_REUSEPORT), read only; set before start
	reads []atomic.Uint64  // datagrams taken by each socket's reader: conn's, then extra's
	log   *slog.Logger

	mu     sync.Mutex                                   // serialises route changes
	routes atomic.Pointer[map[netip.AddrPort]*Endpoint] // copy-on-write; read by run per batch

	toICE     chan *iceDatagram // datagrams for pion's mux, read by icePacketConn
	pool      sync.Pool         // of *iceDatagram
	closed    chan struct{}     // closed by close
	closeOnce sync.Once

	direct, ice, iceDropped prometheus.Counter // parley_bridge_demuxed_packets_total{path}
	delay                   prometheus.Histogram
}

type iceDatagram struct {
	n    int
	from netip.AddrPort
	buf  [recvMTU]byte
}

func newDemux(b *Bridge, conn net.PacketConn) *demux {
	d := &demux{
		conn:       conn,
		rb:         newRecvBatch(conn),
		log:        b.log,
		toICE:      make(chan *iceDatagram, iceQueue),
		closed:     make(chan struct{}),
		direct:     b.metrics.demuxed.WithLabelValues(demuxDirect),
		ice:        b.metrics.demuxed.WithLabelValues(demuxICE),
		iceDropped: b.metrics.demuxed.WithLabelValues(demuxICEDropped),
		delay:      b.metrics.forwardDelay,
	}
	d.pool.New = func() any { return new(iceDatagram) }
	empty := map[netip.AddrPort]*Endpoint{}
	d.routes.Store(&empty)
	return d
}

// addSocket adds another socket of the media port to read; call it before start.
func (d *demux) addSocket(c net.PacketConn) { d.extra = append(d.extra, c) }

// start starts a reader for each socket; each calls done when it ends.
func (d *demux) start(done func()) {
	d.reads = make([]atomic.Uint64, 1+len(d.extra))
	go d.run(done)
	for i, c := range d.extra {
		go d.read(newRecvBatch(c), &d.reads[1+i], done)
	}
}

// readCounts returns how many datagrams each socket's reader has taken, the first socket's first.
func (d *demux) readCounts() []uint64 {
	out := make([]uint64, len(d.reads))
	for i := range d.reads {
		out[i] = d.reads[i].Load()
	}
	return out
}

// run is the first socket's reader goroutine (start, or a test, runs it).
func (d *demux) run(done func()) {
	var count *atomic.Uint64
	if len(d.reads) > 0 {
		count = &d.reads[0]
	}
	d.read(d.rb, count, done)
}

// read is a socket's reader goroutine. It ends when the socket is closed (by pion's mux closing its
// icePacketConn, from Bridge.Close, which closes every socket of the port).
func (d *demux) read(rb recvBatch, count *atomic.Uint64, done func()) {
	defer done()
	defer d.close()
	for {
		n, err := rb.recv()
		if err != nil {
			if isTimeout(err) {
				continue
			}
			select {
			case <-d.closed:
			default:
				d.log.Warn("media socket read failed", "err", err)
			}
			return
		}
		at := time.Now()
		if count != nil {
			count.Add(uint64(n))
		}
		routes := *d.routes.Load()
		for i := range n {
			pkt, from := rb.datagram(i)
			if len(pkt) == 0 {
				continue
			}
			if e := routes[from]; e != nil && pkt[0] > 3 {
				d.direct.Inc()
				e.receive(pkt, at)
				continue
			}
			d.passToICE(pkt, from)
		}
	}
}

func isTimeout(err error) bool { return os.IsTimeout(err) }

// passToICE queues a datagram for pion's mux without waiting: a full queue drops it.
func (d *demux) passToICE(pkt []byte, from netip.AddrPort) {
	dg := d.pool.Get().(*iceDatagram)
	dg.n, dg.from = copy(dg.buf[:], pkt), from
	select {
	case d.toICE <- dg:
		d.ice.Inc()
	default:
		d.pool.Put(dg)
		d.iceDropped.Inc()
	}
}

// route makes datagrams from remote (an endpoint's selected pair) go to e directly, in place of e's
// previous address. An address that another endpoint had is taken over (the newest selection wins, as in
// pion's mux). Nothing is routed to an expired endpoint.
func (d *demux) route(e *Endpoint, remote net.Addr) {
	ua, ok := remote.(*net.UDPAddr)
	if !ok {
		return
	}
	addr := canonicalAddr(ua.AddrPort())
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.expired.Load() || (e.route == addr && (*d.routes.Load())[addr] == e) {
		return
	}
	d.updateLocked(func(m map[netip.AddrPort]*Endpoint) {
		if m[e.route] == e {
			delete(m, e.route)
		}
		m[addr] = e
	})
	e.route = addr
}

// unroute forgets e's address; its datagrams (if any still come) go to pion again.
func (d *demux) unroute(e *Endpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if (*d.routes.Load())[e.route] != e {
		return
	}
	d.updateLocked(func(m map[netip.AddrPort]*Endpoint) { delete(m, e.route) })
}

// updateLocked publishes a changed copy of the routes; d.mu is held.
func (d *demux) updateLocked(change func(map[netip.AddrPort]*Endpoint)) {
	old := *d.routes.Load()
	m := make(map[netip.AddrPort]*Endpoint, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	d.routes.Store(&m)
}

// routed returns the endpoint datagrams from addr go to directly, if any.
func (d *demux) routed(addr netip.AddrPort) *Endpoint { return (*d.routes.Load())[canonicalAddr(addr)] }

func (d *demux) close() { d.closeOnce.Do(func() { close(d.closed) }) }

// icePacketConn is the media socket as pion's UDP mux sees it: reads return what the demux passed on,
// writes go straight to the socket. Closing it closes the socket.
type icePacketConn struct{ d *demux }

func (c icePacketConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	select {
	case dg := <-c.d.toICE:
		n, from := copy(p, dg.buf[:dg.n]), dg.from
		c.d.pool.Put(dg)
		return n, from, nil
	case <-c.d.closed:
		return 0, netip.AddrPort{}, io.EOF
	}
}

func (c icePacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(p)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

func (c icePacketConn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if uc, ok := c.d.conn.(*net.UDPConn); ok {
		return uc.WriteToUDPAddrPort(p, to)
	}
	return c.d.conn.WriteTo(p, net.UDPAddrFromAddrPort(to))
}

func (c icePacketConn) WriteTo(p []byte, to net.Addr) (int, error) { return c.d.conn.WriteTo(p, to) }

// Close closes every socket of the media port, which ends their readers.
func (c icePacketConn) Close() error {
	c.d.close()
	err := c.d.conn.Close()
	for _, x := range c.d.extra {
		_ = x.Close()
	}
	return err
}

func (c icePacketConn) LocalAddr() net.Addr { return c.d.conn.LocalAddr() }

// SetReadDeadline is not passed on: the demux owns the socket's reads.
func (c icePacketConn) SetReadDeadline(time.Time) error { return nil }

func (c icePacketConn) SetWriteDeadline(t time.Time) error { return c.d.conn.SetWriteDeadline(t) }

func (c icePacketConn) SetDeadline(t time.Time) error { return c.d.conn.SetWriteDeadline(t) }
