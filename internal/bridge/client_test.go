package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// testLogger logs to stderr only with PARLEY_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig is a bridge on loopback with few slots and short timers.
func testConfig() Config {
	cfg := Default()
	cfg.MediaAddr = "127.0.0.1:0"
	cfg.IncludeLoopback = true
	cfg.AudioSlots = 2
	cfg.VideoSlots = 2
	cfg.ConnectTimeout = 10 * time.Second
	cfg.KeyframeInterval = 100 * time.Millisecond
	return cfg
}

type testBridge struct {
	*Bridge
	http *httptest.Server
}

func newTestBridge(t *testing.T, cfg Config, opts ...Option) *testBridge {
	t.Helper()
	b, err := New(cfg, testLogger(), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	srv := newChannelServer(b)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = b.Close()
	})
	return &testBridge{Bridge: b, http: srv}
}

func newChannelServer(b *Bridge) *httptest.Server { return httptest.NewServer(b.ChannelHandler()) }

// offerSDP renders an Allocation as the SDP offer a client would build from the Jingle session-initiate:
// one m-line per slot, the first of each kind sendrecv (the client sends on it), the others sendonly.
func offerSDP(a *Allocation) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("v=0")
	w("o=- 4611731400430051336 2 IN IP4 127.0.0.1")
	w("s=-")
	w("t=0 0")
	var mids []string
	for i := 0; i < len(a.AudioSlots)+len(a.VideoSlots)+1; i++ {
		mids = append(mids, fmt.Sprint(i))
	}
	w("a=group:BUNDLE %s", strings.Join(mids, " "))
	w("a=msid-semantic: WMS *")
	mid := 0
	common := func(dir string) {
		w("c=IN IP4 0.0.0.0")
		w("a=mid:%d", mid)
		w("a=ice-ufrag:%s", a.ICE.Ufrag)
		w("a=ice-pwd:%s", a.ICE.Pwd)
		w("a=fingerprint:%s %s", a.DTLS.Hash, a.DTLS.Fingerprint)
		w("a=setup:%s", a.DTLS.Setup)
		w("a=rtcp-mux")
		w("a=%s", dir)
		if mid == 0 {
			for _, c := range a.ICE.Candidates {
				w("a=%s", c.SDP())
			}
			w("a=end-of-candidates")
		}
		mid++
	}
	for i, s := range a.AudioSlots {
		w("m=audio 9 UDP/TLS/RTP/SAVPF %d", PayloadTypeOpus)
		common(map[bool]string{true: "sendrecv", false: "sendonly"}[i == 0])
		w("a=rtpmap:%d opus/48000/2", PayloadTypeOpus)
		w("a=fmtp:%d minptime=10;useinbandfec=1", PayloadTypeOpus)
		w("a=msid:%s", s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
	}
	for i, s := range a.VideoSlots {
		w("m=video 9 UDP/TLS/RTP/SAVPF %d %d", PayloadTypeVP8, PayloadTypeVP8RTX)
		common(map[bool]string{true: "sendrecv", false: "sendonly"}[i == 0])
		w("a=rtpmap:%d VP8/90000", PayloadTypeVP8)
		w("a=rtcp-fb:%d ccm fir", PayloadTypeVP8)
		w("a=rtcp-fb:%d nack", PayloadTypeVP8)
		w("a=rtcp-fb:%d nack pli", PayloadTypeVP8)
		w("a=rtpmap:%d rtx/90000", PayloadTypeVP8RTX)
		w("a=fmtp:%d apt=%d", PayloadTypeVP8RTX, PayloadTypeVP8)
		w("a=msid:%s", s.MSID)
		w("a=ssrc-group:FID %d %d", s.SSRC, s.RTX)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.RTX)
		w("a=ssrc:%d msid:%s", s.RTX, s.MSID)
	}
	// The bridge's own video source (jvb-v0), as Jicofo's offer carries it: the bridge's probes
	// (padding) come on it.
	for _, s := range a.Feedback {
		if s.Kind != KindVideo {
			continue
		}
		w("m=video 9 UDP/TLS/RTP/SAVPF %d", PayloadTypeVP8)
		common("sendonly")
		w("a=rtpmap:%d VP8/90000", PayloadTypeVP8)
		w("a=msid:%s", s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
	}
	return b.String()
}

// client is a Pion PeerConnection participant talking to the bridge API directly.
type client struct {
	t     *testing.T
	id    string
	pc    *webrtc.PeerConnection
	alloc *Allocation
	audio *webrtc.TrackLocalStaticSample
	video *webrtc.TrackLocalStaticSample
	vs    *webrtc.RTPSender
	as    *webrtc.RTPSender

	rec  *recorder
	plis chan struct{} // one token per PLI/FIR received for the client's video

	ws     *websocket.Conn
	dc     *webrtc.DataChannel
	wsMsgs *recorder // bridge channel messages, kept as raw JSON strings

	paused atomic.Bool // stop sending media without closing
	stop   chan struct{}
	wg     sync.WaitGroup
}

