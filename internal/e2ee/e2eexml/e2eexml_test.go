package e2eexml

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

func pres(children ...*stanza.Element) *stanza.Element {
	return stanza.New(stanza.NSClient, "presence").Add(children...)
}

func TestKeyRoundTrip(t *testing.T) {
	pub := bytes.Repeat([]byte{7}, 32)
	el := Key(pub)
	if s := el.String(); !strings.Contains(s, "xmlns=\"urn:parley:e2ee:0\"") || !strings.Contains(s, "kem=\"x25519\"") {
		t.Errorf("key element %s", s)
	}
	got, ok := ParseKey(pres(el))
	if !ok || !bytes.Equal(got, pub) {
		t.Errorf("ParseKey: %x %v", got, ok)
	}
	for _, bad := range []*stanza.Element{
		stanza.New(NS, "e2ee", "kem", "p256", "pub", b64(pub)),
		stanza.New(NS, "e2ee", "kem", "x25519", "pub", b64(pub[:31])),
		stanza.New("other", "e2ee", "kem", "x25519", "pub", b64(pub)),
		StateElement(State{Enabled: true, Leader: "a"}),
	} {
		if _, ok := ParseKey(pres(bad)); ok {
			t.Errorf("ParseKey accepted %s", bad)
		}
	}
	// Unpadded base64 from another client is read too.
	if got, ok := ParseKey(pres(stanza.New(NS, "e2ee", "kem", "x25519", "pub", strings.TrimRight(b64(pub), "=")))); !ok || !bytes.Equal(got, pub) {
		t.Error("unpadded key refused")
	}
}

func TestStateAndToggle(t *testing.T) {
	s, ok := ParseState(pres(StateElement(State{Enabled: true, Leader: "alice"})))
	if !ok || !s.Enabled || s.Leader != "alice" {
		t.Errorf("state %+v %v", s, ok)
	}
	if el := StateElement(State{Enabled: false, Leader: "x"}); el.Has("leader") || el.Get("enabled") != "false" {
		t.Errorf("off state %s", el)
	}
	if _, ok := ParseState(pres(Key(make([]byte, 32)))); ok {
		t.Error("a participant's key read as room state")
	}
	tg, err := ParseToggle(ToggleElement(Toggle{Room: "r@muc", Enabled: true}))
	if err != nil || !tg.Enabled || tg.Room != "r@muc" {
		t.Errorf("toggle %+v %v", tg, err)
	}
	if _, err := ParseToggle(stanza.New(NS, "e2ee", "room", "r@muc", "enabled", "maybe")); err == nil {
		t.Error("enabled=maybe accepted")
	}
}

func TestRosterAndKey(t *testing.T) {
	r := Roster{Epoch: 9, Ratchet: true, Members: e2ee.Roster{
		{Index: 1, Nick: "bob", Pub: bytes.Repeat([]byte{2}, 32)},
		{Index: 0, Nick: "alice", Pub: bytes.Repeat([]byte{1}, 32)},
	}}
	msg := stanza.New(stanza.NSClient, "message", "type", "groupchat").Add(RosterElement(r))
	got, ok, err := ParseRoster(msg)
	if err != nil || !ok || got.Epoch != 9 || !got.Ratchet || len(got.Members) != 2 || got.Members[0].Nick != "alice" {
		t.Fatalf("roster %+v %v %v", got, ok, err)
	}
	h1, _ := r.Members.Hash()
	h2, _ := got.Members.Hash()
	if h1 != h2 {
		t.Error("roster hash changed through XML")
	}
	k := SealedKey{Epoch: 9, Enc: []byte{1, 2, 3}, CT: []byte{4, 5}}
	gk, ok, err := ParseSealedKey(stanza.New(stanza.NSClient, "message").Add(SealedKeyElement(k)))
	if err != nil || !ok || gk.Epoch != 9 || !bytes.Equal(gk.Enc, k.Enc) || !bytes.Equal(gk.CT, k.CT) {
		t.Errorf("key %+v %v %v", gk, ok, err)
	}
	if _, ok, _ := ParseSealedKey(msg); ok {
		t.Error("a roster read as a key")
	}
	bad := RosterElement(r)
	bad.Children[0].Set("index", "1") // both at index 1
	if _, _, err := ParseRoster(bad); err == nil {
		t.Error("duplicate index accepted")
	}
	if _, _, err := ParseRoster(stanza.New(NS, "e2ee-roster", "epoch", "0")); err == nil {
		t.Error("epoch 0 accepted")
	}
}

// FuzzParse: no element tree makes the parsers panic, and a roster they
// accept is valid.
func FuzzParse(f *testing.F) {
	f.Add("e2ee-roster", "7", "true", "0", "alice", b64(bytes.Repeat([]byte{1}, 32)))
	f.Add("e2ee-key", "1", "", "", "", "AAAA")
	f.Add("e2ee", "", "x25519", "", "", "====")
	f.Fuzz(func(t *testing.T, local, epoch, flag, index, nick, blob string) {
		el := stanza.New(NS, local, "epoch", epoch, "ratchet", flag, "enabled", flag, "room", nick,
			"kem", flag, "pub", blob, "enc", blob, "ct", blob)
		el.Add(stanza.New(NS, "member", "index", index, "nick", nick, "pub", blob))
		msg := stanza.New(stanza.NSClient, "message").Add(el)
		if r, ok, err := ParseRoster(msg); ok && err == nil {
			if r.Members.Validate() != nil || r.Epoch == 0 {
				t.Fatalf("accepted roster %+v", r)
			}
		}
		ParseSealedKey(msg)
		ParseKey(msg)
		ParseState(msg)
		ParseToggle(el)
	})
}
