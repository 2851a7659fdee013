package bridge

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/ice/v4"
	"github.com/pion/srtp/v3"

	"github.com/parley-im/parley/internal/pionlog"
)

// The transport of one endpoint: a full, controlling ICE agent on the shared UDP mux; DTLS (server role)
// on the selected pair; SRTP keyed from DTLS (RFC 5764). Once ICE selects a pair, the media socket's
// reader hands the pair's datagrams straight to the endpoint (demux.go); before that, the endpoint's own
// goroutine reads them from the ICE connection. Either way handlePacket demultiplexes by first byte
// (RFC 7983): DTLS records go to the DTLS handshake, RTP and RTCP (RFC 5761 rtcp-mux) are decrypted and
// handled in place.

// newAgent creates the endpoint's ICE agent and gathers its host candidates on the bridge's UDP mux.
func (b *Bridge) newAgent(ufrag, pwd string) (*ice.Agent, []Candidate, error) {
	opts := []ice.AgentOption{
		ice.WithNet(b.net),
		ice.WithUDPMux(b.mux),
		ice.WithLocalCredentials(ufrag, pwd),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4, ice.NetworkTypeUDP6}),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithDisconnectedTimeout(b.cfg.ICEDisconnectedTimeout),
		ice.WithFailedTimeout(b.cfg.ICEFailedTimeout),
		ice.WithKeepaliveInterval(b.cfg.ICEKeepaliveInterval),
		ice.WithRemoteIPFilter(b.remoteIPAllowed),
		ice.WithLoggerFactory(pionlog.New(b.log)),
		// A participant's checks usually arrive before its answer (with its
		// candidates) has come through the focus, so the bridge first knows
		// its address as peer-reflexive. The checks are authenticated with
		// the ICE password either way; waiting pion's default second before
		// nominating such a pair only delays the first media.
		ice.WithPrflxAcceptanceMinWait(0),
	}
	if b.cfg.IncludeLoopback {
		opts = append(opts, ice.WithIncludeLoopback())
	}
	agent, err := ice.NewAgentWithOptions(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("ice agent: %w", err)
	}
	var (
		mu    sync.Mutex
		cands []Candidate
		done  = make(chan struct{})
	)
	if err := agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(done)
			return
		}
		mu.Lock()
		cands = append(cands, fromICECandidate(c))
		mu.Unlock()
	}); err != nil {
		_ = agent.Close()
		return nil, nil, fmt.Errorf("ice agent: %w", err)
	}
	if err := agent.GatherCandidates(); err != nil {
		_ = agent.Close()
		return nil, nil, fmt.Errorf("ice gather: %w", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = agent.Close()
		return nil, nil, fmt.Errorf("ice gather: timed out")
	}
	mu.Lock()
	defer mu.Unlock()
	if b.cfg.PublicIP != "" && len(cands) > 0 {
		pub := cands[0]
		pub.Foundation = "pub" + pub.Foundation
		pub.IP = b.cfg.PublicIP
		pub.Priority--
		cands = append([]Candidate{pub}, cands...)
	}
	return agent, cands, nil
}

func fromICECandidate(c ice.Candidate) Candidate {
	out := Candidate{
		Foundation: c.Foundation(),
		Component:  int(c.Component()),
		Protocol:   c.NetworkType().NetworkShort(),
		Priority:   c.Priority(),
		IP:         c.Address(),
		Port:       c.Port(),
		Type:       c.Type().String(),
	}
	if r := c.RelatedAddress(); r != nil {
		out.RelAddr, out.RelPort = r.Address, r.Port
	}
	return out
}

// remoteIPAllowed is the policy for remote candidates and peer-reflexive addresses (threats §1.9, §5.1
// item 14): never unspecified, multicast, broadcast or link-local (169.254.169.254 is a cloud metadata
// service); loopback only when configured (tests).
func (b *Bridge) remoteIPAllowed(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(),
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return false
	case a.IsLoopback():
		return b.cfg.IncludeLoopback
	}
	return true
}

