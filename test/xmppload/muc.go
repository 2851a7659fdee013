package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The MUC benchmarks (XEP-0045), both on one room of N occupants at
// conference.<domain>:
//
//	muc-fanout  S of the N occupants send groupchat, each with at most W
//	            messages in flight (a token comes back when the sender sees
//	            its own echo, which the room sends like every other copy);
//	            every occupant counts what it receives. Reports stanzas
//	            delivered per second (messages × recipients), latency from
//	            the body's timestamp, and deliveries per server CPU-second.
//	muc-join    a join storm: N logged-in clients send their join presence
//	            to a fresh room at once; the storm is over when every client
//	            has the presence of all N occupants (itself included). Reports
//	            the time, the presence stanzas the clients received, and the
//	            server's CPU; repeated --rounds times with a new room each time
//	            (everyone leaves in between).

type mucResult struct {
	Mode      string `json:"mode"`
	Server    string `json:"server"`
	ServerCmd string `json:"server_cmd,omitempty"`
	Command   string `json:"command"`
	Occupants int    `json:"occupants"`
	Time      string `json:"time"`

	// muc-fanout
	Senders          int     `json:"senders,omitempty"`
	Window           int     `json:"window,omitempty"`
	Seconds          float64 `json:"seconds,omitempty"`
	Delivered        int64   `json:"delivered,omitempty"`
	StanzasPerSec    float64 `json:"stanzas_per_s,omitempty"`
	MessagesPerSec   float64 `json:"messages_per_s,omitempty"`
	P50Ms            float64 `json:"p50_ms,omitempty"`
	P99Ms            float64 `json:"p99_ms,omitempty"`
	PerServerCPU     float64 `json:"stanzas_per_server_cpu_s,omitempty"`
	Sent             int64   `json:"sent_total,omitempty"`
	Lost             int64   `json:"lost"`
	Errors           int64   `json:"errors"`
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`

	// muc-join
	Rounds          int       `json:"rounds,omitempty"`
	JoinMs          []float64 `json:"join_ms,omitempty"`  // per round: last self-presence
	StormMs         []float64 `json:"storm_ms,omitempty"` // per round: everyone sees everyone
	MedianStormMs   float64   `json:"median_storm_ms,omitempty"`
	PresencesRound  int64     `json:"presences_per_round,omitempty"` // received by all clients, per round
	ServerCPUPerRnd float64   `json:"server_cpu_s_per_round,omitempty"`
}

type mucOpts struct {
	common
	occupants int
	mucDomain string
	// fanout
	senders  int
	window   int
	duration time.Duration
	warmup   time.Duration
	bodySize int
	// join
	rounds int
}

// occupant is one client in the benchmark room.
type occupant struct {
	c     *client
	nick  string
	self  string        // room/nick
	onMsg func(*stanza) // set before the reader starts
	onPre func(*stanza)

	window chan struct{} // fanout: send tokens, returned by the echo
	sent   atomic.Int64

	// Updated by this client's reader only; read after it exits.
	delivered int64
	received  int64
	errors    int64
	latencies []int64
}

func runMUC(mode string, args []string) error {
	var o mucOpts
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	o.register(fs)
	fs.IntVar(&o.occupants, "occupants", 100, "occupants in the room")
	fs.StringVar(&o.mucDomain, "muc", "", "MUC service (default conference.<domain>)")
	if mode == "muc-fanout" {
		fs.IntVar(&o.senders, "senders", 10, "occupants that send groupchat")
		fs.IntVar(&o.window, "window", 4, "groupchat messages in flight per sender")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured interval")
		fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "sending before measuring starts")
		fs.IntVar(&o.bodySize, "body", 64, "message body size in bytes")
	} else {
		fs.IntVar(&o.rounds, "rounds", 5, "join storms, each into a new room")
	}
	fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", mode, fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.mucDomain == "" {
		o.mucDomain = "conference." + o.domain
	}
	if o.occupants < 2 || o.senders < 0 || o.senders > o.occupants {
		return fmt.Errorf("%s: need 2 or more occupants and at most that many senders", mode)
	}
	if _, err := raiseNoFile(uint64(o.occupants) + 64); err != nil {
		return err
	}
	ctx, cancel := o.context()
	defer cancel()
	clients, err := o.connectMany(ctx, o.occupants, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%s: login: %w", mode, err)
	}
	defer closeAll(clients)
	occ := make([]*occupant, len(clients))
	for i, c := range clients {
		occ[i] = &occupant{c: c, nick: fmt.Sprintf("o%d", i)}
	}
	var readers sync.WaitGroup
	start := func() {
		for _, p := range occ {
			readers.Add(1)
			go func() {
				defer readers.Done()
				p.read()
			}()
		}
	}
	var r *mucResult
	var finish func()
	if mode == "muc-fanout" {
		r, finish, err = o.fanout(ctx, occ, start)
	} else {
		r, err = o.join(ctx, occ, start)
	}
	closeAll(clients)
	readers.Wait()
	if err != nil {
		return fmt.Errorf("%s: %w", mode, err)
	}
	if finish != nil {
		finish() // the readers are done: their counters are final
	}
	r.Mode, r.Server, r.ServerCmd, r.Command, r.Occupants = mode, o.server, o.command, toolCommand(), o.occupants
	var readable string
	if mode == "muc-fanout" {
		readable = fmt.Sprintf("muc-fanout %s: %d occupants, %d senders, window %d: %.0f stanzas/s delivered (%.0f msg/s), p50 %.2f ms p99 %.2f ms, %.0f per server CPU-second, lost %d, errors %d",
			o.server, o.occupants, o.senders, o.window, r.StanzasPerSec, r.MessagesPerSec, r.P50Ms, r.P99Ms, r.PerServerCPU, r.Lost, r.Errors)
	} else {
		readable = fmt.Sprintf("muc-join %s: %d occupants, %d rounds: storm %v ms (median %.1f), joins done %v ms, %d presences per round, server CPU %.3fs per round",
			o.server, o.occupants, o.rounds, r.StormMs, r.MedianStormMs, r.JoinMs, r.PresencesRound, r.ServerCPUPerRnd)
	}
	return o.emit(r, readable)
}

// read hands messages and presence to the occupant's callbacks and answers
// IQs (server pings), until the stream ends.
func (p *occupant) read() {
	for {
		s, err := p.c.next()
		if err != nil {
			return
		}
		switch s.name.Local {
		case "message":
			if p.onMsg != nil {
				p.onMsg(s)
			}
		case "presence":
			if p.onPre != nil {
				p.onPre(s)
			}
		case "iq":
			if s.typ != "get" && s.typ != "set" {
				continue
			}
			reply := `<iq type='result' id='` + escape(s.id) + `'` + toAttr(s.from) + `/>`
			if !s.has(nsPing, "ping") {
				reply = `<iq type='error' id='` + escape(s.id) + `'` + toAttr(s.from) +
					`><error type='cancel'><service-unavailable xmlns='` + nsStanzas + `'/></error></iq>`
			}
			if p.c.send(reply) != nil {
				return
			}
		}
	}
}

func roomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// joinAll has every occupant join room one after another (the fanout's
// set-up, not measured) and waits for each self-presence.
func joinAll(ctx context.Context, occ []*occupant, room string) error {
	for _, p := range occ {
		p.self = room + "/" + p.nick
		joined := make(chan error, 1)
		self := p.self
		p.onPre = func(s *stanza) {
			if s.from != self {
				return
			}
			switch s.typ {
			case "":
				select {
				case joined <- nil:
				default:
				}
			case "error":
				select {
				case joined <- fmt.Errorf("join %s: %s", self, s.condition(nsStanzas)):
				default:
				}
			}
		}
		if err := p.c.send(`<presence to='` + escape(self) + `'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`); err != nil {
			return err
		}
		select {
		case err := <-joined:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("join %s: %w", self, context.Cause(ctx))
		}
	}
	return nil
}

func (o *mucOpts) fanout(ctx context.Context, occ []*occupant, startReaders func()) (*mucResult, func(), error) {
	room := roomName("fanout") + "@" + o.mucDomain
	clock := time.Now()
	var measuring atomic.Bool
	var receivedAll atomic.Int64
	sampleCap := maxLatencySamples / len(occ)
	for _, p := range occ {
		p.latencies = make([]int64, 0, min(sampleCap, 1<<14))
		p.window = make(chan struct{}, o.window)
		for range o.window {
			p.window <- struct{}{}
		}
		p.onMsg = func(s *stanza) {
			if s.typ == "error" {
				p.errors++
				return
			}
			if s.typ != "groupchat" {
				return
			}
			seq, sentAt, ok := parseBody(s.body)
			if !ok || seq < 0 {
				return
			}
			p.received++
			receivedAll.Add(1)
			if measuring.Load() {
				p.delivered++
				if len(p.latencies) < sampleCap {
					p.latencies = append(p.latencies, int64(time.Since(clock))-sentAt)
				}
			}
			if s.from == p.self {
				select {
				case p.window <- struct{}{}:
				default:
				}
			}
		}
	}
	startReaders()
	if err := joinAll(ctx, occ, room); err != nil {
		return nil, nil, err
	}

	stopSending := make(chan struct{})
	stop := sync.OnceFunc(func() { close(stopSending) })
	defer stop()
	var senders sync.WaitGroup
	for _, p := range occ[:o.senders] {
		senders.Add(1)
		go func() {
			defer senders.Done()
			o.sendGroupchat(p, room, clock, stopSending)
		}()
	}
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
	}
	srv0, err := o.serverCPU()
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	measuring.Store(true)
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	t1 := time.Now()
	srv1, err := o.serverCPU()
	if err != nil {
		return nil, nil, err
	}
	stop()
	senders.Wait()
	var sent int64
	for _, p := range occ[:o.senders] {
		sent += p.sent.Load()
	}
	want := sent * int64(len(occ))
	drainBy := time.Now().Add(5 * time.Second)
	for receivedAll.Load() < want && time.Now().Before(drainBy) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	r, finish := o.fanoutResult(occ, sent, want, t1.Sub(t0), srv1-srv0, t0)
	return r, finish, nil
}

// fanoutResult returns the result and the function that fills in the
// readers' counters once they have stopped.
func (o *mucOpts) fanoutResult(occ []*occupant, sent, want int64, d time.Duration, cpu float64, t0 time.Time) (*mucResult, func()) {
	r := &mucResult{Senders: o.senders, Window: o.window, Seconds: round(d.Seconds(), 3), Sent: sent,
		Time: t0.UTC().Format(time.RFC3339)}
	return r, func() {
		var lat []int64
		var received int64
		for _, p := range occ {
			r.Delivered += p.delivered
			r.Errors += p.errors
			received += p.received
			lat = append(lat, p.latencies...)
		}
		r.Lost = want - received
		r.StanzasPerSec = round(float64(r.Delivered)/d.Seconds(), 0)
		r.MessagesPerSec = round(r.StanzasPerSec/float64(len(occ)), 0)
		slices.Sort(lat)
		r.P50Ms = round(percentile(lat, 0.50)/1e6, 3)
		r.P99Ms = round(percentile(lat, 0.99)/1e6, 3)
		if o.pid != 0 && cpu > 0 {
			r.ServerCPUSeconds = round(cpu, 2)
			r.PerServerCPU = round(float64(r.Delivered)/cpu, 0)
		}
	}
}

// sendGroupchat sends to the room while p has window tokens.
func (o *mucOpts) sendGroupchat(p *occupant, room string, clock time.Time, stop <-chan struct{}) {
	prefix := `<message type='groupchat' to='` + escape(room) + `'><body>`
	pad := strings.Repeat("x", max(0, o.bodySize-32))
	buf := make([]byte, 0, 256)
	for seq := 0; ; seq++ {
		select {
		case <-p.window:
		case <-stop:
			return
		}
		buf = append(buf[:0], prefix...)
		buf = strconv.AppendInt(buf, int64(seq), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(time.Since(clock)), 10)
		buf = append(buf, ' ')
		buf = append(buf, pad...)
		buf = append(buf, `</body></message>`...)
		if p.c.send(string(buf)) != nil {
			return
		}
		p.sent.Add(1)
	}
}

func (o *mucOpts) serverCPU() (float64, error) {
	if o.pid == 0 {
		return 0, nil
	}
	return cpuSeconds(o.pid)
}

// round state for the join storm, shared by the readers.
type stormRound struct {
	room      string
	n         int
	presences atomic.Int64
	joined    sync.WaitGroup // self-presence received
	converged sync.WaitGroup // presence of every occupant received
	left      sync.WaitGroup // own unavailable received
	failed    chan error
}

func (o *mucOpts) join(ctx context.Context, occ []*occupant, startReaders func()) (*mucResult, error) {
	var cur atomic.Pointer[stormRound]
	for _, p := range occ {
		var seen map[string]bool
		var seenRound *stormRound
		var joined, converged bool
		p.onPre = func(s *stanza) {
			rd := cur.Load()
			if rd == nil || !strings.HasPrefix(s.from, rd.room+"/") {
				return
			}
			if seenRound != rd {
				seenRound, seen, joined, converged = rd, make(map[string]bool, rd.n), false, false
			}
			self := s.from == rd.room+"/"+p.nick
			switch s.typ {
			case "":
				rd.presences.Add(1)
				if self && !joined {
					joined = true
					rd.joined.Done()
				}
				seen[s.from] = true
				if !converged && len(seen) == rd.n {
					converged = true
					rd.converged.Done()
				}
			case "unavailable":
				if self {
					rd.left.Done()
				}
			case "error":
				select {
				case rd.failed <- fmt.Errorf("join %s: %s", s.from, s.condition(nsStanzas)):
				default:
				}
			}
		}
	}
	startReaders()
	r := &mucResult{Rounds: o.rounds, Time: time.Now().UTC().Format(time.RFC3339)}
	var cpuTotal float64
	var presTotal int64
	wait := func(wg *sync.WaitGroup, rd *stormRound, what string) error {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case err := <-rd.failed:
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
	}
	for range o.rounds {
		rd := &stormRound{room: roomName("storm") + "@" + o.mucDomain, n: len(occ), failed: make(chan error, 1)}
		rd.joined.Add(len(occ))
		rd.converged.Add(len(occ))
		rd.left.Add(len(occ))
		cur.Store(rd)
		cpu0, err := o.serverCPU()
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		var sends sync.WaitGroup
		for _, p := range occ {
			sends.Add(1)
			go func() {
				defer sends.Done()
				p.c.send(`<presence to='` + escape(rd.room+"/"+p.nick) + `'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`)
			}()
		}
		joinedAt := make(chan time.Time, 1)
		go func() { rd.joined.Wait(); joinedAt <- time.Now() }()
		if err := wait(&rd.converged, rd, "join storm"); err != nil {
			return nil, err
		}
		t1 := time.Now()
		cpu1, err := o.serverCPU()
		if err != nil {
			return nil, err
		}
		sends.Wait()
		tj := <-joinedAt
		r.StormMs = append(r.StormMs, round(float64(t1.Sub(t0).Microseconds())/1000, 1))
		r.JoinMs = append(r.JoinMs, round(float64(tj.Sub(t0).Microseconds())/1000, 1))
		cpuTotal += cpu1 - cpu0
		presTotal += rd.presences.Load()
		// Everyone leaves (not measured) before the next round.
		for _, p := range occ {
			if err := p.c.send(`<presence type='unavailable' to='` + escape(rd.room+"/"+p.nick) + `'/>`); err != nil {
				return nil, err
			}
		}
		if err := wait(&rd.left, rd, "leaving"); err != nil {
			return nil, err
		}
	}
	cur.Store(nil)
	sorted := slices.Clone(r.StormMs)
	slices.Sort(sorted)
	r.MedianStormMs = sorted[len(sorted)/2]
	r.PresencesRound = presTotal / int64(o.rounds)
	if o.pid != 0 {
		r.ServerCPUPerRnd = round(cpuTotal/float64(o.rounds), 3)
	}
	return r, nil
}
