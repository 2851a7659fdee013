package bridge

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"

	"github.com/parley-im/parley/internal/pionlog"
)

// Relays cascade one conference across bridges (issue 17; Jitsi's "secure Octo", jitsi-dialect.md
// §12.4). For each other bridge serving the conference, a bridge keeps one relay: an ICE + DTLS-SRTP
// transport to that bridge, whose parameters the focus carries between the two (so no key crosses the
// cluster: SRTP keys come from the DTLS handshake between the bridges, each pinning the other's
// certificate fingerprint):
//
//	focus → bridge A   AllocateRelay{conf, peer B, controlling}     → A's ICE ufrag/pwd, candidates, fingerprint
//	focus → bridge B   AllocateRelay{conf, peer A, remote: A's}    → B's (B starts ICE, controlled; DTLS server)
//	focus → bridge A   ConnectRelay{conf, peer B, remote: B's}     (A starts ICE, controlling; DTLS client)
//	focus → A and B    UpdateRelay{conf, peer, endpoints behind the peer with their sources}
//	focus → A and B    ExpireRelay{conf, peer} when the peer has no more participants of the conference
//
// A relay is built from pion/ice, dtls and srtp directly, like an endpoint's transport (transport.go),
// not from a webrtc PeerConnection: it carries the senders' own SSRCs unchanged, any number of them,
// and terminates RTCP itself, which a PeerConnection would want negotiated track by track.
//
// Media: each bridge sends every packet of its local senders' sources that the peer's receivers can use
// (relay.wantsLayer: of video, the layers up to the tallest they want) once over each relay, as the
// sender sent it (header extensions included, so the RFC 6464 audio level reaches the other bridge's
// speaker detection), re-encrypted with the relay's keys: one copy per remote bridge, however many
// receivers it has. The receiving bridge represents each participant behind the relay as a relayed
// endpoint: an Endpoint with no transport of its own (via is the relay) that owns the participant's
// sources, so its receivers' slots, layer selection, last-N and speaker ranking treat relayed sources
// like local senders' sources. A relayed endpoint is a sender only: it is not a member of the
// conference (no slots toward it, no channel, no housekeeping), it only adds its sources and its audio
// levels. Its key-frame requests (PLI) go back over the relay, where the origin bridge asks the sender,
// and so do its NACKs for what was lost between the bridges, which the origin bridge answers from its
// packet cache (relaynack.go).
// Receiver constraints cross the relay as the bridges' own control messages over the relay's DTLS
// association (application data, JSON): each bridge tells its peer the tallest height its receivers want
// of each source behind the relay, and asks its local senders for the tallest any bridge's receivers
// want (SenderSourceConstraints), everything while a peer has not said.

// Relay errors beside the bridge's other errors (errors.go).
var (
	// ErrRelayNotFound: no relay to that peer in the conference.
	ErrRelayNotFound = errors.New("bridge: relay not found")
	// ErrRelayExists: the conference already has a relay to that peer.
	ErrRelayExists = errors.New("bridge: relay already exists")
	// ErrRelayConnected: the relay's remote side was already given.
	ErrRelayConnected = errors.New("bridge: relay already connected")
	// ErrBadPeer: a relay's peer is not a bridge ID, or is this bridge.
	ErrBadPeer = errors.New("bridge: bad relay peer")
)

// RelayDescription is one side of a relay: what the other bridge needs to reach it.
type RelayDescription struct {
	ICE  ICE  `json:"ice"`
	DTLS DTLS `json:"dtls"` // setup "active" (DTLS client) on the controlling side, "passive" on the other
}

// RelayRequest asks a bridge for a relay of a conference it serves to the bridge Peer.
type RelayRequest struct {
	ConferenceID string `json:"conferenceId"`
	Peer         string `json:"peer"`
	// Controlling makes this side ICE-controlling and the DTLS client; the peer's side is the other.
	Controlling bool `json:"controlling,omitempty"`
	// Remote, when set, is the peer's side already: the relay starts connecting at once (ConnectRelay).
	Remote *RelayDescription `json:"remote,omitempty"`
	// Session, when set, names this set-up of the relay ([A-Za-z0-9._-]{1,64}); OnRelayClosed gives it
	// back, so that the focus knows which of its relays to the peer ended.
	Session string `json:"session,omitempty"`
}

// RelayConnect gives a relay the peer's side; ICE and DTLS start.
type RelayConnect struct {
	ConferenceID string           `json:"conferenceId"`
	Peer         string           `json:"peer"`
	Remote       RelayDescription `json:"remote"`
}

// RelayedEndpoint is a participant behind a relay and the sources it sends.
type RelayedEndpoint struct {
	ID      string   `json:"id"`
	Sources []Source `json:"sources,omitempty"`
	Groups  []Group  `json:"groups,omitempty"`
}

// RelayEndpoints replaces the participants behind a relay (those the peer bridge serves).
type RelayEndpoints struct {
	ConferenceID string            `json:"conferenceId"`
	Peer         string            `json:"peer"`
	Endpoints    []RelayedEndpoint `json:"endpoints"`
}

// RelayExpire closes a relay.
type RelayExpire struct {
	ConferenceID string `json:"conferenceId"`
	Peer         string `json:"peer"`
}

