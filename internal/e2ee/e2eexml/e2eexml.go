// Package e2eexml builds and parses the XMPP elements of Parley's
// end-to-end encryption contract (docs/e2ee.md, namespace
// urn:parley:e2ee:0) over the repo's stanza elements:
//
//   - a participant's key in its MUC presence: <e2ee kem='x25519' pub='…'/>;
//   - the focus's room state in its presence: <e2ee enabled='…' leader='…'/>;
//   - the moderator's switch, an IQ set to the focus: <e2ee room='…' enabled='…'/>;
//   - the leader's roster to the room: <e2ee-roster epoch='…' ratchet='…'><member …/></e2ee-roster>;
//   - the leader's sealed key to one member: <e2ee-key epoch='…' enc='…' ct='…'/>;
//   - the focus's refusal to an occupant that cannot encrypt: <e2ee-unsupported/>.
//
// Parsing is strict about what the keys need (sizes, numbers) and returns
// errors that name the element and attribute.
package e2eexml

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// NS is the contract's namespace.
const NS = "urn:parley:e2ee:0"

// KEMX25519 is the only key type of version 0.
const KEMX25519 = "x25519"

// Element names.
const (
	elE2EE        = "e2ee"
	elRoster      = "e2ee-roster"
	elMember      = "member"
	elKey         = "e2ee-key"
	elUnsupported = "e2ee-unsupported"
)

// b64 encodes as the contract's BASE64: standard alphabet with padding.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// unb64 accepts standard base64 with or without padding.
func unb64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// Key is a participant's presence element: its session public key.
func Key(pub []byte) *stanza.Element {
	return stanza.New(NS, elE2EE, "kem", KEMX25519, "pub", b64(pub))
}

// ParseKey returns the public key in a participant's presence, and false
// when the presence has no usable e2ee key element (the occupant cannot
// encrypt).
func ParseKey(presence *stanza.Element) ([]byte, bool) {
	el := presence.Child(NS, elE2EE)
	if el == nil || el.Get("kem") != KEMX25519 {
		return nil, false
	}
	pub, err := unb64(el.Get("pub"))
	if err != nil || len(pub) != e2ee.PublicKeySize {
		return nil, false
	}
	return pub, true
}

// State is the room's encryption state the focus puts in its presence.
type State struct {
	Enabled bool
	Leader  string // nick of the key leader; empty when not enabled
}

// StateElement builds the focus's presence element.
func StateElement(s State) *stanza.Element {
	el := stanza.New(NS, elE2EE, "enabled", strconv.FormatBool(s.Enabled))
	if s.Enabled && s.Leader != "" {
		el.Set("leader", s.Leader)
	}
	return el
}

// ParseState reads the focus's state from its presence; ok is false when
// the presence carries none.
func ParseState(presence *stanza.Element) (s State, ok bool) {
	el := presence.Child(NS, elE2EE)
	if el == nil || !el.Has("enabled") {
		return State{}, false
	}
	s.Enabled = el.Get("enabled") == "true"
	if s.Enabled {
		s.Leader = el.Get("leader")
	}
	return s, true
}

// Toggle is the moderator's request to turn encryption on or off.
type Toggle struct {
	Room    string // the room's bare JID
	Enabled bool
}

// ToggleElement builds the IQ payload.
func ToggleElement(t Toggle) *stanza.Element {
	return stanza.New(NS, elE2EE, "room", t.Room, "enabled", strconv.FormatBool(t.Enabled))
}

// ParseToggle reads the IQ payload.
func ParseToggle(el *stanza.Element) (Toggle, error) {
	if el == nil || !el.Is(NS, elE2EE) {
		return Toggle{}, fmt.Errorf("e2eexml: no e2ee element")
	}
	t := Toggle{Room: el.Get("room")}
	if t.Room == "" {
		return Toggle{}, fmt.Errorf("e2eexml: e2ee has no room")
	}
	switch el.Get("enabled") {
	case "true", "1":
		t.Enabled = true
	case "false", "0":
	default:
		return Toggle{}, fmt.Errorf("e2eexml: e2ee enabled=%q", el.Get("enabled"))
	}
	return t, nil
}

