package bot

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp8Stream makes the packets of a synthetic VP8 stream: each frame is
// split into packets with consecutive sequence numbers, the first with the
// S bit (partition 0), the last with the marker; a key frame's first packet
// carries a key frame header of 320×height.
type vp8Stream struct {
	seq uint16
	ts  uint32
}

func (s *vp8Stream) frame(packets int, key bool, height int) []*rtp.Packet {
	var out []*rtp.Packet
	s.ts += 3000
	for i := range packets {
		desc := byte(0)
		if i == 0 {
			desc = 0x10 // S=1, PID=0
		}
		payload := []byte{desc, 0x01, 0, 0} // inter frame: P bit set
		if i == 0 && key {
			payload = []byte{desc, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 320 & 0xff, 320 >> 8, byte(height), byte(height >> 8)}
		} else if i > 0 {
			payload = []byte{desc, 0xaa, 0xbb}
		}
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: 7, Marker: i == packets-1},
			Payload: payload,
		})
		s.seq++
	}
	return out
}

// feed delivers packets one per millisecond from *now onwards, except
// those whose sequence numbers are in skip, and returns the keyframe
// requests asked for.
func feed(in *inbound, now *time.Time, pkts []*rtp.Packet, skip ...uint16) []uint32 {
	var plis []uint32
	for _, p := range pkts {
		*now = now.Add(time.Millisecond)
		if slices.Contains(skip, p.SequenceNumber) {
			continue
		}
		plis = append(plis, in.packet(p.SSRC, p, false, *now).plis...)
	}
	return plis
}

func videoStats(t *testing.T, in *inbound) VideoStats {
	t.Helper()
	st := in.sources["ep-v0"].stats()
	if st.Video == nil {
		t.Fatal("no video stats")
	}
	return *st.Video
}

// newVideoIn is an inbound with slot 7 carrying ep-v0, its first keyframe
// request already sent.
func newVideoIn(t *testing.T, now time.Time) *inbound {
	t.Helper()
	in := newInbound()
	if plis := in.mapSlot(7, "ep-v0", "ep", "video", now).plis; !slices.Equal(plis, []uint32{7}) {
		t.Fatalf("a new source asked keyframes for %v, want [7]", plis)
	}
	return in
}

// TestFramesInOrder: a key frame and inter frames, all packets there, in
// order: every frame complete and decodable, the height from the key
// frame, nothing lost, no keyframe request beyond the first.
func TestFramesInOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	var plis []uint32
	plis = append(plis, feed(in, &now, s.frame(3, true, 180))...)
	for range 4 {
		now = now.Add(30 * time.Millisecond)
		plis = append(plis, feed(in, &now, s.frame(2, false, 0))...)
	}
	v := videoStats(t, in)
	if v.Frames != 5 || v.KeyFrames != 1 || v.DecodeErrors != 0 || v.FramesDropped != 0 || v.Height != 180 || v.Width != 320 {
		t.Errorf("stats %+v", v)
	}
	if st := in.sources["ep-v0"].stats(); st.Packets != 11 || st.PacketsLost != 0 {
		t.Errorf("packets %d lost %d", st.Packets, st.PacketsLost)
	}
	if len(plis) != 0 {
		t.Errorf("keyframe requests %v for a stream that decodes", plis)
	}
}

