package cluster

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// NodeOptions describe a bridge to the cluster.
type NodeOptions struct {
	Region  string
	Version string
	// ChannelBase is the wss://HOST:PORT clients reach the bridge's /colibri-ws/ on.
	ChannelBase string
	// TURN is the bridge node's TURN server, nil when it runs none.
	TURN *TURN
	// Load reports the bridge's current load for a heartbeat (endpoints, packets/s, CPU); nil reports none.
	Load func() Load
	// Interval between heartbeats; HeartbeatInterval when zero.
	Interval time.Duration
	Log      *slog.Logger
}

// Load is the part of a heartbeat a bridge measures.
type Load struct {
	Endpoints        int
	Conferences      int
	PacketsPerSecond float64
	CPU              float64
}

// Node serves one bridge to the cluster: it answers the focus's requests on the bridge's subjects,
// publishes the bridge's endpoint expiries, and sends a heartbeat every interval.
type Node struct {
	b        *bridge.Bridge
	o        NodeOptions
	log      *slog.Logger
	draining atomic.Bool
	drained  chan struct{} // closed once the bridge drains and holds no endpoint
	empty    sync.Once

	mu   sync.Mutex
	nc   *nats.Conn         // guarded by mu: nil before Start and after Close
	sub  *nats.Subscription // guarded by mu
	stop chan struct{}
	wg   sync.WaitGroup
}

// NewNode prepares b to be served; it registers b's endpoint-expired hook, so call it before b.Start.
func NewNode(b *bridge.Bridge, o NodeOptions) *Node {
	if o.Interval <= 0 {
		o.Interval = HeartbeatInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	n := &Node{b: b, o: o, log: o.Log.With("component", "cluster", "bridge", b.ID()), stop: make(chan struct{}),
		drained: make(chan struct{})}
	b.OnEndpointExpired(func(conferenceID, endpointID, reason string) {
		n.publish(subjectEvents, bridgeapi.Event{Kind: bridgeapi.EndpointExpired, Bridge: b.ID(),
			ConferenceID: conferenceID, EndpointID: endpointID, Reason: reason})
		if n.draining.Load() {
			n.checkDrained()
		}
	})
	return n
}

// SetChannelBase sets the wss://HOST:PORT of the bridge's channel (known once its HTTPS port is open);
// call it before Start.
func (n *Node) SetChannelBase(base string) { n.o.ChannelBase = base }

// SetTURN names the bridge node's TURN server in its heartbeats; call it before Start.
func (n *Node) SetTURN(t *TURN) { n.o.TURN = t }

// Start answers requests on nc and starts the heartbeats; the first goes out at once.
func (n *Node) Start(nc *nats.Conn) error {
	sub, err := nc.Subscribe(subjectPrefix+n.b.ID()+".*", func(m *nats.Msg) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.handle(m)
		}()
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to bridge requests: %w", err)
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe to bridge requests: %w", err)
	}
	n.mu.Lock()
	n.nc, n.sub = nc, sub
	n.mu.Unlock()
	n.heartbeat()
	n.wg.Add(1)
	go n.beat()
	return nil
}

// Drain makes the bridge refuse new endpoints and tells the signal nodes at once, whose focus then
// moves the bridge's participants elsewhere; Drained says when none is left.
func (n *Node) Drain() {
	if n.draining.Swap(true) {
		return
	}
	n.publish(subjectEvents, bridgeapi.Event{Kind: bridgeapi.BridgeDraining, Bridge: n.b.ID()})
	n.heartbeat()
	n.checkDrained()
}

// Drained is closed once the bridge drains (Drain) and holds no endpoint.
func (n *Node) Drained() <-chan struct{} { return n.drained }

// checkDrained closes drained if the bridge holds no endpoint; endpoints only go once it drains.
func (n *Node) checkDrained() {
	for _, c := range n.b.Debug().Conferences {
		if len(c.Endpoints) > 0 {
			return
		}
	}
	n.empty.Do(func() { close(n.drained) })
}

// Close stops the heartbeats and the requests and tells the signal nodes the bridge is gone; it does
// not close the connection or the bridge.
func (n *Node) Close() {
	n.mu.Lock()
	sub := n.sub
	n.sub = nil
	n.mu.Unlock()
	if sub == nil {
		return
	}
	sub.Unsubscribe()
	close(n.stop)
	n.wg.Wait()
	n.publish(subjectEvents, bridgeapi.Event{Kind: bridgeapi.BridgeGone, Bridge: n.b.ID(), Reason: "shutting down"})
	n.mu.Lock()
	nc := n.nc
	n.nc = nil
	n.mu.Unlock()
	nc.Flush()
}

func (n *Node) beat() {
	defer n.wg.Done()
	t := time.NewTicker(n.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.heartbeat()
		}
	}
}

// heartbeat sends the bridge's state now.
func (n *Node) heartbeat() {
	hb := Heartbeat{Bridge: n.b.ID(), Region: n.o.Region, Version: n.o.Version, ChannelBase: n.o.ChannelBase,
		Draining: n.draining.Load(), TURN: n.o.TURN}
	if n.o.Load != nil {
		l := n.o.Load()
		hb.Endpoints, hb.Conferences, hb.PacketsPerSecond, hb.CPU = l.Endpoints, l.Conferences, l.PacketsPerSecond, l.CPU
	}
	n.publish(subjectHeartbeat, hb)
}

func (n *Node) publish(subject string, v any) {
	n.mu.Lock()
	nc := n.nc
	n.mu.Unlock()
	if nc == nil {
		return
	}
	if err := nc.Publish(subject, mustJSON(v)); err != nil {
		n.log.Debug("publish", "subject", subject, "err", err)
	}
}

// handle answers one request: a flat switch over the request kinds.
func (n *Node) handle(m *nats.Msg) {
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	var r reply
	var err error
	switch op {
	case opAllocate:
		r, err = n.allocate(m.Data)
	case opAnswer:
		var a bridge.Answer
		if err = decode(m.Data, &a); err == nil {
			err = n.b.SetAnswer(a)
		}
	case opSources:
		var u bridge.SourcesUpdate
		if err = decode(m.Data, &u); err == nil {
			err = n.b.UpdateSources(u)
		}
	case opExpire:
		var x bridge.ExpireRequest
		if err = decode(m.Data, &x); err == nil {
			err = n.b.Expire(x)
		}
	default:
		err = fmt.Errorf("cluster: unknown request %q", op)
	}
	if err != nil {
		r = errorReply(err)
	}
	if m.Reply != "" {
		if err := m.Respond(mustJSON(r)); err != nil {
			n.log.Debug("reply", "op", op, "err", err)
		}
	}
}

func (n *Node) allocate(data []byte) (reply, error) {
	if n.draining.Load() {
		return reply{}, bridgeapi.ErrDraining
	}
	var req bridgeapi.AllocateRequest
	if err := decode(data, &req); err != nil {
		return reply{}, err
	}
	a, err := n.b.AllocateEndpoint(bridge.AllocateRequest{ConferenceID: req.ConferenceID, EndpointID: req.EndpointID})
	if err != nil {
		return reply{}, err
	}
	return reply{Allocated: &bridgeapi.Allocated{Bridge: n.b.ID(), Allocation: a, ChannelBase: n.o.ChannelBase}}, nil
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("cluster: bad request: %w", err)
	}
	return nil
}
