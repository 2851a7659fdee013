package e2ee

import (
	"bytes"
	"fmt"
	"sort"
)

// Candidate is an occupant that can take part: its nick and public key.
type Candidate struct {
	Nick string
	Pub  []byte
}

// Epoch is what the key leader sends for one epoch: the roster to the room,
// and a sealed key to each member that needs one (everyone but the leader
// for a fresh secret, only newcomers for a ratchet).
type Epoch struct {
	Number  uint32
	Ratchet bool
	Roster  Roster
	Hash    [32]byte
	Keys    []SealedKey
	// Secret is the epoch secret, for the leader's own use; never sent.
	Secret []byte
}

// SealedKey is one e2ee-key message: to Nick at Index.
type SealedKey struct {
	Nick    string
	Index   uint16
	Enc, CT []byte
}

// Leader is the key leader's state for one room: the roster of the current
// epoch and its secret. It is not safe for concurrent use; the leader's
// owner serialises its calls.
type Leader struct {
	room   string
	self   string // the leader's own nick: it needs no seal
	epoch  uint32
	secret []byte
	roster Roster
}

// NewLeader returns the state of a leader (nick self) in room whose first
// epoch will be after, plus one. A leader that takes over from another
// passes the highest epoch number it has seen (Member.Seen), so numbers
// keep rising for every member, even one that learnt more than it did.
func NewLeader(room, self string, after uint32) *Leader {
	return &Leader{room: room, self: self, epoch: after}
}

// Epoch returns the number of the leader's current epoch (0 before any).
func (l *Leader) Epoch() uint32 { return l.epoch }

// Next makes the next epoch for the given members, or returns nil when
// nothing changed and no fresh secret is asked. A first epoch, a leave (or
// a changed key), or fresh makes a new random secret sealed to everyone;
// joins alone ratchet the secret and seal it only to the newcomers.
// Indexes stay while members stay; a newcomer takes the smallest free one.
func (l *Leader) Next(members []Candidate, fresh bool) (*Epoch, error) {
	members = sortedCandidates(members)
	left, joined := l.diff(members)
	if l.secret != nil && !fresh && left == 0 && len(joined) == 0 {
		return nil, nil
	}
	ratchet := l.secret != nil && !fresh && left == 0
	roster, err := l.nextRoster(members)
	if err != nil {
		return nil, err
	}
	hash, err := roster.Hash()
	if err != nil {
		return nil, err
	}
	var secret []byte
	if ratchet {
		secret = Ratchet(l.secret)
	} else if secret, err = NewSecret(); err != nil {
		return nil, err
	}
	ep := &Epoch{Number: l.epoch + 1, Ratchet: ratchet, Roster: roster, Hash: hash, Secret: secret}
	for _, m := range roster {
		if m.Nick == l.self || (ratchet && !joined[m.Nick]) {
			continue
		}
		enc, ct, err := SealEpoch(m.Pub, l.room, ep.Number, m.Index, secret, hash)
		if err != nil {
			return nil, fmt.Errorf("e2ee: epoch %d for %q: %w", ep.Number, m.Nick, err)
		}
		ep.Keys = append(ep.Keys, SealedKey{Nick: m.Nick, Index: m.Index, Enc: enc, CT: ct})
	}
	l.epoch, l.secret, l.roster = ep.Number, secret, roster
	return ep, nil
}

func sortedCandidates(c []Candidate) []Candidate {
	c = append([]Candidate(nil), c...)
	sort.Slice(c, func(i, j int) bool { return c[i].Nick < c[j].Nick })
	return c
}

// diff counts the members of the current roster that are gone (or whose
// key changed) and names the candidates that are new.
func (l *Leader) diff(members []Candidate) (left int, joined map[string]bool) {
	now := make(map[string][]byte, len(members))
	for _, m := range members {
		now[m.Nick] = m.Pub
	}
	for _, m := range l.roster {
		if pub, ok := now[m.Nick]; !ok || !bytes.Equal(pub, m.Pub) {
			left++
		}
	}
	joined = map[string]bool{}
	for _, m := range members {
		if old, ok := l.roster.ByNick(m.Nick); !ok || !bytes.Equal(old.Pub, m.Pub) {
			joined[m.Nick] = true
		}
	}
	return left, joined
}

// nextRoster keeps the indexes of members that stay and gives newcomers
// the smallest free ones.
func (l *Leader) nextRoster(members []Candidate) (Roster, error) {
	var r Roster
	var newcomers []Candidate
	for _, m := range members {
		if old, ok := l.roster.ByNick(m.Nick); ok && bytes.Equal(old.Pub, m.Pub) {
			r = append(r, Entry{Index: old.Index, Nick: m.Nick, Pub: m.Pub})
		} else {
			newcomers = append(newcomers, m)
		}
	}
	for _, m := range newcomers {
		i, err := r.NextIndex()
		if err != nil {
			return nil, err
		}
		r = append(r, Entry{Index: i, Nick: m.Nick, Pub: append([]byte(nil), m.Pub...)})
	}
	return r.Sorted(), r.Validate()
}