// Roster is the leader's roster message payload.
type Roster struct {
	Epoch   uint32
	Ratchet bool
	Members e2ee.Roster
}

// RosterElement builds the e2ee-roster element.
func RosterElement(r Roster) *stanza.Element {
	el := stanza.New(NS, elRoster, "epoch", strconv.FormatUint(uint64(r.Epoch), 10),
		"ratchet", strconv.FormatBool(r.Ratchet))
	for _, m := range r.Members.Sorted() {
		el.Add(stanza.New(NS, elMember, "index", strconv.Itoa(int(m.Index)), "nick", m.Nick, "pub", b64(m.Pub)))
	}
	return el
}

// ParseRoster reads an e2ee-roster element out of a message (or the element itself).
func ParseRoster(msg *stanza.Element) (Roster, bool, error) {
	el := msg
	if !el.Is(NS, elRoster) {
		if el = msg.Child(NS, elRoster); el == nil {
			return Roster{}, false, nil
		}
	}
	epoch, err := parseEpoch(el)
	if err != nil {
		return Roster{}, true, err
	}
	r := Roster{Epoch: epoch, Ratchet: el.Get("ratchet") == "true"}
	for _, c := range el.Children {
		if !c.Is(NS, elMember) {
			continue
		}
		idx, err := strconv.ParseUint(c.Get("index"), 10, 16)
		if err != nil {
			return Roster{}, true, fmt.Errorf("e2eexml: member index %q: %w", c.Get("index"), err)
		}
		pub, err := unb64(c.Get("pub"))
		if err != nil {
			return Roster{}, true, fmt.Errorf("e2eexml: member %q pub: %w", c.Get("nick"), err)
		}
		r.Members = append(r.Members, e2ee.Entry{Index: uint16(idx), Nick: c.Get("nick"), Pub: pub})
	}
	if err := r.Members.Validate(); err != nil {
		return Roster{}, true, err
	}
	return r, true, nil
}

func parseEpoch(el *stanza.Element) (uint32, error) {
	n, err := strconv.ParseUint(el.Get("epoch"), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("e2eexml: %s epoch %q", el.Name.Local, el.Get("epoch"))
	}
	return uint32(n), nil
}

// SealedKey is the leader's sealed key message payload.
type SealedKey struct {
	Epoch   uint32
	Enc, CT []byte
}

// SealedKeyElement builds the e2ee-key element.
func SealedKeyElement(k SealedKey) *stanza.Element {
	return stanza.New(NS, elKey, "epoch", strconv.FormatUint(uint64(k.Epoch), 10), "enc", b64(k.Enc), "ct", b64(k.CT))
}

// ParseSealedKey reads an e2ee-key element out of a message.
func ParseSealedKey(msg *stanza.Element) (SealedKey, bool, error) {
	el := msg
	if !el.Is(NS, elKey) {
		if el = msg.Child(NS, elKey); el == nil {
			return SealedKey{}, false, nil
		}
	}
	epoch, err := parseEpoch(el)
	if err != nil {
		return SealedKey{}, true, err
	}
	enc, err := unb64(el.Get("enc"))
	if err != nil {
		return SealedKey{}, true, fmt.Errorf("e2eexml: e2ee-key enc: %w", err)
	}
	ct, err := unb64(el.Get("ct"))
	if err != nil {
		return SealedKey{}, true, fmt.Errorf("e2eexml: e2ee-key ct: %w", err)
	}
	return SealedKey{Epoch: epoch, Enc: enc, CT: ct}, true, nil
}

// Unsupported builds the marker of the focus's message to an occupant that
// cannot join an encrypted meeting.
func Unsupported() *stanza.Element { return stanza.New(NS, elUnsupported) }

// IsUnsupported reports whether a message carries that marker.
func IsUnsupported(msg *stanza.Element) bool { return msg.Child(NS, elUnsupported) != nil }