// maxRelayedEndpoints bounds the participants one relay may announce.
const maxRelayedEndpoints = 1000

// relay is one conference's transport to one other bridge.
type relay struct {
	c           *Conference
	b           *Bridge
	peer        string
	session     string
	controlling bool

	ufrag, pwd string
	agent      *ice.Agent
	candidates []Candidate
	ctx        context.Context // cancelled by close
	cancel     context.CancelFunc
	dtlsIn     chan []byte
	started    atomic.Bool // ConnectRelay came
	remoteDTLS DTLS        // set by ConnectRelay before the transport starts
	dtlsConn   atomic.Pointer[dtls.Conn]
	done       chan struct{}
	err        atomic.Pointer[error] // why the relay ended, once it did

	// Receive side: whichever reader holds rxMu (the demultiplexer's goroutine for the peer's address
	// once ICE selected it, through the stand-in endpoint in; readLoop for what pion's mux passes on).
	// srtpIn is published by ready.
	rxMu    sync.Mutex
	ready   atomic.Bool
	srtpIn  *srtp.Context
	rtcpDec [1600]byte
	in      atomic.Pointer[Endpoint] // stand-in routed by the demultiplexer, once ICE connected (run)
	// bySSRC maps every relayed SSRC to the relayed endpoint that owns it (copy-on-write).
	bySSRC atomic.Pointer[map[uint32]*Endpoint]

	// endpoints are the participants behind the relay; guarded by c.mu.
	endpoints map[string]*Endpoint

	// Receiver constraints across the relay (constraints.go's messages over the relay's DTLS): what
	// this bridge's receivers want of the relayed sources, last sent (c.mu), and the latest message
	// waiting for the relay's control writer; what the peer's receivers want of this bridge's local
	// sources (c.mu; nil before the peer's first message: then everything).
	wantsSent string
	wantsLast map[uint32]int // wantsSent's wants (c.mu); nil while the peer sends everything
	wantsOut  atomic.Pointer[[]byte]
	wantsKick chan struct{}
	peerWants map[uint32]int                 // by the source's first SSRC: the tallest height, -1 unlimited
	wantsIn   atomic.Pointer[map[uint32]int] // peerWants for the packet path (relayOut), never changed once stored

	// Send side: sendMu guards srtpOut, conn's writes, encBuf and the counters.
	sendMu   sync.Mutex
	srtpOut  *srtp.Context
	conn     *ice.Conn
	dst      *sockaddr // the selected pair's remote for batched sends, nil when the socket cannot batch
	encBuf   [1700]byte
	sent     map[uint32]uint64 // packets relayed, by SSRC
	sentRTCP uint64
	// Retransmission over the relay (relaynack.go; sendMu, nackBuf the reader's rxMu): the local video
	// streams that crossed it, by SSRC, and the budget of the peer's NACKs.
	video     map[uint32]*relayStream
	resent    uint64 // RTX packets sent for the peer's NACKs
	rtxBudget retransmitBudget
	nackBuf   [1600]byte    // the reader's copy of a cached packet (rxMu)
	received  atomic.Uint64 // RTP packets that came over the relay
	// rtt is the relay's round trip, ns, from its ICE pair's connectivity checks (relayRTTs), 0 before
	// one is known.
	rtt atomic.Int64
}

// relaySet is a conference's relays by peer bridge; Conference.mu guards m, list is its snapshot for
// the packet path.
type relaySet struct {
	m    map[string]*relay
	list atomic.Pointer[[]*relay]
}

func (rs *relaySet) publishLocked() {
	l := make([]*relay, 0, len(rs.m))
	for _, r := range rs.m {
		l = append(l, r)
	}
	rs.list.Store(&l)
}

