package e2ee

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestKIDLayout(t *testing.T) {
	cases := []struct {
		ctx   Context
		index uint16
		epoch uint32
		kid   uint64
	}{
		{ContextAudio, 0, 1, 0x0001},
		{ContextCamera, 0, 1, 0x2001},
		{ContextScreen, 3, 17, 0x4031},
		{ContextCamera, 511, 15, 0x2000 | 511<<4 | 15},
	}
	for _, c := range cases {
		if got := MakeKID(c.ctx, c.index, c.epoch); got != c.kid {
			t.Errorf("MakeKID(%d,%d,%d) = %#x, want %#x", c.ctx, c.index, c.epoch, got, c.kid)
		}
		ctx, index, low := SplitKID(c.kid)
		if ctx != c.ctx || index != c.index || uint32(low) != c.epoch%16 {
			t.Errorf("SplitKID(%#x) = %d %d %d", c.kid, ctx, index, low)
		}
	}
}

func TestClearPrefixLen(t *testing.T) {
	cases := []struct {
		codec Codec
		frame []byte
		want  int
	}{
		{CodecOpus, []byte{0xfc, 1, 2}, 0},
		{CodecVP8, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, 10}, // P bit 0: key frame
		{CodecVP8, []byte{0x31, 0x02, 0x00}, 1},                    // P bit 1: delta
		{CodecVP8, nil, 0},
	}
	for _, c := range cases {
		if got := ClearPrefixLen(c.codec, c.frame); got != c.want {
			t.Errorf("%v %x: %d, want %d", c.codec, c.frame, got, c.want)
		}
	}
}

// testKeys returns epoch keys made from a secret filled with b.
func testKeys(epoch uint32, b byte) EpochKeys {
	return NewEpochKeys(epoch, Mix(bytes.Repeat([]byte{b}, SecretSize), nil))
}

func vp8Key(n int) []byte {
	f := []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}
	for len(f) < n {
		f = append(f, byte(len(f)))
	}
	return f
}

func vp8Delta(n int) []byte {
	f := []byte{0x31}
	for len(f) < n {
		f = append(f, byte(len(f)*7))
	}
	return f
}

func newPair(t *testing.T, k EpochKeys, index uint16) (*Sender, *Receiver) {
	t.Helper()
	s := NewSender()
	if err := s.Use(k, index); err != nil {
		t.Fatal(err)
	}
	r := NewReceiver(nil)
	if err := r.Add(k); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestRoundTripKeepsPrefixClear(t *testing.T) {
	s, r := newPair(t, testKeys(3, 1), 7)
	cases := []struct {
		ctx    Context
		frame  []byte
		prefix int
	}{
		{ContextAudio, []byte("opus frame bytes"), 0},
		{ContextCamera, vp8Key(200), 10},
		{ContextCamera, vp8Delta(90), 1},
		{ContextScreen, vp8Delta(3000), 1},
	}
	for _, c := range cases {
		enc, err := s.Encrypt(c.ctx, c.frame)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc[:c.prefix], c.frame[:c.prefix]) {
			t.Errorf("ctx %d: prefix %x, want %x clear", c.ctx, enc[:c.prefix], c.frame[:c.prefix])
		}
		if bytes.Contains(enc, c.frame[c.prefix:]) {
			t.Errorf("ctx %d: the encrypted frame holds the plaintext", c.ctx)
		}
		f, err := r.Decrypt(c.ctx.Codec(), enc)
		if err != nil {
			t.Fatalf("ctx %d: %v", c.ctx, err)
		}
		if !bytes.Equal(f.Plaintext, c.frame) || f.Index != 7 || f.Context != c.ctx || f.Epoch != 3 {
			t.Errorf("ctx %d: got index %d ctx %d epoch %d, plaintext equal %v", c.ctx, f.Index, f.Context, f.Epoch, bytes.Equal(f.Plaintext, c.frame))
		}
	}
	if n, d := r.Stats(); n != 4 || d.Total() != 0 {
		t.Errorf("stats %d decrypted, drops %+v", n, d)
	}
}

func TestEmptyFramePassesAndShortFrameIsAllPrefix(t *testing.T) {
	s, r := newPair(t, testKeys(1, 2), 0)
	enc, _ := s.Encrypt(ContextCamera, nil)
	if len(enc) != 0 {
		t.Errorf("empty frame became %x", enc)
	}
	short := []byte{0x31} // a one-byte delta frame: all prefix
	enc, err := s.Encrypt(ContextCamera, short)
	if err != nil {
		t.Fatal(err)
	}
	if enc[0] != 0x31 || len(enc) < 1+1+TagSize {
		t.Fatalf("short frame: %x", enc)
	}
	f, err := r.Decrypt(CodecVP8, enc)
	if err != nil || !bytes.Equal(f.Plaintext, short) {
		t.Errorf("short frame: %x, %v", f.Plaintext, err)
	}
}

func TestCountersPerKID(t *testing.T) {
	s, _ := newPair(t, testKeys(1, 3), 2)
	var ctrs []uint64
	for _, ctx := range []Context{ContextAudio, ContextCamera, ContextAudio, ContextCamera, ContextAudio} {
		enc, _ := s.Encrypt(ctx, []byte{0x31, 1, 2, 3})
		p := ClearPrefixLen(ctx.Codec(), enc)
		h, _, _ := ParseHeader(enc[p:])
		ctrs = append(ctrs, h.CTR)
	}
	if want := []uint64{0, 0, 1, 1, 2}; !equalU64(ctrs, want) {
		t.Errorf("counters %v, want %v", ctrs, want)
	}
	// The same epoch again keeps the counters; a new epoch starts at 0.
	s.Use(testKeys(1, 3), 2)
	enc, _ := s.Encrypt(ContextAudio, []byte{1})
	if h, _, _ := ParseHeader(enc); h.CTR != 3 {
		t.Errorf("after re-Use of the same epoch: CTR %d, want 3", h.CTR)
	}
	s.Use(testKeys(2, 4), 2)
	enc, _ = s.Encrypt(ContextAudio, []byte{1})
	if h, _, _ := ParseHeader(enc); h.CTR != 0 || h.KID != MakeKID(ContextAudio, 2, 2) {
		t.Errorf("new epoch: %+v", h)
	}
	if err := s.Use(testKeys(1, 3), 2); err == nil {
		t.Error("going back to epoch 1 was accepted")
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReceiverRejects is the unit-level part of the test 4: frames
// under a wrong key, injected plaintext, replays and a flipped prefix bit
// are dropped under their reason and never returned.
func TestReceiverRejects(t *testing.T) {
	keys := testKeys(5, 9)
	s, r := newPair(t, keys, 1)
	key, _ := s.Encrypt(ContextCamera, vp8Key(400))
	delta, _ := s.Encrypt(ContextCamera, vp8Delta(120))
	audio, _ := s.Encrypt(ContextAudio, []byte("some opus"))

	wrong := NewSender()
	wrong.Use(testKeys(5, 10), 1) // same epoch and KID, another secret
	wrongFrame, _ := wrong.Encrypt(ContextCamera, vp8Delta(120))

	flipped := append([]byte(nil), delta...)
	flipped[0] ^= 0x01 // the P bit: the delta now claims to be a key frame
	flippedKey := append([]byte(nil), key...)
	flippedKey[2] ^= 0x80 // a bit inside the key frame's 10 clear bytes

	otherEpoch := NewSender()
	otherEpoch.Use(testKeys(6, 9), 1)
	unknown, _ := otherEpoch.Encrypt(ContextAudio, []byte("later epoch"))

	cases := []struct {
		name  string
		codec Codec
		data  []byte
		want  error
	}{
		{"wrong key", CodecVP8, wrongFrame, ErrAuth},
		{"plaintext VP8 key frame", CodecVP8, vp8Key(300), nil}, // malformed or auth, never decoded
		{"plaintext VP8 delta", CodecVP8, vp8Delta(300), nil},
		{"plaintext Opus", CodecOpus, []byte{0xfc, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, nil},
		{"truncated", CodecOpus, audio[:10], ErrMalformed},
		{"flipped P bit", CodecVP8, flipped, nil},
		{"flipped key-frame prefix bit", CodecVP8, flippedKey, ErrAuth},
		{"flipped tag bit", CodecOpus, flipLast(audio), ErrAuth},
		{"unknown epoch", CodecOpus, unknown, ErrUnknownKey},
	}
	for _, c := range cases {
		f, err := r.Decrypt(c.codec, c.data)
		if err == nil || f.Plaintext != nil {
			t.Errorf("%s: accepted (%d bytes)", c.name, len(f.Plaintext))
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The originals still decrypt once, then are replays.
	for _, d := range [][]byte{key, delta} {
		if _, err := r.Decrypt(CodecVP8, d); err != nil {
			t.Fatalf("genuine frame: %v", err)
		}
		if _, err := r.Decrypt(CodecVP8, d); !errors.Is(err, ErrReplay) {
			t.Errorf("replay: %v, want ErrReplay", err)
		}
	}
	n, d := r.Stats()
	if n != 2 || d.Replay != 2 || d.Auth < 3 || d.UnknownKey < 1 || d.Total() != uint64(len(cases))+2 {
		t.Errorf("decrypted %d, drops %+v", n, d)
	}
}

func flipLast(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)-1] ^= 1
	return c
}

func TestReplayWindow(t *testing.T) {
	s, r := newPair(t, testKeys(1, 1), 0)
	var frames [][]byte
	for i := 0; i < 300; i++ {
		f, _ := s.Encrypt(ContextAudio, []byte{byte(i), 1, 2})
		frames = append(frames, f)
	}
	accept := func(i int) bool { _, err := r.Decrypt(CodecOpus, frames[i]); return err == nil }
	if !accept(200) {
		t.Fatal("200 refused")
	}
	if !accept(73) || accept(72) { // 200-127 is the oldest the window holds
		t.Error("window edge wrong: want 73 accepted, 72 refused")
	}
	if !accept(150) || accept(150) {
		t.Error("150: want accepted once")
	}
	if !accept(264) || accept(136) || !accept(137) || !accept(201) {
		t.Error("after moving to 264: want 136 refused, 137 and 201 accepted")
	}
	if !accept(299) || accept(264) || accept(201) {
		t.Error("after 299: seen counters accepted again")
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestReceiverKeepsPreviousEpochForGrace(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReceiver(clk.now)
	old, cur := testKeys(1, 1), testKeys(2, 2)
	sOld, sCur := NewSender(), NewSender()
	sOld.Use(old, 4)
	sCur.Use(cur, 4)
	r.Add(old)
	r.Add(cur)
	enc := func(s *Sender) []byte { f, _ := s.Encrypt(ContextAudio, []byte("x")); return f }
	if _, err := r.Decrypt(CodecOpus, enc(sOld)); err != nil {
		t.Fatalf("previous epoch before the new one is used: %v", err)
	}
	if _, err := r.Decrypt(CodecOpus, enc(sCur)); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(PreviousEpochGrace - time.Millisecond)
	if _, err := r.Decrypt(CodecOpus, enc(sOld)); err != nil {
		t.Errorf("previous epoch inside the grace: %v", err)
	}
	clk.t = clk.t.Add(time.Millisecond)
	if _, err := r.Decrypt(CodecOpus, enc(sOld)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("previous epoch after the grace: %v, want ErrUnknownKey", err)
	}
	// One with the same low bits as a held epoch replaces it.
	r.Add(testKeys(3, 3))
	r.Add(testKeys(19, 4))
	if got := r.Epochs(); len(got) != 2 || got[0] != 2 || got[1] != 19 {
		t.Errorf("epochs %v, want [2 19]", got)
	}
}

// TestReceiverKeepsEpochsSendersStillUse: senders switch to an epoch 2 s
// after they learn it, so epochs that come quickly (joins 300 ms apart)
// leave some sending with one two or three epochs old: the receiver keeps
// them until a later one has been decrypting for the grace.
func TestReceiverKeepsEpochsSendersStillUse(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReceiver(clk.now)
	senders := map[uint32]*Sender{}
	enc := func(epoch uint32) []byte {
		s := senders[epoch]
		if s == nil {
			s = NewSender()
			s.Use(testKeys(epoch, byte(epoch)), 4)
			senders[epoch] = s
		}
		f, _ := s.Encrypt(ContextCamera, []byte{0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
		return f
	}
	for e := uint32(1); e <= 3; e++ {
		r.Add(testKeys(e, byte(e)))
		clk.t = clk.t.Add(300 * time.Millisecond)
	}
	for e := uint32(1); e <= 3; e++ {
		if _, err := r.Decrypt(CodecVP8, enc(e)); err != nil {
			t.Errorf("epoch %d with 1-3 learnt: %v", e, err)
		}
	}
	r.Add(testKeys(4, 4))
	r.Add(testKeys(5, 5))
	if got := r.Epochs(); len(got) != 5 || got[0] != 1 || got[len(got)-1] != 5 {
		t.Errorf("epochs %v, want 1 to 5", got)
	}
	if _, err := r.Decrypt(CodecVP8, enc(1)); err != nil {
		t.Errorf("epoch 1 with 5 learnt, 2 not in use for the grace: %v", err)
	}
	// Epoch 3 in use for the grace: 1 and 2 go, 3 and later stay.
	clk.t = clk.t.Add(PreviousEpochGrace)
	if _, err := r.Decrypt(CodecVP8, enc(2)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("epoch 2 once 3 decrypted for the grace: %v, want ErrUnknownKey", err)
	}
	if got := r.Epochs(); len(got) != 3 || got[0] != 3 {
		t.Errorf("epochs %v, want [3 4 5]", got)
	}
	// Epoch 5 in use: after the grace, it alone.
	if _, err := r.Decrypt(CodecVP8, enc(5)); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(PreviousEpochGrace)
	if got := r.Epochs(); len(got) != 1 || got[0] != 5 {
		t.Errorf("epochs %v, want [5]", got)
	}
}

// TestReceiverKeepsEpochsOfAJoinStorm is the 50-bot join storm of
// docs/performance.md: an epoch a second, each first used at once (by its
// newcomer), while a starved member switches 5 s after it learns one. Its
// frames of an epoch five epochs old must decrypt (a bound of four epochs
// dropped them); an epoch goes only once a later one has decrypted for the
// grace, and the 17th epoch takes the place of the 1st (the same 4 bits).
func TestReceiverKeepsEpochsOfAJoinStorm(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReceiver(clk.now)
	senders := map[uint32]*Sender{}
	enc := func(epoch uint32, index uint16) []byte {
		s := senders[epoch<<16|uint32(index)]
		if s == nil {
			s = NewSender()
			s.Use(testKeys(epoch, byte(epoch)), index)
			senders[epoch<<16|uint32(index)] = s
		}
		f, _ := s.Encrypt(ContextAudio, []byte{1, 2, 3})
		return f
	}
	for e := uint32(1); e <= 6; e++ {
		r.Add(testKeys(e, byte(e)))
		if _, err := r.Decrypt(CodecOpus, enc(e, uint16(e))); err != nil { // the newcomer of epoch e
			t.Fatalf("the newcomer of epoch %d: %v", e, err)
		}
		clk.t = clk.t.Add(time.Second)
	}
	// 6 s after epoch 1 came, the starved member still sends with it.
	if _, err := r.Decrypt(CodecOpus, enc(1, 0)); err != nil {
		t.Fatalf("epoch 1, five epochs old, 5 s after epoch 2 was first used: %v", err)
	}
	// 10 s after epoch 2's first use, epoch 1 goes; 2 and later stay.
	clk.t = time.Unix(1001, 0).Add(PreviousEpochGrace)
	if _, err := r.Decrypt(CodecOpus, enc(1, 0)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("epoch 1 once 2 decrypted for the grace: %v", err)
	}
	if _, err := r.Decrypt(CodecOpus, enc(2, 0)); err != nil {
		t.Fatalf("epoch 2: %v", err)
	}
	// Sixteen epochs, unused: all held; a 17th drops the one with its low bits.
	r = NewReceiver(clk.now)
	for e := uint32(1); e <= 16; e++ {
		r.Add(testKeys(e, byte(e)))
	}
	if got := r.Epochs(); len(got) != 16 {
		t.Fatalf("epochs %v, want 1 to 16", got)
	}
	r.Add(testKeys(17, 17))
	if got := r.Epochs(); len(got) != 16 || got[0] != 2 || got[15] != 17 {
		t.Fatalf("epochs %v, want 2 to 17", got)
	}
}

func TestKeyMismatch(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewReceiver(clk.now)
	r.Add(testKeys(1, 1))
	other := NewSender()
	other.Use(testKeys(1, 2), 0)
	for i := 0; i < 60; i++ {
		f, _ := other.Encrypt(ContextAudio, []byte("y"))
		r.Decrypt(CodecOpus, f)
		if i == 40 && r.KeyMismatch() {
			t.Fatal("mismatch after 4 s")
		}
		clk.t = clk.t.Add(100 * time.Millisecond)
	}
	if !r.KeyMismatch() {
		t.Fatal("no mismatch after 6 s of failures")
	}
	good := NewSender()
	good.Use(testKeys(1, 1), 1)
	f, _ := good.Encrypt(ContextAudio, []byte("z"))
	if _, err := r.Decrypt(CodecOpus, f); err != nil || r.KeyMismatch() {
		t.Errorf("a good frame did not clear the mismatch: %v", err)
	}
}
