package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/testmedia"
	"github.com/parley-im/parley/internal/xmpp/jingle"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// session is one Jingle session's PeerConnection, senders and bridge channel.
type session struct {
	sid   string // the Jingle session's id
	pc    *webrtc.PeerConnection
	audio *webrtc.TrackLocalStaticSample
	video [3]*webrtc.TrackLocalStaticSample
	vp8   [3]*vp8Payloader // each encoding's packetizer (payloader.go)
	as    *webrtc.RTPSender
	vs    *webrtc.RTPSender
	ws    *websocket.Conn
	plis  chan struct{} // keyframe requests for the video

	// feedbackSSRC is the SSRC the bot's keyframe requests come from (its
	// lowest video encoding's).
	feedbackSSRC uint32

	// offerSDP is the focus's offer with an m-line for each slot the
	// sources maps named (remote.go); known holds those slots' SSRCs. Both
	// belong to the bridge channel's reader once the session is accepted.
	offerSDP string
	known    map[uint32]bool
	// arrivals are the SRTP read buffers, which say when each packet
	// arrived (arrival.go).
	arrivals *arrivals
	stop     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

func (m *session) close() {
	m.once.Do(func() {
		close(m.stop)
		if m.ws != nil {
			m.ws.CloseNow()
		}
		m.pc.Close()
	})
	m.wg.Wait()
}

// onJingle handles a Jingle request from the focus; gen is the count noteJingle left for it. A
// session-terminate followed by a session-initiate (the focus moves the bot to another bridge) ends
// the old session and starts the new one, whichever goroutine runs first.
func (b *Bot) onJingle(el *stanza.Element, gen int) {
	j, err := jingle.Parse(el, jingle.OfferLimits())
	if err != nil {
		b.fail(fmt.Errorf("bad Jingle from the focus: %w", err))
		return
	}
	switch j.Action {
	case "session-initiate":
		if !b.replaceSession(gen) {
			return // a later offer or a terminate of this one came meanwhile
		}
		if err := b.startSession(j, gen); err != nil {
			b.fail(err)
		}
	case "session-terminate":
		b.trace("session-terminate")
		b.endSessionOf(j.SID)
	}
}

// startSession answers a session-initiate; it drops the session if a later session-initiate or a
// session-terminate of this one (gen) came while it gathered.
func (b *Bot) startSession(offer *jingle.Jingle, gen int) error {
	b.trace("session-initiate")
	offerSDP, err := jingle.ToSDPString(offer, jingle.SDPOptions{Split: true})
	if err != nil {
		return fmt.Errorf("offer to SDP: %w", err)
	}
	arr := newArrivals()
	pc, err := b.newPeerConnection(arr)
	if err != nil {
		return err
	}
	m := &session{sid: offer.SID, pc: pc, stop: make(chan struct{}), plis: make(chan struct{}, 1), offerSDP: offerSDP, known: map[uint32]bool{}, arrivals: arr}
	if err := b.addSenders(m); err != nil {
		pc.Close()
		return err
	}
	if enc := m.vs.GetParameters().Encodings; len(enc) > 0 {
		m.feedbackSSRC = uint32(enc[0].SSRC)
	}
	b.mu.Lock()
	b.in.newSession()
	b.mu.Unlock()
	b.cam.setMaxHeight(-1) // until the bridge says otherwise, as a new PeerConnection
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			b.receive(m, tr)
		}()
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		pc.Close()
		return fmt.Errorf("set offer: %w", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		pc.Close()
		return fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		pc.Close()
		return fmt.Errorf("set answer: %w", err)
	}
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) { b.trace("ice " + s.String()) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		b.trace("pc " + s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			time.AfterFunc(stableAfter, func() {
				b.mu.Lock()
				if b.media == m && pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
					b.restarts = 0
				}
				b.mu.Unlock()
			})
		case webrtc.PeerConnectionStateFailed:
			if b.ctx.Err() == nil {
				b.wg.Add(1)
				go func() {
					defer b.wg.Done()
					b.restartSession(m)
				}()
			}
		}
	})
	select {
	case <-gathered:
	case <-b.ctx.Done():
		pc.Close()
		return b.ctx.Err()
	}
	// The offer has the bridge's feedback sources only; its slots get
	// m-lines when the sources maps name them (remote.go).
	lim := jingle.OfferLimits()
	accept, err := jingle.FromSDPString(pc.LocalDescription().SDP, jingle.SDPOptions{Responder: true, ByKind: true, Limits: &lim})
	if err != nil {
		pc.Close()
		return fmt.Errorf("answer to Jingle: %w", err)
	}
	accept.Action = "session-accept"
	accept.SID = offer.SID
	accept.Initiator = offer.Initiator
	accept.Responder = b.x().JID()
	b.setSources(accept, m)
	b.mu.Lock()
	if b.jingleGen != gen {
		b.mu.Unlock()
		pc.Close()
		return nil
	}
	b.media = m
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	b.trace("gathered")
	if _, err := b.x().IQ(ctx, stanza.NewIQ("set", "", "", b.focus.String(), accept.Element())); err != nil {
		return fmt.Errorf("session-accept refused: %w", err)
	}
	b.trace("accepted")
	for _, ct := range offer.Contents {
		if ct.Transport != nil && len(ct.Transport.WebSockets) > 0 {
			if err := b.openChannel(m, ct.Transport.WebSockets[0]); err != nil {
				return err
			}
			break
		}
	}
	fx, err := testmedia.Load()
	if err != nil {
		return err
	}
	m.wg.Add(3)
	go func() { defer m.wg.Done(); readKeyframeRequests(m, b.cam) }()
	go func() { defer m.wg.Done(); sendVideo(m, fx, b.cam, b.outgoing) }()
	go func() { defer m.wg.Done(); sendAudio(m, fx, b.outgoing) }()
	return nil
}

