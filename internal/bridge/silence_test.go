package bridge

import (
	"encoding/binary"
	"testing"
)

// opusPacket is an Opus packet of the rig's audio source (SSRC 4321) with an RFC 6464 audio level in a
// one-byte header extension (id 1); its last payload byte is tag.
func opusPacket(seq uint16, level, tag byte) []byte {
	p := make([]byte, 12+8+40)
	p[0], p[1] = 0x90, PayloadTypeOpus
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], uint32(seq)*960)
	binary.BigEndian.PutUint32(p[8:], 4321)
	copy(p[12:], []byte{0xbe, 0xde, 0, 1, extAudioLevel << 4, level, 0, 0})
	p[len(p)-1] = tag
	return p
}

// TestSilenceIsNotForwarded: after three silent packets in a row the rest of the run stays at the
// bridge; the next sound goes on with the next sequence number and a later timestamp, so the receiver
// sees a pause, not a loss.
func TestSilenceIsNotForwarded(t *testing.T) {
	sender, enc, _ := benchConference(t, 1)
	c := sender.conf
	srcs, err := c.validateSources("sender", []Source{{Kind: KindVideo, SSRC: 1234, Name: "sender-v0"}, {Kind: KindAudio, SSRC: 4321, Name: "sender-a0"}}, nil)
	must(t, err)
	c.setSources(sender, srcs)
	got := newLayerWriter(t) // "layers" are the tags here
	c.members()[1].setWriter(got)

	seq := uint16(7000)
	send := func(level byte, tags ...byte) {
		for _, tag := range tags {
			pkt, err := enc.EncryptRTP(nil, opusPacket(seq, level, tag), nil)
			must(t, err)
			seq++
			sender.handlePacket(pkt)
		}
	}
	before := counterValue(c.b.metrics.silenceDiscarded)
	send(30, 1, 2)           // speech
	send(127, 3, 4, 5, 6, 7) // silence: 3, 4, 5 go on, 6 and 7 stay
	send(40, 8, 9)           // speech again
	tags, seqs, _ := got.take()
	if string(tags) != "\x01\x02\x03\x04\x05\x08\x09" {
		t.Fatalf("receiver got packets %v, want 1-5, 8, 9", tags)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("sequence numbers %v: the discarded silence must not look like loss", seqs)
		}
	}
	if d := counterValue(c.b.metrics.silenceDiscarded) - before; d != 2 {
		t.Fatalf("silence_discarded_packets_total grew by %v, want 2", d)
	}
	// Without an audio level (a client that does not send it) nothing is held back.
	for i := range 5 {
		p := opusPacket(seq, 127, byte(20+i))
		p[0] &^= 0x10 // no extension: what was the extension is payload now
		seq++
		pkt, err := enc.EncryptRTP(nil, p, nil)
		must(t, err)
		sender.handlePacket(pkt)
	}
	if tags, _, _ := got.take(); len(tags) != 5 {
		t.Fatalf("packets without a level: %d of 5 forwarded", len(tags))
	}
}