// relayOf returns the conference's relay to peer.
func (b *Bridge) relayOf(confID, peer string) (*relay, error) {
	c, err := b.conference(confID, false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.relays.m[peer]
	if r == nil {
		return nil, fmt.Errorf("%w: %s to %s", ErrRelayNotFound, confID, peer)
	}
	return r, nil
}

// AllocateRelay creates the conference's relay to another bridge and returns this side of it. The
// conference must exist here (the focus asks once it has a participant on this bridge).
func (b *Bridge) AllocateRelay(req RelayRequest) (*RelayDescription, error) {
	if !isToken(req.ConferenceID) {
		return nil, fmt.Errorf("%w: conference %q", ErrInvalidID, req.ConferenceID)
	}
	if !isToken(req.Peer) || req.Peer == b.cfg.ID {
		return nil, fmt.Errorf("%w: %q", ErrBadPeer, req.Peer)
	}
	if req.Session != "" && !isToken(req.Session) {
		return nil, fmt.Errorf("%w: relay session %q", ErrInvalidID, req.Session)
	}
	if req.Remote != nil {
		if err := b.checkRelayRemote(*req.Remote, req.Controlling); err != nil {
			return nil, err
		}
	}
	c, err := b.conference(req.ConferenceID, false)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	exists := c.relays.m[req.Peer] != nil
	c.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("%w: %s to %s", ErrRelayExists, c.id, req.Peer)
	}
	r := &relay{c: c, b: b, peer: req.Peer, session: req.Session, controlling: req.Controlling, ufrag: randString(8), pwd: randString(24),
		dtlsIn: make(chan []byte, 64), done: make(chan struct{}), endpoints: map[string]*Endpoint{}, sent: map[uint32]uint64{},
		video: map[uint32]*relayStream{}, rtxBudget: newRetransmitBudget(b.cfg), wantsKick: make(chan struct{}, 1)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	empty := map[uint32]*Endpoint{}
	r.bySSRC.Store(&empty)
	agent, cands, err := b.newAgent(r.ufrag, r.pwd)
	if err != nil {
		r.cancel()
		return nil, err
	}
	r.agent, r.candidates = agent, cands
	if err := agent.OnConnectionStateChange(func(s ice.ConnectionState) {
		if s == ice.ConnectionStateFailed {
			go r.close(fmt.Errorf("ice %s", s))
		}
	}); err != nil {
		r.cancel()
		_ = agent.Close()
		return nil, err
	}
	c.mu.Lock()
	if c.relays.m[req.Peer] != nil || b.conferenceGone(c) {
		c.mu.Unlock()
		r.cancel()
		_ = agent.Close()
		return nil, fmt.Errorf("%w: %s to %s", ErrRelayExists, c.id, req.Peer)
	}
	if c.relays.m == nil {
		c.relays.m = map[string]*relay{}
	}
	c.relays.m[req.Peer] = r
	c.relays.publishLocked()
	c.senderConstraintsLocked(time.Now().UnixNano()) // the peer's receivers may want every layer
	c.mu.Unlock()
	b.log.Info("relay allocated", "conference", c.id, "peer", r.peer, "controlling", r.controlling)
	if req.Remote != nil {
		if err := r.connect(*req.Remote); err != nil {
			r.close(err)
			return nil, err
		}
	}
	return r.description(), nil
}

// conferenceGone reports whether c was removed from the bridge (its last endpoint left).
func (b *Bridge) conferenceGone(c *Conference) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed || b.conferences[c.id] != c
}

func (r *relay) description() *RelayDescription {
	setup := "passive"
	if r.controlling {
		setup = "active"
	}
	return &RelayDescription{
		ICE:  ICE{Ufrag: r.ufrag, Pwd: r.pwd, Candidates: slices.Clone(r.candidates)},
		DTLS: DTLS{Hash: "sha-256", Fingerprint: r.b.fingerprint, Setup: setup},
	}
}

// checkRelayRemote validates the peer's side of a relay whose local side is controlling or not.
func (b *Bridge) checkRelayRemote(d RelayDescription, controlling bool) error {
	if err := validateICECredentials(d.ICE.Ufrag, d.ICE.Pwd); err != nil {
		return err
	}
	switch strings.ToLower(d.DTLS.Hash) {
	case "sha-256", "sha-384", "sha-512":
	default:
		return fmt.Errorf("%w: hash %q", ErrBadFingerprint, d.DTLS.Hash)
	}
	if !validFingerprint(d.DTLS.Fingerprint) {
		return fmt.Errorf("%w: %q", ErrBadFingerprint, d.DTLS.Fingerprint)
	}
	want := "active"
	if controlling {
		want = "passive"
	}
	if d.DTLS.Setup != want {
		return fmt.Errorf("%w: %q (the peer must be %s)", ErrBadSetup, d.DTLS.Setup, want)
	}
	if len(d.ICE.Candidates) > b.cfg.MaxCandidates {
		return fmt.Errorf("%w: %d candidates", ErrBadICECredentials, len(d.ICE.Candidates))
	}
	return nil
}

// ConnectRelay gives a relay the peer's side: ICE checks start, then the DTLS handshake.
func (b *Bridge) ConnectRelay(req RelayConnect) error {
	r, err := b.relayOf(req.ConferenceID, req.Peer)
	if err != nil {
		return err
	}
	if err := b.checkRelayRemote(req.Remote, r.controlling); err != nil {
		return err
	}
	return r.connect(req.Remote)
}

// connect starts the relay's transport toward the validated remote side d.
func (r *relay) connect(d RelayDescription) error {
	if !r.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: %s to %s", ErrRelayConnected, r.c.id, r.peer)
	}
	r.remoteDTLS = d.DTLS
	for _, c := range d.ICE.Candidates {
		ic, err := r.b.toICECandidate(c)
		if err != nil {
			continue
		}
		_ = r.agent.AddRemoteCandidate(ic)
	}
	r.b.mu.Lock()
	if r.b.closed {
		r.b.mu.Unlock()
		return ErrClosed
	}
	r.b.wg.Add(1)
	r.b.mu.Unlock()
	go r.run(d.ICE.Ufrag, d.ICE.Pwd)
	return nil
}

