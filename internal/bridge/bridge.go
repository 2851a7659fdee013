package bridge

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/bridge/bwe"
	"github.com/parley-im/parley/internal/pionlog"
)

// socketBuffer is the media socket's requested receive and send buffer size.
const socketBuffer = 4 << 20

// Bridge is the SFU: it owns the media socket, the DTLS certificate and the conferences.
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	net     transport.Net
	hostNet bool // net is the host's network (not a test's vnet): the media port may have several sockets
	// estCfg is the estimate's start and bounds toward each receiver: zero, bwe's defaults (tests set it).
	estCfg bwe.Config

	// expiredHook, when set (OnEndpointExpired or tests, before Start), is called after an endpoint expires.
	expiredHook func(conferenceID, endpointID, reason string)
	// tap, when set (SetForwardTap, tests), sees every forwarded payload (tap.go).
	tap forwardTap
	// relayHook, when set (OnRelayClosed), is called after a relay ends (relay.go).
	relayHook atomic.Pointer[func(conferenceID, peer, session, reason string)]

	cert        tls.Certificate
	fingerprint string // sha-256 of cert, "AB:CD:…"

	mu          sync.Mutex // guards everything below
	started     bool
	closed      bool
	conferences map[string]*Conference
	conn        net.PacketConn     // media socket, set by Start
	demux       *demux             // reads conn: media to endpoints, the rest to mux (demux.go); set by Start
	mux         *ice.UDPMuxDefault // demultiplexes the rest by ICE ufrag, set by Start
	batch       batchSocket        // sendmmsg on conn, or nil (batch.go); set by Start
	fan         *fanPool           // fan-out workers (fanout.go), or nil; set by Start
	stop        chan struct{}      // closed by Close; stops housekeeping
	wg          sync.WaitGroup     // housekeeping and endpoint goroutines
}

// Option changes how New builds a Bridge beyond what Config can say (things that are not configuration).
type Option func(*Bridge)

// WithNet makes the bridge open its media socket on n instead of the host network: tests use Pion's vnet.
func WithNet(n transport.Net) Option { return func(b *Bridge) { b.net = n } }

// New validates cfg, creates the bridge's DTLS certificate and registers its metrics on reg (a private
// registry when reg is nil). Nothing listens until Start.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("bridge: register metrics: %w", err)
	}
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("bridge: dtls certificate: %w", err)
	}
	x, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("bridge: dtls certificate: %w", err)
	}
	fp, err := fingerprint.Fingerprint(x, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("bridge: dtls fingerprint: %w", err)
	}
	b := &Bridge{
		cfg:         cfg,
		log:         logger.With("component", "bridge"),
		metrics:     m,
		cert:        cert,
		fingerprint: strings.ToUpper(fp), // pion writes lower case; Firefox's SDP parser takes only upper (RFC 8122 §5)
		conferences: map[string]*Conference{},
		stop:        make(chan struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	if b.net == nil {
		b.hostNet = true
		if b.net, err = stdnet.NewNet(); err != nil {
			return nil, fmt.Errorf("bridge: network: %w", err)
		}
	}
	return b, nil
}

// Start opens the media socket and starts housekeeping (keyframe-free timers: receiver reports,
// connectivity status, connect timeouts).
func (b *Bridge) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return nil
	}
	udpAddr, err := b.net.ResolveUDPAddr("udp", b.cfg.MediaAddr)
	if err != nil {
		return fmt.Errorf("bridge: media address: %w", err)
	}
	conns, err := b.listenMedia(udpAddr)
	if err != nil {
		return fmt.Errorf("bridge: listen media: %w", err)
	}
	for _, c := range conns {
		if uc, ok := c.(*net.UDPConn); ok {
			// Every endpoint's media shares the port: room for bursts (a keyframe from each sender at
			// once) where the kernel allows it (net.core.rmem_max and wmem_max cap what is granted).
			_ = uc.SetReadBuffer(socketBuffer)
			_ = uc.SetWriteBuffer(socketBuffer)
		}
	}
	conn := conns[0]
	b.conn = conn
	b.batch = newBatchSocket(conn, b.metrics.forwardDelay)
	b.startFanOut()
	b.demux = newDemux(b, conn)
	for _, c := range conns[1:] {
		b.demux.addSocket(c)
	}
	b.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{
		UDPConn: icePacketConn{b.demux},
		Net:     b.net,
		Logger:  pionlog.New(b.log).NewLogger("udpmux"),
	})
	b.started = true
	b.wg.Add(3 + len(conns))
	b.demux.start(b.wg.Done)
	go b.housekeeping()
	go b.feedbackLoop()
	go b.congestionLoop()
	b.log.Info("media socket open", "addr", conn.LocalAddr().String(), "readers", len(conns))
	return nil
}

// MediaAddr returns the media socket's address (useful with port 0), or nil before Start.
func (b *Bridge) MediaAddr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return nil
	}
	return b.conn.LocalAddr()
}

