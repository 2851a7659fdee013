package bridge

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The bridge channel over WebSocket (dialect §6.1): /colibri-ws/<bridge-id>/<conference-id>/<endpoint-id>
// ?pwd=<password>. A wrong bridge, conference or endpoint is 404, a wrong password 403. The bridge sends
// ServerHello on accept; a newer socket for the same endpoint replaces the older one. Each socket has a
// writer goroutine fed by a bounded queue: a receiver that does not read is disconnected, never waited for.

const (
	channelQueue     = 64
	channelReadLimit = 64 << 10
	channelPing      = 15 * time.Second
	channelWriteWait = 5 * time.Second
	// maxListedSources bounds the selectedSources and onStageSources a receiver can name (more are
	// ignored): a stage holds a few, and every constraint update walks them once per slot.
	maxListedSources = 64
)

// ChannelHandler serves /colibri-ws/… on the HTTPS server. A page may open
// the channel from the host the request came in on, or from a host matching
// one of originPatterns (github.com/coder/websocket AcceptOptions.OriginPatterns:
// path.Match patterns of the Origin's host[:port]); Parley passes the rule its
// /xmpp-websocket applies, so the two endpoints agree. Other Origins get 403.
func (b *Bridge) ChannelHandler(originPatterns ...string) http.Handler {
	opts := &websocket.AcceptOptions{OriginPatterns: append([]string(nil), originPatterns...)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.serveChannel(w, r, opts) })
}

func (b *Bridge) serveChannel(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/colibri-ws/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/colibri-ws/") || len(parts) != 3 || parts[0] != b.cfg.ID {
		http.NotFound(w, r)
		return
	}
	e, err := b.endpoint(parts[1], parts[2])
	if err != nil || e.expired.Load() {
		http.NotFound(w, r)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("pwd")), []byte(e.channelPwd)) != 1 {
		http.Error(w, "authentication failed", http.StatusForbidden)
		return
	}
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	c.SetReadLimit(channelReadLimit)
	ws := &wsConn{c: c, out: make(chan []byte, channelQueue), done: make(chan struct{}), stopped: make(chan struct{})}
	go ws.writeLoop()
	if old := e.ch.attach(ws); old != nil {
		old.close(websocket.StatusNormalClosure, "replaced")
	}
	if e.expired.Load() {
		ws.close(websocket.StatusGoingAway, "endpoint expired")
	}
	e.onChannelOpen(ws)
	for {
		typ, data, err := c.Read(r.Context())
		if err != nil {
			break
		}
		if typ == websocket.MessageText {
			e.onChannelMessage(data)
		}
	}
	e.ch.detach(ws)
	ws.close(websocket.StatusNormalClosure, "")
	<-ws.stopped
}

// wsConn is one bridge channel socket.
type wsConn struct {
	c       *websocket.Conn
	out     chan []byte
	done    chan struct{} // closed by close
	once    sync.Once
	code    websocket.StatusCode
	reason  string
	stopped chan struct{}
}

func (ws *wsConn) writeLoop() {
	defer close(ws.stopped)
	ping := time.NewTicker(channelPing)
	defer ping.Stop()
	for {
		select {
		case msg := <-ws.out:
			ctx, cancel := context.WithTimeout(context.Background(), channelWriteWait)
			err := ws.c.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				ws.close(websocket.StatusGoingAway, "write failed")
			}
		case <-ping.C:
			ctx, cancel := context.WithTimeout(context.Background(), channelWriteWait)
			err := ws.c.Ping(ctx)
			cancel()
			if err != nil {
				ws.close(websocket.StatusGoingAway, "ping failed")
			}
		case <-ws.done:
			_ = ws.c.Close(ws.code, ws.reason)
			return
		}
	}
}

// send queues msg; a full queue closes the socket (slow consumer).
func (ws *wsConn) send(msg []byte) {
	select {
	case ws.out <- msg:
	case <-ws.done:
	default:
		ws.close(websocket.StatusPolicyViolation, "too slow")
	}
}

func (ws *wsConn) close(code websocket.StatusCode, reason string) {
	ws.once.Do(func() {
		ws.code, ws.reason = code, reason
		close(ws.done)
	})
}