// run is the relay's transport: ICE, DTLS, SRTP, then it waits until the relay closes.
func (r *relay) run(remoteUfrag, remotePwd string) {
	defer r.b.wg.Done()
	log := r.b.log.With("conference", r.c.id, "relay", r.peer)
	ctx, cancel := context.WithTimeout(r.ctx, r.b.cfg.ConnectTimeout)
	defer cancel()
	var conn *ice.Conn
	var err error
	if r.controlling {
		conn, err = r.agent.Dial(ctx, remoteUfrag, remotePwd)
	} else {
		conn, err = r.agent.Accept(ctx, remoteUfrag, remotePwd)
	}
	if err != nil {
		r.close(fmt.Errorf("ice: %w", err))
		return
	}
	r.b.wg.Add(1)
	go r.readLoop(conn)
	if r.b.demux != nil { // the peer's datagrams skip pion's mux, as an endpoint's do (demux.go)
		in := newEndpointState(r.c, "relay-"+r.peer)
		in.relayIn = r
		r.in.Store(in)
		r.b.demux.route(in, conn.RemoteAddr())
		if r.err.Load() != nil { // closed meanwhile
			r.b.demux.unroute(in)
		}
	}

	dc := &dtlsPacketConn{in: r.dtlsIn, closed: r.ctx.Done(), w: conn, raddr: conn.RemoteAddr(), laddr: conn.LocalAddr()}
	suites := []dtls.CipherSuiteID{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	profiles := []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM}
	var dconn *dtls.Conn
	if r.controlling {
		dconn, err = dtls.ClientWithOptions(dc, conn.RemoteAddr(),
			dtls.WithCertificates(r.b.cert),
			dtls.WithCipherSuites(suites...),
			dtls.WithSRTPProtectionProfiles(profiles...),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
			dtls.WithInsecureSkipVerify(true), // no CA: the certificate is pinned by fingerprint
			dtls.WithVerifyPeerCertificate(r.verifyPeerCertificate),
			dtls.WithReplayProtectionWindow(64),
			dtls.WithLoggerFactory(pionlog.New(log)),
		)
	} else {
		dconn, err = dtls.ServerWithOptions(dc, conn.RemoteAddr(),
			dtls.WithCertificates(r.b.cert),
			dtls.WithCipherSuites(suites...),
			dtls.WithSRTPProtectionProfiles(profiles...),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
			dtls.WithClientAuth(dtls.RequireAnyClientCert),
			dtls.WithInsecureSkipVerify(true),
			dtls.WithVerifyPeerCertificate(r.verifyPeerCertificate),
			dtls.WithReplayProtectionWindow(64),
			dtls.WithLoggerFactory(pionlog.New(log)),
		)
	}
	if err != nil {
		r.close(fmt.Errorf("dtls: %w", err))
		return
	}
	r.dtlsConn.Store(dconn)
	if r.err.Load() != nil { // closed meanwhile
		_ = dconn.Close()
	}
	if err := dconn.HandshakeContext(ctx); err != nil {
		r.close(fmt.Errorf("dtls handshake: %w", err))
		return
	}
	if err := r.startSRTP(dconn, conn); err != nil {
		r.close(fmt.Errorf("srtp: %w", err))
		return
	}
	log.Info("relay connected", "remote", conn.RemoteAddr().String())
	// What the peer's receivers wait for, and what this side's relayed sources' receivers do.
	r.c.relayConnected(r)
	r.b.wg.Add(1)
	go r.writeControl(dconn)
	r.c.mu.Lock()
	r.wantsSent = "" // tell the peer what this side's receivers want, now that it can hear
	r.c.mu.Unlock()
	r.c.senderConstraints()
	// DTLS application data carries the bridges' control messages (wants); reading ends with the
	// association.
	buf := make([]byte, maxControlMessage)
	for {
		n, err := dconn.Read(buf)
		if err != nil {
			r.close(fmt.Errorf("dtls: %w", err))
			return
		}
		r.onControl(buf[:n])
	}
}

// maxControlMessage bounds one control message between bridges (a DTLS record's worth).
const maxControlMessage = 16384

// relayWants is the control message that carries what one bridge's receivers want of the other
// bridge's video sources: by each source's first SSRC, the tallest height (-1 unlimited, 0 none). With
// Bye, it says instead that the sender closes the relay.
type relayWants struct {
	Wants map[uint32]int `json:"wants"`
	Bye   bool           `json:"bye,omitempty"`
}

// relayBye is the control message of a bridge that closes its relay.
var relayBye = []byte(`{"bye":true}`)

// errPeerClosed: the peer bridge closed the relay (its relay message Bye).
var errPeerClosed = errors.New("closed by peer")

// onControl takes the peer's control message (the relay's reader of DTLS application data).
func (r *relay) onControl(raw []byte) {
	var m relayWants
	err := json.Unmarshal(raw, &m)
	if err == nil && m.Bye {
		r.close(errPeerClosed)
		return
	}
	if err != nil || m.Wants == nil || len(m.Wants) > maxRelayedEndpoints*r.b.cfg.MaxSourcesPerEndpoint {
		r.b.log.Debug("relay control message ignored", "conference", r.c.id, "relay", r.peer, "err", err)
		return
	}
	c := r.c
	c.mu.Lock()
	r.peerWants = m.Wants
	r.wantsIn.Store(&m.Wants)
	c.senderConstraintsLocked(time.Now().UnixNano())
	c.mu.Unlock()
}

// writeControl writes the latest control message whenever there is a new one, until the relay ends.
func (r *relay) writeControl(dconn *dtls.Conn) {
	defer r.b.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.wantsKick:
		}
		if msg := r.wantsOut.Swap(nil); msg != nil {
			if _, err := dconn.Write(*msg); err != nil {
				return
			}
		}
	}
}

