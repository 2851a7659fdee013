package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// janusTarget drives Janus's VideoRoom plugin (the Debian package) over its HTTP API on loopback: one
// Janus session per participant, a publisher handle per sender and a subscriber handle (one
// PeerConnection for every feed) per receiver.
type janusTarget struct {
	bin     string // janus binary
	iface   string // the only interface Janus gathers ICE candidates on
	clients netConfig
	lib     string // folder holding plugins/ and transports/ of the installed package
	srv     *server
	base    string // http://127.0.0.1:port/janus
	room    int

	mu       sync.Mutex
	sessions []*janusSession
	pcs      []*webrtc.PeerConnection
	stop     chan struct{}
}

func (j *janusTarget) name() string { return "janus" }
func (j *janusTarget) pid() int     { return j.srv.pid() }

// start writes a configuration into dir and starts Janus with it: the VideoRoom plugin and the HTTP
// transport only, HTTP on 127.0.0.1, ICE gathering on the loopback interface only, full ICE, no STUN or
// TURN, no event handlers or loggers.
func (j *janusTarget) start(sc scenario, dir string) error {
	if err := checkIsolated(j.iface); err != nil {
		return err
	}
	if j.lib == "" {
		out, err := exec.Command("dpkg", "-L", "janus").Output()
		if err != nil {
			return fmt.Errorf("janus package not installed (apt-get install janus): %w", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(l, "/plugins/libjanus_videoroom.so") {
				j.lib = filepath.Dir(filepath.Dir(l))
			}
		}
		if j.lib == "" {
			return fmt.Errorf("janus package without the VideoRoom plugin")
		}
	}
	port, err := freeTCPPort()
	if err != nil {
		return err
	}
	for _, d := range []string{"conf", "plugins", "transports", "none"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, l := range []struct{ kind, so string }{{"plugins", "libjanus_videoroom.so"}, {"transports", "libjanus_http.so"}} {
		link := filepath.Join(dir, l.kind, l.so)
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(j.lib, l.kind, l.so), link); err != nil {
			return err
		}
	}
	conf := filepath.Join(dir, "conf")
	files := map[string]string{
		"janus.jcfg": fmt.Sprintf(`general: {
	configs_folder = %q
	plugins_folder = %q
	transports_folder = %q
	events_folder = %q
	loggers_folder = %q
	debug_level = 3
	session_timeout = 0
}
media: {
	rtp_port_range = "40000-49999"
}
nat: {
	ice_lite = false
	ice_enforce_list = %q
	ignore_mdns = true
}
events: {
	broadcast = false
}
`, conf, filepath.Join(dir, "plugins"), filepath.Join(dir, "transports"), filepath.Join(dir, "none"), filepath.Join(dir, "none"), j.iface),
		"janus.transport.http.jcfg": fmt.Sprintf(`general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = %d
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
`, port),
		"janus.plugin.videoroom.jcfg": "general: {\n}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	srv, err := startServer(j.bin, []string{"-C", filepath.Join(conf, "janus.jcfg"), "-F", conf, "-o"},
		filepath.Join(dir, "janus.log"), nil)
	if err != nil {
		return err
	}
	j.srv, j.base, j.stop = srv, fmt.Sprintf("http://127.0.0.1:%d/janus", port), make(chan struct{})
	deadline := time.Now().Add(15 * time.Second)
	for {
		var r janusMsg
		if err := j.post(j.base, map[string]any{"janus": "info"}, &r); err == nil {
			return nil
		}
		select {
		case <-srv.done:
			return fmt.Errorf("janus exited (log: %s)", filepath.Join(dir, "janus.log"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("janus HTTP API not up after 15 s")
		}
	}
}

// checkIsolated refuses to start Janus unless this process runs in a private network namespace: every
// address is loopback, IPv6 link-local, or in 198.18.0.0/15 (the range RFC 2544 sets aside for
// benchmarks), and iface has one of the latter. libnice never gathers candidates on interfaces
// flagged as loopback, Janus gathers on every interface when its ice_enforce_list matches none, and
// libnice cannot send from 127.0.0.2 on another interface to 127.0.0.1; so Janus gets a veth with a
// benchmark address in a namespace nothing else can reach (bench.sh makes it with unshare).
func checkIsolated(iface string) error {
	_, bench, _ := net.ParseCIDR("198.18.0.0/15")
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	found := false
	for _, in := range ifs {
		addrs, err := in.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			ip, _, err := net.ParseCIDR(a.String())
			if err != nil {
				return err
			}
			switch {
			case ip.IsLoopback(), ip.IsLinkLocalUnicast():
			case bench.Contains(ip):
				found = found || in.Name == iface
			default:
				return fmt.Errorf("janus: %s has %s: run in a private network namespace (see bench.sh)", in.Name, ip)
			}
		}
	}
	if !found {
		return fmt.Errorf("janus: no interface %s with a 198.18.0.0/15 address: run under bench.sh (private network namespace)", iface)
	}
	return nil
}

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// janusMsg is any message of the Janus API (requests' replies and events).
type janusMsg struct {
	Janus       string `json:"janus"`
	Transaction string `json:"transaction"`
	Sender      uint64 `json:"sender"`
	Data        struct {
		ID uint64 `json:"id"`
	} `json:"data"`
	Error *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	PluginData struct {
		Data map[string]any `json:"data"`
	} `json:"plugindata"`
	JSEP *struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	} `json:"jsep"`
}

func (j *janusTarget) post(url string, body map[string]any, out *janusMsg) error {
	body["transaction"] = fmt.Sprint(rand.Uint64())
	raw, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return err
	}
	if out.Janus == "error" || out.Error != nil {
		return fmt.Errorf("janus %v: %+v", body["janus"], out.Error)
	}
	return nil
}