// toICECandidate validates a signalled remote candidate and converts it. Host names (and so mDNS
// ".local" names) are refused: the bridge never resolves names found in candidates.
func (b *Bridge) toICECandidate(c Candidate) (ice.Candidate, error) {
	if !strings.EqualFold(c.Protocol, "udp") || c.Component != 1 || c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("unsupported candidate %s/%d component %d", c.Protocol, c.Port, c.Component)
	}
	a, err := netip.ParseAddr(c.IP)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("candidate address %q is not an IP literal", c.IP)
	}
	if !b.remoteIPAllowed(a.AsSlice()) {
		return nil, fmt.Errorf("candidate address %s refused by policy", a)
	}
	switch c.Type {
	case "host", "srflx", "prflx", "relay":
	default:
		return nil, fmt.Errorf("candidate type %q", c.Type)
	}
	if !isToken(c.Foundation) || (c.RelAddr != "" && !isIPLiteral(c.RelAddr)) {
		return nil, fmt.Errorf("malformed candidate")
	}
	return ice.UnmarshalCandidate(c.SDP())
}

func isIPLiteral(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// connect runs the endpoint's transport: ICE, then DTLS, then it reads DTLS until the association ends.
// It owns e.agent's connection; the reader goroutine is started once ICE connects.
func (e *Endpoint) connect(remoteUfrag, remotePwd string) {
	defer e.b.wg.Done()
	conn, err := e.agent.Dial(e.ctx, remoteUfrag, remotePwd)
	if err != nil {
		e.expire("ice: " + err.Error())
		return
	}
	e.log.Debug("ice connected", "remote", conn.RemoteAddr().String())
	e.setWriter(conn)
	e.setDst(conn.RemoteAddr())
	e.b.wg.Add(1)
	go e.readLoop(conn)

	dc := &dtlsPacketConn{in: e.dtlsIn, closed: e.ctx.Done(), w: conn, raddr: conn.RemoteAddr(), laddr: conn.LocalAddr()}
	dconn, err := dtls.ServerWithOptions(dc, conn.RemoteAddr(),
		dtls.WithCertificates(e.b.cert),
		dtls.WithCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithInsecureSkipVerify(true), // no CA: the certificate is pinned by fingerprint below
		dtls.WithVerifyPeerCertificate(e.verifyPeerCertificate),
		dtls.WithReplayProtectionWindow(64),
		dtls.WithLoggerFactory(pionlog.New(e.log)),
	)
	if err != nil {
		e.expire("dtls: " + err.Error())
		return
	}
	e.setDTLS(dconn)
	hctx, cancel := context.WithTimeout(e.ctx, e.b.cfg.ConnectTimeout)
	err = dconn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		e.expire("dtls handshake: " + err.Error())
		return
	}
	if err := e.startSRTP(dconn); err != nil {
		e.expire("srtp: " + err.Error())
		return
	}
	e.connectedAt.Store(time.Now().UnixNano())
	e.connected.Store(true)
	e.log.Info("endpoint connected", "remote", conn.RemoteAddr().String())
	e.conf.endpointConnected(e)

	// DTLS application data is SCTP: the association carries the bridge channel's data channel and ends
	// with DTLS (close_notify or an error), which ends the endpoint.
	err = e.serveSCTP(dconn)
	if errors.Is(err, io.EOF) {
		e.expire("dtls closed by peer")
	} else {
		e.expire("dtls: " + err.Error())
	}
}

// verifyPeerCertificate pins the client's certificate to the fingerprint of its answer (RFC 8842 §5). A
// mismatch ends the endpoint at once: pion/dtls sends the alert but would keep the server handshake
// waiting until its deadline.
func (e *Endpoint) verifyPeerCertificate(raw [][]byte, chains [][]*x509.Certificate) error {
	err := e.checkPeerCertificate(raw)
	if err != nil {
		go e.expire("dtls: " + err.Error())
	}
	return err
}

