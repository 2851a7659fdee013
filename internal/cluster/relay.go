package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// Relay requests (cascading, bridgeapi.Relays) go to parley.bridge.<id>.relay.<op>: a subject of their
// own beside the node's parley.bridge.<id>.<op>, served by RelayService.
const (
	opRelayAllocate = "relay.allocate"
	opRelayConnect  = "relay.connect"
	opRelayUpdate   = "relay.update"
	opRelayExpire   = "relay.expire"
)

// relayReply is the reply to a relay request: the bridge's side of the relay for an allocation.
type relayReply struct {
	Relay *bridge.RelayDescription `json:"relay,omitempty"`
	reply
}

// RelayService answers one bridge's relay requests.
type RelayService struct {
	b   *bridge.Bridge
	sub *nats.Subscription
	wg  sync.WaitGroup
}

// ServeRelays answers b's relay requests on nc until Close.
func ServeRelays(nc *nats.Conn, b *bridge.Bridge) (*RelayService, error) {
	s := &RelayService{b: b}
	sub, err := nc.Subscribe(subjectPrefix+b.ID()+".relay.*", func(m *nats.Msg) {
		s.wg.Add(1)
		go func() { // allocation gathers ICE candidates: other requests do not wait for it
			defer s.wg.Done()
			s.handle(m)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to relay requests: %w", err)
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe to relay requests: %w", err)
	}
	s.sub = sub
	b.OnRelayClosed(func(conferenceID, peer, session, reason string) {
		ev := bridgeapi.Event{Kind: bridgeapi.RelayClosed, Bridge: b.ID(), ConferenceID: conferenceID, Peer: peer, Relay: session, Reason: reason}
		_ = nc.Publish(subjectEvents, mustJSON(ev)) // dropped once the connection closed
	})
	return s, nil
}

// Close stops answering and waits for the requests being answered.
func (s *RelayService) Close() {
	s.sub.Unsubscribe()
	s.wg.Wait()
}

func (s *RelayService) handle(m *nats.Msg) {
	op := m.Subject[strings.LastIndex(m.Subject, ".relay.")+1:]
	var r relayReply
	var err error
	switch op {
	case opRelayAllocate:
		var req bridge.RelayRequest
		if err = decode(m.Data, &req); err == nil {
			r.Relay, err = s.b.AllocateRelay(req)
		}
	case opRelayConnect:
		var req bridge.RelayConnect
		if err = decode(m.Data, &req); err == nil {
			err = s.b.ConnectRelay(req)
		}
	case opRelayUpdate:
		var u bridge.RelayEndpoints
		if err = decode(m.Data, &u); err == nil {
			err = s.b.UpdateRelay(u)
		}
	case opRelayExpire:
		var x bridge.RelayExpire
		if err = decode(m.Data, &x); err == nil {
			err = s.b.ExpireRelay(x)
		}
	default:
		err = fmt.Errorf("cluster: unknown request %q", op)
	}
	if err != nil {
		r = relayReply{reply: errorReply(err)}
	}
	if m.Reply != "" {
		_ = m.Respond(mustJSON(r))
	}
}

// AllocateRelay asks a bridge for its side of a relay.
func (p *Pool) AllocateRelay(ctx context.Context, bridgeID string, r bridge.RelayRequest) (*bridge.RelayDescription, error) {
	rr, err := p.relayCall(ctx, bridgeID, opRelayAllocate, r)
	if err != nil {
		return nil, err
	}
	if rr.Relay == nil {
		return nil, fmt.Errorf("cluster: bridge %s: %s: reply without the relay", bridgeID, opRelayAllocate)
	}
	return rr.Relay, nil
}

// ConnectRelay gives a bridge's relay the peer's side.
func (p *Pool) ConnectRelay(ctx context.Context, bridgeID string, r bridge.RelayConnect) error {
	_, err := p.relayCall(ctx, bridgeID, opRelayConnect, r)
	return err
}

// UpdateRelay replaces the participants behind a bridge's relay.
func (p *Pool) UpdateRelay(ctx context.Context, bridgeID string, u bridge.RelayEndpoints) error {
	_, err := p.relayCall(ctx, bridgeID, opRelayUpdate, u)
	return err
}

// ExpireRelay closes a bridge's relay.
func (p *Pool) ExpireRelay(ctx context.Context, bridgeID string, x bridge.RelayExpire) error {
	_, err := p.relayCall(ctx, bridgeID, opRelayExpire, x)
	return err
}

func (p *Pool) relayCall(ctx context.Context, bridgeID, op string, body any) (relayReply, error) {
	nc, err := p.conn()
	if err != nil {
		return relayReply{}, err
	}
	if _, ok := p.reg.Lookup(bridgeID); !ok {
		return relayReply{}, fmt.Errorf("%w: %s", bridgeapi.ErrUnknownBridge, bridgeID)
	}
	m, err := nc.RequestWithContext(ctx, requestSubject(bridgeID, op), mustJSON(body))
	if err != nil {
		return relayReply{}, fmt.Errorf("cluster: bridge %s: %s: %w", bridgeID, op, err)
	}
	var r relayReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return relayReply{}, fmt.Errorf("cluster: bridge %s: %s: bad reply: %w", bridgeID, op, err)
	}
	return r, r.err()
}

var _ bridgeapi.Relays = (*Pool)(nil)