type clientOpts struct {
	net       transport.Net // vnet; nil = loopback
	noSend    bool
	noAudio   bool // sends video only
	noChannel bool
	// tcc negotiates the transport-wide sequence number header extension (id 5, as the focus offers it
	// to participants with http://jitsi.org/tcc); the client stamps every packet it sends.
	tcc bool
	// tccFeedback also accepts the extension on what the bridge sends (Answer.TransportCC) and sends
	// transport-cc feedback about it, as a browser does (pion's TWCC sender interceptor).
	tccFeedback bool
	// red accepts red/48000/2 for audio (Answer.RED): the bridge sends this client its audio as RED.
	red bool
	// dataChannel makes the client use the SCTP data channel for the bridge channel instead of the
	// WebSocket: the offer gets an m=application line and the client opens "JVB data channel" (as LJM does).
	dataChannel bool
	// noRTX answers without RTX (Answer.RTX false), as a receiver that negotiated none.
	noRTX bool
}

// newClient allocates an endpoint, answers with a Pion PeerConnection, connects the bridge channel (and
// sends ReceiverVideoConstraints) and starts sending the fixtures.
func newClient(t *testing.T, tb *testBridge, conf, id string, o clientOpts) *client {
	t.Helper()
	fx := mustFixtures(t)
	c := &client{t: t, id: id, rec: newRecorder(), wsMsgs: newRecorder(), plis: make(chan struct{}, 1000), stop: make(chan struct{})}

	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: PayloadTypeVP8}, webrtc.RTPCodecTypeVideo))
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", PayloadTypeVP8)},
		PayloadType: PayloadTypeVP8RTX}, webrtc.RTPCodecTypeVideo))
	must(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: PayloadTypeOpus}, webrtc.RTPCodecTypeAudio))
	if o.red {
		must(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
			PayloadType: PayloadTypeRED}, webrtc.RTPCodecTypeAudio))
	}
	ir := &interceptor.Registry{}
	must(t, webrtc.ConfigureNack(m, ir))
	must(t, webrtc.ConfigureRTCPReports(ir))
	if o.tcc {
		must(t, webrtc.ConfigureTWCCHeaderExtensionSender(m, ir))
	}
	if o.tccFeedback {
		must(t, webrtc.ConfigureTWCCSender(m, ir))
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if o.net != nil {
		se.SetNet(o.net)
	} else {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	must(t, err)
	c.pc = pc
	t.Cleanup(c.close)

	c.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id)
	must(t, err)
	c.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", id)
	must(t, err)
	c.as, err = pc.AddTrack(c.audio)
	must(t, err)
	c.vs, err = pc.AddTrack(c.video)
	must(t, err)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				c.rec.add(p)
			}
		}()
	})

	c.alloc, err = tb.AllocateEndpoint(AllocateRequest{ConferenceID: conf, EndpointID: id})
	must(t, err)
	offer := offerSDP(c.alloc)
	if o.tcc || o.tccFeedback {
		offer = withTransportCC(offer)
	}
	if o.red {
		offer = withRED(offer)
	}
	if o.dataChannel {
		offer = withDataChannel(offer, c.alloc)
		c.openDataChannel()
	}
	must(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}))
	answer, err := pc.CreateAnswer(nil)
	must(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	must(t, pc.SetLocalDescription(answer))
	<-gathered
	ans := c.answerFor(conf, pc.LocalDescription().SDP)
	if o.tccFeedback {
		ans.TransportCC = extTransportCC
	}
	if o.noRTX {
		ans.RTX = false
	}
	if o.red {
		ans.RED = PayloadTypeRED
	}
	must(t, tb.SetAnswer(ans))

	switch {
	case o.dataChannel:
		c.wsMsgs.wait(c.t, "ServerHello on the data channel", func(r *recorder) bool { return r.hasMsg(`"colibriClass":"ServerHello"`) })
		c.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":720}}`)
	case !o.noChannel:
		c.connectChannel(tb)
	}
	if !o.noSend {
		c.wg.Add(2)
		go c.sendVideo(fx)
		go c.readSenderRTCP(c.vs)
		if !o.noAudio {
			c.wg.Add(2)
			go c.sendAudio(fx)
			go c.readSenderRTCP(c.as)
		}
	}
	return c
}