// verifyPeerCertificate pins the peer bridge's certificate to the fingerprint the focus carried; a
// mismatch ends the relay at once.
func (r *relay) verifyPeerCertificate(raw [][]byte, _ [][]*x509.Certificate) error {
	err := pinnedCertificate(raw, r.remoteDTLS)
	if err != nil {
		go r.close(err)
	}
	return err
}

// pinnedCertificate checks that the first of raw matches want's fingerprint (RFC 8842 §5).
func pinnedCertificate(raw [][]byte, want DTLS) error {
	if len(raw) == 0 {
		return fmt.Errorf("%w: no certificate", ErrFingerprintMismatch)
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	hash, err := fingerprint.HashFromString(want.Hash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	got, err := fingerprint.Fingerprint(cert, hash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToUpper(got)), []byte(strings.ToUpper(want.Fingerprint))) != 1 {
		return ErrFingerprintMismatch
	}
	return nil
}

// startSRTP keys the relay from its DTLS association (RFC 5764 §4.2) and arms both directions.
func (r *relay) startSRTP(dconn *dtls.Conn, conn *ice.Conn) error {
	if p, ok := dconn.SelectedSRTPProtectionProfile(); !ok || p != dtls.SRTP_AEAD_AES_128_GCM {
		return fmt.Errorf("no use_srtp profile negotiated")
	}
	profile := srtp.ProtectionProfileAeadAes128Gcm
	state, ok := dconn.ConnectionState()
	if !ok {
		return fmt.Errorf("no dtls state")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, r.controlling); err != nil {
		return err
	}
	in, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(256), srtp.SRTCPReplayProtection(64))
	if err != nil {
		return err
	}
	out, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return err
	}
	r.sendMu.Lock()
	r.srtpOut, r.conn, r.dst = out, conn, r.b.dstFromAddr(conn.RemoteAddr())
	r.sendMu.Unlock()
	r.c.mu.Lock()
	r.srtpIn = in
	for _, e := range r.endpoints {
		e.srtpIn = in
		e.srtpReady.Store(true)
	}
	r.ready.Store(true) // publishes srtpIn to the reader goroutine
	r.c.mu.Unlock()
	return nil
}

// readLoop reads the relay's datagrams: DTLS to the handshake, SRTCP handled here, SRTP handed to
// the relayed endpoint owning the SSRC, whose packet path is a sender's (forward.go).
func (r *relay) readLoop(conn *ice.Conn) {
	defer r.b.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		r.datagram(buf[:n], time.Time{})
	}
}

// datagram handles one datagram from the peer bridge (either reader).
func (r *relay) datagram(pkt []byte, readAt time.Time) {
	if len(pkt) == 0 {
		return
	}
	r.rxMu.Lock()
	defer r.rxMu.Unlock()
	switch b := pkt[0]; {
	case b >= 20 && b <= 63:
		select {
		case r.dtlsIn <- append([]byte(nil), pkt...):
		default:
		}
	case !r.ready.Load() || len(pkt) < 12:
		r.b.metrics.dropped.WithLabelValues(dropNotReady).Inc()
	case b >= 128 && b <= 191 && pkt[1] >= 192 && pkt[1] <= 223:
		r.handleRTCP(pkt)
	case b >= 128 && b <= 191:
		ssrc := uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
		e := (*r.bySSRC.Load())[ssrc]
		if e == nil {
			r.b.metrics.dropped.WithLabelValues(dropUnsignalled).Inc()
			return
		}
		r.received.Add(1)
		e.receive(pkt, readAt)
	default:
		r.b.metrics.dropped.WithLabelValues(dropOther).Inc()
	}
}

// handleRTCP takes the peer's RTCP: key-frame requests for this bridge's local senders' sources
// (from the peer's receivers) go on to the senders, NACKs for packets lost on the way to the peer are
// answered from the packet cache (relaynack.go); the rest ends here.
func (r *relay) handleRTCP(pkt []byte) {
	dec, err := r.srtpIn.DecryptRTCP(r.rtcpDec[:0], pkt, nil)
	if err != nil {
		r.b.metrics.dropped.WithLabelValues(dropSRTP).Inc()
		return
	}
	pkts, err := rtcp.Unmarshal(dec)
	if err != nil {
		r.b.metrics.dropped.WithLabelValues(dropMalformed).Inc()
		return
	}
	now := time.Now().UnixNano()
	nacks := 0
	for i, p := range pkts {
		if i >= maxRTCPPackets {
			break
		}
		switch p := p.(type) {
		case *rtcp.TransportLayerNack:
			nacks = r.onNACK(p, nacks, now)
		case *rtcp.PictureLossIndication:
			r.c.localKeyframe(p.MediaSSRC, now)
		case *rtcp.FullIntraRequest:
			for j, f := range p.FIR {
				if j >= 4 {
					break
				}
				r.c.localKeyframe(f.SSRC, now)
			}
		}
	}
}

// localKeyframe asks a local sender for a key frame of the layer with ssrc (a peer's receivers need it).
func (c *Conference) localKeyframe(ssrc uint32, now int64) {
	c.mu.Lock()
	var s *inStream
	for _, e := range c.order {
		if s = (*e.inbound.Load())[ssrc]; s != nil {
			break
		}
	}
	c.mu.Unlock()
	if s == nil || s.rtx {
		return
	}
	s.src.wantLayer(s.layer)
	s.src.requestKeyframe(now)
}

