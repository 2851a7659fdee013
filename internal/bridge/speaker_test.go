package bridge

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withExt returns an RTP header (version 2, X set, cc CSRCs) followed by an extension block with the
// given profile, length field (32-bit words) and body, and payload.
func withExt(cc int, profile, words uint16, body []byte, payload ...byte) []byte {
	p := make([]byte, 12+4*cc)
	p[0] = 0x90 | byte(cc)
	p[1] = PayloadTypeOpus
	p = binary.BigEndian.AppendUint16(p, profile)
	p = binary.BigEndian.AppendUint16(p, words)
	p = append(p, body...)
	return append(p, payload...)
}

func TestAudioLevel(t *testing.T) {
	plain := rtpHeader(0x80, PayloadTypeOpus, 1, 1)
	for _, tc := range []struct {
		name  string
		pkt   []byte
		level uint8
		voice bool
		ok    bool
	}{
		{"one-byte", withExt(0, 0xbede, 1, []byte{0x10, 0x85, 0, 0}, 0xfc), 5, true, true},
		{"one-byte after another element", withExt(0, 0xbede, 2, []byte{0x51, 0xaa, 0xbb, 0x10, 0x1e, 0, 0, 0}), 30, false, true},
		{"one-byte with CSRCs", withExt(2, 0xbede, 1, []byte{0x10, 127, 0, 0}), 127, false, true},
		{"one-byte padding between elements", withExt(0, 0xbede, 2, []byte{0x50, 0xaa, 0, 0, 0x10, 0x22, 0, 0}), 0x22, false, true},
		{"one-byte length 2 (first byte is the level)", withExt(0, 0xbede, 1, []byte{0x11, 0x40, 0x00, 0}), 0x40, false, true},
		{"two-byte", withExt(0, 0x1000, 1, []byte{0x01, 0x01, 0x9e, 0}), 30, true, true},
		{"two-byte appbits and padding", withExt(0, 0x100f, 2, []byte{0x00, 0x00, 0x05, 0x00, 0x01, 0x01, 0x50, 0x00}), 0x50, false, true},
		{"two-byte zero-length element first", withExt(0, 0x1000, 2, []byte{0x07, 0x00, 0x01, 0x01, 0x33, 0, 0, 0}), 0x33, false, true},
		{"two-byte zero-length level", withExt(0, 0x1000, 1, []byte{0x01, 0x00, 0x00, 0x00}), 0, false, false},
		{"two-byte level element cut", withExt(0, 0x1000, 1, []byte{0x00, 0x00, 0x01, 0x01}, 0x10), 0, false, false},
		{"no extension", plain, 0, false, false},
		{"other id only", withExt(0, 0xbede, 1, []byte{0x50, 0x10, 0, 0}), 0, false, false},
		{"id 15 stops parsing", withExt(0, 0xbede, 1, []byte{0xf0, 0x10, 0x05, 0}), 0, false, false},
		{"zero-length extension", withExt(0, 0xbede, 0, nil, 0xfc, 0xff), 0, false, false},
		{"extension length past the packet", withExt(0, 0xbede, 0xffff, []byte{0x10, 0x05, 0, 0}), 0, false, false},
		{"element length past the extension", withExt(0, 0xbede, 1, []byte{0x5f, 0, 0, 0}, 0x10, 0x05, 0, 0), 0, false, false},
		{"two-byte length past the extension", withExt(0, 0x1000, 1, []byte{0x01, 0x09, 0x05, 0}, 1, 2, 3, 4, 5, 6, 7, 8), 0, false, false},
		{"two-byte id byte at the very end", withExt(0, 0x1000, 1, []byte{0x00, 0x00, 0x00, 0x01}), 0, false, false},
		{"unknown profile", withExt(0, 0x1234, 1, []byte{0x10, 0x05, 0, 0}), 0, false, false},
		{"CSRCs past the packet", []byte{0x9f, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde}, 0, false, false},
		{"extension header cut", []byte{0x90, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0}, 0, false, false},
		{"short packet", []byte{0x90, 111, 0}, 0, false, false},
		{"empty", nil, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, voice, ok := audioLevel(tc.pkt, extAudioLevel)
			if ok != tc.ok || (ok && (level != tc.level || voice != tc.voice)) {
				t.Fatalf("audioLevel = %d, %v, %v; want %d, %v, %v", level, voice, ok, tc.level, tc.voice, tc.ok)
			}
		})
	}
	if _, _, ok := audioLevel(withExt(0, 0xbede, 1, []byte{0xf0, 0x10, 0, 0}), 15); ok {
		t.Fatal("id 15 of the one-byte form matched")
	}
}

