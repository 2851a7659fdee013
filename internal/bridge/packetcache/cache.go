// Package packetcache keeps the most recent RTP packets of one stream in a fixed ring so that the bridge
// can answer NACKs (RFC 4585 §6.2.1) with retransmissions (RFC 4588) without allocating.
//
// The ring has a power-of-two number of entries indexed by sequence number; storing a packet overwrites
// whatever was at seq mod N. Memory is allocated once, in New.
package packetcache

import "sync"

// MaxPacket is the largest packet the cache keeps; larger ones are not stored.
const MaxPacket = 1500

// Cache is safe for concurrent use: one writer (the sender's reader goroutine) and any number of readers
// (receivers answering NACKs).
type Cache struct {
	mask uint16

	mu      sync.Mutex // guards everything below
	buf     []byte     // len(entries) * MaxPacket bytes
	entries []entry
}

type entry struct {
	seq uint16
	n   uint16 // length of the packet; 0 = empty
}

// New returns a cache of size entries; size must be a power of two between 1 and 32768.
func New(size int) *Cache {
	if size <= 0 || size > 1<<15 || size&(size-1) != 0 {
		panic("packetcache: size must be a power of two in 1..32768")
	}
	return &Cache{
		mask:    uint16(size - 1),
		buf:     make([]byte, size*MaxPacket),
		entries: make([]entry, size),
	}
}

// Store copies pkt as the packet with sequence number seq. Packets longer than MaxPacket are not stored.
func (c *Cache) Store(seq uint16, pkt []byte) {
	if len(pkt) == 0 || len(pkt) > MaxPacket {
		return
	}
	i := int(seq & c.mask)
	c.mu.Lock()
	copy(c.buf[i*MaxPacket:], pkt)
	c.entries[i] = entry{seq: seq, n: uint16(len(pkt))}
	c.mu.Unlock()
}

// Get copies the packet with sequence number seq into dst and returns its length, or 0 and false when the
// cache no longer (or never) had it. dst must hold MaxPacket bytes for every packet to fit.
func (c *Cache) Get(seq uint16, dst []byte) (int, bool) {
	i := int(seq & c.mask)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[i]
	if e.n == 0 || e.seq != seq || int(e.n) > len(dst) {
		return 0, false
	}
	return copy(dst, c.buf[i*MaxPacket:i*MaxPacket+int(e.n)]), true
}

// Has reports whether the cache holds the packet with sequence number seq.
func (c *Cache) Has(seq uint16) bool {
	i := int(seq & c.mask)
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[i]
	return e.n != 0 && e.seq == seq
}
