package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// EpochKeys is what a Sender or Receiver needs of one epoch: its number and
// the base key its KIDs' keys come from.
type EpochKeys struct {
	Epoch   uint32
	BaseKey []byte
}

// NewEpochKeys returns the keys of an epoch from its mixed secret.
func NewEpochKeys(epoch uint32, mixed []byte) EpochKeys {
	return EpochKeys{Epoch: epoch, BaseKey: BaseKey(mixed)}
}

// ErrNoSendKey: the sender has not been given an epoch yet.
var ErrNoSendKey = errors.New("e2ee: no sending key")

// Sender encrypts one participant's frames under the epoch it was last told
// to use, with one counter per KID (so per context and epoch) that starts
// at 0 and is never reused. It is safe for concurrent use.
type Sender struct {
	mu    sync.Mutex
	keys  *EpochKeys          // guarded by mu; nil until Use
	index uint16              // guarded by mu
	kids  map[uint64]*sendKID // guarded by mu; the current epoch's KIDs
}

type sendKID struct {
	ks  *KeySalt
	ctr uint64
}

// NewSender returns a sender with no key: Encrypt fails until Use.
func NewSender() *Sender { return &Sender{} }

// Use switches the sender to an epoch's keys, sending as member index.
// Giving the epoch it already uses again changes nothing, so counters are
// never reused under one key; an older epoch is refused.
func (s *Sender) Use(k EpochKeys, index uint16) error {
	if len(k.BaseKey) != BaseKeySize {
		return fmt.Errorf("e2ee: sender: base key has %d bytes", len(k.BaseKey))
	}
	if index >= MaxMembers {
		return fmt.Errorf("e2ee: sender: index %d beyond %d", index, MaxMembers-1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		if k.Epoch < s.keys.Epoch {
			return fmt.Errorf("e2ee: sender: epoch %d is older than %d", k.Epoch, s.keys.Epoch)
		}
		if k.Epoch == s.keys.Epoch && index == s.index && bytes.Equal(k.BaseKey, s.keys.BaseKey) {
			return nil
		}
	}
	s.keys = &EpochKeys{Epoch: k.Epoch, BaseKey: append([]byte(nil), k.BaseKey...)}
	s.index = index
	s.kids = make(map[uint64]*sendKID)
	return nil
}

// Epoch returns the epoch the sender uses, and false before Use.
func (s *Sender) Epoch() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		return 0, false
	}
	return s.keys.Epoch, true
}

// Encrypt returns the Parley SFrame of one encoded frame of the given
// context: clear prefix ‖ SFrame header ‖ ciphertext ‖ tag. An empty frame
// is returned as it is; a frame shorter than its prefix goes whole into the
// prefix with an empty ciphertext.
func (s *Sender) Encrypt(ctx Context, frame []byte) ([]byte, error) {
	if len(frame) == 0 {
		return frame, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		return nil, ErrNoSendKey
	}
	kid := MakeKID(ctx, s.index, s.keys.Epoch)
	st := s.kids[kid]
	if st == nil {
		ks, _, _, err := DeriveKeySalt(s.keys.BaseKey, kid)
		if err != nil {
			return nil, err
		}
		st = &sendKID{ks: ks}
		s.kids[kid] = st
	}
	ctr := st.ctr
	st.ctr++
	return SealFrame(st.ks, ctx.Codec(), Header{KID: kid, CTR: ctr}, frame), nil
}

// SealFrame lays one frame out as Parley SFrame v1 under a KID's key:
// the codec's clear prefix, then the SFrame ciphertext of the rest with the
// prefix as metadata.
func SealFrame(ks *KeySalt, codec Codec, h Header, frame []byte) []byte {
	p := min(ClearPrefixLen(codec, frame), len(frame))
	out := make([]byte, 0, len(frame)+Overhead)
	out = append(out, frame[:p]...)
	return ks.Seal(out, h, frame[:p], frame[p:])
}