func FuzzAudioLevel(f *testing.F) {
	f.Add(withExt(0, 0xbede, 1, []byte{0x10, 0x85, 0, 0}), uint8(1))
	f.Add(withExt(1, 0x1000, 2, []byte{0x00, 0x01, 0x01, 0x9e, 0, 0, 0, 0}), uint8(1))
	f.Add(withExt(0, 0xbede, 0xffff, []byte{0x1f}), uint8(1))
	f.Add([]byte{0x9f, 111}, uint8(14))
	f.Fuzz(func(t *testing.T, pkt []byte, id uint8) {
		level, _, ok := audioLevel(pkt, id)
		if ok && level > 127 {
			t.Fatalf("level %d", level)
		}
	})
}

// Loudness patterns (127 − RFC 6464 level) for the detector tests, by packet index from the start of
// the pattern.
func talking(i int) uint8 {
	// A speaker: 100 ms of breath at −60 dBov, then a 400 ms spurt around −25 dBov, over and over. The
	// breath comes first so that the noise floor is learnt before the first word.
	if i%25 < 5 {
		return 67
	}
	return 100 + uint8(i%4)
}

func silent(int) uint8 { return 0 }

// speechSim drives a speech detector with injected times: every speaker gets one level per 20 ms, and
// the detector decides every 300 ms (as Jitsi does; the bridge decides at its housekeeping ticks).
type speechSim struct {
	t      *testing.T
	sp     speech
	ids    []string
	levels []*speakerLevels
	now    int64
	events []simEvent
}

type simEvent struct {
	at time.Duration
	ev dominantSpeakerEvent
}

func newSpeechSim(t *testing.T, ids ...string) *speechSim {
	s := &speechSim{t: t, ids: ids, now: simStart}
	for range ids {
		s.levels = append(s.levels, &speakerLevels{})
	}
	return s
}

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// run feeds d of audio, patterns[i] giving speaker i's loudness by packet index (nil: sends nothing).
func (s *speechSim) run(d time.Duration, patterns ...func(int) uint8) {
	step := int64(20 * time.Millisecond)
	for end := s.now + int64(d); s.now < end; s.now += step {
		for i, p := range patterns {
			if p != nil {
				s.levels[i].note(p(int((s.now-simStart)/step)), s.now)
			}
		}
		if (s.now-simStart)%int64(300*time.Millisecond) == 0 {
			s.step()
		}
	}
}

func (s *speechSim) step() {
	s.sp.step(s.now, s.ids, s.levels, func(raw []byte) {
		var ev dominantSpeakerEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			s.t.Fatal(err)
		}
		s.events = append(s.events, simEvent{time.Duration(s.now - simStart), ev})
	})
}

// leave takes speaker i out, as Conference.remove and the next housekeeping do.
func (s *speechSim) leave(i int) {
	s.sp.forget(s.ids[i])
	s.ids = append(s.ids[:i:i], s.ids[i+1:]...)
	s.levels = append(s.levels[:i:i], s.levels[i+1:]...)
}

func (s *speechSim) dominants() []string {
	var out []string
	for _, e := range s.events {
		out = append(out, fmt.Sprintf("%s@%v", e.ev.Endpoint, e.at))
	}
	return out
}

