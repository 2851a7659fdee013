package bot

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-im/parley/internal/e2ee"
)

// TestKeptBackAudioNotDecrypted is the starved-machine case of
// docs/e2ee.md's known gaps: an audio slot's packets come while the bot has
// no m-line for it, and Pion keeps them in the SSRC's read buffer until the
// track starts, 10 s later, by when the receiver has dropped the epoch they
// were sent with. Read as the bot reads a track (the buffer, then
// inbound.arrived), those packets are dropped unread and counted as kept
// back, not as frames that failed to decrypt; what comes after the track
// started decrypts, and so does a packet that arrived in time but is read
// late once the track is live (a slow reader is not a backlog).
func TestKeptBackAudioNotDecrypted(t *testing.T) {
	clock := time.Unix(1000, 0)
	now := func() time.Time { return clock }
	sender := e2ee.NewSender()
	recv := e2ee.NewReceiver(now)
	epoch := func(n uint32) e2ee.EpochKeys {
		return e2ee.NewEpochKeys(n, e2ee.Mix(bytes.Repeat([]byte{byte(n)}, 32), nil))
	}
	seal := func(seq uint16) []byte {
		frame, err := sender.Encrypt(e2ee.ContextAudio, []byte{0xfc, byte(seq), 1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 9}, Payload: frame}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	in := newInbound()
	in.open = func(codec e2ee.Codec, frame []byte) bool {
		_, err := recv.Decrypt(codec, frame)
		return err == nil
	}
	in.mapSlot(9, "ep-a0", "ep", "audio", clock)
	buf := newArrivalBuffer(srtpBufferSize, now)

	// Epoch 1: 50 packets reach the buffer, nobody reads them.
	if err := sender.Use(epoch(1), 3); err != nil {
		t.Fatal(err)
	}
	recv.Add(epoch(1))
	seq := uint16(0)
	for range 50 {
		clock = clock.Add(20 * time.Millisecond)
		if _, err := buf.Write(seal(seq)); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	// Five epochs come, 2 s apart (the receiver keeps the newest four);
	// 10 s on, the track starts, with 20 fresh packets of the newest epoch
	// in the buffer behind the old ones.
	for n := uint32(2); n <= 6; n++ {
		clock = clock.Add(2 * time.Second)
		recv.Add(epoch(n))
	}
	if err := sender.Use(epoch(6), 3); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		clock = clock.Add(20 * time.Millisecond)
		if _, err := buf.Write(seal(seq)); err != nil {
			t.Fatal(err)
		}
		seq++
	}
	read := func(n int) {
		t.Helper()
		pkt := make([]byte, 1500)
		for range n {
			k, err := buf.Read(pkt)
			if err != nil {
				t.Fatal(err)
			}
			var p rtp.Packet
			if err := p.Unmarshal(pkt[:k]); err != nil {
				t.Fatal(err)
			}
			in.arrived(9, &p, false, buf.lastArrival(), clock)
		}
	}
	read(70)
	st := in.sources["ep-a0"].stats()
	if st.KeptBack != 50 || st.DecryptFailed != 0 || st.Decrypted != 20 || st.Packets != 20 {
		t.Fatalf("after the backlog: kept back %d, decrypt failed %d, decrypted %d, packets %d; want 50, 0, 20, 20", st.KeptBack, st.DecryptFailed, st.Decrypted, st.Packets)
	}
	if _, drops := recv.Stats(); drops.Total() != 0 {
		t.Fatalf("the receiver dropped %+v", drops)
	}

	// Live now: audio that waited as long (a starved reader) is dropped
	// too, and what comes fresh after it counts.
	buf.Write(seal(seq))
	seq++
	clock = clock.Add(pendingFor + time.Second)
	buf.Write(seal(seq))
	read(2)
	if st := in.sources["ep-a0"].stats(); st.Decrypted != 21 || st.KeptBack != 51 || st.DecryptFailed != 0 {
		t.Fatalf("audio read late once live: decrypted %d, kept back %d, failed %d; want 21, 51, 0", st.Decrypted, st.KeptBack, st.DecryptFailed)
	}
	// A new session's slot starts afresh.
	in.newSession()
	if in.live[9] {
		t.Fatal("slot 9 still live after a new session")
	}
}

// TestKeptBackVideo: of a video slot's track, the packets Pion kept back
// too long before the first fresh one are dropped; once live, a packet
// read late still counts (its frame is complete; a freeze shows the wait),
// and a repair is never dropped for its age. Packets held by the bot for
// a slot whose map comes late count only if they arrived within
// pendingFor of the map.
func TestKeptBackVideo(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	old := now
	for _, p := range s.frame(3, true, 180) {
		in.arrived(7, p, false, old, now.Add(pendingFor+time.Second))
	}
	now = now.Add(pendingFor + time.Second)
	for _, p := range s.frame(2, true, 360) {
		now = now.Add(time.Millisecond)
		in.arrived(7, p, false, now, now)
	}
	late := s.frame(1, false, 0)[0]
	in.arrived(7, late, false, now, now.Add(pendingFor+time.Second))
	st := in.sources["ep-v0"].stats()
	if st.KeptBack != 3 || st.Video.Frames != 2 || st.Video.Height != 360 || st.Packets != 3 {
		t.Fatalf("kept back %d, frames %d (height %d), packets %d; want 3, 2 (360), 3", st.KeptBack, st.Video.Frames, st.Video.Height, st.Packets)
	}

	// A slot no map names yet: what arrived more than pendingFor before
	// the map is not counted, even if Pion handed it over just now.
	now = now.Add(time.Hour)
	var a vp8Stream
	a.seq = 500
	for i, p := range a.frame(4, true, 180) {
		p.SSRC = 8
		at := now.Add(time.Duration(i) * time.Second) // 0, 1, 2, 3 s
		in.arrived(8, p, false, at, at)
	}
	in.mapSlot(8, "ep2-v0", "ep2", "video", now.Add(4500*time.Millisecond))
	// (The first was gone already: the bot holds the last pendingFor.)
	if st := in.sources["ep2-v0"].stats(); st.KeptBack != 2 || st.Packets != 1 {
		t.Fatalf("held, then mapped 4.5 s after the first: kept back %d, packets %d; want 2, 1", st.KeptBack, st.Packets)
	}
}

// TestArrivalBuffer: the buffer says when the packet read last arrived,
// also after a short read (which consumes the packet) and with packets
// written while others are read.
func TestArrivalBuffer(t *testing.T) {
	clock := time.Unix(2000, 0)
	b := newArrivalBuffer(1000, func() time.Time { return clock })
	if !b.lastArrival().IsZero() {
		t.Fatal("an arrival before any read")
	}
	for i := range 3 {
		clock = clock.Add(time.Second)
		if _, err := b.Write([]byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	p := make([]byte, 10)
	if n, err := b.Read(p); err != nil || n != 4 || p[0] != 0 || !b.lastArrival().Equal(time.Unix(2001, 0)) {
		t.Fatalf("first read: %d %v %v", n, err, b.lastArrival())
	}
	if _, err := b.Read(p[:1]); err == nil || !b.lastArrival().Equal(time.Unix(2002, 0)) {
		t.Fatalf("short read: %v %v", err, b.lastArrival())
	}
	clock = clock.Add(time.Second)
	b.Write([]byte{9})
	if n, err := b.Read(p); err != nil || n != 4 || p[0] != 2 || !b.lastArrival().Equal(time.Unix(2003, 0)) {
		t.Fatalf("third read: %d %v %v", n, err, b.lastArrival())
	}
	if n, err := b.Read(p); err != nil || n != 1 || !b.lastArrival().Equal(time.Unix(2004, 0)) {
		t.Fatalf("fourth read: %d %v %v", n, err, b.lastArrival())
	}
	// Over its limit a write fails and notes nothing.
	small := newArrivalBuffer(10, nil)
	if _, err := small.Write(make([]byte, 100)); err == nil || len(small.at) != 0 {
		t.Fatalf("an oversize write: %v, %d arrivals noted", err, len(small.at))
	}
}
