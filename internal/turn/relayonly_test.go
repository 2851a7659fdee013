package turn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-im/parley/internal/bridge"
)

// TestRelayOnlyClientReceivesMedia: a Pion client with ICETransportPolicyRelay (it may use nothing but
// relay candidates) connects through this TURN server, over TURN/TCP, to the bridge and receives the
// media another, directly connected, client sends.
func TestRelayOnlyClientReceivesMedia(t *testing.T) {
	bcfg := bridge.Default()
	bcfg.MediaAddr = "127.0.0.1:0"
	bcfg.IncludeLoopback = true
	bcfg.AudioSlots, bcfg.VideoSlots = 2, 2
	b, err := bridge.New(bcfg, testLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mediaAddr := b.MediaAddr().(*net.UDPAddr).AddrPort()
	s := newTestServer(t, nil, mediaAddr)

	sender := newPeer(t, b, "sender", nil)
	go sender.sendAudio()
	svcs := s.Services("receiver@localhost", "127.0.0.1")
	var ice []webrtc.ICEServer
	for _, sv := range svcs {
		if sv.Type == "turn" && sv.Transport == "tcp" { // what Jitsi's client uses for the bridge
			ice = append(ice, webrtc.ICEServer{URLs: []string{fmt.Sprintf("turn:%s:%d?transport=tcp", sv.Host, sv.Port)},
				Username: sv.Username, Credential: sv.Password})
		}
	}
	receiver := newPeer(t, b, "receiver", ice)
	got := make(chan struct{})
	receiver.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			close(got)
		}
	})
	receiver.connect(t)
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("the relay-only client received no media")
	}
	pair, err := receiver.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("selected pair %v (%v) is not relayed", pair, err)
	}
	if counterValue(s.m.fromPeerBytes) == 0 || counterValue(s.m.allocationsTotal) == 0 {
		t.Error("no relayed bytes counted")
	}
}

type testPeer struct {
	t     *testing.T
	id    string
	b     *bridge.Bridge
	pc    *webrtc.PeerConnection
	audio *webrtc.TrackLocalStaticSample
	stop  chan struct{}
}

func newPeer(t *testing.T, b *bridge.Bridge, id string, relay []webrtc.ICEServer) *testPeer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: bridge.PayloadTypeOpus}, webrtc.RTPCodecTypeAudio))
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	conf := webrtc.Configuration{}
	if relay != nil {
		conf = webrtc.Configuration{ICEServers: relay, ICETransportPolicy: webrtc.ICETransportPolicyRelay}
	}
	pc, err := api.NewPeerConnection(conf)
	must(t, err)
	p := &testPeer{t: t, id: id, b: b, pc: pc, stop: make(chan struct{})}
	t.Cleanup(func() { close(p.stop); _ = pc.Close() })
	p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id)
	must(t, err)
	_, err = pc.AddTrack(p.audio)
	must(t, err)
	if relay == nil {
		p.connect(t)
	}
	return p
}

// connect allocates the endpoint, answers the bridge's offer and hands the answer back.
func (p *testPeer) connect(t *testing.T) {
	t.Helper()
	alloc, err := p.b.AllocateEndpoint(bridge.AllocateRequest{ConferenceID: "room", EndpointID: p.id})
	must(t, err)
	must(t, p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP(alloc)}))
	answer, err := p.pc.CreateAnswer(nil)
	must(t, err)
	gathered := webrtc.GatheringCompletePromise(p.pc)
	must(t, p.pc.SetLocalDescription(answer))
	<-gathered
	local := p.pc.LocalDescription().SDP
	a := bridge.Answer{ConferenceID: "room", EndpointID: p.id, DTLS: bridge.DTLS{Hash: "sha-256", Setup: "active"}}
	for _, line := range strings.Split(local, "\r\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "a="), ":")
		switch k {
		case "ice-ufrag":
			a.ICE.Ufrag = v
		case "ice-pwd":
			a.ICE.Pwd = v
		case "fingerprint":
			a.DTLS.Hash, a.DTLS.Fingerprint, _ = strings.Cut(v, " ")
		case "candidate":
			c, err := ice.UnmarshalCandidate(v)
			must(t, err)
			bc := bridge.Candidate{Foundation: c.Foundation(), Component: int(c.Component()), Protocol: strings.ToLower(c.NetworkType().NetworkShort()),
				Priority: c.Priority(), IP: c.Address(), Port: c.Port(), Type: c.Type().String()}
			if r := c.RelatedAddress(); r != nil {
				bc.RelAddr, bc.RelPort = r.Address, r.Port
			}
			a.ICE.Candidates = append(a.ICE.Candidates, bc)
		}
	}
	ssrc := uint32(p.pc.GetSenders()[0].GetParameters().Encodings[0].SSRC)
	a.Sources = []bridge.Source{{Kind: bridge.KindAudio, SSRC: ssrc, Name: p.id + "-a0"}}
	must(t, p.b.SetAnswer(a))
}

func (p *testPeer) sendAudio() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	frame := []byte{0xf8, 0xff, 0xfe} // an Opus DTX/silence frame
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.audio.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}) != nil {
			return
		}
	}
}

