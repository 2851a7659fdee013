package bridge

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// TestTargetLayer: the highest active layer no taller than the limit; the lowest active one when all are
// taller; none for 0; layers that went quiet do not count.
func TestTargetLayer(t *testing.T) {
	src := &source{kind: KindVideo}
	for i := range 3 {
		src.layers = append(src.layers, newInStream(uint32(i+1), src, i))
	}
	now := int64(10e9)
	for i, h := range []uint16{180, 360, 720} {
		src.noteLayer(src.layers[i], &vp8Desc{keyframe: true, height: h}, 1000, now)
	}
	for _, c := range []struct{ max, want int }{{-1, 2}, {0, -1}, {720, 2}, {719, 1}, {360, 1}, {180, 0}, {90, 0}} {
		if got := src.targetLayer(c.max, noLayerCap, now); got != c.want {
			t.Errorf("maxHeight %d: layer %d, want %d", c.max, got, c.want)
		}
	}
	// The top layer stops (the sender's bandwidth fell): unlimited receivers get the middle one.
	later := now + staleLayer
	src.noteLayer(src.layers[0], nil, 1000, later)
	src.noteLayer(src.layers[1], nil, 1000, later)
	if got := src.targetLayer(-1, noLayerCap, later); got != 1 {
		t.Errorf("top layer quiet: layer %d, want 1", got)
	}
	// Before any key frame the heights are assumed 180/360/720.
	fresh := &source{kind: KindVideo}
	for i := range 3 {
		fresh.layers = append(fresh.layers, newInStream(uint32(i+1), fresh, i))
		fresh.layers[i].seen.Store(now)
	}
	if got := fresh.targetLayer(360, noLayerCap, now); got != 1 {
		t.Errorf("assumed heights: layer %d, want 1", got)
	}
}

// layerWriter decrypts what the bridge sends one endpoint: the layer tag of each RTP packet (the last
// payload byte of simulcastPacket) with its sequence number, and the SSRCs of PLIs.
type layerWriter struct {
	mu     sync.Mutex
	ctx    *srtp.Context
	layers []byte
	seqs   []uint16
	plis   []uint32
}

// newLayerWriter decrypts with the rig's keys.
func newLayerWriter(t *testing.T) *layerWriter {
	key, salt := rigKeys()
	ctx, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	must(t, err)
	return &layerWriter{ctx: ctx}
}

func (w *layerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 1 && p[1] >= 192 && p[1] <= 223 {
		dec, err := w.ctx.DecryptRTCP(nil, p, nil)
		if err != nil {
			return 0, err
		}
		pkts, err := rtcp.Unmarshal(dec)
		if err != nil {
			return 0, err
		}
		for _, k := range pkts {
			if pli, ok := k.(*rtcp.PictureLossIndication); ok {
				w.plis = append(w.plis, pli.MediaSSRC)
			}
		}
		return len(p), nil
	}
	dec, err := w.ctx.DecryptRTP(nil, p, nil)
	if err != nil {
		return 0, err
	}
	w.layers = append(w.layers, dec[len(dec)-1])
	w.seqs = append(w.seqs, binary.BigEndian.Uint16(dec[2:]))
	return len(p), nil
}

// take returns and forgets what arrived so far.
func (w *layerWriter) take() (layers []byte, seqs []uint16, plis []uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	layers, seqs, plis = w.layers, w.seqs, w.plis
	w.layers, w.seqs, w.plis = nil, nil, nil
	return layers, seqs, plis
}