// janusSession is one Janus session with a long-poll goroutine that routes events to handles.
type janusSession struct {
	j      *janusTarget
	url    string
	mu     sync.Mutex
	events map[uint64]chan janusMsg
	done   chan struct{}
}

func (j *janusTarget) newSession() (*janusSession, error) {
	var r janusMsg
	if err := j.post(j.base, map[string]any{"janus": "create"}, &r); err != nil {
		return nil, err
	}
	s := &janusSession{j: j, url: fmt.Sprintf("%s/%d", j.base, r.Data.ID), events: map[uint64]chan janusMsg{}, done: make(chan struct{})}
	j.mu.Lock()
	j.sessions = append(j.sessions, s)
	j.mu.Unlock()
	go s.poll()
	return s, nil
}

func (s *janusSession) poll() {
	client := &http.Client{Timeout: 40 * time.Second}
	for {
		select {
		case <-s.done:
			return
		default:
		}
		resp, err := client.Get(s.url + "?maxev=1")
		if err != nil {
			select {
			case <-s.done:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		var m janusMsg
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || m.Sender == 0 {
			continue // keepalive
		}
		s.mu.Lock()
		ch := s.events[m.Sender]
		s.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default:
			}
		}
	}
}

func (s *janusSession) attach() (uint64, error) {
	var r janusMsg
	if err := s.j.post(s.url, map[string]any{"janus": "attach", "plugin": "janus.plugin.videoroom"}, &r); err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.events[r.Data.ID] = make(chan janusMsg, 64)
	s.mu.Unlock()
	return r.Data.ID, nil
}

// message sends a plugin message on handle h (with a JSEP when sdp is set) and returns the synchronous
// reply ("success" or "ack").
func (s *janusSession) message(h uint64, body map[string]any, jsepType, sdp string) (janusMsg, error) {
	req := map[string]any{"janus": "message", "body": body}
	if sdp != "" {
		req["jsep"] = map[string]any{"type": jsepType, "sdp": sdp}
	}
	var r janusMsg
	err := s.j.post(fmt.Sprintf("%s/%d", s.url, h), req, &r)
	return r, err
}

// trickleDone tells Janus that the client's candidates are all in its SDP (Pion offers the trickle ICE
// option, so Janus would otherwise wait for more).
func (s *janusSession) trickleDone(h uint64) error {
	var r janusMsg
	return s.j.post(fmt.Sprintf("%s/%d", s.url, h), map[string]any{"janus": "trickle", "candidate": map[string]any{"completed": true}}, &r)
}

// await returns the next event on handle h that cond accepts.
func (s *janusSession) await(h uint64, what string, cond func(janusMsg) bool) (janusMsg, error) {
	s.mu.Lock()
	ch := s.events[h]
	s.mu.Unlock()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-ch:
			if e, ok := m.PluginData.Data["error"]; ok {
				return m, fmt.Errorf("janus: %s: %v", what, e)
			}
			if cond(m) {
				return m, nil
			}
		case <-timeout:
			return janusMsg{}, fmt.Errorf("janus: no %s after 15 s", what)
		}
	}
}

func (s *janusSession) close() {
	close(s.done)
	var r janusMsg
	_ = s.j.post(s.url, map[string]any{"janus": "destroy"}, &r)
}