// channelConn is one transport of the bridge channel: a WebSocket (wsConn) or the SCTP data channel
// (dcConn). send queues and never blocks (a full queue closes the transport); close is idempotent.
type channelConn interface {
	send(msg []byte)
	close(code websocket.StatusCode, reason string)
}

// channel is an endpoint's bridge channel state. Whichever transport attached last is current.
type channel struct {
	mu        sync.Mutex // guards everything below
	ws        channelConn
	closed    bool
	forwarded []string
	settings  ReceiverSettings
}

func (ch *channel) init() {
	ch.settings = ReceiverSettings{LastN: -1, DefaultMaxHeight: 180, Constraints: map[string]int{},
		DefaultMaxFrameRate: -1, FrameRates: map[string]float64{}, SourceVideoTypes: map[string]string{}}
}

// attach makes ws the current transport and returns the one it replaces.
func (ch *channel) attach(ws channelConn) channelConn {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	old := ch.ws
	ch.ws = ws
	if ch.closed {
		ws.close(websocket.StatusGoingAway, "endpoint expired")
	}
	return old
}

func (ch *channel) detach(ws channelConn) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.ws == ws {
		ch.ws = nil
	}
}

// close ends the channel for good (endpoint expired).
func (ch *channel) close() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.closed = true
	if ch.ws != nil {
		ch.ws.close(websocket.StatusGoingAway, "endpoint expired")
	}
}

// sendJSON marshals v and queues it on the current socket; without one the message is dropped (the
// state it carries is resent on open).
func (ch *channel) sendJSON(v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	ch.sendRaw(raw)
}

func (ch *channel) sendRaw(raw []byte) {
	ch.mu.Lock()
	ws := ch.ws
	ch.mu.Unlock()
	if ws != nil {
		ws.send(raw)
	}
}

// announce sends newly mapped slots.
func (ch *channel) announce(video, audio []*slotMapping) {
	if len(video) > 0 {
		ch.sendJSON(sourcesMap{Class: classVideoSourcesMap, Mapped: video})
	}
	if len(audio) > 0 {
		ch.sendJSON(sourcesMap{Class: classAudioSourcesMap, Mapped: audio})
	}
}