// simulcastPacket is a VP8 packet of layer (SSRC 1234+layer); a key frame carries the layer's height in
// its VP8 header (180, 360, 720), and the last payload byte tags the layer.
func simulcastPacket(layer int, seq uint16, keyframe bool) []byte {
	p := make([]byte, 12+200)
	p[0], p[1] = 0x80, 0x80|PayloadTypeVP8
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*3000)
	binary.BigEndian.PutUint32(p[8:], 1234+uint32(layer))
	copy(p[12:], []byte{0x90, 0x80, 0x80, byte(seq)}) // X, S; I with a 15-bit picture ID
	hdr := p[16:]
	hdr[0] = 0x01 // inter frame
	if keyframe {
		hdr[0] = 0x00
		copy(hdr[3:], []byte{0x9d, 0x01, 0x2a})
		h := uint16(180 << layer)
		binary.LittleEndian.PutUint16(hdr[6:], h*16/9)
		binary.LittleEndian.PutUint16(hdr[8:], h)
	}
	p[len(p)-1] = byte(layer)
	return p
}

// TestLayerPerReceiver: each receiver gets the simulcast layer its ReceiverVideoConstraints allow (none
// for 0 or beyond lastN); raising a limit asks the sender for that layer's key frame and switches there,
// with the slot's sequence numbers running on.
func TestLayerPerReceiver(t *testing.T) {
	sender, enc, _ := benchConference(t, 3)
	c := sender.conf
	srcs, err := c.validateSources("sender", []Source{
		{Kind: KindVideo, SSRC: 1234, Name: "sender-v0"}, {Kind: KindVideo, SSRC: 1235, Name: "sender-v0"},
		{Kind: KindVideo, SSRC: 1236, Name: "sender-v0"},
	}, []Group{{GroupSIM, []uint32{1234, 1235, 1236}}})
	must(t, err)
	c.setSources(sender, srcs)

	members := c.members()
	var recv [3]*layerWriter
	for i, r := range members[1:] {
		recv[i] = newLayerWriter(t)
		r.setWriter(recv[i])
	}
	toSender := newLayerWriter(t)
	sender.setWriter(toSender)
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":180}}`))
	members[2].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{"sender-v0":{"maxHeight":720}}}`))
	members[3].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{"sender-v0":{"maxHeight":0}}}`))

	seq := [3]uint16{100, 5000, 9000}
	send := func(keyframe bool) {
		for l := range 3 {
			pkt, err := enc.EncryptRTP(nil, simulcastPacket(l, seq[l], keyframe), nil)
			must(t, err)
			seq[l]++
			sender.handlePacket(pkt)
		}
	}
	only := func(who string, w *layerWriter, layer byte, n int) []uint16 {
		t.Helper()
		layers, seqs, _ := w.take()
		if len(layers) != n {
			t.Fatalf("%s got %d packets %v, want %d of layer %d", who, len(layers), layers, n, layer)
		}
		for _, l := range layers {
			if l != layer {
				t.Fatalf("%s got layers %v, want only %d", who, layers, layer)
			}
		}
		return seqs
	}
	send(false) // every layer heard once; nothing forwarded before a key frame
	send(true)
	send(false)
	send(false)
	only("180p receiver", recv[0], 0, 3)
	only("720p receiver", recv[1], 2, 3)
	only("receiver asking for none", recv[2], 0, 0)
	toSender.take()
	srcs[0].lastKeyframeReq.Store(0) // the start's requests were long ago (no throttling below)

	// The first receiver's tile grows: it keeps the low layer until the middle layer's key frame,
	// which the bridge asks for by that layer's SSRC.
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":360}}`))
	send(false)
	seqs := only("growing receiver before the key frame", recv[0], 0, 1)
	if _, _, plis := toSender.take(); len(plis) != 1 || plis[0] != 1235 {
		t.Fatalf("keyframe requests for SSRCs %v, want the middle layer's 1235", plis)
	}
	send(true) // layers 0, 1, 2 in turn: the low key frame still goes out, then the switch
	send(false)
	layers, after, _ := recv[0].take()
	if string(layers) != "\x00\x01\x01" {
		t.Fatalf("growing receiver got layers %v, want 0 (until the switch), 1, 1", layers)
	}
	for i, sq := range after {
		if sq != seqs[0]+1+uint16(i) {
			t.Fatalf("sequence numbers %v after %d: the slot's numbering must run on", after, seqs[0])
		}
	}
	only("720p receiver", recv[1], 2, 3)

	// lastN 0 turns the 720p receiver's video off; the one asking for none turns it on again at 720p
	// from the next key frame.
	members[2].onChannelMessage([]byte(`{"colibriClass":"LastNChangedEvent","lastN":0}`))
	members[3].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{"sender-v0":{"maxHeight":-1}}}`))
	send(false)
	only("receiver with lastN 0", recv[1], 0, 0)
	only("receiver turned on, before a key frame", recv[2], 0, 0)
	send(true)
	only("receiver with lastN 0", recv[1], 0, 0)
	only("receiver turned on", recv[2], 2, 1)
	if fwd := members[2].forwardedSourcesForTest(); len(fwd) != 0 {
		t.Fatalf("ForwardedSources with lastN 0: %v", fwd)
	}
	if fwd := members[3].forwardedSourcesForTest(); len(fwd) != 1 || fwd[0] != "sender-v0" {
		t.Fatalf("ForwardedSources: %v", fwd)
	}
}

// TestLastNFollowsSpeech: with lastN 1 a receiver gets the video of the source it put on stage, else of
// the dominant speaker, else of the first sender in slot order; the others get height 0, and
// ForwardedSources says which one it gets.
func TestLastNFollowsSpeech(t *testing.T) {
	sender, _, _ := rigConference(t, 3, false, 3)
	c := sender.conf
	members := c.members() // sender, r0, r1, r2: r0 and r1 send video too, r2 only watches
	for i, e := range members[1:3] {
		srcs, err := c.validateSources(e.id, []Source{{Kind: KindVideo, SSRC: 2000 + uint32(i), Name: e.id + "-v0"}}, nil)
		must(t, err)
		c.setSources(e, srcs)
	}
	watcher := members[3]
	heights := func() map[string]int {
		watcher.sendMu.Lock()
		defer watcher.sendMu.Unlock()
		out := map[string]int{}
		for _, sl := range watcher.videoSlots {
			if sl.src != nil {
				out[sl.src.name] = sl.maxHeight
			}
		}
		return out
	}
	want := func(on string) {
		t.Helper()
		h := heights()
		if len(h) != 3 {
			t.Fatalf("watcher's slots carry %v, want three sources", h)
		}
		for name, mh := range h {
			if (name == on) != (mh == 360) || name != on && mh != 0 {
				t.Fatalf("heights %v, want 360 for %s only", h, on)
			}
		}
		if fwd := watcher.forwardedSourcesForTest(); len(fwd) != 1 || fwd[0] != on {
			t.Fatalf("ForwardedSources %v, want [%s]", fwd, on)
		}
	}
	watcher.onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","lastN":1,"defaultConstraints":{"maxHeight":360}}`))
	want("sender-v0") // nobody has spoken: slot order

	setSpeaker(c, "r1", "sender")
	want("r1-v0")
	setSpeaker(c, "r0", "r1", "sender")
	want("r0-v0")

	// A source the watcher asked not to see takes no place: the next speaker gets it.
	watcher.onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{"r0-v0":{"maxHeight":0}}}`))
	want("r1-v0")
	watcher.onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{}}`))
	want("r0-v0")

	// A source on stage comes before any speaker.
	watcher.onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","onStageSources":["r1-v0"]}`))
	want("r1-v0")
	// lastN -1: everyone, at the default height.
	watcher.onChannelMessage([]byte(`{"colibriClass":"LastNChangedEvent","lastN":-1}`))
	if h := heights(); h["sender-v0"] != 360 || h["r0-v0"] != 360 || h["r1-v0"] != 360 {
		t.Fatalf("heights with lastN -1: %v", h)
	}
}