// offerSDP renders the bridge's offer for audio only: one sendrecv m-line and the other audio slots
// sendonly (what the focus's Jingle offer becomes in the client).
func offerSDP(a *bridge.Allocation) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("v=0")
	w("o=- 1 2 IN IP4 127.0.0.1")
	w("s=-")
	w("t=0 0")
	var mids []string
	for i := range a.AudioSlots {
		mids = append(mids, fmt.Sprint(i))
	}
	w("a=group:BUNDLE %s", strings.Join(mids, " "))
	for i, s := range a.AudioSlots {
		w("m=audio 9 UDP/TLS/RTP/SAVPF %d", bridge.PayloadTypeOpus)
		w("c=IN IP4 0.0.0.0")
		w("a=mid:%d", i)
		w("a=ice-ufrag:%s", a.ICE.Ufrag)
		w("a=ice-pwd:%s", a.ICE.Pwd)
		w("a=fingerprint:%s %s", a.DTLS.Hash, a.DTLS.Fingerprint)
		w("a=setup:%s", a.DTLS.Setup)
		w("a=rtcp-mux")
		w("a=%s", map[bool]string{true: "sendrecv", false: "sendonly"}[i == 0])
		if i == 0 {
			for _, c := range a.ICE.Candidates {
				w("a=%s", c.SDP())
			}
			w("a=end-of-candidates")
		}
		w("a=rtpmap:%d opus/48000/2", bridge.PayloadTypeOpus)
		w("a=msid:%s", s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
	}
	return b.String()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestShareTLS: on one TLS port, browsers' HTTPS (ALPN h2 and http/1.1), HTTP without ALPN (with
// Request.TLS still set) and TURN over TLS without ALPN each reach the right server.
func TestShareTLS(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.AllowPeers = []string{"127.0.0.3/32"} })
	cert := selfSigned(t)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s tls=%v", r.Proto, r.TLS != nil)
	})}
	shared := s.ShareTLS(raw, tlsCfg)
	go srv.Serve(shared)
	defer srv.Close()

	for _, c := range []struct {
		alpn []string
		want string
	}{
		{[]string{"h2"}, "HTTP/2.0 tls=true"},
		{[]string{"http/1.1"}, "HTTP/1.1 tls=true"},
		{nil, "HTTP/1.1 tls=true"},
	} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: c.alpn}, ForceAttemptHTTP2: len(c.alpn) > 0 && c.alpn[0] == "h2"}
		if c.alpn == nil {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
				return d.DialContext(ctx, network, addr)
			}
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + raw.Addr().String() + "/")
		if err != nil {
			t.Fatalf("ALPN %v: %v", c.alpn, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := string(body); got != c.want {
			t.Errorf("ALPN %v: %q, want %q", c.alpn, got, c.want)
		}
		tr.CloseIdleConnections()
	}

	if svcs := s.Services("a@b", "h"); svcs[len(svcs)-1].Type != "turns" || svcs[len(svcs)-1].Port != raw.Addr().(*net.TCPAddr).Port {
		t.Errorf("no turns entry for the shared port: %+v", svcs)
	}
	conn, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echo := newUDPPeer(t, "127.0.0.3:0", true)
	u := &stunClient{t: t, conn: conn, tcp: true, readTimeout: 5 * time.Second}
	u.withCredentials("grace", time.Hour)
	u.allocate(protoUDP)
	if r := u.request(stun.MethodCreatePermission, peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("CreatePermission over the shared port: %d", errorCode(r))
	}
	u.write(sendIndication(t, echo.addr(), []byte("over 443")))
	if got := string(echo.wait(t, "relayed data")); got != "over 443" {
		t.Fatalf("peer got %q", got)
	}
	// The guard answers a refused peer on this path too, and the connection goes on relaying.
	u.forbidden("ChannelBind over the shared port", u.request(stun.MethodChannelBind, channel(0x4000),
		peer(netip.MustParseAddrPort("169.254.169.254:80"))))
	if r := u.request(stun.MethodChannelBind, channel(0x4001), peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("ChannelBind over the shared port: %d", errorCode(r))
	}
	u.write(channelData(0x4001, []byte("channel over 443"), true))
	if got := string(echo.wait(t, "channel data")); got != "channel over 443" {
		t.Fatalf("peer got %q", got)
	}
	if got := s.refusals(ReasonLinkLocal); got != 1 {
		t.Errorf("refusals{reason=link-local} = %v, want 1", got)
	}

	// A TURN client that offers HTTP's ALPN name before TURN's, as coturn's do, gets "stun.turn" and TURN.
	tc, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true,
		NextProtos: []string{"http/1.1", "stun.turn", "stun.nat-discovery"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().NegotiatedProtocol; got != "stun.turn" {
		t.Errorf("ALPN [http/1.1 stun.turn stun.nat-discovery] negotiated %q, want stun.turn", got)
	}
	u2 := &stunClient{t: t, conn: tc, tcp: true, readTimeout: 5 * time.Second}
	u2.withCredentials("heidi", time.Hour)
	u2.allocate(protoUDP)
	if r := u2.request(stun.MethodCreatePermission, peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("CreatePermission with ALPN http/1.1 and stun.turn: %d", errorCode(r))
	}
}

// TestShareTLSFirstRead: on a connection without ALPN, the bytes read to choose the destination reach it
// as one read, as they came off the TLS record, not a lone first byte followed by the rest.
func TestShareTLSFirstRead(t *testing.T) {
	s := newTestServer(t, nil)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shared := s.ShareTLS(raw, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"h2", "http/1.1"}})
	defer shared.Close()
	const req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	go func() {
		c, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte(req))
		_, _ = c.Read(make([]byte, 1)) // hold the connection until the server closes it
	}()
	c, err := shared.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != req {
		t.Fatalf("first read: %q, %v; want the whole request %q", buf[:n], err, req)
	}
	if _, ok := c.(interface{ ConnectionState() tls.ConnectionState }); !ok {
		t.Errorf("HTTP connection without ALPN has no ConnectionState")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
