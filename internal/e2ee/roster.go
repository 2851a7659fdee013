package e2ee

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
)

// PublicKeySize is the size of an X25519 public key.
const PublicKeySize = 32

// Entry is one roster entry: the member's sender index (the KID's index
// bits), its MUC nick and its X25519 public key.
type Entry struct {
	Index uint16
	Nick  string
	Pub   []byte
}

// Roster is the member list of one epoch, as the leader sends it.
type Roster []Entry

// Sorted returns the roster in index order (a copy).
func (r Roster) Sorted() Roster {
	s := append(Roster(nil), r...)
	sort.Slice(s, func(i, j int) bool { return s[i].Index < s[j].Index })
	return s
}

// Validate checks what the hash and the KIDs need: unique indexes below
// MaxMembers, nicks of 1 to 255 bytes, 32-byte keys.
func (r Roster) Validate() error {
	seen := make(map[uint16]bool, len(r))
	for _, m := range r {
		if m.Index >= MaxMembers {
			return fmt.Errorf("e2ee: roster: index %d of %q is beyond %d", m.Index, m.Nick, MaxMembers-1)
		}
		if seen[m.Index] {
			return fmt.Errorf("e2ee: roster: index %d given twice", m.Index)
		}
		seen[m.Index] = true
		if len(m.Nick) == 0 || len(m.Nick) > 255 {
			return fmt.Errorf("e2ee: roster: nick of index %d has %d bytes (1-255)", m.Index, len(m.Nick))
		}
		if len(m.Pub) != PublicKeySize {
			return fmt.Errorf("e2ee: roster: key of %q has %d bytes", m.Nick, len(m.Pub))
		}
	}
	return nil
}

// Hash is SHA-256 over the members in index order, each index (2 bytes BE)
// ‖ len(nick) (1 byte) ‖ nick ‖ pub (32). Members compare it with the hash
// sealed to them, and it goes into the security code.
func (r Roster) Hash() ([32]byte, error) {
	if err := r.Validate(); err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	var b []byte
	for _, m := range r.Sorted() {
		b = binary.BigEndian.AppendUint16(b[:0], m.Index)
		b = append(b, byte(len(m.Nick)))
		b = append(b, m.Nick...)
		b = append(b, m.Pub...)
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// ByNick returns the member with the given nick.
func (r Roster) ByNick(nick string) (Entry, bool) {
	for _, m := range r {
		if m.Nick == nick {
			return m, true
		}
	}
	return Entry{}, false
}

// NextIndex returns the smallest index no member holds, the one a newcomer
// takes.
func (r Roster) NextIndex() (uint16, error) {
	used := make(map[uint16]bool, len(r))
	for _, m := range r {
		used[m.Index] = true
	}
	for i := uint16(0); i < MaxMembers; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("e2ee: roster full (%d members)", MaxMembers)
}