// setSpeaker makes id the dominant speaker of c, after previous, as a decision would, and re-runs the
// assignment as decideSpeaker does on a change.
func setSpeaker(c *Conference, id string, previous ...string) {
	c.speech.mu.Lock()
	c.speech.dominant, c.speech.previous = id, previous
	c.speech.mu.Unlock()
	c.mu.Lock()
	c.reassignLocked()
	c.mu.Unlock()
}

func (r *Endpoint) forwardedSourcesForTest() []string {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.forwardedLocked()
}

// msgConn is a bridge channel transport that keeps what the bridge sends.
type msgConn struct {
	mu   sync.Mutex
	msgs []string
}

func (m *msgConn) send(raw []byte) {
	m.mu.Lock()
	m.msgs = append(m.msgs, string(raw))
	m.mu.Unlock()
}
func (m *msgConn) close(websocket.StatusCode, string) {}

// last returns the last message of a class, "" if none.
func (m *msgConn) last(class string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if strings.Contains(m.msgs[i], `"colibriClass":"`+class+`"`) {
			return m.msgs[i]
		}
	}
	return ""
}

// TestSenderSourceConstraints: a sender hears the tallest height any receiver wants of its camera,
// 0 when nobody wants it, -1 when someone wants it unlimited, a lower one only once it has stood for
// senderLowerAfter, and the last one again when its channel reopens.
func TestSenderSourceConstraints(t *testing.T) {
	sender, _, _ := benchConference(t, 2)
	members := sender.conf.members()
	var sent msgConn
	sender.ch.attach(&sent)
	sender.onChannelOpen(&sent) // as the channel handler does: what was sent before is repeated
	want := func(h string) {
		t.Helper()
		exp := `{"colibriClass":"SenderSourceConstraints","sourceName":"sender-v0","maxHeight":` + h + `}`
		if got := sent.last("SenderSourceConstraints"); got != exp {
			t.Fatalf("sender told %s, want %s", got, exp)
		}
	}
	// The rig's receivers have video on without constraints yet: the default 180 applies.
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":180}}`))
	want("180")
	members[2].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","constraints":{"sender-v0":{"maxHeight":720}}}`))
	want("720")
	// Lower heights wait senderLowerAfter (housekeeping sends them); higher ones go at once.
	c := sender.conf
	after := func(d int64) {
		c.mu.Lock()
		c.senderConstraintsLocked(time.Now().UnixNano() + d)
		c.mu.Unlock()
	}
	members[2].onChannelMessage([]byte(`{"colibriClass":"LastNChangedEvent","lastN":0}`))
	want("720")
	after(senderLowerAfter / 2)
	want("720")
	after(senderLowerAfter)
	want("180")
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":0}}`))
	after(senderLowerAfter)
	want("0")
	// A lower height that is raised again before it was sent is never sent.
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":360}}`))
	want("360")
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":180}}`))
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":360}}`))
	after(senderLowerAfter)
	if n := strings.Count(strings.Join(sent.msgs, "\n"), `"maxHeight":180}`); n != 2 {
		t.Fatalf("180 sent %d times, want twice (at the start and after lastN 0): %v", n, sent.msgs)
	}
	want("360")
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":-1}}`))
	want("-1")
	n := len(sent.msgs)
	members[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","selectedSources":[]}`))
	if len(sent.msgs) != n {
		t.Fatalf("unchanged height sent again: %v", sent.msgs[n:])
	}
	var reopened msgConn
	sender.onChannelOpen(&reopened)
	if got := reopened.last("SenderSourceConstraints"); !strings.Contains(got, `"maxHeight":-1`) {
		t.Fatalf("reopened channel got %q", got)
	}
}

// TestHostileConstraints: oversized lists are cut, out-of-range numbers mean "unlimited", malformed
// messages change nothing, and the receiver's video goes on.
func TestHostileConstraints(t *testing.T) {
	sender, enc, _ := benchConference(t, 1)
	r := sender.conf.members()[1]
	w := newLayerWriter(t)
	r.setWriter(w)
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf(`"s%d"`, i)
	}
	list := "[" + strings.Join(names, ",") + "]"
	for _, m := range []string{
		`{"colibriClass":"ReceiverVideoConstraints","lastN":-7,"onStageSources":` + list + `,"selectedSources":` + list +
			`,"defaultConstraints":{"maxHeight":-9},"constraints":{"sender-v0":{"maxHeight":-100}}}`,
		`{"colibriClass":"ReceiverVideoConstraints","lastN":"x"}`,
		`{"colibriClass":"ReceiverVideoConstraints","constraints":{"sender-v0":{"maxHeight":1e99}}}`,
		`{"colibriClass":"LastNChangedEvent","lastN":{}}`,
		`{"colibriClass":"ReceiverVideoConstraints","constraints":[1,2]}`,
	} {
		r.onChannelMessage([]byte(m))
	}
	r.ch.mu.Lock()
	s := r.ch.settings
	r.ch.mu.Unlock()
	if len(s.OnStageSources) != maxListedSources || len(s.SelectedSources) != maxListedSources || s.LastN != -7 {
		t.Fatalf("settings after hostile messages: lastN %d, %d on stage, %d selected", s.LastN, len(s.OnStageSources), len(s.SelectedSources))
	}
	for i := range 3 {
		pkt, err := enc.EncryptRTP(nil, vp8Packet(uint16(10+i), 90000), nil)
		must(t, err)
		sender.handlePacket(pkt)
	}
	if layers, _, _ := w.take(); len(layers) != 3 {
		t.Fatalf("receiver got %d packets after hostile constraints, want 3", len(layers))
	}
}