func (b *Bot) newPeerConnection(arr *arrivals) (*webrtc.PeerConnection, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	codecs := []struct {
		p webrtc.RTPCodecParameters
		k webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 100}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=100"}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		// RED (RFC 2198): the bridge repeats earlier audio packets in it when this bot's link loses them (recv.go).
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: payloadRED}, webrtc.RTPCodecTypeAudio},
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.p, c.k); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if b.o.dropReceived != nil || b.o.dropReceivedAudio != nil {
		ir.Add(dropper{b.o.dropReceived, b.o.dropReceivedAudio}) // first: the closest to the network
	}
	// Pion's NACK generator binds no stream: the bot sends its own NACKs (seq.go).
	noNacks := nack.GeneratorStreamsFilter(func(*interceptor.StreamInfo) bool { return false })
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithNackGeneratorOptions(noNacks)); err != nil {
		return nil, err
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir.Add(audioLevels{muted: b.o.Muted}) // level.go
	se := webrtc.SettingEngine{BufferFactory: arr.factory}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if b.o.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{})
}

// addSenders adds the audio track and the three-layer simulcast video.
func (b *Bot) addSenders(m *session) error {
	var err error
	stream := b.nick
	m.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, b.nick+"-a0", stream)
	if err != nil {
		return err
	}
	if m.as, err = m.pc.AddTrack(m.audio); err != nil {
		return err
	}
	for i, rid := range []string{"q", "h", "f"} {
		p := &vp8Payloader{}
		m.vp8[i] = p
		m.video[i], err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			b.nick+"-v0", stream, webrtc.WithRTPStreamID(rid),
			webrtc.WithPayloader(func(webrtc.RTPCodecCapability) (rtp.Payloader, error) { return p, nil }))
		if err != nil {
			return err
		}
	}
	if m.vs, err = m.pc.AddTrack(m.video[0]); err != nil {
		return err
	}
	for _, t := range m.video[1:] {
		if err := m.vs.AddEncoding(t); err != nil {
			return err
		}
	}
	return nil
}

// setSources replaces the answer's sources with the bot's own, as Jitsi's
// client signals them: one audio source, and for video a SIM group of the
// three layers, each with its RTX partner in an FID group.
func (b *Bot) setSources(j *jingle.Jingle, m *session) {
	msid := func(kind string) string { return b.nick + "-" + kind + "-0-1 " + b.nick + "-" + kind + "-track" }
	for _, ct := range j.Contents {
		d := ct.Description
		if d == nil {
			continue
		}
		d.Sources, d.SSRCGroups, d.RIDGroups = nil, nil, nil
		switch d.Media {
		case "audio":
			for _, e := range m.as.GetParameters().Encodings {
				d.Sources = append(d.Sources, jingle.Source{SSRC: uint32(e.SSRC), Name: b.nick + "-a0", MSID: msid("audio")})
			}
		case "video":
			var sim []uint32
			for _, e := range m.vs.GetParameters().Encodings {
				d.Sources = append(d.Sources, jingle.Source{SSRC: uint32(e.SSRC), Name: b.nick + "-v0", VideoType: "camera", MSID: msid("video")})
				sim = append(sim, uint32(e.SSRC))
				if e.RTX.SSRC != 0 {
					d.Sources = append(d.Sources, jingle.Source{SSRC: uint32(e.RTX.SSRC), Name: b.nick + "-v0", VideoType: "camera", MSID: msid("video")})
					d.SSRCGroups = append(d.SSRCGroups, jingle.SSRCGroup{Semantics: "FID", SSRCs: []uint32{uint32(e.SSRC), uint32(e.RTX.SSRC)}})
				}
			}
			if len(sim) > 1 {
				d.SSRCGroups = append([]jingle.SSRCGroup{{Semantics: "SIM", SSRCs: sim}}, d.SSRCGroups...)
			}
		}
	}
}

// outgoingFunc turns a frame into what is sent (Bot.outgoing); false: do
// not send it.
type outgoingFunc func(ctx e2ee.Context, frame []byte) ([]byte, bool)

// sendAudio writes Opus every 20 ms, looping.
func sendAudio(m *session, fx *testmedia.Media, out outgoingFunc) {
	tick := time.NewTicker(testmedia.AudioFrameDuration)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(fx.Audio) {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		data, ok := out(e2ee.ContextAudio, fx.Audio[i])
		if !ok {
			continue
		}
		if err := m.audio.WriteSample(media.Sample{Data: data, Duration: testmedia.AudioFrameDuration}); err != nil {
			return
		}
	}
}

// receive reads a remote track (one of the bridge's slots) and counts its
// packets against the source the sources maps say the slot carries
// (recv.go); a packet that came by RTX is marked repaired. Of what Pion
// kept back of the slot before its track started, the packets that waited
// too long are dropped (arrival.go).
func (b *Bot) receive(m *session, tr *webrtc.TrackRemote) {
	ssrc := uint32(tr.SSRC())
	arrived := m.arrivals.of(ssrc)
	var p rtp.Packet
	buf := make([]byte, 1500)
	for {
		n, attr, err := tr.Read(buf)
		if err != nil {
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		repaired := attr != nil && attr.Get(webrtc.AttributeRtxSsrc) != nil
		var at time.Time // when it arrived; zero: not known (a repair comes by another stream)
		if arrived != nil && !repaired {
			at = arrived.lastArrival()
		}
		b.mu.Lock()
		fb := b.in.arrived(ssrc, &p, repaired, at, time.Now())
		b.notifyLocked()
		b.mu.Unlock()
		m.sendFeedback(fb)
	}
}

// sendFeedback sends a PLI (RFC 4585 §6.3.1) for each slot that needs a
// key frame and a generic NACK (§6.2.1) for the packets missing on a slot.
func (m *session) sendFeedback(fb feedback) {
	var pkts []rtcp.Packet
	for _, s := range fb.plis {
		pkts = append(pkts, &rtcp.PictureLossIndication{SenderSSRC: m.feedbackSSRC, MediaSSRC: s})
	}
	for _, n := range fb.nacks {
		pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: m.feedbackSSRC, MediaSSRC: n.ssrc,
			Nacks: rtcp.NackPairsFromSequenceNumbers(n.seqs)})
	}
	if len(pkts) > 0 {
		m.pc.WriteRTCP(pkts)
	}
}

// openChannel connects the bridge channel. The URL's host is the one the
// bot reached the server by, whatever name the focus put in it.
func (b *Bot) openChannel(m *session, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bridge channel URL: %w", err)
	}
	// A channel on the server the bot reached (named by its domain) is
	// dialled where the bot reached it, as that name need not resolve
	// here; a bridge elsewhere in a cluster is dialled as named.
	o, _ := url.Parse(b.origin)
	if u.Hostname() == b.cfg.Hosts.Domain {
		if u.Port() == "" || u.Port() == o.Port() {
			u.Host = o.Host
		} else {
			u.Host = net.JoinHostPort(o.Hostname(), u.Port()) // a bridge node beside the server
		}
	}
	u.Scheme = "wss"
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	hc := httpClient(b.o.Insecure)
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return fmt.Errorf("bridge channel: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	b.mu.Lock()
	m.ws = ws
	constraints := b.constraints.message()
	b.mu.Unlock()
	if err := ws.Write(ctx, websocket.MessageText, constraints); err != nil {
		return fmt.Errorf("bridge channel: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			_, data, err := ws.Read(b.ctx)
			if err != nil {
				return
			}
			b.onChannelMessage(m, data)
		}
	}()
	return nil
}

