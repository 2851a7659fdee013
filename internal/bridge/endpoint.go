package bridge

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/bridge/bwe"
	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Endpoint is one participant's leg. Its state is split along its lock domains: the transport (link:
// ICE, DTLS, where packets go), the receive side (recvSide: what its reader goroutine owns while it
// handles the participant's packets), feedback toward it as a sender (fbState, fbMu), and the send side
// (sendSide: what is sent to it, under sendMu). The rest is fixed at allocation or atomic.
type Endpoint struct {
	id   string
	conf *Conference
	b    *Bridge
	log  *slog.Logger

	// Fixed at allocation.
	channelPwd    string
	feedbackAudio uint32
	feedbackVideo uint32
	audioSlots    []*slot
	videoSlots    []*slot
	slotBySSRC    map[uint32]*slot // slot SSRCs and RTX SSRCs
	created       time.Time
	ctx           context.Context // cancelled by expire
	cancel        context.CancelFunc

	// Fixed by SetAnswer (before the transport starts).
	answered atomic.Bool
	rtx      bool
	tccExt   uint8 // the transport-wide sequence number extension's id the endpoint accepted, 0 = none
	redPT    uint8 // RED's payload type if the endpoint accepted it for audio, 0 = none (red.go)

	expired atomic.Bool

	// via is the relay a relayed endpoint's media comes over (relay.go): a participant of another
	// bridge, sending only; nil for the bridge's own endpoints. Fixed at creation.
	via *relay
	// relayIn, on a relay's stand-in endpoint, is the relay the demultiplexer's datagrams from the
	// peer bridge go to (relay.go); nil otherwise. Fixed at creation.
	relayIn *relay

	link

	// sources are the endpoint's signalled sources; guarded by conf.mu.
	sources []*source
	// inbound maps every signalled SSRC to its stream: copy-on-write, read on the packet path.
	inbound atomic.Pointer[map[uint32]*inStream]

	recvSide

	levels speakerLevels // recent audio levels, for the dominant speaker (speaker.go)

	// Feedback toward this endpoint as a sender (transport-cc and NACKs, feedback.go).
	fbState

	sendSide

	// Receiver settings from the bridge channel.
	videoOn atomic.Bool  // set by the first ReceiverVideoConstraints (dialect §6.1)
	rtt     atomic.Int64 // ns, last RTT measured from receiver reports

	// Owned by housekeeping.
	statusActive bool
	hadMedia     bool
	lastRR       time.Time

	ch channel // the bridge channel

	bw bwAlloc // bandwidth allocation toward the endpoint (congestion loop)
}

// link is an endpoint's transport: its ICE agent and credentials, the DTLS association, and where its
// packets go once a candidate pair is selected.
type link struct {
	ufrag, pwd string
	agent      *ice.Agent
	candidates []Candidate
	dtlsIn     chan []byte // DTLS records from the reader goroutine to the handshake
	remoteDTLS DTLS        // fixed by SetAnswer

	connected atomic.Bool
	writer    atomic.Pointer[writerBox] // the ICE connection once connected
	dst       atomic.Pointer[sockaddr]  // the selected pair's remote address for batched sends (batch.go)
	dtlsConn  atomic.Pointer[dtls.Conn]
	route     netip.AddrPort // the address the demultiplexer routes to this endpoint; guarded by demux.mu
}

// recvSide is owned by whichever reader holds rxMu: the demultiplexer's goroutine for datagrams from
// the selected pair (demux.go), readLoop for what pion's mux passes on (before a pair is selected, or
// from another address). Uncontended but for the moment a pair is selected, so each sender's packets
// are still handled one at a time and in order. srtpIn is published by srtpReady.
type recvSide struct {
	rxMu        sync.Mutex
	srtpReady   atomic.Bool
	srtpIn      *srtp.Context
	decBuf      [1600]byte
	rtxBuf      [1600]byte
	rtcpDec     [1600]byte
	inHdr       rtp.Header
	out         *sendBatch    // fan-out of the packet being forwarded, when the socket batches
	fan         *fanOut       // its parts for the fan-out workers (fanout.go), from the first split fan-out
	lastMedia   atomic.Int64  // unix ns of the last RTP packet accepted
	arrivals    []bwe.Arrival // scratch for transport-cc feedback from this endpoint as a receiver
	tccReports  atomic.Int64  // transport-cc feedback packets from this endpoint as a receiver
	connectedAt atomic.Int64  // unix ns when DTLS and SRTP were up, 0 before
}

// sendSide is what the bridge sends to the endpoint. sendMu guards srtpOut, the scratch buffers, every
// slot's state (mapping and projection), the retransmission budget, srSent and the transport-wide
// numbering. It is held for rewrite+encrypt+write of one packet; lock order: conf.mu before sendMu,
// never the other way.
type sendSide struct {
	sendMu    sync.Mutex
	srtpOut   *srtp.Context
	outBuf    [1600]byte
	encBuf    [1700]byte
	cacheBuf  [1600]byte
	outHdr    rtp.Header
	rtxBudget retransmitBudget
	srSent    [8]srRecord
	srNext    int
	tccSeq    uint16         // the last transport-wide sequence number sent
	est       *bwe.Estimator // bandwidth toward the endpoint; nil without transport-cc (congestion.go)
	padSeq    uint16         // sequence numbers of the probe (padding) stream
	redLevel  atomic.Int32   // earlier packets each RED packet repeats (red.go): 0 … redMaxLevel
	egress    egressBytes    // what has been sent toward the endpoint, by kind (/debug/bridge)
	pace      pacer          // video waiting for the receiver's link (pacer.go)
	paceRate  atomic.Int64   // bit/s video may leave at, 0 = not paced
	// paceProbeRate is the rate of the estimator's open probe cluster, bit/s, 0 = none: video leaves at
	// it instead (pacer.go).
	paceProbeRate atomic.Int64

	// The last allocation's bit rates toward the endpoint, audio included: what it forwards (target) and
	// what it would with unlimited bandwidth (ideal), which the probes aim for (congestion loop).
	allocTarget, allocIdeal atomic.Int64
}

// writerBox lets the packet path swap the transport writer atomically (an ICE connection, or a
// benchmark's sink).
type writerBox struct{ w io.Writer }

func (e *Endpoint) setWriter(w io.Writer) { e.writer.Store(&writerBox{w}) }

func (e *Endpoint) setDTLS(c *dtls.Conn) {
	e.dtlsConn.Store(c)
	if e.expired.Load() {
		_ = c.Close()
	}
}

type srRecord struct {
	mid    uint32 // middle 32 bits of the NTP timestamp
	sentAt int64  // unix ns
}

// newEndpoint creates an endpoint with its ICE agent and slots. It is not yet in the conference.
func newEndpoint(c *Conference, id string) (*Endpoint, error) {
	e := newEndpointState(c, id)
	agent, cands, err := c.b.newAgent(e.ufrag, e.pwd)
	if err != nil {
		e.cancel()
		return nil, err
	}
	e.agent, e.candidates = agent, cands
	if err := agent.OnSelectedCandidatePairChange(func(_, remote ice.Candidate) {
		e.setDst(&net.UDPAddr{IP: net.ParseIP(remote.Address()), Port: remote.Port()})
	}); err != nil {
		e.cancel()
		_ = agent.Close()
		return nil, err
	}
	if err := agent.OnConnectionStateChange(func(s ice.ConnectionState) {
		e.log.Debug("ice state", "state", s.String())
		if s == ice.ConnectionStateFailed || s == ice.ConnectionStateClosed {
			go e.expire("ice " + s.String()) // not from the agent's own callback goroutine
		}
	}); err != nil {
		e.cancel()
		_ = agent.Close()
		return nil, err
	}
	return e, nil
}