// TestSpeakersTakeFullSlots: when a receiver's slots are full, a recent speaker takes the slot of the
// source ranked last (not a recent speaker, else the least recent, else the last to join), and the
// receiver hears of the new mapping.
func TestSpeakersTakeFullSlots(t *testing.T) {
	sender, _, _ := rigConference(t, 3, false, 2)
	c := sender.conf
	members := c.members() // sender, r0, r1 send video; r2 watches with two video slots
	for i, e := range members[1:3] {
		srcs, err := c.validateSources(e.id, []Source{{Kind: KindVideo, SSRC: 3000 + uint32(i), Name: e.id + "-v0"}}, nil)
		must(t, err)
		c.setSources(e, srcs)
	}
	watcher := members[3]
	var got msgConn
	watcher.ch.attach(&got)
	carried := func() string {
		watcher.sendMu.Lock()
		defer watcher.sendMu.Unlock()
		var names []string
		for _, sl := range watcher.videoSlots {
			if sl.src != nil {
				names = append(names, sl.src.name)
			}
		}
		return strings.Join(names, " ")
	}
	if s := carried(); s != "sender-v0 r0-v0" {
		t.Fatalf("slots carry %q, want the first two to join", s)
	}
	setSpeaker(c, "r1")
	if s := carried(); s != "sender-v0 r1-v0" {
		t.Fatalf("after r1 spoke the slots carry %q, want r1 in place of r0 (the later of two silent ones)", s)
	}
	if m := got.last("VideoSourcesMap"); !strings.Contains(m, `"source":"r1-v0"`) {
		t.Fatalf("VideoSourcesMap after the switch: %q", m)
	}
	setSpeaker(c, "r0", "r1")
	if s := carried(); s != "r0-v0 r1-v0" {
		t.Fatalf("after r0 spoke the slots carry %q, want r0 in place of the silent sender", s)
	}
	setSpeaker(c, "sender", "r0", "r1")
	if s := carried(); s != "r0-v0 sender-v0" {
		t.Fatalf("after the sender spoke the slots carry %q, want it in place of r1, the least recent speaker", s)
	}
	setSpeaker(c, "r0", "sender", "r1") // both already have a slot: nothing moves
	if s := carried(); s != "r0-v0 sender-v0" {
		t.Fatalf("slots moved without need: %q", s)
	}
}