// relayOut sends one plaintext packet of sender e's stream s once over each connected relay whose peer's
// receivers want it (wantsLayer; s nil: every relay) (packet path, e's reader). Where the socket batches, the copies join e's send batch, which relayOut returns for the
// caller to flush after adding the local receivers' copies (one sendmmsg for all); nil when it queued
// nothing.
func (c *Conference) relayOut(pkt []byte, e *Endpoint, s *inStream) *sendBatch {
	rs := c.relays.list.Load()
	if rs == nil || len(*rs) == 0 {
		return nil
	}
	var bt *sendBatch
	if e != nil {
		bt = e.sendBatch()
	}
	queued := false
	for _, r := range *rs {
		if s != nil && !r.wantsLayer(s) {
			continue
		}
		if r.sendRTP(pkt, bt, s) {
			queued = true
		}
	}
	if !queued {
		return nil
	}
	return bt
}

// wantsLayer reports whether the peer's receivers may use packets of stream s: audio always, and video
// layers up to the lowest one as tall as the tallest height they want of its source (the layers their
// slots can pick, each its tallest layer within its own maximum, the lowest when none fits: Source's
// source.targetLayer), none when none of them wants it. Before the peer's first message, everything.
// A layer left out goes stale on the peer, whose slots then pick among what comes; when a receiver
// there wants more, the peer says so, the layer comes again, and its slots ask for its key frame.
func (r *relay) wantsLayer(s *inStream) bool {
	src := s.src
	if src.kind != KindVideo {
		return true
	}
	wants := r.wantsIn.Load()
	if wants == nil {
		return true
	}
	want, ok := (*wants)[src.layers[0].ssrc]
	switch {
	case !ok || want < 0:
		return true
	case want == 0:
		return false
	}
	return s.layer == 0 || src.layerHeight(s.layer) <= want
}

// flushPending sends what bt holds.
func flushPending(bt *sendBatch) {
	if bt.pending() {
		bt.flush()
	}
}

// sendRTP encrypts pkt, a packet of local stream s (nil when not known), for the peer and queues it on
// bt (when there is one and the peer's address is known) or writes it at once; it reports whether it
// queued it.
func (r *relay) sendRTP(pkt []byte, bt *sendBatch, s *inStream) (queued bool) {
	if !r.ready.Load() {
		return false
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	ssrc := uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
	if bt != nil && r.dst != nil {
		if bt.full() {
			bt.flush()
		}
		enc, err := r.srtpOut.EncryptRTP(bt.buf(), pkt, nil)
		if err != nil {
			return false
		}
		bt.add(enc, r.dst)
		r.sent[ssrc]++
		r.noteVideoLocked(ssrc, pkt, s)
		return true
	}
	enc, err := r.srtpOut.EncryptRTP(r.encBuf[:0], pkt, nil)
	if err != nil {
		return false
	}
	if _, err := r.conn.Write(enc); err == nil {
		r.sent[ssrc]++
		r.noteVideoLocked(ssrc, pkt, s)
	}
	return false
}

// sendRTCP sends a relayed endpoint's RTCP (its key-frame requests) to the peer, which passes them to
// the sender.
func (r *relay) sendRTCP(raw []byte) {
	if !r.ready.Load() {
		return
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	enc, err := r.srtpOut.EncryptRTCP(r.encBuf[:0], raw, nil)
	if err != nil {
		return
	}
	if _, err := r.conn.Write(enc); err == nil {
		r.sentRTCP++
	}
}

// relayConnected asks for key frames both ways once a relay carries media: from the peer, for the
// relayed sources this bridge's receivers have slots for (their requests before now went nowhere), and
// from the local senders, for the peer's receivers.
func (c *Conference) relayConnected(r *relay) {
	c.mu.Lock()
	var srcs []*source
	for _, e := range r.endpoints {
		srcs = append(srcs, e.sources...)
	}
	for _, e := range c.order {
		srcs = append(srcs, e.sources...)
	}
	c.mu.Unlock()
	now := time.Now().UnixNano()
	for _, src := range srcs {
		src.lastKeyframeReq.Store(0)
		src.requestKeyframe(now)
	}
}

// UpdateRelay replaces the participants behind a relay and their sources. Everything is checked before
// anything changes: IDs, no clash with this bridge's endpoints, the sources (Jicofo's rules, as for an
// endpoint), no SSRC used twice.
func (b *Bridge) UpdateRelay(u RelayEndpoints) error {
	r, err := b.relayOf(u.ConferenceID, u.Peer)
	if err != nil {
		return err
	}
	c := r.c
	if len(u.Endpoints) > maxRelayedEndpoints {
		return fmt.Errorf("%w: %d relayed endpoints", ErrBadSources, len(u.Endpoints))
	}
	srcs := make([][]*source, len(u.Endpoints))
	ids := map[string]bool{}
	ssrcs := map[uint32]string{}
	for i, re := range u.Endpoints {
		if !isToken(re.ID) || ids[re.ID] {
			return fmt.Errorf("%w: relayed endpoint %q", ErrInvalidID, re.ID)
		}
		ids[re.ID] = true
		if c.endpoint(re.ID) != nil {
			return fmt.Errorf("%w: %s is an endpoint of this bridge", ErrEndpointExists, re.ID)
		}
		if srcs[i], err = c.validateSources(re.ID, re.Sources, re.Groups); err != nil {
			return err
		}
		for _, s := range re.Sources {
			if other, dup := ssrcs[s.SSRC]; dup {
				return fmt.Errorf("%w: ssrc %d of %s and %s", ErrBadSources, s.SSRC, re.ID, other)
			}
			ssrcs[s.SSRC] = re.ID
		}
	}
	c.mu.Lock()
	for peer, o := range c.relays.m {
		if o == r {
			continue
		}
		for id, e := range o.endpoints {
			if ids[id] {
				c.mu.Unlock()
				return fmt.Errorf("%w: %s is behind the relay to %s", ErrEndpointExists, id, peer)
			}
			for ssrc := range *e.inbound.Load() {
				if ssrcs[ssrc] != "" {
					c.mu.Unlock()
					return fmt.Errorf("%w: ssrc %d is %s's, behind the relay to %s", ErrBadSources, ssrc, id, peer)
				}
			}
		}
	}
	if c.relays.m[r.peer] != r {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s to %s", ErrRelayNotFound, c.id, r.peer)
	}
	var gone []string
	for id, e := range r.endpoints {
		if !ids[id] {
			for _, src := range e.sources {
				src.subscribers.Store(nil)
			}
			e.sources = nil
			e.cancel()
			delete(r.endpoints, id)
			gone = append(gone, id)
		}
	}
	eps := make([]*Endpoint, len(u.Endpoints))
	for i, re := range u.Endpoints {
		e := r.endpoints[re.ID]
		if e == nil {
			e = newEndpointState(c, re.ID)
			e.via = r
			if r.ready.Load() {
				e.srtpIn = r.srtpIn
				e.srtpReady.Store(true)
			}
			r.endpoints[re.ID] = e
		}
		eps[i] = e
	}
	c.mu.Unlock()
	for i, e := range eps {
		c.setSources(e, srcs[i])
	}
	c.mu.Lock()
	r.publishSSRCsLocked()
	c.reassignLocked()
	c.mu.Unlock()
	for _, id := range gone {
		c.speech.forget(id)
	}
	return nil
}

// publishSSRCsLocked rebuilds the relay's SSRC table from its endpoints' tables; c.mu is held.
func (r *relay) publishSSRCsLocked() {
	m := map[uint32]*Endpoint{}
	for _, e := range r.endpoints {
		for ssrc := range *e.inbound.Load() {
			m[ssrc] = e
		}
	}
	r.bySSRC.Store(&m)
}

// relayedLocked reports whether e is a relayed endpoint of one of c's relays; c.mu is held.
func (c *Conference) relayedLocked(e *Endpoint) bool {
	return e.via != nil && c.relays.m[e.via.peer] == e.via && e.via.endpoints[e.id] == e
}

// relayedSourcesLocked returns the sources of every relayed endpoint; c.mu is held.
func (c *Conference) relayedSourcesLocked() []*source {
	var out []*source
	for _, r := range c.relays.m {
		for _, e := range r.endpoints {
			out = append(out, e.sources...)
		}
	}
	return out
}

// relayedEndpoints returns a snapshot of the relayed endpoints.
func (c *Conference) relayedEndpoints() []*Endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Endpoint
	for _, r := range c.relays.m {
		for _, e := range r.endpoints {
			out = append(out, e)
		}
	}
	return out
}

// relayWantsLocked joins the relays into what senders should send (senderConstraintsLocked): it tells
// each relay's peer what this bridge's receivers want of the sources behind the relay, and adds to
// want, for each local source, what the peers' receivers want of it (everything from a peer that has
// not said yet). c.mu is held.
func (c *Conference) relayWantsLocked(want map[*source]int) {
	for _, r := range c.relays.m {
		m := relayWants{Wants: map[uint32]int{}}
		for _, e := range r.endpoints {
			for _, src := range e.sources {
				if src.kind == KindVideo {
					m.Wants[src.layers[0].ssrc] = want[src]
				}
			}
		}
		raw, _ := json.Marshal(m)
		if string(raw) != r.wantsSent && r.ready.Load() {
			r.resumeTrackersLocked(m.Wants)
			r.wantsSent, r.wantsLast = string(raw), m.Wants
			r.wantsOut.Store(&raw)
			select {
			case r.wantsKick <- struct{}{}:
			default:
			}
		}
	}
	for _, e := range c.order {
		for _, src := range e.sources {
			if src.kind != KindVideo {
				continue
			}
			h := want[src]
			for _, r := range c.relays.m {
				peer := -1
				if r.peerWants != nil {
					peer = r.peerWants[src.layers[0].ssrc]
				}
				if tallerThan(peer, h) {
					h = peer
				}
			}
			want[src] = h
		}
	}
}

// ExpireRelay closes a relay: its relayed endpoints' sources leave the receivers' slots.
func (b *Bridge) ExpireRelay(x RelayExpire) error {
	r, err := b.relayOf(x.ConferenceID, x.Peer)
	if err != nil {
		return err
	}
	r.close(errRelayExpired)
	return nil
}

var errRelayExpired = errors.New(ExpiredRelayReason)

// close ends the relay once, for err; any goroutine may call it.
func (r *relay) close(err error) {
	if !r.err.CompareAndSwap(nil, &err) {
		return
	}
	d := r.dtlsConn.Load()
	connected := r.ready.Load()
	if d != nil && connected {
		// The peer's relay ends at once. Not with close_notify: pion's Close waits for its reader,
		// which waits in dtlsPacketConn until the relay's context ends, which is after it.
		_, _ = d.Write(relayBye)
	}
	if in := r.in.Load(); in != nil && r.b.demux != nil {
		r.b.demux.unroute(in)
	}
	r.cancel() // ends a handshake under way, which d.Close would wait for
	if d != nil {
		_ = d.Close()
	}
	_ = r.agent.Close()
	c := r.c
	c.mu.Lock()
	var gone []string
	if c.relays.m[r.peer] == r {
		delete(c.relays.m, r.peer)
		c.relays.publishLocked()
	}
	r.ready.Store(false)
	for id, e := range r.endpoints {
		for _, src := range e.sources {
			src.subscribers.Store(nil)
		}
		e.sources = nil
		e.cancel()
		gone = append(gone, id)
	}
	clear(r.endpoints)
	empty := map[uint32]*Endpoint{}
	r.bySSRC.Store(&empty)
	c.reassignLocked()
	c.mu.Unlock()
	for _, id := range gone {
		c.speech.forget(id)
	}
	close(r.done)
	level := r.b.log.Info
	if !connected && !errors.Is(err, errRelayExpired) && !errors.Is(err, errConferenceEnded) && !errors.Is(err, ErrClosed) {
		level = r.b.log.Warn // it never carried media
	}
	level("relay closed", "conference", c.id, "peer", r.peer, "reason", err.Error())
	if h := r.b.relayHook.Load(); h != nil {
		(*h)(c.id, r.peer, r.session, err.Error())
	}
}

// ExpiredRelayReason is the reason OnRelayClosed gives for a relay the focus expired (ExpireRelay).
const ExpiredRelayReason = "expired by focus"

// OnRelayClosed has fn called after each relay ends, whatever ended it (ExpireRelay, ICE or DTLS
// failure, the peer's close, the conference's end), with the session its RelayRequest named, on the
// goroutine that ended it; fn must not block.
// The focus–bridge API turns it into its "relay closed" event, so that the focus sets up again a relay
// that failed between bridges that still serve the conference.
func (b *Bridge) OnRelayClosed(fn func(conferenceID, peer, session, reason string)) {
	b.relayHook.Store(&fn)
}

// hasRelays reports whether c has a relay.
func (c *Conference) hasRelays() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.relays.m) > 0
}

// closeRelays closes every relay of c (the conference ends, or the bridge closes).
func (c *Conference) closeRelays(why error) {
	c.mu.Lock()
	rs := make([]*relay, 0, len(c.relays.m))
	for _, r := range c.relays.m {
		rs = append(rs, r)
	}
	c.mu.Unlock()
	for _, r := range rs {
		r.close(why)
	}
}

// RelayDebug is one relay in DebugState.
type RelayDebug struct {
	Peer        string   `json:"peer"`
	Controlling bool     `json:"controlling"`
	Connected   bool     `json:"connected"`
	Endpoints   []string `json:"endpoints"` // the participants behind it
	// SentPackets counts the RTP packets sent over the relay by local source ("endpoint/source", every
	// simulcast layer): one copy of each local sender's packet per relay, however many receivers the
	// peer has.
	SentPackets     map[string]uint64 `json:"sentPackets"`
	ReceivedPackets uint64            `json:"receivedPackets"`
	// Retransmitted counts the packets sent again over the relay (RTX) for the peer's NACKs.
	Retransmitted uint64 `json:"retransmitted"`
}

// relaysDebug describes c's relays.
func (c *Conference) relaysDebug() []RelayDebug {
	c.mu.Lock()
	rs := make([]*relay, 0, len(c.relays.m))
	var out []RelayDebug
	names := map[uint32]string{}
	for _, e := range c.order {
		for ssrc, s := range *e.inbound.Load() {
			names[ssrc] = s.src.key
		}
	}
	for _, r := range c.relays.m {
		rs = append(rs, r)
		d := RelayDebug{Peer: r.peer, Controlling: r.controlling, Connected: r.ready.Load(), Endpoints: []string{},
			ReceivedPackets: r.received.Load()}
		for id := range r.endpoints {
			d.Endpoints = append(d.Endpoints, id)
		}
		slices.Sort(d.Endpoints)
		out = append(out, d)
	}
	c.mu.Unlock()
	for i, r := range rs {
		r.sendMu.Lock()
		out[i].SentPackets = map[string]uint64{}
		out[i].Retransmitted = r.resent
		for ssrc, n := range r.sent {
			if name := names[ssrc]; name != "" {
				out[i].SentPackets[name] += n
			}
		}
		r.sendMu.Unlock()
	}
	slices.SortFunc(out, func(a, b RelayDebug) int { return strings.Compare(a.Peer, b.Peer) })
	return out
}

var errConferenceEnded = errors.New("conference ended")
