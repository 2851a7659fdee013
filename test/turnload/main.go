// Command turnload measures a TURN server's UDP relay: it allocates N relays over UDP with TURN REST
// credentials, binds a channel from each toward M local UDP peers, sends ChannelData at a fixed total
// packet rate for a bounded time after a warm-up, and reports the packets the peers received, the loss,
// the one-way latency through the relay (a send timestamp rides in every payload), and the server's CPU
// time from /proc/PID/stat — hence relayed packets per server CPU-second. With --echo the peers send
// every packet back through the relay and the clients count those too (both directions relayed).
//
// It prints one Markdown table row on stdout (--header adds the header first) and details on stderr;
// bench.sh runs it against Parley's TURN server and coturn one after the other with the same load.
//
//	turnload --server 127.0.0.1:3479 --secret SECRET --pid PID --rate 20000 --duration 15s
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/parley-im/parley/test/internal/procstat"
)

type options struct {
	server   string
	secret   string
	user     string
	allocs   int
	peers    int
	senders  int
	clientIP string
	peerIP   string
	rate     float64
	size     int
	warmup   time.Duration
	duration time.Duration
	drain    time.Duration
	echo     bool
	pid      int
	label    string
	header   bool
}

func main() {
	var o options
	flag.StringVar(&o.server, "server", "127.0.0.1:3478", "TURN server UDP address")
	flag.StringVar(&o.secret, "secret", "", "TURN REST shared secret (required)")
	flag.StringVar(&o.user, "user", "turnload", "user part of the REST usernames; allocation i uses USER-i")
	flag.IntVar(&o.allocs, "allocs", 8, "TURN allocations (each on its own client socket)")
	flag.IntVar(&o.peers, "peers", 4, "UDP peers; every allocation binds a channel to each")
	flag.IntVar(&o.senders, "senders", 2, "sending goroutines (each serves allocs/senders allocations with sendmmsg)")
	flag.StringVar(&o.clientIP, "client-ip", "127.0.0.1", "IP the client sockets bind to")
	flag.StringVar(&o.peerIP, "peer-ip", "127.0.0.2", "IP the peers bind to")
	flag.Float64Var(&o.rate, "rate", 20000, "total ChannelData packets per second, all allocations together")
	flag.IntVar(&o.size, "size", 200, "payload bytes per packet (at least 16)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "measured window (at most 60s)")
	flag.DurationVar(&o.drain, "drain", 500*time.Millisecond, "wait for packets in flight after the window")
	flag.BoolVar(&o.echo, "echo", false, "peers send every packet back through the relay")
	flag.IntVar(&o.pid, "pid", 0, "server process whose CPU time is measured (0: none)")
	flag.StringVar(&o.label, "label", "server", "server name for the table row")
	flag.BoolVar(&o.header, "header", false, "print the table header before the row")
	flag.Parse()
	switch {
	case o.secret == "":
		fail("--secret is required")
	case o.allocs < 1 || o.peers < 1 || o.peers > 0x3fff || o.senders < 1:
		fail("--allocs, --peers and --senders must be positive")
	case o.size < 16 || o.size > 1400:
		fail("--size must be in 16..1400")
	case o.rate <= 0 || o.duration <= 0 || o.duration > time.Minute || o.warmup < 0 || o.warmup > 30*time.Second:
		fail("--rate must be positive, --duration in (0, 60s], --warmup in [0, 30s]")
	}
	res, err := run(o)
	if err != nil {
		fail(err.Error())
	}
	if o.header {
		fmt.Println(header)
	}
	fmt.Println(res.row(o))
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "turnload:", msg)
	os.Exit(1)
}

// Payload layout: bytes 0-7 the send time in nanoseconds since the run's base time; the rest zero.
// ChannelData is channel number (2 bytes), length (2 bytes), payload; 200-byte payloads need no padding.

// result is what one run measured over the window.
type result struct {
	window               time.Duration
	sent                 int64 // ChannelData sent with a timestamp in the window
	atPeers              int64 // of those, received by the peers
	back                 int64 // of those, received back by the clients (--echo)
	serverCPU, ownCPU    time.Duration
	p50, p99             time.Duration // one-way, client → relay → peer
	sendErrs             int64
	allocated, boundChan int
	load1                string
	rcvbufDrops          int64 // kernel UDP receive-buffer drops, window and drain, whole machine
}

