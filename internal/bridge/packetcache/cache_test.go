package packetcache

import (
	"bytes"
	"testing"
)

func TestStoreGet(t *testing.T) {
	c := New(16)
	dst := make([]byte, MaxPacket)
	for seq := uint16(65530); seq != 10; seq++ {
		c.Store(seq, []byte{byte(seq), 1, 2})
	}
	for seq := uint16(65530); seq != 10; seq++ {
		n, ok := c.Get(seq, dst)
		inWindow := uint16(9-seq) < 16
		if ok != inWindow || c.Has(seq) != inWindow {
			t.Fatalf("seq %d: ok=%v, has=%v, want %v", seq, ok, c.Has(seq), inWindow)
		}
		if ok && !bytes.Equal(dst[:n], []byte{byte(seq), 1, 2}) {
			t.Fatalf("seq %d: got %x", seq, dst[:n])
		}
	}
	if _, ok := c.Get(11, dst); ok || c.Has(11) {
		t.Fatal("never stored seq found")
	}
}

func TestOversizeAndShortDst(t *testing.T) {
	c := New(16)
	c.Store(1, make([]byte, MaxPacket+1))
	if _, ok := c.Get(1, make([]byte, MaxPacket)); ok {
		t.Fatal("oversize packet stored")
	}
	c.Store(2, make([]byte, 100))
	if _, ok := c.Get(2, make([]byte, 10)); ok {
		t.Fatal("short dst accepted")
	}
}

func BenchmarkStoreGet(b *testing.B) {
	c := New(512)
	pkt := make([]byte, 1200)
	dst := make([]byte, MaxPacket)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Store(uint16(i), pkt)
		c.Get(uint16(i), dst)
	}
}