// setup creates the room, publishes every sender (waiting for each PeerConnection to be up) and then
// subscribes every participant that receives to every sender other than itself.
func (j *janusTarget) setup(sc scenario, fx *fixtures, st *stats) error {
	api, err := newAPI(j.clients)
	if err != nil {
		return err
	}
	admin, err := j.newSession()
	if err != nil {
		return err
	}
	h, err := admin.attach()
	if err != nil {
		return err
	}
	j.room = 1000 + rand.IntN(1000)
	r, err := admin.message(h, map[string]any{
		"request": "create", "room": j.room, "publishers": sc.senders + 1, "bitrate": 0, "fir_freq": 0,
		"audiocodec": "opus", "videocodec": "vp8", "notify_joining": false,
	}, "", "")
	if err != nil {
		return err
	}
	if r.PluginData.Data["videoroom"] != "created" {
		return fmt.Errorf("janus: create room: %v", r.PluginData.Data)
	}
	for i := range sc.senders {
		if err := j.publish(api, i+1, fx, st); err != nil {
			return fmt.Errorf("publisher %d: %w", i+1, err)
		}
	}
	for i := range sc.senders + sc.receivers {
		var feeds []map[string]any
		for f := range sc.senders {
			if f != i {
				feeds = append(feeds, map[string]any{"feed": f + 1})
			}
		}
		if len(feeds) == 0 {
			continue
		}
		if err := j.subscribe(api, feeds, st); err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
	}
	return nil
}

func (j *janusTarget) newPC(api *webrtc.API) (*webrtc.PeerConnection, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	j.pcs = append(j.pcs, pc)
	j.mu.Unlock()
	return pc, nil
}

func (j *janusTarget) publish(api *webrtc.API, id int, fx *fixtures, st *stats) error {
	s, err := j.newSession()
	if err != nil {
		return err
	}
	h, err := s.attach()
	if err != nil {
		return err
	}
	pc, err := j.newPC(api)
	if err != nil {
		return err
	}
	pub, err := newPublisher(fmt.Sprintf("p%d", id))
	if err != nil {
		return err
	}
	for _, tr := range []webrtc.TrackLocal{pub.audio, pub.video} {
		snd, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		go drainRTCP(snd.Sender())
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	if _, err := s.message(h, map[string]any{"request": "joinandconfigure", "room": j.room, "ptype": "publisher",
		"id": id, "display": fmt.Sprintf("p%d", id), "audio": true, "video": true}, "offer", pc.LocalDescription().SDP); err != nil {
		return err
	}
	if err := s.trickleDone(h); err != nil {
		return err
	}
	m, err := s.await(h, "publisher answer", func(m janusMsg) bool { return m.JSEP != nil })
	if err != nil {
		return err
	}
	if os.Getenv("SFULOAD_DEBUG") != "" {
		fmt.Fprintln(os.Stderr, pc.LocalDescription().SDP, m.JSEP.SDP)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.JSEP.SDP}); err != nil {
		return err
	}
	if _, err := s.await(h, "webrtcup", func(m janusMsg) bool { return m.Janus == "webrtcup" }); err != nil {
		return err
	}
	go pub.run(fx, st, j.stop)
	return nil
}

func (j *janusTarget) subscribe(api *webrtc.API, feeds []map[string]any, st *stats) error {
	s, err := j.newSession()
	if err != nil {
		return err
	}
	h, err := s.attach()
	if err != nil {
		return err
	}
	if _, err := s.message(h, map[string]any{"request": "join", "room": j.room, "ptype": "subscriber",
		"streams": feeds}, "", ""); err != nil {
		return err
	}
	m, err := s.await(h, "subscriber offer", func(m janusMsg) bool { return m.JSEP != nil })
	if err != nil {
		return err
	}
	pc, err := j.newPC(api)
	if err != nil {
		return err
	}
	onTracks(pc, st)
	answer, err := answerAfterGathering(pc, m.JSEP.SDP)
	if err != nil {
		return err
	}
	if _, err := s.message(h, map[string]any{"request": "start", "room": j.room}, "answer", answer); err != nil {
		return err
	}
	if err := s.trickleDone(h); err != nil {
		return err
	}
	_, err = s.await(h, "webrtcup", func(m janusMsg) bool { return m.Janus == "webrtcup" })
	return err
}

func (j *janusTarget) close() {
	if j.stop != nil {
		close(j.stop)
	}
	for _, pc := range j.pcs {
		_ = pc.Close()
	}
	for _, s := range j.sessions {
		s.close()
	}
	if j.srv != nil {
		j.srv.stop()
	}
}
