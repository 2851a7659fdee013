package e2ee

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Timing of the receiver (docs/e2ee.md).
const (
	// PreviousEpochGrace is how long an epoch's keys are kept after a
	// later epoch's first successful decryption.
	PreviousEpochGrace = 10 * time.Second
	// ReplayWindow is how many counters below the highest seen are still
	// accepted once each.
	ReplayWindow = 128
	// KeyMismatchAfter is how long every frame must fail to authenticate
	// before the keys are said not to match.
	KeyMismatchAfter = 5 * time.Second
)

// Drops counts the frames a receiver dropped, by reason.
type Drops struct {
	Malformed  uint64 `json:"malformed"`
	UnknownKey uint64 `json:"unknown_key"`
	Auth       uint64 `json:"auth"`
	Replay     uint64 `json:"replay"`
}

// Total is the sum of all drops.
func (d Drops) Total() uint64 { return d.Malformed + d.UnknownKey + d.Auth + d.Replay }

// Frame is a decrypted frame and what its authenticated KID says.
type Frame struct {
	Plaintext []byte // clear prefix ‖ decrypted rest: the codec's frame
	KID, CTR  uint64
	Context   Context
	Index     uint16 // the sender's roster index
	Epoch     uint32
}

// Receiver decrypts the frames of every sender in a room. It holds the keys
// of every epoch it learnt, each until a later one has been decrypting for
// PreviousEpochGrace, up to one per value of the KID's 4 epoch bits
// (MaxHeldEpochs): senders switch to an epoch only a while after they
// learnt it (2 s, and seconds more on a starved machine), so when epochs
// come quickly (a join ratchet each second in a join storm) some still
// send with one several epochs old. It keeps an anti-replay window per KID,
// and counts what it drops. It is safe for concurrent use.
type Receiver struct {
	now func() time.Time

	mu        sync.Mutex
	epochs    []*recvEpoch // guarded by mu; oldest first, at most MaxHeldEpochs
	decrypted uint64       // guarded by mu
	drops     Drops        // guarded by mu
	// failingSince is when the first authentication failure after the last
	// success happened; zero while frames authenticate. lastFail is the
	// latest failure. Both guarded by mu.
	failingSince, lastFail time.Time
}

type recvEpoch struct {
	keys      EpochKeys
	firstUsed time.Time
	kids      map[uint64]*recvKID
}

type recvKID struct {
	ks  *KeySalt
	win replayWindow
}

// NewReceiver returns a receiver holding no keys; now is its clock (nil
// for time.Now).
func NewReceiver(now func() time.Time) *Receiver {
	if now == nil {
		now = time.Now
	}
	return &Receiver{now: now}
}

// MaxHeldEpochs bounds the epochs a Receiver holds: one per value of the
// KID's 4 epoch bits (RFC 9605 §5.2). It used to be 4, which dropped epochs
// by count before their time: in a 50-bot join storm, with epochs about a
// second apart, receivers dropped an epoch that senders still sent with
// (2,498 frames for an unknown key, docs/performance.md).
const MaxHeldEpochs = 1 << 4

// Add gives the receiver an epoch's keys; it decrypts with them at once.
// The epochs held before it stay (see Receiver), but for the oldest past
// MaxHeldEpochs and one whose number has the same low 4 bits (RFC 9605
// §5.2). Adding the newest epoch again changes nothing; an older epoch is
// ignored.
func (r *Receiver) Add(k EpochKeys) error {
	if len(k.BaseKey) != BaseKeySize {
		return fmt.Errorf("e2ee: receiver: base key has %d bytes", len(k.BaseKey))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &recvEpoch{keys: EpochKeys{Epoch: k.Epoch, BaseKey: append([]byte(nil), k.BaseKey...)}, kids: map[uint64]*recvKID{}}
	if n := len(r.epochs); n > 0 {
		cur := r.epochs[n-1]
		switch {
		case k.Epoch < cur.keys.Epoch:
			return nil
		case k.Epoch == cur.keys.Epoch:
			if bytes.Equal(k.BaseKey, cur.keys.BaseKey) {
				return nil
			}
			r.epochs[n-1] = e
			return nil
		}
	}
	kept := r.epochs[:0]
	for _, old := range r.epochs {
		if old.keys.Epoch%16 != k.Epoch%16 {
			kept = append(kept, old)
		}
	}
	clear(r.epochs[len(kept):])
	r.epochs = append(kept, e)
	if n := len(r.epochs); n > MaxHeldEpochs {
		r.epochs = append(r.epochs[:0], r.epochs[n-MaxHeldEpochs:]...)
	}
	return nil
}

// Epochs returns the epochs whose keys are held, oldest first.
func (r *Receiver) Epochs() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expireLocked()
	out := make([]uint32, len(r.epochs))
	for i, e := range r.epochs {
		out[i] = e.keys.Epoch
	}
	return out
}

