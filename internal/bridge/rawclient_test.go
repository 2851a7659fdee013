package bridge

import (
	"context"
	"crypto"
	"crypto/x509"
	"hash/fnv"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/ice/v4"
	"github.com/pion/srtp/v3"

	"github.com/parley-im/parley/internal/pionlog"
)

// rawClient is an endpoint built from pion/ice, pion/dtls and pion/srtp that can put any bytes on the
// wire: the attacker in the hostile-input tests.
type rawClient struct {
	t     *testing.T
	alloc *Allocation
	agent *ice.Agent
	conn  *ice.Conn
	dconn *dtls.Conn
	out   *srtp.Context // encrypts as this client
	ssrcV uint32
	ssrcA uint32
}

type rawOpts struct {
	noHandshake bool            // stop after ICE
	wrongCert   bool            // handshake with a certificate other than the signalled one
	setup       func(a *Answer) // edit the answer
}

func newRawClient(t *testing.T, tb *testBridge, conf, id string, o rawOpts) *rawClient {
	t.Helper()
	h := fnv.New32a()
	h.Write([]byte(id))
	r := &rawClient{t: t, ssrcV: h.Sum32() | 1, ssrcA: h.Sum32() &^ 1}
	agent, err := ice.NewAgentWithOptions(
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost}),
		ice.WithIncludeLoopback(),
		ice.WithIPFilter(func(ip net.IP) bool { return ip.IsLoopback() }),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithLoggerFactory(pionlog.New(testLogger())),
	)
	must(t, err)
	r.agent = agent
	t.Cleanup(r.close)
	gathered := make(chan struct{})
	var cands []Candidate
	must(t, agent.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(gathered)
			return
		}
		cands = append(cands, fromICECandidate(c))
	}))
	must(t, agent.GatherCandidates())
	<-gathered

	cert, err := selfsign.GenerateSelfSigned()
	must(t, err)
	signalled := cert
	if o.wrongCert {
		signalled, err = selfsign.GenerateSelfSigned()
		must(t, err)
	}
	x, err := x509.ParseCertificate(signalled.Certificate[0])
	must(t, err)
	fp, err := fingerprint.Fingerprint(x, crypto.SHA256)
	must(t, err)

	r.alloc, err = tb.AllocateEndpoint(AllocateRequest{ConferenceID: conf, EndpointID: id})
	must(t, err)
	ufrag, pwd, err := agent.GetLocalUserCredentials()
	must(t, err)
	ans := Answer{ConferenceID: conf, EndpointID: id,
		ICE:  ICE{Ufrag: ufrag, Pwd: pwd, Candidates: cands},
		DTLS: DTLS{Hash: "sha-256", Fingerprint: fp, Setup: "active"},
		Sources: []Source{
			{Kind: KindVideo, SSRC: r.ssrcV, Name: id + "-v0"},
			{Kind: KindAudio, SSRC: r.ssrcA, Name: id + "-a0"},
		},
	}
	if o.setup != nil {
		o.setup(&ans)
	}
	must(t, tb.SetAnswer(ans))
	for _, c := range r.alloc.ICE.Candidates {
		ic, err := ice.UnmarshalCandidate(c.SDP())
		must(t, err)
		must(t, agent.AddRemoteCandidate(ic))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.conn, err = agent.Accept(ctx, r.alloc.ICE.Ufrag, r.alloc.ICE.Pwd)
	must(t, err)
	if o.noHandshake {
		return r
	}
	r.dconn, err = dtls.ClientWithOptions(packetConn{r.conn}, r.conn.RemoteAddr(),
		dtls.WithCertificates(cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithLoggerFactory(pionlog.New(testLogger())),
	)
	must(t, err)
	hsStart := time.Now()
	if err := r.dconn.HandshakeContext(ctx); err != nil {
		t.Logf("%s: client handshake after %v: %v", id, time.Since(hsStart), err)
		if o.wrongCert {
			return r
		}
		t.Fatal(err)
	}
	state, _ := r.dconn.ConnectionState()
	cfg := srtp.Config{Profile: srtp.ProtectionProfileAeadAes128Gcm}
	must(t, cfg.ExtractSessionKeysFromDTLS(&state, true))
	r.out, err = srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	must(t, err)
	return r
}

// write sends raw bytes on the ICE connection.
func (r *rawClient) write(b []byte) {
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// rtp encrypts a plaintext RTP packet and sends it; it returns the protected bytes.
func (r *rawClient) rtp(plain []byte) []byte {
	enc, err := r.out.EncryptRTP(nil, plain, nil)
	must(r.t, err)
	r.write(enc)
	return enc
}

// rtcp encrypts a plaintext RTCP compound and sends it.
func (r *rawClient) rtcp(plain []byte) []byte {
	enc, err := r.out.EncryptRTCP(nil, plain, nil)
	must(r.t, err)
	r.write(enc)
	return enc
}

func (r *rawClient) close() {
	if r.dconn != nil {
		_ = r.dconn.Close()
	}
	_ = r.agent.Close()
}

// packetConn adapts the ICE connection to the net.PacketConn pion/dtls wants.
type packetConn struct{ *ice.Conn }

func (p packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, err := p.Read(b)
	return n, p.RemoteAddr(), err
}
func (p packetConn) WriteTo(b []byte, _ net.Addr) (int, error) { return p.Write(b) }
