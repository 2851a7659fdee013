package e2ee

import (
	"fmt"
)

// EpochState is an epoch a member has learnt in full: its keys, the
// member's own sender index, and the security code to show.
type EpochState struct {
	Keys   EpochKeys
	Index  uint16
	Roster Roster
	Code   string
	mixed  []byte
}

// Member turns the leader's roster and sealed-key messages into epoch keys
// for one participant. It is not safe for concurrent use.
type Member struct {
	keys    *KeyPair
	room    string
	nick    string
	passKey []byte

	// rosters waits for the sealed key (or, for a ratchet, is applied at
	// once); keys waits for its roster. Both are keyed by epoch.
	rosters map[uint32]rosterMsg
	sealed  map[uint32][2][]byte
	// last is the latest epoch learnt, with its (unmixed) secret, which the
	// next ratchet starts from.
	last       uint32
	lastSecret []byte
	// seen is the highest epoch number of any roster or sealed key taken,
	// learnt or not.
	seen uint32
}

type rosterMsg struct {
	ratchet bool
	roster  Roster
}

// NewMember returns the key state of the participant nick in room, with
// its session key pair and its passphrase key (nil without passphrase).
func NewMember(keys *KeyPair, room, nick string, passKey []byte) *Member {
	return &Member{keys: keys, room: room, nick: nick, passKey: passKey,
		rosters: map[uint32]rosterMsg{}, sealed: map[uint32][2][]byte{}}
}

// Epoch returns the latest epoch learnt (0 before any).
func (m *Member) Epoch() uint32 { return m.last }

// Seen returns the highest epoch number the member has seen in a roster or
// sealed key, learnt or not (at least Epoch). A member that takes over as
// key leader numbers its epochs after it, not after Epoch: the others may
// have learnt an epoch it saw the roster of but got no key for, and they
// ignore an epoch whose number they have passed.
func (m *Member) Seen() uint32 { return max(m.seen, m.last) }

// saw notes an epoch number taken from the leader.
func (m *Member) saw(epoch uint32) { m.seen = max(m.seen, epoch) }

// OnRoster takes the leader's roster of an epoch. For a ratchet that the
// member can follow (it holds the epoch before) it returns the new epoch at
// once; otherwise the epoch completes when its sealed key arrives (before
// or after). A roster that does not carry the member's own key fails with
// ErrRosterMismatch.
func (m *Member) OnRoster(epoch uint32, ratchet bool, roster Roster) (*EpochState, error) {
	m.saw(epoch)
	if epoch <= m.last {
		return nil, nil
	}
	if err := roster.Validate(); err != nil {
		return nil, err
	}
	me, ok := roster.ByNick(m.nick)
	if !ok {
		return nil, nil // not a member of this epoch (yet)
	}
	if string(me.Pub) != string(m.keys.Public()) {
		return nil, fmt.Errorf("%w: epoch %d lists another key for %q", ErrRosterMismatch, epoch, m.nick)
	}
	if ratchet && m.lastSecret != nil && epoch == m.last+1 {
		return m.learn(epoch, Ratchet(m.lastSecret), roster)
	}
	m.rosters[epoch] = rosterMsg{ratchet: ratchet, roster: roster}
	return m.tryComplete(epoch)
}

// DropPending forgets the rosters and sealed keys waiting for their other
// half: when the focus names another leader, a half from the old one must
// not be matched with the new one's message of the same epoch number.
func (m *Member) DropPending() {
	clear(m.rosters)
	clear(m.sealed)
}

// OnKey takes the sealed key of an epoch addressed to this member.
func (m *Member) OnKey(epoch uint32, enc, ct []byte) (*EpochState, error) {
	m.saw(epoch)
	if epoch <= m.last {
		return nil, nil
	}
	m.sealed[epoch] = [2][]byte{enc, ct}
	return m.tryComplete(epoch)
}

// Learn is the leader's own path: it knows the secret it drew.
func (m *Member) Learn(ep *Epoch) (*EpochState, error) {
	return m.learn(ep.Number, ep.Secret, ep.Roster)
}

func (m *Member) tryComplete(epoch uint32) (*EpochState, error) {
	r, okR := m.rosters[epoch]
	s, okS := m.sealed[epoch]
	if !okR || !okS {
		return nil, nil
	}
	me, _ := r.roster.ByNick(m.nick)
	secret, hash, err := m.keys.OpenEpoch(m.room, epoch, me.Index, s[0], s[1])
	if err != nil {
		delete(m.sealed, epoch)
		return nil, err
	}
	if err := m.keys.CheckRoster(r.roster, m.nick, me.Index, hash); err != nil {
		return nil, fmt.Errorf("epoch %d: %w", epoch, err)
	}
	return m.learn(epoch, secret, r.roster)
}

// learn completes an epoch: mixes the secret with the passphrase key and
// derives the keys and the code. Older pending messages are forgotten. A
// ratchet roster of the next epoch that came first (its message overtook
// this one's) is applied at once, and so on: the latest epoch is returned.
func (m *Member) learn(epoch uint32, secret []byte, roster Roster) (*EpochState, error) {
	st, err := m.learnOne(epoch, secret, roster)
	for err == nil {
		next, ok := m.rosters[st.Keys.Epoch+1]
		if !ok || !next.ratchet {
			break
		}
		var n *EpochState
		if n, err = m.learnOne(st.Keys.Epoch+1, Ratchet(m.lastSecret), next.roster); err == nil {
			st = n
		}
	}
	return st, err
}

func (m *Member) learnOne(epoch uint32, secret []byte, roster Roster) (*EpochState, error) {
	me, ok := roster.ByNick(m.nick)
	if !ok {
		return nil, fmt.Errorf("e2ee: epoch %d: %q is not in the roster", epoch, m.nick)
	}
	hash, err := roster.Hash()
	if err != nil {
		return nil, err
	}
	mixed := Mix(secret, m.passKey)
	m.last, m.lastSecret = epoch, secret
	for e := range m.rosters {
		if e <= epoch {
			delete(m.rosters, e)
		}
	}
	for e := range m.sealed {
		if e <= epoch {
			delete(m.sealed, e)
		}
	}
	return &EpochState{
		Keys:   NewEpochKeys(epoch, mixed),
		Index:  me.Index,
		Roster: roster,
		Code:   SecurityCode(mixed, hash),
		mixed:  mixed,
	}, nil
}
