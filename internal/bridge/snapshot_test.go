package bridge

import (
	"sync"
	"testing"
	"time"
)

// The SSRC table is a copy-on-write snapshot (Conference.setSources): these tests update a sender's
// sources through the focus's API while its media is forwarded.

// rigAPI makes the rig's conference reachable through the bridge's API (UpdateSources), as
// AllocateEndpoint would have made it.
func rigAPI(c *Conference) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.started = true
	c.b.conferences[c.id] = c
}

// rigSource is the sender's current source named name (nil when it has none).
func rigSource(e *Endpoint, name string) *source {
	e.conf.mu.Lock()
	defer e.conf.mu.Unlock()
	for _, src := range e.sources {
		if src.name == name {
			return src
		}
	}
	return nil
}

// slotSwitches is how often r's video slot carrying the source named name has re-based.
func slotSwitches(t *testing.T, r *Endpoint, name string) int {
	t.Helper()
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	for _, sl := range r.videoSlots {
		if sl.src != nil && sl.src.name == name {
			return sl.proj.switches
		}
	}
	t.Fatalf("%s has no slot for %s", r.id, name)
	return 0
}

// TestSourceUpdateWhileForwarding: the focus updates a sender's sources (a screen share's source-add
// and source-remove, the camera re-signalled with an RTX stream and without) while the sender's packets
// are being forwarded. Under -race this fails when an update rewrites a stream the packet path can still
// reach; and each receiver's camera slot runs on without a re-base (every packet here is a key frame, so
// a slot that took the camera's stream after an update for another stream would re-base).
func TestSourceUpdateWhileForwarding(t *testing.T) {
	sender, enc, _ := rigConference(t, 2, false, 2)
	c := sender.conf
	rigAPI(c)
	recv := c.members()[1:]
	var got []*layerWriter
	for _, r := range recv {
		w := newLayerWriter(t)
		r.setWriter(w)
		got = append(got, w)
	}
	camera := Source{Kind: KindVideo, SSRC: 1234, Name: "sender-v0", VideoType: "camera"}
	cameraRTX := Source{Kind: KindVideo, SSRC: 1244, Name: "sender-v0", VideoType: "camera"}
	desktop := Source{Kind: KindVideo, SSRC: 7777, Name: "sender-v1", VideoType: "desktop"}
	updates := []SourcesUpdate{
		// source-add: a screen share
		{Sources: []Source{camera, desktop}},
		// the camera changes: now with RTX
		{Sources: []Source{camera, cameraRTX, desktop}, Groups: []Group{{GroupFID, []uint32{1234, 1244}}}},
		// source-remove: the share and the RTX stream end
		{Sources: []Source{camera}},
	}

	var (
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		running = make(chan struct{})
		seq     = uint16(100)
	)
	send := func() {
		pkt, err := enc.EncryptRTP(nil, vp8Packet(seq, uint32(seq)*3000), nil)
		if err != nil {
			panic(err)
		}
		seq++
		sender.receive(pkt, time.Time{}) // as the socket's reader hands it over
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		send()
		close(running)
		for {
			select {
			case <-stop:
				return
			default:
				send()
			}
		}
	}()
	<-running
	for i := range 150 {
		u := updates[i%len(updates)]
		u.ConferenceID, u.EndpointID = c.id, sender.id
		if err := c.b.UpdateSources(u); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("update %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	forwarded := make([]int, len(got))
	for i, w := range got {
		_, seqs, _ := w.take()
		forwarded[i] = len(seqs)
	}
	send() // after the last update, in the same call
	for i, r := range recv {
		switches := slotSwitches(t, r, "sender-v0")
		if switches != 0 {
			t.Errorf("%s: the camera's slot re-based %d times across source updates, want 0", r.id, switches)
		}
		if _, seqs, _ := got[i].take(); len(seqs) != 1 || forwarded[i] == 0 {
			t.Errorf("%s: %d packets during the updates, %d after them; want some and 1", r.id, forwarded[i], len(seqs))
		}
	}
	if s := (*sender.inbound.Load())[1234]; s == nil || s.received.Load() != uint64(seq-100) {
		t.Errorf("the camera's statistics did not survive the updates: %v", s)
	}
}

// TestSourceUpdateKeepsSlotsRunning: a source-add (a screen share) and a change of the camera's
// signalling (RTX added) leave every receiver on the simulcast layer it had, with its sequence numbers
// running on and no key frame asked of the sender: the camera's streams keep what the packet path knows
// of them (when each layer was last heard, statistics, cache).
func TestSourceUpdateKeepsSlotsRunning(t *testing.T) {
	sender, enc, _ := rigConference(t, 2, false, 2)
	c := sender.conf
	rigAPI(c)
	layers := []Source{
		{Kind: KindVideo, SSRC: 1234, Name: "sender-v0", VideoType: "camera"},
		{Kind: KindVideo, SSRC: 1235, Name: "sender-v0", VideoType: "camera"},
		{Kind: KindVideo, SSRC: 1236, Name: "sender-v0", VideoType: "camera"},
	}
	sim := Group{GroupSIM, []uint32{1234, 1235, 1236}}
	update := func(sources []Source, groups ...Group) {
		t.Helper()
		must(t, c.b.UpdateSources(SourcesUpdate{ConferenceID: c.id, EndpointID: sender.id, Sources: sources, Groups: groups}))
	}
	update(layers, sim)
	recv := c.members()[1:]
	var got [2]*layerWriter
	for i, r := range recv {
		got[i] = newLayerWriter(t)
		r.setWriter(got[i])
	}
	toSender := newLayerWriter(t)
	sender.setWriter(toSender)
	recv[0].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":180}}`))
	recv[1].onChannelMessage([]byte(`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":720}}`))

	seq := [3]uint16{100, 5000, 9000}
	sent := 0
	send := func(keyframe bool) {
		for l := range 3 {
			pkt, err := enc.EncryptRTP(nil, simulcastPacket(l, seq[l], keyframe), nil)
			must(t, err)
			seq[l]++
			sender.handlePacket(pkt)
		}
		sent++
	}
	var last [2]uint16
	check := func(when string) {
		t.Helper()
		for i, want := range []byte{0, 2} {
			tags, seqs, _ := got[i].take()
			if len(tags) != 3 {
				t.Fatalf("%s: receiver %d got %d packets %v, want 3 of layer %d", when, i, len(tags), tags, want)
			}
			for j, tag := range tags {
				if tag != want {
					t.Fatalf("%s: receiver %d got layers %v, want only %d", when, i, tags, want)
				}
				if last[i] != 0 && seqs[j] != last[i]+1 {
					t.Fatalf("%s: receiver %d got sequence numbers %v after %d: its numbering must run on", when, i, seqs, last[i])
				}
				last[i] = seqs[j]
			}
		}
		if _, _, plis := toSender.take(); len(plis) != 0 {
			t.Fatalf("%s: key frames asked of the sender's SSRCs %v, want none", when, plis)
		}
		rigSource(sender, "sender-v0").lastKeyframeReq.Store(0) // nothing that follows is throttled
	}
	send(false) // every layer heard once; nothing forwarded before a key frame
	send(true)
	send(false)
	send(false)
	toSender.take() // the start's key frame requests
	check("before any update")
	switches := slotSwitches(t, recv[1], "sender-v0")

	// A screen share starts: its source is added beside the camera.
	desktop := Source{Kind: KindVideo, SSRC: 7777, Name: "sender-v1", VideoType: "desktop"}
	update(append(layers, desktop), sim)
	toSender.take() // the share's key frame request (a receiver's free slot took it)
	for range 3 {
		send(false)
	}
	check("after the screen share's source-add")

	// The camera is signalled again with RTX: a changed source, its layers the same SSRCs.
	rtx := []Source{
		{Kind: KindVideo, SSRC: 1244, Name: "sender-v0"}, {Kind: KindVideo, SSRC: 1245, Name: "sender-v0"},
		{Kind: KindVideo, SSRC: 1246, Name: "sender-v0"},
	}
	update(append(append(append([]Source(nil), layers...), rtx...), desktop), sim,
		Group{GroupFID, []uint32{1234, 1244}}, Group{GroupFID, []uint32{1235, 1245}}, Group{GroupFID, []uint32{1236, 1246}})
	if src := rigSource(sender, "sender-v0"); len(src.rtx) != 3 {
		t.Fatalf("camera after the update: %d RTX streams, want 3", len(src.rtx))
	}
	for range 3 {
		send(false)
	}
	check("after the camera's change")
	if n := slotSwitches(t, recv[1], "sender-v0"); n != switches {
		t.Fatalf("the 720p slot re-based %d times across the updates", n-switches)
	}
	for l, ssrc := range []uint32{1234, 1235, 1236} {
		if s := (*sender.inbound.Load())[ssrc]; s.received.Load() != uint64(sent) {
			t.Fatalf("layer %d: %d packets counted across the updates, want %d", l, s.received.Load(), sent)
		}
	}
}