func TestSpeechSteadySpeakerWins(t *testing.T) {
	s := newSpeechSim(t, "a", "b", "c")
	s.run(10*time.Second, silent, talking, silent)
	if len(s.events) != 1 || s.events[0].ev.Endpoint != "b" || s.events[0].at > 1500*time.Millisecond {
		t.Fatalf("events %v, want b once within 1.5 s", s.dominants())
	}
	if ev := s.events[0].ev; len(ev.Previous) != 0 || ev.Class != classDominantSpeaker || ev.Silence {
		t.Fatalf("event %+v", ev)
	}
	// Everybody silent: the last speaker stays.
	s.run(5*time.Second, silent, silent, silent)
	if len(s.events) != 1 {
		t.Fatalf("events %v after silence", s.dominants())
	}
}

// A steady level is background noise, however loud: it never takes the stage from a speaker.
func TestSpeechSteadyNoiseNeverWins(t *testing.T) {
	s := newSpeechSim(t, "fan", "b")
	fan := func(int) uint8 { return 110 }
	s.run(3*time.Second, fan, nil)
	s.run(10*time.Second, fan, talking)
	if len(s.events) != 1 || s.events[0].ev.Endpoint != "b" {
		t.Fatalf("events %v, want b only", s.dominants())
	}
}

// A cough (a 300 ms burst) by another participant does not switch, whether the dominant speaker is
// talking or has been silent for a while.
func TestSpeechCoughDoesNotSwitch(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("dominant-quiet=%v", quiet), func(t *testing.T) {
			s := newSpeechSim(t, "a", "b")
			background := func(int) uint8 { return 30 } // −97 dBov: a quiet room
			s.run(3*time.Second, talking, background)
			if len(s.events) != 1 || s.events[0].ev.Endpoint != "a" {
				t.Fatalf("events %v, want a", s.dominants())
			}
			a := talking
			if quiet {
				a = background
				s.run(2*time.Second, a, background)
			}
			for range 5 { // a cough every 1.3 s, each at another phase of the 300 ms decisions
				start := (s.now - simStart) / int64(20*time.Millisecond)
				cough := func(i int) uint8 {
					if i-int(start) < 15 {
						return 110
					}
					return 30
				}
				s.run(1300*time.Millisecond, a, cough)
			}
			if len(s.events) != 1 {
				t.Fatalf("events %v: a cough switched", s.dominants())
			}
		})
	}
}

// A new speaker who talks on after the dominant one stops takes over within a bounded time, and the
// previous speaker is listed.
func TestSpeechTurnSwitches(t *testing.T) {
	s := newSpeechSim(t, "a", "b", "c")
	s.run(3*time.Second, talking, silent, silent)
	turn := time.Duration(s.now - simStart)
	s.run(5*time.Second, silent, talking, silent)
	if len(s.events) != 2 || s.events[1].ev.Endpoint != "b" {
		t.Fatalf("events %v, want a then b", s.dominants())
	}
	if took := s.events[1].at - turn; took < 300*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("switch after %v, want 0.3 s … 1.5 s", took)
	}
	if p := s.events[1].ev.Previous; len(p) != 1 || p[0] != "a" {
		t.Fatalf("previous speakers %v, want [a]", p)
	}
	// The turn goes on to c, then back to a: previous speakers are most recent first.
	s.run(5*time.Second, silent, silent, talking)
	s.run(5*time.Second, talking, silent, silent)
	if len(s.events) != 4 {
		t.Fatalf("events %v", s.dominants())
	}
	if got := strings.Join(s.events[3].ev.Previous, ","); s.events[3].ev.Endpoint != "a" || got != "c,b" {
		t.Fatalf("last event %+v, want a with previous c,b", s.events[3].ev)
	}
}

// Two speakers talking at once: the one who had the floor keeps it (no flapping).
func TestSpeechNoFlapping(t *testing.T) {
	s := newSpeechSim(t, "a", "b")
	s.run(3*time.Second, talking, silent)
	other := func(i int) uint8 { return talking(i + 12) } // out of phase with a
	s.run(20*time.Second, talking, other)
	if len(s.events) > 2 {
		t.Fatalf("events %v: flapping", s.dominants())
	}
}