// TestFrameLossUntilKeyFrame: a packet lost for good in the middle of a
// frame: the frame is given up after lossWait, the complete frames after
// it are decode errors until the next key frame, a keyframe request goes
// out (once per keyFrameInterval), and the key frame recovers.
func TestFrameLossUntilKeyFrame(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	step := 100 * time.Millisecond // slow frames: the gap ages past lossWait within two of them
	feed(in, &now, s.frame(3, true, 360))
	now = now.Add(step)
	feed(in, &now, s.frame(2, false, 0))
	now = now.Add(step)
	broken := s.frame(3, false, 0)
	lostSeq := broken[1].SequenceNumber
	var plis []uint32
	plis = append(plis, feed(in, &now, broken, lostSeq)...)
	for range 5 {
		now = now.Add(step)
		plis = append(plis, feed(in, &now, s.frame(2, false, 0))...)
	}
	v := videoStats(t, in)
	if v.Frames != 2 || v.FramesDropped != 1 || v.DecodeErrors != 5 {
		t.Fatalf("after the loss: %d frames, %d dropped, %d decode errors; want 2, 1, 5", v.Frames, v.FramesDropped, v.DecodeErrors)
	}
	if len(plis) == 0 || plis[0] != 7 {
		t.Fatalf("no keyframe request after the loss: %v", plis)
	}
	// 5 × 100 ms of undecodable frames: at most one request per keyFrameInterval.
	if len(plis) > 2 {
		t.Errorf("%d keyframe requests in 500 ms", len(plis))
	}
	now = now.Add(step)
	feed(in, &now, s.frame(3, true, 720))
	now = now.Add(step)
	plis = feed(in, &now, s.frame(2, false, 0))
	now = now.Add(time.Second)
	plis = append(plis, feed(in, &now, s.frame(2, false, 0))...)
	v = videoStats(t, in)
	if v.Frames != 5 || v.KeyFrames != 2 || v.DecodeErrors != 5 || v.Height != 720 {
		t.Errorf("after the key frame: %+v", v)
	}
	if len(plis) != 0 {
		t.Errorf("keyframe requests %v after the key frame", plis)
	}
	if st := in.sources["ep-v0"].stats(); st.PacketsLost != 1 {
		t.Errorf("%d packets lost, want 1", st.PacketsLost)
	}
}

// TestFramesReordered: packets of a frame and whole frames arrive out of
// order, within lossWait: every frame is complete and decodable, counted
// once, in order.
func TestFramesReordered(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	key := s.frame(3, true, 180)
	a, b := s.frame(3, false, 0), s.frame(2, false, 0)
	order := []*rtp.Packet{key[0], key[2], key[1], b[0], a[1], a[0], b[1], a[2]}
	feed(in, &now, order)
	feed(in, &now, order[:3]) // duplicates
	v := videoStats(t, in)
	if v.Frames != 3 || v.DecodeErrors != 0 || v.FramesDropped != 0 {
		t.Errorf("stats %+v", v)
	}
	if st := in.sources["ep-v0"].stats(); st.Packets != 8 || st.PacketsLost != 0 {
		t.Errorf("packets %d lost %d, want 8 and 0", st.Packets, st.PacketsLost)
	}
}

// TestFrameRepaired: a packet missing at first that RTX brings back before
// lossWait completes its frame; it counts as received and repaired.
func TestFrameRepaired(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	key := s.frame(3, true, 180)
	feed(in, &now, key, key[1].SequenceNumber)
	feed(in, &now, s.frame(2, false, 0))
	if v := videoStats(t, in); v.Frames != 0 {
		t.Fatalf("%d frames before the repair", v.Frames)
	}
	now = now.Add(50 * time.Millisecond)
	in.packet(7, key[1], true, now)
	v := videoStats(t, in)
	st := in.sources["ep-v0"].stats()
	if v.Frames != 2 || v.DecodeErrors != 0 || st.PacketsLost != 0 || st.PacketsRepaired != 1 {
		t.Errorf("after the repair: %+v, %d lost, %d repaired", v, st.PacketsLost, st.PacketsRepaired)
	}
}

// TestFramesAcrossWraparound: sequence numbers wrap from 65535 to 0 in the
// middle of a frame; a lost packet after the wrap is still one packet.
func TestFramesAcrossWraparound(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	s := vp8Stream{seq: 65533}
	feed(in, &now, s.frame(3, true, 180))
	feed(in, &now, s.frame(3, false, 0)) // 65536 → 0 inside it
	for range 3 {
		feed(in, &now, s.frame(2, false, 0))
	}
	v := videoStats(t, in)
	if v.Frames != 5 || v.DecodeErrors != 0 {
		t.Fatalf("across the wrap: %+v", v)
	}
	now = now.Add(time.Second)
	lost := s.frame(2, false, 0)
	feed(in, &now, lost, lost[0].SequenceNumber)
	now = now.Add(time.Second)
	feed(in, &now, s.frame(2, false, 0))
	st := in.sources["ep-v0"].stats()
	if st.PacketsLost != 1 || st.Video.FramesDropped != 1 || st.Video.DecodeErrors != 1 {
		t.Errorf("after the wrap: %d lost, %+v", st.PacketsLost, *st.Video)
	}
}

