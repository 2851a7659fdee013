package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/test/internal/promtext"
)

// parleyTarget drives Parley's bridge in its own process (test/sfuload/bridgeserver) through its
// message-shaped API over loopback HTTP, and each endpoint's bridge channel over WebSocket.
type parleyTarget struct {
	bin        string // bridgeserver binary
	cpuProfile string // bridgeserver -cpuprofile, when set
	readers    int    // bridgeserver -readers
	fanOut     int    // bridgeserver -fan-out-workers, when not -1
	serverIP   string // the bridge's media address
	clients    netConfig
	srv        *server
	base       string // http://127.0.0.1:port
	pcs        []*webrtc.PeerConnection
	wss        []*websocket.Conn
	stop       chan struct{}
}

func (p *parleyTarget) name() string { return "parley" }
func (p *parleyTarget) pid() int     { return p.srv.pid() }

func (p *parleyTarget) start(sc scenario, dir string) error {
	slots := max(sc.senders, 1)
	var addr string
	args := []string{"-slots", fmt.Sprint(slots), "-media", net.JoinHostPort(p.serverIP, "0"), "-readers", fmt.Sprint(p.readers)}
	if p.cpuProfile != "" {
		args = append(args, "-cpuprofile", p.cpuProfile)
	}
	if p.fanOut != -1 {
		args = append(args, "-fan-out-workers", fmt.Sprint(p.fanOut))
	}
	srv, err := startServer(p.bin, args, filepath.Join(dir, "bridgeserver.log"),
		func(line string) bool {
			a, ok := strings.CutPrefix(line, "http ")
			addr = a
			return ok
		})
	if err != nil {
		return err
	}
	p.srv, p.base, p.stop = srv, "http://"+addr, make(chan struct{})
	return nil
}

// setup joins every participant: senders publish (and, in a meeting, receive the other senders),
// receivers only receive.
func (p *parleyTarget) setup(sc scenario, fx *fixtures, st *stats) error {
	api, err := newAPI(p.clients)
	if err != nil {
		return err
	}
	for i := range sc.senders + sc.receivers {
		sender := i < sc.senders
		id := fmt.Sprintf("s%d", i)
		if !sender {
			id = fmt.Sprintf("r%d", i-sc.senders)
		}
		if err := p.join(api, id, sender, fx, st); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return nil
}

func (p *parleyTarget) join(api *webrtc.API, id string, sender bool, fx *fixtures, st *stats) error {
	var alloc bridge.Allocation
	if err := p.call("/allocate", bridge.AllocateRequest{ConferenceID: "load", EndpointID: id}, &alloc); err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	p.pcs = append(p.pcs, pc)
	onTracks(pc, st)
	var pub *publisher
	var vs, as *webrtc.RTPSender
	if sender {
		if pub, err = newPublisher(id); err != nil {
			return err
		}
		if as, err = pc.AddTrack(pub.audio); err != nil {
			return err
		}
		if vs, err = pc.AddTrack(pub.video); err != nil {
			return err
		}
		go drainRTCP(as)
		go drainRTCP(vs)
	}
	answer, err := answerAfterGathering(pc, offerSDP(&alloc))
	if err != nil {
		return err
	}
	a, err := answerFor(id, answer)
	if err != nil {
		return err
	}
	if sender {
		a.Sources = []bridge.Source{
			{Kind: bridge.KindAudio, SSRC: uint32(as.GetParameters().Encodings[0].SSRC), Name: id + "-a0"},
			{Kind: bridge.KindVideo, SSRC: uint32(vs.GetParameters().Encodings[0].SSRC), Name: id + "-v0", VideoType: "camera"},
		}
	}
	if err := p.call("/answer", a, nil); err != nil {
		return err
	}
	if err := p.openChannel(alloc.Channel); err != nil {
		return err
	}
	if sender {
		go pub.run(fx, st, p.stop)
	}
	return nil
}

// openChannel connects the bridge channel, waits for ServerHello and asks for video (the bridge sends
// none before the first ReceiverVideoConstraints).
func (p *parleyTarget) openChannel(ch bridge.Channel) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, ch.URL(strings.Replace(p.base, "http", "ws", 1)), nil)
	if err != nil {
		return err
	}
	p.wss = append(p.wss, ws)
	if _, msg, err := ws.Read(ctx); err != nil || !bytes.Contains(msg, []byte("ServerHello")) {
		return fmt.Errorf("bridge channel: no ServerHello (%v)", err)
	}
	if err := ws.Write(ctx, websocket.MessageText,
		[]byte(`{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"defaultConstraints":{"maxHeight":720}}`)); err != nil {
		return err
	}
	go func() {
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return nil
}

// forwardDelay reads the bridge's forward-delay histogram (delay.go).
func (p *parleyTarget) forwardDelay() (promtext.Histogram, error) {
	return promtext.GetHistogram(http.DefaultClient, p.base+"/metrics", "parley_bridge_forward_delay_seconds")
}

func (p *parleyTarget) call(path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := http.Post(p.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(b.String()))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (p *parleyTarget) close() {
	if p.stop != nil {
		close(p.stop)
	}
	for _, ws := range p.wss {
		_ = ws.CloseNow()
	}
	for _, pc := range p.pcs {
		_ = pc.Close()
	}
	if p.srv != nil {
		p.srv.stop()
	}
}

// offerSDP renders an Allocation as the offer a client builds from the Jingle session-initiate: one
// m-line per slot, the first of each kind sendrecv (the client sends on it), the others sendonly.
func offerSDP(a *bridge.Allocation) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("v=0")
	w("o=- 4611731400430051336 2 IN IP4 127.0.0.1")
	w("s=-")
	w("t=0 0")
	var mids []string
	for i := range len(a.AudioSlots) + len(a.VideoSlots) {
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
	dir := func(first bool) string {
		if first {
			return "sendrecv"
		}
		return "sendonly"
	}
	for i, s := range a.AudioSlots {
		w("m=audio 9 UDP/TLS/RTP/SAVPF %d", ptOpus)
		common(dir(i == 0))
		w("a=rtpmap:%d opus/48000/2", ptOpus)
		w("a=fmtp:%d minptime=10;useinbandfec=1", ptOpus)
		w("a=msid:%s", s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
	}
	for i, s := range a.VideoSlots {
		w("m=video 9 UDP/TLS/RTP/SAVPF %d", ptVP8)
		common(dir(i == 0))
		w("a=rtpmap:%d VP8/90000", ptVP8)
		w("a=rtcp-fb:%d nack pli", ptVP8)
		w("a=msid:%s", s.MSID)
		w("a=ssrc:%d cname:parley-bridge", s.SSRC)
		w("a=ssrc:%d msid:%s", s.SSRC, s.MSID)
	}
	return b.String()
}

// answerFor builds the API's Answer (ICE, DTLS) from the client's SDP answer.
func answerFor(id, answerSDP string) (bridge.Answer, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answerSDP); err != nil {
		return bridge.Answer{}, err
	}
	attr := func(key string) string {
		for _, md := range sd.MediaDescriptions {
			if v, ok := md.Attribute(key); ok {
				return v
			}
		}
		v, _ := sd.Attribute(key)
		return v
	}
	a := bridge.Answer{ConferenceID: "load", EndpointID: id}
	a.ICE.Ufrag, a.ICE.Pwd = attr("ice-ufrag"), attr("ice-pwd")
	fp := strings.Fields(attr("fingerprint"))
	if len(fp) != 2 {
		return a, fmt.Errorf("answer without fingerprint")
	}
	a.DTLS = bridge.DTLS{Hash: fp[0], Fingerprint: fp[1], Setup: attr("setup")}
	for _, at := range sd.MediaDescriptions[0].Attributes {
		if at.Key != "candidate" {
			continue
		}
		c, err := ice.UnmarshalCandidate(at.Value)
		if err != nil {
			return a, err
		}
		a.ICE.Candidates = append(a.ICE.Candidates, bridge.Candidate{
			Foundation: c.Foundation(), Component: int(c.Component()), Protocol: c.NetworkType().NetworkShort(),
			Priority: c.Priority(), IP: c.Address(), Port: c.Port(), Type: c.Type().String(),
		})
	}
	return a, nil
}