// When the dominant speaker leaves, whoever is speaking takes over, else the most recent previous
// speaker; departed endpoints leave the previous speakers.
func TestSpeechDominantLeaves(t *testing.T) {
	s := newSpeechSim(t, "a", "b", "c")
	s.run(3*time.Second, silent, silent, talking)
	s.run(3*time.Second, talking, silent, silent)
	s.run(3*time.Second, silent, talking, silent)
	if got := s.dominants(); len(got) != 3 || s.events[2].ev.Endpoint != "b" {
		t.Fatalf("events %v", got)
	}
	s.leave(1) // b, the dominant speaker; nobody speaks
	s.run(time.Second, silent, silent)
	if len(s.events) != 4 || s.events[3].ev.Endpoint != "a" || strings.Join(s.events[3].ev.Previous, ",") != "c" {
		t.Fatalf("after b left: %+v", s.events[len(s.events)-1].ev)
	}
	s.leave(0) // a again, while c speaks
	s.run(2*time.Second, talking)
	if len(s.events) != 5 || s.events[4].ev.Endpoint != "c" || len(s.events[4].ev.Previous) != 0 {
		t.Fatalf("after a left: %v %+v", s.dominants(), s.events[len(s.events)-1].ev)
	}
}

// TestAudioLevelDoesNotAllocate pins the zero-allocation packet path for audio with a level, and that the
// level is recorded.
func TestAudioLevelDoesNotAllocate(t *testing.T) {
	sender, enc, _ := benchConference(t, 4)
	addBenchAudio(t, sender)
	seq := uint16(0)
	pkt := func() []byte {
		seq++
		p, err := enc.EncryptRTP(nil, opusWithLevel(seq, 20), nil)
		must(t, err)
		return p
	}
	sender.handlePacket(pkt())
	if sender.levels.last == 0 {
		t.Fatal("level not recorded")
	}
	p := pkt() // the bench sender has no replay protection: the same packet again and again
	if allocs := testing.AllocsPerRun(200, func() { sender.handlePacket(p) }); allocs != 0 {
		t.Fatalf("%v allocations per audio packet, want 0", allocs)
	}
}

// BenchmarkForwardAudio measures the audio packet path with the level read: decrypt, level, rewrite and
// send to each of N receivers.
func BenchmarkForwardAudio(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) {
			sender, enc, _ := benchConference(b, n)
			addBenchAudio(b, sender)
			pkt, err := enc.EncryptRTP(nil, opusWithLevel(1, 20), nil)
			must(b, err)
			b.ReportAllocs()
			for b.Loop() {
				sender.handlePacket(pkt)
			}
		})
	}
}

const benchAudioSSRC = 4321

// addBenchAudio gives benchConference's sender an audio source besides its video.
func addBenchAudio(tb testing.TB, sender *Endpoint) {
	c := sender.conf
	srcs, err := c.validateSources(sender.id, []Source{{Kind: KindVideo, SSRC: 1234, Name: "sender-v0"},
		{Kind: KindAudio, SSRC: benchAudioSSRC, Name: "sender-a0"}}, nil)
	must(tb, err)
	c.setSources(sender, srcs)
}

// opusWithLevel is an Opus packet of benchAudioSSRC with the audio level extension (one-byte form).
func opusWithLevel(seq uint16, level uint8) []byte {
	p := withExt(0, 0xbede, 1, []byte{extAudioLevel << 4, 0x80 | level, 0, 0}, make([]byte, 80)...)
	p[1] = PayloadTypeOpus
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*960)
	binary.BigEndian.PutUint32(p[8:], benchAudioSSRC)
	p[20] = 0xfc // Opus TOC
	return p
}

// talker sends Opus with the audio level extension from a raw endpoint every 20 ms: silence, or the
// talking pattern while talk is set.
type talker struct {
	r    *rawClient
	talk atomic.Bool
	stop chan struct{}
	wg   sync.WaitGroup
}