// TestPaddingIsNoFrame: a padding-only packet (a bandwidth probe) between
// two frames takes a sequence number and belongs to neither.
func TestPaddingIsNoFrame(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	feed(in, &now, s.frame(2, true, 180))
	feed(in, &now, []*rtp.Packet{{Header: rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: 7, Padding: true}}})
	s.seq++
	feed(in, &now, s.frame(2, false, 0))
	if v := videoStats(t, in); v.Frames != 2 || v.DecodeErrors != 0 || v.FramesDropped != 0 {
		t.Errorf("stats %+v", v)
	}
}

// TestHeldUntilMapped: packets of a slot no map has named are held and
// counted once the map comes; only the last pendingFor of them.
func TestHeldUntilMapped(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newInbound()
	var s vp8Stream
	stale := s.frame(3, true, 180)
	feed(in, &now, stale)
	now = now.Add(pendingFor + time.Second)
	feed(in, &now, s.frame(3, true, 360))
	feed(in, &now, s.frame(2, false, 0))
	if got := in.remotes(); len(got) != 0 {
		t.Fatalf("counted before the map: %v", got)
	}
	in.mapSlot(7, "ep-v0", "ep", "video", now)
	v := videoStats(t, in)
	if v.Frames != 2 || v.Height != 360 {
		t.Errorf("after the map: %+v; want the 2 frames of the last %v", v, pendingFor)
	}
	r := in.remotes()["ep"]
	if r.VideoFrames != 2 || r.Sources["ep-v0"].Packets != 5 {
		t.Errorf("remote %+v", r)
	}

	for i := range pendingMax + 50 {
		now = now.Add(time.Millisecond)
		in.packet(9, &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), SSRC: 9}, Payload: []byte{1}}, false, now)
	}
	in.mapSlot(9, "ep-a0", "ep", "audio", now)
	if st := in.sources["ep-a0"].stats(); st.Packets != pendingMax {
		t.Errorf("%d audio packets held, want %d", st.Packets, pendingMax)
	}
}

// TestSlotChangesSource: a slot the maps give to another source counts for
// it from then on; the first source's counts stay; a new session starts
// the streams afresh.
func TestSlotChangesSource(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	feed(in, &now, s.frame(2, true, 180))
	if plis := in.mapSlot(7, "other-v0", "other", "video", now).plis; !slices.Equal(plis, []uint32{7}) {
		t.Errorf("keyframe requests %v for the slot's new source", plis)
	}
	feed(in, &now, s.frame(2, true, 360))
	feed(in, &now, s.frame(2, false, 0))
	r := in.remotes()
	if r["ep"].VideoFrames != 1 || r["other"].VideoFrames != 2 || r["ep"].Sources["ep-v0"].SSRC != 0 {
		t.Errorf("remotes %+v", r)
	}
	in.newSession()
	s.seq += 1000 // a new session's slot numbers its packets anew
	in.mapSlot(8, "other-v0", "other", "video", now)
	for _, p := range s.frame(2, true, 360) {
		p.SSRC = 8
		now = now.Add(time.Millisecond)
		in.packet(8, p, false, now)
	}
	if st := in.sources["other-v0"].stats(); st.Video.Frames != 3 || st.PacketsLost != 0 || st.SSRC != 8 {
		t.Errorf("after a new session: %+v %+v", st, *st.Video)
	}
}