// sendForwarded sends ForwardedSources when the list changed.
func (ch *channel) sendForwarded(list []string) {
	ch.mu.Lock()
	same := ch.forwarded != nil && equalStrings(ch.forwarded, list)
	ch.forwarded = list
	ch.mu.Unlock()
	if !same {
		ch.sendJSON(forwardedSources{Class: classForwardedSources, Sources: list})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// onChannelOpen sends the greeting and the current state to a new transport.
func (e *Endpoint) onChannelOpen(ws channelConn) {
	send := func(v any) {
		if raw, err := json.Marshal(v); err == nil {
			ws.send(raw)
		}
	}
	send(serverHello{Class: classServerHello})
	video, audio := e.mappings()
	if len(video) > 0 {
		send(sourcesMap{Class: classVideoSourcesMap, Mapped: video})
	}
	if len(audio) > 0 {
		send(sourcesMap{Class: classAudioSourcesMap, Mapped: audio})
	}
	e.sendMu.Lock()
	fwd := e.forwardedLocked()
	e.sendMu.Unlock()
	send(forwardedSources{Class: classForwardedSources, Sources: fwd})
	for _, m := range e.senderConstraintMsgs() {
		send(m)
	}
	e.conf.speech.sendCurrent(ws)
}

// onChannelMessage handles one message from the endpoint.
func (e *Endpoint) onChannelMessage(data []byte) {
	var head struct {
		Class string `json:"colibriClass"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		e.log.Debug("bridge channel: bad message", "err", err)
		return
	}
	switch head.Class {
	case classClientHello:
		e.ch.sendJSON(serverHello{Class: classServerHello})
	case classEndpointMessage, classEndpointStats:
		e.relay(head.Class, data)
	case classReceiverConstraints:
		var m receiverVideoConstraints
		if json.Unmarshal(data, &m) == nil {
			e.onReceiverConstraints(&m)
		}
	case classLastNChanged:
		var m lastNChanged
		if json.Unmarshal(data, &m) == nil {
			e.ch.mu.Lock()
			e.ch.settings.LastN = m.LastN
			e.ch.mu.Unlock()
			e.updateLimits()
		}
	case classSourceVideoType:
		var m sourceVideoType
		if json.Unmarshal(data, &m) == nil && isToken(m.SourceName) {
			e.ch.mu.Lock()
			if len(e.ch.settings.SourceVideoTypes) < 64 {
				e.ch.settings.SourceVideoTypes[m.SourceName] = strings.ToLower(m.VideoType)
			}
			e.ch.mu.Unlock()
		}
	default:
		e.log.Debug("bridge channel: unknown message dropped", "class", head.Class)
	}
}

// relay passes EndpointMessage (to one endpoint, or all when "to" is empty) and EndpointStats (to all)
// on, with "from" set by the bridge; other keys are kept.
func (e *Endpoint) relay(class string, data []byte) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return
	}
	from, _ := json.Marshal(e.id)
	m["from"] = from
	var to string
	if class == classEndpointMessage {
		if raw, ok := m["to"]; ok {
			_ = json.Unmarshal(raw, &to)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return
	}
	for _, r := range e.conf.members() {
		if r == e || (to != "" && r.id != to) {
			continue
		}
		r.ch.sendRaw(out)
	}
}

// onReceiverConstraints stores the receiver's constraints and applies them to its slots (allocate.go);
// the first one turns video on.
func (e *Endpoint) onReceiverConstraints(m *receiverVideoConstraints) {
	e.ch.mu.Lock()
	s := &e.ch.settings
	s.ConstraintsSeen = true
	if m.LastN != nil {
		s.LastN = *m.LastN
	}
	if m.SelectedSources != nil {
		s.SelectedSources = m.SelectedSources[:min(len(m.SelectedSources), maxListedSources)]
	}
	if m.OnStageSources != nil {
		s.OnStageSources = m.OnStageSources[:min(len(m.OnStageSources), maxListedSources)]
	}
	if m.DefaultConstraints != nil && m.DefaultConstraints.MaxHeight != nil {
		s.DefaultMaxHeight = *m.DefaultConstraints.MaxHeight
	}
	if m.DefaultConstraints != nil && m.DefaultConstraints.MaxFrameRate != nil {
		s.DefaultMaxFrameRate = *m.DefaultConstraints.MaxFrameRate
	}
	if m.Constraints != nil && len(m.Constraints) <= 256 {
		s.Constraints, s.FrameRates = map[string]int{}, map[string]float64{}
		for name, c := range m.Constraints {
			if c.MaxHeight != nil {
				s.Constraints[name] = *c.MaxHeight
			}
			if c.MaxFrameRate != nil {
				s.FrameRates[name] = *c.MaxFrameRate
			}
		}
	}
	e.ch.mu.Unlock()
	first := !e.videoOn.Swap(true)
	e.updateLimits()
	if first {
		e.sendMu.Lock()
		var srcs []*source
		for _, sl := range e.videoSlots {
			if sl.src != nil && sl.maxHeight != 0 {
				srcs = append(srcs, sl.src)
			}
		}
		e.sendMu.Unlock()
		now := time.Now().UnixNano()
		for _, src := range srcs {
			src.requestKeyframe(now)
		}
	}
}

// Settings returns a copy of what the endpoint asked for on its bridge channel.
func (b *Bridge) Settings(conferenceID, endpointID string) (ReceiverSettings, error) {
	e, err := b.endpoint(conferenceID, endpointID)
	if err != nil {
		return ReceiverSettings{}, err
	}
	e.ch.mu.Lock()
	defer e.ch.mu.Unlock()
	s := e.ch.settings
	s.Constraints = make(map[string]int, len(e.ch.settings.Constraints))
	for k, v := range e.ch.settings.Constraints {
		s.Constraints[k] = v
	}
	s.FrameRates = maps.Clone(e.ch.settings.FrameRates)
	s.SourceVideoTypes = make(map[string]string, len(e.ch.settings.SourceVideoTypes))
	for k, v := range e.ch.settings.SourceVideoTypes {
		s.SourceVideoTypes[k] = v
	}
	s.SelectedSources = append([]string(nil), s.SelectedSources...)
	s.OnStageSources = append([]string(nil), s.OnStageSources...)
	return s, nil
}