func run(o options) (*result, error) {
	srv, err := net.ResolveUDPAddr("udp", o.server)
	if err != nil {
		return nil, err
	}
	// Peers.
	peers := make([]*peer, o.peers)
	for j := range peers {
		if peers[j], err = newPeer(o.peerIP); err != nil {
			return nil, fmt.Errorf("peer on %s: %w", o.peerIP, err)
		}
		defer peers[j].conn.Close()
	}
	// Allocations and channels.
	allocs := make([]*allocation, o.allocs)
	deadline := time.Now().Add(15 * time.Second)
	for i := range allocs {
		name, pw := restCredential(o.secret, fmt.Sprintf("%s-%d", o.user, i), time.Hour)
		a, err := newAllocation(o.clientIP, srv, name, pw, deadline)
		if err != nil {
			return nil, fmt.Errorf("allocation %d: %w", i, err)
		}
		defer a.release()
		allocs[i] = a
		for _, p := range peers {
			if err := a.bind(p.addr); err != nil {
				return nil, fmt.Errorf("allocation %d (relay %v): %w", i, a.relay, err)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "turnload: %s: %d allocations (relays %v…), %d channels each toward %s; %.0f packets/s of %d bytes\n",
		o.label, len(allocs), allocs[0].relay, o.peers, o.peerIP, o.rate, o.size)

	base := time.Now()
	w0 := o.warmup
	w1 := w0 + o.duration
	inWindow := func(ts int64) bool { return ts >= int64(w0) && ts < int64(w1) }
	res := &result{window: o.duration, allocated: len(allocs), boundChan: len(allocs) * o.peers}

	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() { defer wg.Done(); p.receive(base, inWindow, o.echo) }()
	}
	var back atomic.Int64
	if o.echo {
		for _, a := range allocs {
			wg.Add(1)
			go func() { defer wg.Done(); back.Add(receiveBack(a.conn, inWindow)) }()
		}
	}

	// CPU samples at the window's edges.
	type sample struct{ server, own time.Duration }
	take := func() sample {
		var s sample
		if o.pid != 0 {
			s.server, _ = procstat.CPUTime(o.pid)
		}
		s.own, _ = procstat.CPUTime(0)
		return s
	}
	var at0, at1 sample
	var cpuErr error
	var drops0 int64
	cpuDone := make(chan struct{})
	go func() {
		defer close(cpuDone)
		time.Sleep(time.Until(base.Add(w0)))
		at0 = take()
		drops0, _, _ = udpDrops()
		if o.pid != 0 {
			if _, cpuErr = procstat.CPUTime(o.pid); cpuErr != nil {
				return
			}
		}
		res.load1 = loadAverage()
		time.Sleep(time.Until(base.Add(w1)))
		at1 = take()
	}()

	// Senders: sender k serves allocations k, k+senders, …, each at rate/allocs.
	var sent, errs atomic.Int64
	var swg sync.WaitGroup
	for k := 0; k < o.senders && k < len(allocs); k++ {
		var mine []*allocation
		for i := k; i < len(allocs); i += o.senders {
			mine = append(mine, allocs[i])
		}
		swg.Add(1)
		go func() {
			defer swg.Done()
			n, e := send(mine, srv, o, base, w1, o.rate*float64(len(mine))/float64(len(allocs)), inWindow)
			sent.Add(n)
			errs.Add(e)
		}()
	}
	swg.Wait()
	<-cpuDone
	if cpuErr != nil {
		return nil, fmt.Errorf("server CPU: %w", cpuErr)
	}
	time.Sleep(o.drain)
	for _, p := range peers {
		_ = p.conn.SetReadDeadline(time.Now())
	}
	if o.echo {
		for _, a := range allocs {
			_ = a.conn.SetReadDeadline(time.Now())
		}
	}
	wg.Wait()
	drops1, _, _ := udpDrops()
	res.rcvbufDrops = drops1 - drops0
	for _, a := range allocs {
		_ = a.conn.SetReadDeadline(time.Time{})
	}

	res.sent, res.sendErrs, res.back = sent.Load(), errs.Load(), back.Load()
	res.serverCPU, res.ownCPU = at1.server-at0.server, at1.own-at0.own
	var lat []int32
	for _, p := range peers {
		res.atPeers += p.counted
		lat = append(lat, p.latency...)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.p50 = time.Duration(lat[len(lat)/2]) * time.Microsecond
		res.p99 = time.Duration(lat[len(lat)*99/100]) * time.Microsecond
	}
	if res.atPeers == 0 {
		return nil, fmt.Errorf("%s: none of %d packets reached the peers on %s (does the server's peer policy drop them?)",
			o.label, res.sent, o.peerIP)
	}
	fmt.Fprintf(os.Stderr, "turnload: %s: window %v: sent %d, at peers %d, back %d, send errors %d, kernel UDP receive-buffer drops (every socket on the machine) %d, server CPU %v, own CPU %v, p50 %v, p99 %v, load %s\n",
		o.label, o.duration, res.sent, res.atPeers, res.back, res.sendErrs, res.rcvbufDrops, res.serverCPU, res.ownCPU, res.p50, res.p99, res.load1)
	return res, nil
}

// send paces ChannelData over allocs at rate packets/s in total until base+end, one sendmmsg per
// allocation per tick, rotating over each allocation's channels. It returns the packets sent with a
// timestamp in the window and the send errors.
func send(allocs []*allocation, srv *net.UDPAddr, o options, base time.Time, end time.Duration, rate float64, inWindow func(int64) bool) (counted, errs int64) {
	const maxBatch = 256
	st := make([]*sender, len(allocs))
	for i, a := range allocs {
		s := &sender{pc: ipv4.NewPacketConn(a.conn), msgs: make([]ipv4.Message, maxBatch)}
		for m := range s.msgs {
			b := make([]byte, 4+o.size)
			binary.BigEndian.PutUint16(b[2:], uint16(o.size))
			s.msgs[m] = ipv4.Message{Buffers: [][]byte{b}, Addr: srv}
		}
		st[i] = s
	}
	var total int64 // packets sent so far, all of this sender's allocations
	rr := 0         // allocation that gets the next packet's remainder
	for {
		now := time.Since(base)
		if now >= end {
			return counted, errs
		}
		due := int64(rate*now.Seconds()) - total
		if due > int64(maxBatch*len(allocs)) {
			due = int64(maxBatch * len(allocs)) // descheduled for long: do not burst without bound
			total = int64(rate*now.Seconds()) - due
		}
		ts := int64(now)
		in := inWindow(ts)
		if due > 0 {
			// Spread due over the allocations; the remainder goes to the next ones in turn.
			per, extra := int(due)/len(st), int(due)%len(st)
			for i := range st {
				k := (rr + i) % len(st)
				n := per
				if i < extra {
					n++
				}
				if n > 0 {
					w := st[k].write(allocs[k].channels, n, ts, &errs)
					total += int64(n)
					if in {
						counted += int64(w)
					}
				}
			}
			rr = (rr + extra) % len(st)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// sender is one allocation's ChannelData batch.
type sender struct {
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
	next int // index of the channel for the next packet
}

// write sends n packets stamped ts (n ≤ len(msgs)) with one or more sendmmsg calls, rotating over
// channels, and returns how many the kernel took.
func (s *sender) write(channels []uint16, n int, ts int64, errs *int64) int {
	for m := 0; m < n; m++ {
		b := s.msgs[m].Buffers[0]
		binary.BigEndian.PutUint16(b[0:], channels[s.next])
		s.next = (s.next + 1) % len(channels)
		binary.BigEndian.PutUint64(b[4:], uint64(ts))
	}
	w := 0
	for w < n {
		k, err := s.pc.WriteBatch(s.msgs[w:n], 0)
		if err != nil {
			*errs++
			break
		}
		w += k
	}
	return w
}

// peer is a UDP sink (or echo) on the peer IP.
type peer struct {
	conn    *net.UDPConn
	addr    netip.AddrPort
	counted int64   // packets with a timestamp in the window
	latency []int32 // their one-way latency in µs
}

func newPeer(ip string) (*peer, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	return &peer{conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}, nil
}

// receive counts packets until the read deadline; with echo it sends each back to where it came from
// (the relay address).
func (p *peer) receive(base time.Time, inWindow func(int64) bool, echo bool) {
	pc := ipv4.NewPacketConn(p.conn)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	out := make([]ipv4.Message, 64)
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		now := int64(time.Since(base))
		for i := 0; i < n; i++ {
			m := &msgs[i]
			if echo {
				out[i] = ipv4.Message{Buffers: [][]byte{m.Buffers[0][:m.N]}, Addr: m.Addr}
			}
			if m.N < 8 {
				continue
			}
			ts := int64(binary.BigEndian.Uint64(m.Buffers[0][:8]))
			if inWindow(ts) {
				p.counted++
				p.latency = append(p.latency, int32((now-ts)/int64(time.Microsecond)))
			}
		}
		if echo && n > 0 {
			for w := 0; w < n; {
				k, err := pc.WriteBatch(out[w:n], 0)
				if err != nil {
					break
				}
				w += k
			}
		}
	}
}

// receiveBack counts the ChannelData a client receives back (--echo) with a timestamp in the window,
// until the read deadline.
func receiveBack(c *net.UDPConn, inWindow func(int64) bool) int64 {
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	var counted int64
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return counted
		}
		for i := 0; i < n; i++ {
			b := msgs[i].Buffers[0][:msgs[i].N]
			if len(b) < 12 || b[0]&0xc0 != 0x40 { // not ChannelData
				continue
			}
			if inWindow(int64(binary.BigEndian.Uint64(b[4:12]))) {
				counted++
			}
		}
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	var l1 string
	fmt.Sscan(string(b), &l1)
	return l1
}