// TestFreezes: W3C's freeze: an interval of at least max(3 × mean,
// mean + 150 ms) over the last 30; at 30 fps that is 183 ms.
func TestFreezes(t *testing.T) {
	var f freezeDetector
	at := time.Unix(1000, 0)
	tick := func(d time.Duration) { at = at.Add(d); f.frame(at) }
	for range 31 {
		tick(33 * time.Millisecond)
	}
	tick(170 * time.Millisecond) // under 183 ms
	if f.count != 0 {
		t.Fatalf("%d freezes for 170 ms at 30 fps", f.count)
	}
	for range 30 {
		tick(33 * time.Millisecond)
	}
	tick(400 * time.Millisecond)
	if f.count != 1 || f.total != 400*time.Millisecond {
		t.Fatalf("%d freezes, %v; want 1, 400ms", f.count, f.total)
	}
	if len(f.recent) != 1 || !f.recent[0].End.Equal(at) || f.recent[0].Ms != 400 {
		t.Fatalf("freeze log %+v, want one of 400 ms ending at %v", f.recent, at)
	}
	// The log keeps the latest maxFreezeLog.
	for i := range maxFreezeLog + 5 {
		for range 30 {
			tick(33 * time.Millisecond)
		}
		tick(time.Duration(300+i) * time.Millisecond)
	}
	if len(f.recent) != maxFreezeLog || f.recent[len(f.recent)-1].Ms != float64(300+maxFreezeLog+4) || f.recent[0].Ms != 305 {
		t.Fatalf("freeze log of %d, from %v ms to %v ms", len(f.recent), f.recent[0].Ms, f.recent[len(f.recent)-1].Ms)
	}
	// At 5 fps (200 ms), 350 ms is no freeze: max(600, 350) = 600 ms.
	var slow freezeDetector
	f = slow
	for range 30 {
		tick(200 * time.Millisecond)
	}
	tick(350 * time.Millisecond)
	if f.count != 0 {
		t.Fatalf("%d freezes for 350 ms at 5 fps", f.count)
	}
	// Too few intervals to know the pace: no freeze yet.
	f = slow
	tick(0)
	tick(33 * time.Millisecond)
	tick(time.Second)
	if f.count != 0 {
		t.Fatalf("a freeze after one interval")
	}
}

// TestSeqTracker: loss counted across wraparound, duplicates dropped,
// jitter zero for packets that arrive at their RTP time's pace.
func TestSeqTracker(t *testing.T) {
	tr := newSeqTracker(audioClock)
	at := time.Unix(1000, 0)
	seq, ts := uint16(65530), uint32(4294960000) // both wrap
	var missing uint16
	for i := range 20 {
		if i == 9 {
			missing = seq
		}
		if i != 9 && i != 12 {
			if _, ok := tr.push(seq, ts, false, at); !ok {
				t.Fatalf("packet %d refused", i)
			}
		}
		seq++
		ts += 960
		at = at.Add(20 * time.Millisecond)
	}
	if _, ok := tr.push(65535, 0, false, at); ok {
		t.Error("a duplicate was taken")
	}
	if tr.lost() != 2 || tr.received != 18 {
		t.Errorf("lost %d received %d, want 2 and 18", tr.lost(), tr.received)
	}
	if j := tr.jitterMs(); j > 0.01 {
		t.Errorf("jitter %.3f ms for a steady stream", j)
	}
	if _, ok := tr.push(missing, 0, true, at); !ok || tr.lost() != 1 {
		t.Errorf("a repaired packet: lost %d", tr.lost())
	}
}