// answerFor builds the API's Answer from the client's SDP answer and its senders' SSRCs.
func (c *client) answerFor(conf, answerSDP string) Answer {
	var sd sdp.SessionDescription
	must(c.t, sd.UnmarshalString(answerSDP))
	a := Answer{ConferenceID: conf, EndpointID: c.id, DTLS: DTLS{Hash: "sha-256", Setup: "active"}, RTX: true}
	attr := func(key string) string {
		for _, md := range sd.MediaDescriptions {
			if v, ok := md.Attribute(key); ok {
				return v
			}
		}
		v, _ := sd.Attribute(key)
		return v
	}
	a.ICE.Ufrag, a.ICE.Pwd = attr("ice-ufrag"), attr("ice-pwd")
	fp := strings.Fields(attr("fingerprint"))
	a.DTLS.Hash, a.DTLS.Fingerprint = fp[0], fp[1]
	a.DTLS.Setup = attr("setup")
	for _, at := range sd.MediaDescriptions[0].Attributes {
		if at.Key == "candidate" {
			ic, err := ice.UnmarshalCandidate(at.Value)
			must(c.t, err)
			a.ICE.Candidates = append(a.ICE.Candidates, fromICECandidate(ic))
		}
	}
	ap := c.as.GetParameters().Encodings[0]
	vp := c.vs.GetParameters().Encodings[0]
	a.Sources = []Source{
		{Kind: KindAudio, SSRC: uint32(ap.SSRC), Name: c.id + "-a0"},
		{Kind: KindVideo, SSRC: uint32(vp.SSRC), Name: c.id + "-v0", VideoType: "camera"},
	}
	if vp.RTX.SSRC != 0 {
		a.Sources = append(a.Sources, Source{Kind: KindVideo, SSRC: uint32(vp.RTX.SSRC), Name: c.id + "-v0"})
		a.Groups = []Group{{Semantics: GroupFID, SSRCs: []uint32{uint32(vp.SSRC), uint32(vp.RTX.SSRC)}}}
	}
	return a
}

// withTransportCC adds the transport-wide sequence number extension to every m-line of an offer made by
// offerSDP, with the id and URI of the focus's offer.
func withTransportCC(offer string) string {
	return strings.ReplaceAll(offer, "a=rtcp-mux\r\n",
		fmt.Sprintf("a=rtcp-mux\r\na=extmap:%d %s\r\n", extTransportCC, sdp.TransportCCURI))
}

// withRED offers red/48000/2 after Opus on every audio m-line of an offer made by offerSDP, as the focus
// does for clients that announce http://jitsi.org/opus-red.
func withRED(offer string) string {
	offer = strings.ReplaceAll(offer, fmt.Sprintf("m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", PayloadTypeOpus),
		fmt.Sprintf("m=audio 9 UDP/TLS/RTP/SAVPF %d %d\r\n", PayloadTypeOpus, PayloadTypeRED))
	return strings.ReplaceAll(offer, fmt.Sprintf("a=fmtp:%d minptime=10;useinbandfec=1\r\n", PayloadTypeOpus),
		fmt.Sprintf("a=fmtp:%d minptime=10;useinbandfec=1\r\na=rtpmap:%d red/48000/2\r\na=fmtp:%d %d/%d\r\n",
			PayloadTypeOpus, PayloadTypeRED, PayloadTypeRED, PayloadTypeOpus, PayloadTypeOpus))
}

// withDataChannel adds the SCTP m-line (dialect §6.1, port 5000) to an offer made by offerSDP.
func withDataChannel(offer string, a *Allocation) string {
	mid := len(a.AudioSlots) + len(a.VideoSlots)
	lines := strings.Split(strings.TrimSuffix(offer, "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "a=group:BUNDLE ") {
			lines[i] = fmt.Sprintf("%s %d", l, mid)
		}
	}
	lines = append(lines,
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
		"c=IN IP4 0.0.0.0",
		fmt.Sprintf("a=mid:%d", mid),
		"a=ice-ufrag:"+a.ICE.Ufrag,
		"a=ice-pwd:"+a.ICE.Pwd,
		fmt.Sprintf("a=fingerprint:%s %s", a.DTLS.Hash, a.DTLS.Fingerprint),
		"a=setup:"+a.DTLS.Setup,
		"a=sctp-port:5000",
	)
	return strings.Join(lines, "\r\n") + "\r\n"
}

// openDataChannel creates the bridge channel's data channel the way LJM does; messages are recorded like
// the WebSocket's.
func (c *client) openDataChannel() {
	proto := "http://jitsi.org/protocols/colibri"
	dc, err := c.pc.CreateDataChannel("JVB data channel", &webrtc.DataChannelInit{Protocol: &proto})
	must(c.t, err)
	c.dc = dc
	dc.OnMessage(func(m webrtc.DataChannelMessage) { c.wsMsgs.addMsg(string(m.Data)) })
	dc.OnClose(func() { c.wsMsgs.addMsg("closed:datachannel") })
}