func (e *Endpoint) checkPeerCertificate(raw [][]byte) error {
	if len(raw) == 0 {
		return fmt.Errorf("%w: no certificate", ErrFingerprintMismatch)
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	hash, err := fingerprint.HashFromString(e.remoteDTLS.Hash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	got, err := fingerprint.Fingerprint(cert, hash)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFingerprintMismatch, err)
	}
	want := strings.ToUpper(e.remoteDTLS.Fingerprint)
	if subtle.ConstantTimeCompare([]byte(strings.ToUpper(got)), []byte(want)) != 1 {
		return ErrFingerprintMismatch
	}
	return nil
}

// startSRTP derives the SRTP keys from the DTLS association (RFC 5764 §4.2) and arms the packet paths.
func (e *Endpoint) startSRTP(dconn *dtls.Conn) error {
	p, ok := dconn.SelectedSRTPProtectionProfile()
	if !ok {
		return fmt.Errorf("no use_srtp profile negotiated")
	}
	var profile srtp.ProtectionProfile
	switch p {
	case dtls.SRTP_AEAD_AES_128_GCM:
		profile = srtp.ProtectionProfileAeadAes128Gcm
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	default:
		return fmt.Errorf("unexpected srtp profile %v", p)
	}
	state, ok := dconn.ConnectionState()
	if !ok {
		return fmt.Errorf("no dtls state")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, false); err != nil {
		return err
	}
	in, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(64), srtp.SRTCPReplayProtection(64))
	if err != nil {
		return err
	}
	out, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return err
	}
	e.sendMu.Lock()
	e.srtpOut = out
	e.sendMu.Unlock()
	e.srtpIn = in
	e.srtpReady.Store(true) // publishes srtpIn to the reader goroutine
	return nil
}

// readLoop is the endpoint's reader goroutine for the datagrams pion's mux passes on (demux.go): those
// that came before ICE selected a pair, or from an address other than the selected pair's.
func (e *Endpoint) readLoop(conn *ice.Conn) {
	defer e.b.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		e.receive(buf[:n], time.Time{})
	}
}

// receive handles one datagram from either reader. readAt, when set, is when the demultiplexer read it
// off the socket: the forwarded copies' flush records the time since (parley_bridge_forward_delay_seconds).
func (e *Endpoint) receive(pkt []byte, readAt time.Time) {
	if e.relayIn != nil {
		e.relayIn.datagram(pkt, readAt) // from a peer bridge (relay.go)
		return
	}
	e.rxMu.Lock()
	defer e.rxMu.Unlock()
	if e.out == nil || readAt.IsZero() || pkt[0] < 128 || pkt[0] > 191 || (len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223) {
		e.handlePacket(pkt) // not RTP, or not timed
		return
	}
	e.out.readAt = readAt
	e.handlePacket(pkt)
	e.out.readAt = time.Time{}
}

// handlePacket demultiplexes one datagram (RFC 7983 §7).
func (e *Endpoint) handlePacket(pkt []byte) {
	e.conf.m.packetsIn.Inc()
	e.conf.m.bytesIn.Add(float64(len(pkt)))
	switch b := pkt[0]; {
	case b >= 20 && b <= 63:
		select {
		case e.dtlsIn <- append([]byte(nil), pkt...):
		default: // DTLS flood: drop, the handshake retransmits
		}
	case b >= 128 && b <= 191 && len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223:
		e.handleRTCP(pkt)
	case b >= 128 && b <= 191:
		e.handleRTP(pkt)
	default:
		e.b.metrics.dropped.WithLabelValues(dropOther).Inc()
	}
}

// dtlsPacketConn feeds the DTLS records that the reader goroutine demultiplexed to pion/dtls and writes
// DTLS records on the ICE connection.
type dtlsPacketConn struct {
	in           <-chan []byte
	closed       <-chan struct{}
	w            io.Writer
	raddr, laddr net.Addr
}

func (c *dtlsPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case b := <-c.in:
		return copy(p, b), c.raddr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *dtlsPacketConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	return c.w.Write(p)
}

func (c *dtlsPacketConn) Close() error                     { return nil }
func (c *dtlsPacketConn) LocalAddr() net.Addr              { return c.laddr }
func (c *dtlsPacketConn) SetDeadline(time.Time) error      { return nil }
func (c *dtlsPacketConn) SetReadDeadline(time.Time) error  { return nil }
func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }
