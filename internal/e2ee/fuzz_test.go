package e2ee

import (
	"bytes"
	"testing"
)

// FuzzReceiverDecrypt: no input makes the receiver panic or accept a frame
// that was not sealed under its key.
func FuzzReceiverDecrypt(f *testing.F) {
	keys := testKeys(2, 7)
	s := NewSender()
	s.Use(keys, 3)
	for _, ctx := range []Context{ContextAudio, ContextCamera} {
		fr, _ := s.Encrypt(ctx, vp8Key(64))
		f.Add(uint8(ctx.Codec()), fr)
		fr, _ = s.Encrypt(ctx, vp8Delta(40))
		f.Add(uint8(ctx.Codec()), fr)
	}
	f.Add(uint8(CodecVP8), []byte{0x31})
	f.Fuzz(func(t *testing.T, codec uint8, data []byte) {
		r := NewReceiver(nil)
		r.Add(keys)
		fr, err := r.Decrypt(Codec(codec%2), data)
		if err != nil || len(data) == 0 {
			return
		}
		// Whatever decrypts must re-encrypt to the same bytes: it was sealed
		// under this key with this KID and counter.
		ks, _, _, _ := DeriveKeySalt(keys.BaseKey, fr.KID)
		again := SealFrame(ks, Codec(codec%2), Header{KID: fr.KID, CTR: fr.CTR}, fr.Plaintext)
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted %x, which re-seals to %x", data, again)
		}
	})
}

func BenchmarkEncryptVideoFrame(b *testing.B) {
	s := NewSender()
	s.Use(testKeys(1, 1), 0)
	frame := vp8Delta(4000)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encrypt(ContextCamera, frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptVideoFrame(b *testing.B) {
	keys := testKeys(1, 1)
	s := NewSender()
	s.Use(keys, 0)
	frame := vp8Delta(4000)
	frames := make([][]byte, 4096)
	for i := range frames {
		frames[i], _ = s.Encrypt(ContextCamera, frame)
	}
	r := NewReceiver(nil)
	r.Add(keys)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(frames) {
			b.StopTimer()
			r = NewReceiver(nil)
			r.Add(keys)
			i = 0
			b.StartTimer()
		}
		if _, err := r.Decrypt(CodecVP8, frames[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkLeaderFreshEpoch50 is the leader's work for a fresh epoch in a
// room of 50: a roster hash and 49 HPKE seals.
func BenchmarkLeaderFreshEpoch50(b *testing.B) {
	var members []Candidate
	for i := range 50 {
		kp, _ := GenerateKeyPair()
		members = append(members, Candidate{Nick: string(rune('a'+i%26)) + string(rune('a'+i/26)), Pub: kp.Public()})
	}
	l := NewLeader("bench@muc.test", members[0].Nick, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Next(members, true); err != nil {
			b.Fatal(err)
		}
	}
}