func startTalker(t *testing.T, r *rawClient) *talker {
	fx := mustFixtures(t)
	tk := &talker{r: r, stop: make(chan struct{})}
	tk.wg.Add(1)
	go func() {
		defer tk.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		talkedFrom := -1
		for i := 0; ; i++ {
			select {
			case <-tk.stop:
				return
			case <-tick.C:
			}
			level := uint8(127)
			if tk.talk.Load() {
				if talkedFrom < 0 {
					talkedFrom = i
				}
				level = 127 - talking(i-talkedFrom)
			} else {
				talkedFrom = -1
			}
			seq := uint16(i + 1)
			plain := withExt(0, 0xbede, 1, []byte{extAudioLevel << 4, level, 0, 0}, fx.audio[i%len(fx.audio)]...)
			binary.BigEndian.PutUint16(plain[2:], seq)
			binary.BigEndian.PutUint32(plain[4:], uint32(i)*960)
			binary.BigEndian.PutUint32(plain[8:], r.ssrcA)
			enc, err := r.out.EncryptRTP(nil, plain, nil)
			if err != nil {
				return
			}
			_, _ = r.conn.Write(enc) // fails once the test tears the endpoint down
		}
	}()
	t.Cleanup(func() { close(tk.stop); tk.wg.Wait() })
	return tk
}

// lastDominant is the last DominantSpeakerEndpointChangeEvent among r's messages (r.mu held).
func lastDominant(r *recorder) (ev dominantSpeakerEvent, ok bool) {
	for _, m := range r.msgs {
		if strings.Contains(m, `"colibriClass":"`+classDominantSpeaker+`"`) {
			ev = dominantSpeakerEvent{}
			ok = json.Unmarshal([]byte(m), &ev) == nil
		}
	}
	return ev, ok
}

// waitDominant waits until the last dominant speaker event c received names id with the given previous
// speakers.
func waitDominant(t *testing.T, c *client, id string, previous ...string) {
	t.Helper()
	c.wsMsgs.wait(t, fmt.Sprintf("%s: dominant speaker %s after %v", c.id, id, previous), func(r *recorder) bool {
		ev, ok := lastDominant(r)
		return ok && ev.Endpoint == id && strings.Join(ev.Previous, ",") == strings.Join(previous, ",") && !ev.Silence
	})
}

// TestDominantSpeakerEndToEnd: real endpoints send Opus with audio levels; receivers on the WebSocket
// and on the SCTP data channel hear who speaks, a late joiner learns the current speaker when its
// channel opens, and when the speaker leaves the previous one is named again.
func TestDominantSpeakerEndToEnd(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	carol := newClient(t, tb, "room", "carol", clientOpts{noSend: true})
	dave := newClient(t, tb, "room", "dave", clientOpts{noSend: true, dataChannel: true})
	alice := startTalker(t, newRawClient(t, tb, "room", "alice", rawOpts{}))
	bob := startTalker(t, newRawClient(t, tb, "room", "bob", rawOpts{}))
	_ = startTalker(t, newRawClient(t, tb, "room", "zoe", rawOpts{})) // silent throughout

	alice.talk.Store(true)
	waitDominant(t, carol, "alice")
	waitDominant(t, dave, "alice")

	alice.talk.Store(false)
	bob.talk.Store(true)
	waitDominant(t, carol, "bob", "alice")
	waitDominant(t, dave, "bob", "alice")
	if id, prev, err := tb.DominantSpeaker("room"); err != nil || id != "bob" || len(prev) != 1 || prev[0] != "alice" {
		t.Fatalf("DominantSpeaker = %q, %v, %v", id, prev, err)
	}
	if n := counterValue(tb.metrics.dominantChanges); n != 2 {
		t.Fatalf("%v changes counted, want 2", n)
	}

	erin := newClient(t, tb, "room", "erin", clientOpts{noSend: true})
	waitDominant(t, erin, "bob", "alice")

	must(t, tb.Expire(ExpireRequest{ConferenceID: "room", EndpointID: "bob"}))
	waitDominant(t, carol, "alice")
	waitDominant(t, erin, "alice")
}

// BenchmarkNoteAudioLevel measures what the dominant speaker adds to each audio packet: finding the
// level and appending it to the history.
func BenchmarkNoteAudioLevel(b *testing.B) {
	e := &Endpoint{}
	pkt := opusWithLevel(1, 30)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		now += levelInterval
		e.noteAudioLevel(pkt, now)
	}
}