// expireLocked forgets every epoch before one that has been in use for
// PreviousEpochGrace.
func (r *Receiver) expireLocked() {
	now := r.now()
	for i := len(r.epochs) - 1; i > 0; i-- {
		if used := r.epochs[i].firstUsed; !used.IsZero() && now.Sub(used) >= PreviousEpochGrace {
			r.epochs = r.epochs[i:]
			return
		}
	}
}

// Decrypt checks and decrypts one received frame of the given codec. An
// empty frame is passed through. Any error means the frame must be dropped
// and never decoded; it wraps ErrMalformed, ErrUnknownKey, ErrReplay or
// ErrAuth, and is counted under that reason.
func (r *Receiver) Decrypt(codec Codec, data []byte) (Frame, error) {
	if len(data) == 0 {
		return Frame{Plaintext: data}, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.decryptLocked(codec, data)
	r.countLocked(err)
	return f, err
}

func (r *Receiver) decryptLocked(codec Codec, data []byte) (Frame, error) {
	p := ClearPrefixLen(codec, data)
	if len(data) < p+1+TagSize {
		return Frame{}, fmt.Errorf("%w: %d bytes after a %d-byte prefix", ErrMalformed, len(data)-p, p)
	}
	h, hl, err := ParseHeader(data[p:])
	if err != nil {
		return Frame{}, err
	}
	ctx, index, low := SplitKID(h.KID)
	r.expireLocked()
	var ep *recvEpoch
	for _, e := range r.epochs {
		if uint8(e.keys.Epoch%16) == low && MakeKID(ctx, index, e.keys.Epoch) == h.KID {
			ep = e
		}
	}
	if ep == nil {
		return Frame{}, fmt.Errorf("%w: %d", ErrUnknownKey, h.KID)
	}
	st := ep.kids[h.KID]
	if st == nil {
		ks, _, _, err := DeriveKeySalt(ep.keys.BaseKey, h.KID)
		if err != nil {
			return Frame{}, err
		}
		st = &recvKID{ks: ks}
		ep.kids[h.KID] = st
	}
	if !st.win.fresh(h.CTR) {
		return Frame{}, fmt.Errorf("%w: KID %d CTR %d", ErrReplay, h.KID, h.CTR)
	}
	out := make([]byte, p, len(data))
	copy(out, data[:p])
	out, err = st.ks.Open(out, h, hl, data[:p], data[p:])
	if err != nil {
		return Frame{}, err
	}
	st.win.mark(h.CTR)
	if ep.firstUsed.IsZero() {
		ep.firstUsed = r.now()
	}
	return Frame{Plaintext: out, KID: h.KID, CTR: h.CTR, Context: ctx, Index: index, Epoch: ep.keys.Epoch}, nil
}

func (r *Receiver) countLocked(err error) {
	switch {
	case err == nil:
		r.decrypted++
		r.failingSince = time.Time{}
		return
	case errors.Is(err, ErrAuth):
		r.drops.Auth++
		now := r.now()
		if r.failingSince.IsZero() {
			r.failingSince = now
		}
		r.lastFail = now
	case errors.Is(err, ErrReplay):
		r.drops.Replay++
	case errors.Is(err, ErrUnknownKey):
		r.drops.UnknownKey++
	default:
		r.drops.Malformed++
	}
}

// Stats returns how many frames were decrypted and dropped.
func (r *Receiver) Stats() (decrypted uint64, drops Drops) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decrypted, r.drops
}

// KeyMismatch reports whether every frame has failed to authenticate for
// KeyMismatchAfter while frames kept arriving: the sign of another
// passphrase (or a substituted key).
func (r *Receiver) KeyMismatch() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.failingSince.IsZero() && r.lastFail.Sub(r.failingSince) >= KeyMismatchAfter
}

// replayWindow remembers the highest counter seen and which of the
// ReplayWindow counters below it were seen: bit i of bits is counter
// highest-i.
type replayWindow struct {
	started bool
	highest uint64
	bits    [2]uint64
}

// fresh reports whether ctr may be accepted: newer than the highest, or
// inside the window and not seen.
func (w *replayWindow) fresh(ctr uint64) bool {
	if !w.started || ctr > w.highest {
		return true
	}
	d := w.highest - ctr
	if d >= ReplayWindow {
		return false
	}
	return w.bits[d/64]&(1<<(d%64)) == 0
}

// mark records ctr as seen; call it only after the frame authenticated.
func (w *replayWindow) mark(ctr uint64) {
	if !w.started {
		w.started, w.highest, w.bits = true, ctr, [2]uint64{1, 0}
		return
	}
	if ctr > w.highest {
		w.shift(ctr - w.highest)
		w.highest = ctr
		w.bits[0] |= 1
		return
	}
	d := w.highest - ctr
	w.bits[d/64] |= 1 << (d % 64)
}

// shift moves the window up by s counters.
func (w *replayWindow) shift(s uint64) {
	switch {
	case s >= ReplayWindow:
		w.bits = [2]uint64{}
	case s >= 64:
		w.bits = [2]uint64{0, w.bits[0] << (s - 64)}
	default:
		w.bits = [2]uint64{w.bits[0] << s, w.bits[1]<<s | w.bits[0]>>(64-s)}
	}
}