// connectChannel opens the bridge channel and sends the first ReceiverVideoConstraints.
func (c *client) connectChannel(tb *testBridge) {
	url := c.alloc.Channel.URL("ws://" + tb.http.Listener.Addr().String())
	ws, _, err := websocket.Dial(context.Background(), url, nil)
	must(c.t, err)
	c.ws = ws
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.wsMsgs.addMsg(fmt.Sprintf("closed:%d:%v", websocket.CloseStatus(err), err))
				return
			}
			c.wsMsgs.addMsg(string(data))
		}
	}()
	c.wsMsgs.wait(c.t, "ServerHello", func(r *recorder) bool { return r.hasMsg(`"colibriClass":"ServerHello"`) })
	c.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":720}}`)
}

func (c *client) send(msg string) {
	if c.dc != nil {
		must(c.t, c.dc.SendText(msg))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(c.t, c.ws.Write(ctx, websocket.MessageText, []byte(msg)))
}

// sendVideo sends VP8 frames at 30 fps, looping over the fixture; a PLI jumps to the next key frame.
func (c *client) sendVideo(fx *fixtures) {
	defer c.wg.Done()
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	i := 0
	for {
		select {
		case <-c.stop:
			return
		case <-c.plis:
			for len(c.plis) > 0 {
				<-c.plis
			}
			next := 0
			for _, k := range fx.keyframes {
				if k > i {
					next = k
					break
				}
			}
			i = next
			continue
		case <-tick.C:
		}
		if c.paused.Load() {
			continue
		}
		if err := c.video.WriteSample(media.Sample{Data: fx.video[i], Duration: 33 * time.Millisecond}); err != nil {
			return
		}
		i = (i + 1) % len(fx.video)
	}
}

func (c *client) sendAudio(fx *fixtures) {
	defer c.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(fx.audio) {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		if c.paused.Load() {
			continue
		}
		if err := c.audio.WriteSample(media.Sample{Data: fx.audio[i], Duration: 20 * time.Millisecond}); err != nil {
			return
		}
	}
}

// readSenderRTCP counts keyframe requests for the client's video and records transport-cc feedback and
// NACKs (Pion routes each to the sender of its media SSRC).
func (c *client) readSenderRTCP(s *webrtc.RTPSender) {
	defer c.wg.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerCC:
				c.rec.addRTCP(p)
			case *rtcp.TransportLayerNack:
				c.rec.addRTCP(p)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.rec.addPLI()
				select {
				case c.plis <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (c *client) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	if c.ws != nil {
		_ = c.ws.CloseNow()
	}
	_ = c.pc.Close()
	c.wg.Wait()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorder collects received RTP packets (by SSRC) and bridge channel messages; waiters are woken on
// every change, so tests wait for events rather than sleeping.
type recorder struct {
	mu      sync.Mutex
	changed chan struct{}
	pkts    map[uint32][]rtp.Packet
	msgs    []string
	pliN    int
	rtcp    []rtcp.Packet // transport-cc feedback and NACKs received as a sender
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}), pkts: map[uint32][]rtp.Packet{}}
}

func (r *recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) add(p *rtp.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := *p
	cp.Payload = append([]byte(nil), p.Payload...)
	r.pkts[p.SSRC] = append(r.pkts[p.SSRC], cp)
	r.notifyLocked()
}

func (r *recorder) addMsg(m string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.notifyLocked()
}

func (r *recorder) addPLI() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pliN++
	r.notifyLocked()
}

func (r *recorder) addRTCP(p rtcp.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rtcp = append(r.rtcp, p)
	r.notifyLocked()
}

func (r *recorder) plis() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pliN
}

// hasMsg reports whether a message containing sub arrived; the caller holds no lock (wait holds it).
func (r *recorder) hasMsg(sub string) bool {
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

func (r *recorder) hasMsgLocked(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hasMsg(sub)
}

// count is for wait conditions (r.mu held); n takes the lock.
func (r *recorder) count(ssrc uint32) int { return len(r.pkts[ssrc]) }

func (r *recorder) n(ssrc uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pkts[ssrc])
}

// wait blocks until cond (called with r.mu held) is true, failing the test after 10 s.
func (r *recorder) wait(t testing.TB, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// snapshot returns a copy of the packets received on ssrc.
func (r *recorder) snapshot(ssrc uint32) []rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtp.Packet(nil), r.pkts[ssrc]...)
}

// mapped returns the sources announced on the bridge channel by VideoSourcesMap/AudioSourcesMap, by SSRC.
func (r *recorder) mapped() map[uint32]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[uint32]string{}
	for _, m := range r.msgs {
		var msg struct {
			Class  string        `json:"colibriClass"`
			Mapped []slotMapping `json:"mappedSources"`
		}
		if json.Unmarshal([]byte(m), &msg) != nil {
			continue
		}
		for _, e := range msg.Mapped {
			out[e.SSRC] = e.Source
		}
	}
	return out
}