// OnEndpointExpired has fn called after each endpoint expires, whoever expired it (the focus, a connect
// timeout, ICE failure, Close), on the goroutine that expired it; fn must not block. Call it before Start.
// The focus–bridge API turns it into its "endpoint expired" event.
func (b *Bridge) OnEndpointExpired(fn func(conferenceID, endpointID, reason string)) {
	b.expiredHook = fn
}

// ID returns the bridge's ID (the <bridge-id> of channel URLs).
func (b *Bridge) ID() string { return b.cfg.ID }

// Close expires every endpoint, stops housekeeping and closes the media socket. It waits for the bridge's
// goroutines to end.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	confs := make([]*Conference, 0, len(b.conferences))
	for _, c := range b.conferences {
		confs = append(confs, c)
	}
	close(b.stop)
	mux := b.mux
	b.mu.Unlock()

	for _, c := range confs {
		c.expireAll()
		c.closeRelays(ErrClosed)
	}
	var err error
	if mux != nil {
		err = mux.Close()
	}
	b.wg.Wait()
	return err
}

// conference returns the conference with id, creating it when create is set.
func (b *Bridge) conference(id string, create bool) (*Conference, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if !b.started {
		return nil, fmt.Errorf("bridge: not started: %w", ErrClosed)
	}
	c := b.conferences[id]
	if c == nil {
		if !create {
			return nil, fmt.Errorf("%w: %s", ErrConferenceNotFound, id)
		}
		c = newConference(b, id)
		b.conferences[id] = c
		b.metrics.conferences.Inc()
	}
	return c, nil
}

// removeConferenceIfEmpty forgets c once it has no endpoints.
func (b *Bridge) removeConferenceIfEmpty(c *Conference) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conferences[c.id] != c || !c.empty() {
		return
	}
	delete(b.conferences, c.id)
	b.metrics.conferences.Dec()
	b.metrics.dropConference(c.id)
	if c.hasRelays() {
		b.wg.Add(1)
		go func() { // not under b.mu: closing takes c.mu and the agents
			defer b.wg.Done()
			c.closeRelays(errConferenceEnded)
		}()
	}
}

// endpoint finds an endpoint by conference and endpoint ID.
func (b *Bridge) endpoint(confID, epID string) (*Endpoint, error) {
	c, err := b.conference(confID, false)
	if err != nil {
		return nil, err
	}
	e := c.endpoint(epID)
	if e == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrEndpointNotFound, confID, epID)
	}
	return e, nil
}

// AllocateEndpoint creates an endpoint (and its conference on first use) and returns the bridge's side
// of the session: ICE credentials and candidates, DTLS fingerprint, send slots and bridge channel.
func (b *Bridge) AllocateEndpoint(req AllocateRequest) (*Allocation, error) {
	if !isToken(req.ConferenceID) || !isToken(req.EndpointID) {
		return nil, fmt.Errorf("%w: conference %q endpoint %q", ErrInvalidID, req.ConferenceID, req.EndpointID)
	}
	c, err := b.conference(req.ConferenceID, true)
	if err != nil {
		return nil, err
	}
	e, err := c.allocate(req.EndpointID)
	if err != nil {
		b.removeConferenceIfEmpty(c)
		return nil, err
	}
	return e.allocation(), nil
}

// SetAnswer gives an allocated endpoint its side of the session; ICE checks start at once and DTLS
// follows on the selected pair. The endpoint's sources become visible to the other endpoints.
func (b *Bridge) SetAnswer(a Answer) error {
	e, err := b.endpoint(a.ConferenceID, a.EndpointID)
	if err != nil {
		return err
	}
	return e.setAnswer(a)
}

// UpdateSources replaces an endpoint's signalled sources.
func (b *Bridge) UpdateSources(u SourcesUpdate) error {
	e, err := b.endpoint(u.ConferenceID, u.EndpointID)
	if err != nil {
		return err
	}
	srcs, err := e.conf.validateSources(e.id, u.Sources, u.Groups)
	if err != nil {
		return err
	}
	e.conf.setSources(e, srcs)
	return nil
}

// ExpiredByFocus is the reason an endpoint expired through Expire carries to OnEndpointExpired.
const ExpiredByFocus = "expired by focus"

// Expire removes an endpoint: its transport closes, its slots elsewhere are freed and announced.
func (b *Bridge) Expire(r ExpireRequest) error {
	e, err := b.endpoint(r.ConferenceID, r.EndpointID)
	if err != nil {
		return err
	}
	e.expire(ExpiredByFocus)
	return nil
}

// housekeeping runs the bridge's timers in one goroutine: receiver reports toward senders, connectivity
// status events and connect timeouts.
func (b *Bridge) housekeeping() {
	defer b.wg.Done()
	tick := b.cfg.InactiveAfter / 4
	tick = min(max(tick, 10*time.Millisecond), 500*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.mu.Lock()
			confs := make([]*Conference, 0, len(b.conferences))
			for _, c := range b.conferences {
				confs = append(confs, c)
			}
			b.mu.Unlock()
			for _, c := range confs {
				c.housekeeping(now)
			}
		}
	}
}