// newEndpointState creates an endpoint's credentials, slots and buffers, without a transport.
func newEndpointState(c *Conference, id string) *Endpoint {
	b := c.b
	e := &Endpoint{
		id:         id,
		conf:       c,
		b:          b,
		log:        b.log.With("conference", c.id, "endpoint", id),
		channelPwd: randString(24),
		created:    time.Now(),
		slotBySSRC: map[uint32]*slot{},
	}
	e.ufrag, e.pwd = randString(8), randString(24)
	e.dtlsIn = make(chan []byte, 64)
	e.rtxBudget = newRetransmitBudget(b.cfg)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.ch.init()
	empty := map[uint32]*inStream{}
	e.inbound.Store(&empty)
	e.feedbackAudio = e.newSSRC()
	e.feedbackVideo = e.newSSRC()
	for i := range b.cfg.AudioSlots {
		s := &slot{recv: e, kind: KindAudio, index: i, ssrc: e.newSSRC(), stream: uint16(1 + len(e.slotBySSRC)),
			name: "jvb-a" + strconv.Itoa(i+1), msid: fmt.Sprintf("remote-audio-%d remote-audio-%d", i, i)}
		s.proj.clock = 48000
		e.audioSlots = append(e.audioSlots, s)
		e.slotBySSRC[s.ssrc] = s
	}
	for i := range b.cfg.VideoSlots {
		s := &slot{recv: e, kind: KindVideo, index: i, ssrc: e.newSSRC(), stream: uint16(1 + len(e.slotBySSRC)), maxLayer: noLayerCap,
			name: "jvb-v" + strconv.Itoa(i+1), msid: fmt.Sprintf("remote-video-%d remote-video-%d", i, i)}
		s.rtxSSRC = e.newSSRC()
		s.setTemporal(maxTemporal, maxTemporal)
		s.proj.clock = 90000
		e.videoSlots = append(e.videoSlots, s)
		e.slotBySSRC[s.ssrc] = s
		e.slotBySSRC[s.rtxSSRC] = s
	}
	return e
}

// newSSRC returns a random SSRC not used by this endpoint's feedback sources or slots.
func (e *Endpoint) newSSRC() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		v := binary.BigEndian.Uint32(b[:])
		if v == 0 || v == e.feedbackAudio || v == e.feedbackVideo {
			continue
		}
		if _, used := e.slotBySSRC[v]; used {
			continue
		}
		return v
	}
}

// randString returns n random characters from [A-Za-z0-9] (valid ice-chars and URL-safe).
func randString(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	for i := range buf {
		buf[i] = alphabet[int(buf[i])%len(alphabet)]
	}
	return string(buf)
}

// allocation describes the endpoint to the focus.
func (e *Endpoint) allocation() *Allocation {
	a := &Allocation{
		ConferenceID: e.conf.id,
		EndpointID:   e.id,
		ICE:          ICE{Ufrag: e.ufrag, Pwd: e.pwd, Candidates: append([]Candidate(nil), e.candidates...)},
		DTLS:         DTLS{Hash: "sha-256", Fingerprint: e.b.fingerprint, Setup: "actpass"},
		Feedback: []Source{
			{Kind: KindAudio, SSRC: e.feedbackAudio, Name: "jvb-a0", MSID: "mixedmslabel mixedlabelaudio0"},
			{Kind: KindVideo, SSRC: e.feedbackVideo, Name: "jvb-v0", MSID: "mixedmslabel mixedlabelvideo0"},
		},
		Channel: Channel{
			Path:     "/colibri-ws/" + e.b.cfg.ID + "/" + e.conf.id + "/" + e.id,
			Password: e.channelPwd,
		},
	}
	for _, s := range e.audioSlots {
		a.AudioSlots = append(a.AudioSlots, Slot{Kind: KindAudio, SSRC: s.ssrc, Name: s.name, MSID: s.msid})
	}
	for _, s := range e.videoSlots {
		a.VideoSlots = append(a.VideoSlots, Slot{Kind: KindVideo, SSRC: s.ssrc, RTX: s.rtxSSRC, Name: s.name, MSID: s.msid})
	}
	return a
}