// onChannelMessage applies the bridge's sources maps (the slots are
// mapped to their sources first, so that no packet of a new slot finds its
// source unknown, then a slot not seen before gets its m-line), the
// camera's SenderSourceConstraints, ForwardedSources and the dominant
// speaker (jitsi-dialect.md §6.2).
func (b *Bot) onChannelMessage(m *session, data []byte) {
	var msg struct {
		Class      string         `json:"colibriClass"`
		Dominant   string         `json:"dominantSpeakerEndpoint"`
		Mapped     []mappedSource `json:"mappedSources"`
		SourceName string         `json:"sourceName"`
		MaxHeight  *int           `json:"maxHeight"`
		Forwarded  []string       `json:"forwardedSources"`
	}
	if json.Unmarshal(data, &msg) != nil {
		return
	}
	switch msg.Class {
	case "VideoSourcesMap", "AudioSourcesMap":
		b.trace("map " + msg.Class)
		kind := "video"
		if msg.Class == "AudioSourcesMap" {
			kind = "audio"
		}
		var fb feedback
		b.mu.Lock()
		now := time.Now()
		for _, s := range msg.Mapped {
			if s.SSRC == 0 || s.Source == "" {
				continue
			}
			owner := s.Owner
			if owner == "" {
				owner, _, _ = strings.Cut(s.Source, "-")
			}
			fb.add(b.in.mapSlot(s.SSRC, s.Source, owner, kind, now))
		}
		b.notifyLocked()
		b.mu.Unlock()
		if err := m.addRemoteSources(kind, msg.Mapped); err != nil {
			b.log.Warn("bot: a sources map's slots", "err", err)
		}
		m.sendFeedback(fb)
	case "SenderSourceConstraints":
		if msg.SourceName == b.nick+"-v0" && msg.MaxHeight != nil {
			b.trace(fmt.Sprintf("sender constraint %d", *msg.MaxHeight))
			b.cam.setMaxHeight(*msg.MaxHeight)
			b.mu.Lock()
			b.notifyLocked()
			b.mu.Unlock()
		}
	case "ForwardedSources":
		b.mu.Lock()
		b.forwarded = msg.Forwarded
		b.notifyLocked()
		b.mu.Unlock()
	case "DominantSpeakerEndpointChangeEvent":
		b.mu.Lock()
		b.dominant = msg.Dominant
		b.notifyLocked()
		b.mu.Unlock()
	}
}

// restartSession asks the focus for a new session after m's ICE failed
// (§5.6: session-terminate with bridge-session restart="true"), after
// restartDelay(restarts); a refusal other than item-not-found is tried
// again, later; item-not-found (the focus has no such session: a restarted
// server) asks for the conference again. It stops once another session
// has started.
func (b *Bot) restartSession(m *session) {
	replaced := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.media != nil && b.media != m
	}
	for {
		b.mu.Lock()
		n := b.restarts
		b.restarts++
		b.mu.Unlock()
		if !b.pause(restartDelay(n)) || replaced() {
			return
		}
		b.mu.Lock()
		if b.media == m {
			b.media = nil
		}
		b.mu.Unlock()
		m.close()
		term := stanza.New(nsJingle, "jingle", "action", "session-terminate", "sid", m.sid)
		reason := stanza.New(nsJingle, "reason")
		reason.Add(stanza.New(nsJingle, "success"))
		reason.Add(stanza.New(nsJingle, "text").SetText("restart"))
		term.Add(reason)
		term.Add(stanza.New(nsFocus, "bridge-session", "restart", "true"))
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		c := b.x()
		_, err := c.IQ(ctx, stanza.NewIQ("set", "", "", b.focus.String(), term))
		if errors.Is(err, stanza.ErrItemNotFound) {
			b.log.Info("bot: the focus has no such session; asking for the conference again", "endpoint", b.nick)
			err = b.askFocus(ctx, c)
		}
		cancel()
		if err == nil || replaced() {
			return
		}
		b.log.Info("bot: session restart refused; trying again later", "endpoint", b.nick, "err", err)
	}
}