// TestNacks: a gap is asked for when seen, again every nackRetry, at most
// maxNacks times and not after lossWait; a packet that comes (repaired or
// late) is not asked for again.
func TestNacks(t *testing.T) {
	tr := newNackedTracker(videoClock)
	at := time.Unix(1000, 0)
	push := func(seq uint16) {
		if _, ok := tr.push(seq, 0, false, at); !ok {
			t.Fatalf("packet %d refused", seq)
		}
	}
	push(65534)
	push(2) // 65535, 0 and 1 missing, across the wrap
	if got := tr.nacks(at); !slices.Equal(got, []uint16{65535, 0, 1}) {
		t.Fatalf("first NACK %v", got)
	}
	if got := tr.nacks(at.Add(nackRetry / 2)); len(got) != 0 {
		t.Fatalf("asked again after %v: %v", nackRetry/2, got)
	}
	at = at.Add(nackRetry)
	if _, ok := tr.push(0, 0, true, at); !ok {
		t.Fatal("the repair was refused")
	}
	if got := tr.nacks(at); !slices.Equal(got, []uint16{65535, 1}) {
		t.Fatalf("second NACK %v, want the two still missing", got)
	}
	at = at.Add(nackRetry)
	push(5)
	if got := tr.nacks(at); !slices.Equal(got, []uint16{65535, 1, 3, 4}) {
		t.Fatalf("third NACK %v", got)
	}
	at = at.Add(nackRetry)
	if got := tr.nacks(at); !slices.Equal(got, []uint16{3, 4}) {
		t.Fatalf("after %d NACKs and %v: %v, want only the newer gap", maxNacks, lossWait, got)
	}
	if tr.lost() != 4 {
		t.Errorf("lost %d, want 4", tr.lost())
	}
	// An inbound source sends its NACKs on its slot.
	now := time.Unix(2000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	key := s.frame(3, true, 180)
	in.packet(7, key[0], false, now)
	fb := in.packet(7, key[2], false, now)
	if len(fb.nacks) != 1 || fb.nacks[0].ssrc != 7 || !slices.Equal(fb.nacks[0].seqs, []uint16{key[1].SequenceNumber}) {
		t.Errorf("feedback %+v", fb)
	}
}

// TestCutFrame: a frame that ends without its marker, the next frame
// following with no sequence number missing (the bridge switched layers
// in the middle of it), is dropped at once: the key frame after it
// decodes without waiting lossWait, and nothing is lost or asked for.
func TestCutFrame(t *testing.T) {
	now := time.Unix(1000, 0)
	in := newVideoIn(t, now)
	var s vp8Stream
	feed(in, &now, s.frame(2, true, 180))
	cut := s.frame(3, false, 0)
	now = now.Add(time.Second) // a keyframe request would not wait for keyFrameInterval
	var fb feedback
	for _, p := range cut[:2] {
		fb.add(in.packet(7, p, false, now))
	}
	s.seq = cut[2].SequenceNumber // the third packet was never sent
	for _, p := range s.frame(3, true, 720) {
		fb.add(in.packet(7, p, false, now))
	}
	v := videoStats(t, in)
	if v.Frames != 2 || v.FramesDropped != 1 || v.DecodeErrors != 0 || v.Height != 720 {
		t.Errorf("stats %+v", v)
	}
	if st := in.sources["ep-v0"].stats(); st.PacketsLost != 0 || len(fb.nacks) != 0 || len(fb.plis) != 0 {
		t.Errorf("%d lost, feedback %+v for a cut frame followed by a key frame", st.PacketsLost, fb)
	}
}

// A frame whose 15-bit picture ID does not follow the previous complete
// frame's counts as a jump; after frames were given up it does not (they
// took the missing IDs).
func TestPictureIDJumps(t *testing.T) {
	a := newFrameAssembler()
	now := time.Unix(100, 0)
	var seq uint64
	push := func(pic int, key bool) []frameEvent {
		p := vp8Packet{ts: uint32(seq) * 3000, start: true, marker: true, key: key, pic: pic}
		seq++
		return a.push(seq, p, now)
	}
	jumps := 0
	for _, pic := range []int{10, 11, 13, 14, 0x7fff} {
		for _, ev := range push(pic, pic == 10) {
			if ev.picJump {
				jumps++
			}
		}
	}
	if jumps != 2 {
		t.Fatalf("%d jumps, want 2 (11 → 13, 14 → 32767)", jumps)
	}
	// Wrap-around is no jump.
	if ev := push(0, false); len(ev) != 1 || ev[0].picJump {
		t.Fatalf("32767 → 0: %+v", ev)
	}
	// A frame given up (sequence number 8 never comes) takes the next ID.
	seq++
	now = now.Add(time.Second)
	evs := push(2, false)
	evs = append(evs, a.drain(now.Add(time.Second))...)
	for _, ev := range evs {
		if ev.picJump {
			t.Fatalf("a jump after a lost frame: %+v", evs)
		}
	}
}