// setAnswer validates the endpoint's answer, publishes its sources and starts the transport.
func (e *Endpoint) setAnswer(a Answer) error {
	if err := validateICECredentials(a.ICE.Ufrag, a.ICE.Pwd); err != nil {
		return err
	}
	switch strings.ToLower(a.DTLS.Hash) {
	case "sha-256", "sha-384", "sha-512":
	default:
		return fmt.Errorf("%w: hash %q", ErrBadFingerprint, a.DTLS.Hash)
	}
	if !validFingerprint(a.DTLS.Fingerprint) {
		return fmt.Errorf("%w: %q", ErrBadFingerprint, a.DTLS.Fingerprint)
	}
	if a.DTLS.Setup != "active" {
		return fmt.Errorf("%w: %q", ErrBadSetup, a.DTLS.Setup)
	}
	if len(a.ICE.Candidates) > e.b.cfg.MaxCandidates {
		return fmt.Errorf("%w: %d candidates", ErrBadICECredentials, len(a.ICE.Candidates))
	}
	srcs, err := e.conf.validateSources(e.id, a.Sources, a.Groups)
	if err != nil {
		return err
	}
	if !e.answered.CompareAndSwap(false, true) {
		return ErrAnswerAlreadySet
	}
	e.remoteDTLS = a.DTLS
	e.rtx = a.RTX
	if a.RED == PayloadTypeRED {
		e.redPT = PayloadTypeRED
		e.redLevel.Store(1) // until its estimator measures the link's loss
	}
	if a.TransportCC > 0 && a.TransportCC < 15 {
		e.tccExt = uint8(a.TransportCC)
		e.est = e.b.newEstimator()
	}
	for _, c := range a.ICE.Candidates {
		ic, err := e.b.toICECandidate(c)
		if err != nil {
			e.log.Debug("remote candidate ignored", "err", err)
			continue
		}
		if err := e.agent.AddRemoteCandidate(ic); err != nil {
			e.log.Debug("remote candidate ignored", "err", err)
		}
	}
	e.conf.setSources(e, srcs)
	e.b.wg.Add(1)
	go e.connect(a.ICE.Ufrag, a.ICE.Pwd)
	return nil
}

// validateICECredentials checks RFC 8839 §5.4 lengths and ice-char.
func validateICECredentials(ufrag, pwd string) error {
	ok := func(s string, minLen int) bool {
		if len(s) < minLen || len(s) > 256 {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
				return false
			}
		}
		return true
	}
	if !ok(ufrag, 4) || !ok(pwd, 22) {
		return ErrBadICECredentials
	}
	return nil
}

// validFingerprint accepts "AB:CD:…" with 32..64 bytes.
func validFingerprint(fp string) bool {
	parts := strings.Split(fp, ":")
	if len(parts) < 32 || len(parts) > 64 {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 {
			return false
		}
		if _, err := strconv.ParseUint(p, 16, 8); err != nil {
			return false
		}
	}
	return true
}

// expire tears the endpoint down once; any goroutine may call it.
func (e *Endpoint) expire(reason string) {
	if !e.expired.CompareAndSwap(false, true) {
		return
	}
	e.log.Info("endpoint expired", "reason", reason)
	e.cancel()
	if e.b.demux != nil {
		e.b.demux.unroute(e)
	}
	if d := e.dtlsConn.Load(); d != nil {
		_ = d.Close()
	}
	if e.agent != nil {
		_ = e.agent.Close()
	}
	e.ch.close()
	e.sendMu.Lock()
	if e.pace.timer != nil {
		e.pace.timer.Stop() // a callback already running finds the endpoint expired
	}
	e.sendMu.Unlock()
	e.conf.remove(e)
	if h := e.b.expiredHook; h != nil {
		h(e.conf.id, e.id, reason)
	}
}

// sendRTCP marshals and sends RTCP packets to this endpoint (not on the per-packet path).
func (e *Endpoint) sendRTCP(pkts ...rtcp.Packet) {
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	if e.via != nil {
		e.via.sendRTCP(raw) // toward a participant of another bridge: over the relay
		return
	}
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if e.srtpOut == nil {
		return
	}
	enc, err := e.srtpOut.EncryptRTCP(e.encBuf[:0], raw, nil)
	if err != nil {
		return
	}
	e.writeLocked(enc)
}

// writeLocked writes one protected packet to the transport; sendMu is held.
func (e *Endpoint) writeLocked(pkt []byte) {
	wb := e.writer.Load()
	if wb == nil {
		return
	}
	if _, err := wb.w.Write(pkt); err == nil {
		e.conf.m.packetsOut.Inc()
		e.conf.m.bytesOut.Add(float64(len(pkt)))
	}
}
