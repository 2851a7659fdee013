package e2ee

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
)

type testMember struct {
	nick string
	kp   *KeyPair
	m    *Member
	last *EpochState
}

func newTestMember(t *testing.T, room, nick string, passKey []byte) *testMember {
	t.Helper()
	kp, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return &testMember{nick: nick, kp: kp, m: NewMember(kp, room, nick, passKey)}
}

func candidates(ms ...*testMember) []Candidate {
	var c []Candidate
	for _, m := range ms {
		c = append(c, Candidate{Nick: m.nick, Pub: m.kp.Public()})
	}
	return c
}

// deliver hands an epoch to the members as the wire would: the roster to
// everyone, each sealed key to its addressee, and the leader its own.
func deliver(t *testing.T, ep *Epoch, leader *testMember, ms ...*testMember) {
	t.Helper()
	for _, m := range ms {
		var st *EpochState
		var err error
		if m == leader {
			st, err = m.m.Learn(ep)
		} else {
			st, err = m.m.OnRoster(ep.Number, ep.Ratchet, ep.Roster)
			for _, k := range ep.Keys {
				if k.Nick == m.nick && err == nil {
					var s2 *EpochState
					s2, err = m.m.OnKey(ep.Number, k.Enc, k.CT)
					if s2 != nil {
						st = s2
					}
				}
			}
		}
		if err != nil {
			t.Fatalf("%s, epoch %d: %v", m.nick, ep.Number, err)
		}
		if st != nil {
			m.last = st
		}
	}
}

func TestLeaderRotation(t *testing.T) {
	const room = "rot@muc.test"
	a, b, c := newTestMember(t, room, "a", nil), newTestMember(t, room, "b", nil), newTestMember(t, room, "c", nil)
	l := NewLeader(room, "a", 0)

	ep1, err := l.Next(candidates(a, b), false)
	if err != nil || ep1.Number != 1 || ep1.Ratchet || len(ep1.Keys) != 1 || ep1.Keys[0].Nick != "b" {
		t.Fatalf("first epoch: %+v %v", ep1, err)
	}
	deliver(t, ep1, a, a, b)
	if a.last == nil || b.last == nil || a.last.Code != b.last.Code || !bytes.Equal(a.last.Keys.BaseKey, b.last.Keys.BaseKey) {
		t.Fatal("a and b disagree on epoch 1")
	}
	if again, _ := l.Next(candidates(b, a), false); again != nil {
		t.Errorf("no change made epoch %d", again.Number)
	}

	// c joins: a ratchet, only c gets a seal, and c cannot read epoch 1.
	ep2, _ := l.Next(candidates(a, b, c), false)
	if !ep2.Ratchet || len(ep2.Keys) != 1 || ep2.Keys[0].Nick != "c" || ep2.Keys[0].Index != 2 {
		t.Fatalf("join epoch: ratchet %v keys %+v", ep2.Ratchet, ep2.Keys)
	}
	deliver(t, ep2, a, a, b, c)
	if a.last.Keys.Epoch != 2 || b.last.Keys.Epoch != 2 || c.last.Keys.Epoch != 2 {
		t.Fatal("not everyone reached epoch 2")
	}
	if a.last.Code != b.last.Code || b.last.Code != c.last.Code {
		t.Error("codes differ in epoch 2")
	}
	if b.last.Index != 1 || c.last.Index != 2 {
		t.Errorf("indexes b %d c %d", b.last.Index, c.last.Index)
	}
	sendEpoch1 := NewSender()
	sendEpoch1.Use(NewEpochKeys(1, Mix(ep1.Secret, nil)), 0)
	before, _ := sendEpoch1.Encrypt(ContextCamera, vp8Delta(50))
	newcomer := NewReceiver(nil)
	newcomer.Add(c.last.Keys)
	if _, err := newcomer.Decrypt(CodecVP8, before); err == nil {
		t.Error("the newcomer decrypted a frame from before its join")
	}
	// Even named as epoch 1, the newcomer's secret is not epoch 1's.
	guess := NewReceiver(nil)
	guess.Add(NewEpochKeys(1, c.last.mixed))
	if _, err := guess.Decrypt(CodecVP8, before); !errors.Is(err, ErrAuth) {
		t.Errorf("newcomer keys on an old frame: %v, want ErrAuth", err)
	}

	// b leaves: a fresh secret to everyone left; b's keys, and anything b
	// can ratchet from them, fail on the new epoch's frames.
	bKeys := b.last
	ep3, _ := l.Next(candidates(a, c), false)
	if ep3.Ratchet || len(ep3.Keys) != 1 || ep3.Keys[0].Nick != "c" {
		t.Fatalf("leave epoch: ratchet %v keys %+v", ep3.Ratchet, ep3.Keys)
	}
	if bytes.Equal(ep3.Secret, Ratchet(ep2.Secret)) {
		t.Fatal("a leave ratcheted")
	}
	deliver(t, ep3, a, a, c)
	if c.last.Keys.Epoch != 3 || c.last.Index != 2 || a.last.Code != c.last.Code {
		t.Fatalf("c after the leave: %+v", c.last)
	}
	after := NewSender()
	after.Use(c.last.Keys, c.last.Index)
	frame, _ := after.Encrypt(ContextAudio, []byte("after the leave"))
	leaver := NewReceiver(nil)
	leaver.Add(bKeys.Keys)
	leaver.Add(NewEpochKeys(3, Mix(Ratchet(ep2.Secret), nil)))
	if _, err := leaver.Decrypt(CodecOpus, frame); !errors.Is(err, ErrAuth) {
		t.Errorf("the leaver's keys on a frame after its leave: %v, want ErrAuth", err)
	}
	stay := NewReceiver(nil)
	stay.Add(a.last.Keys)
	if _, err := stay.Decrypt(CodecOpus, frame); err != nil {
		t.Errorf("a stayer: %v", err)
	}

	// A new leader continues the numbering with a fresh secret.
	l2 := NewLeader(room, "c", l.Epoch())
	ep4, _ := l2.Next(candidates(c), true)
	if ep4.Number != 4 || ep4.Ratchet {
		t.Errorf("new leader: epoch %d ratchet %v", ep4.Number, ep4.Ratchet)
	}
}

func TestPassphraseChangesKeysAndCode(t *testing.T) {
	const room = "pass@muc.test"
	pk1, _ := PassphraseKey("one", room)
	pk2, _ := PassphraseKey("two", room)
	pkOther, _ := PassphraseKey("one", "other@muc.test")
	if bytes.Equal(pk1, pk2) || bytes.Equal(pk1, pkOther) || len(pk1) != 32 {
		t.Fatal("passphrase keys do not depend on passphrase and room")
	}
	if none, _ := PassphraseKey("", room); none != nil {
		t.Error("empty passphrase gave a key")
	}
	a, b := newTestMember(t, room, "a", pk1), newTestMember(t, room, "b", pk2)
	l := NewLeader(room, "a", 0)
	ep, _ := l.Next(candidates(a, b), false)
	deliver(t, ep, a, a, b)
	if a.last.Code == b.last.Code || bytes.Equal(a.last.Keys.BaseKey, b.last.Keys.BaseKey) {
		t.Fatal("another passphrase gave the same keys")
	}
	s := NewSender()
	s.Use(a.last.Keys, a.last.Index)
	f, _ := s.Encrypt(ContextAudio, []byte("hello"))
	r := NewReceiver(nil)
	r.Add(b.last.Keys)
	if _, err := r.Decrypt(CodecOpus, f); !errors.Is(err, ErrAuth) {
		t.Errorf("other passphrase: %v, want ErrAuth", err)
	}
}

func TestSecurityCodeFormat(t *testing.T) {
	var h [32]byte
	code := SecurityCode(bytes.Repeat([]byte{1}, 32), h)
	if !regexp.MustCompile(`^\d{5}( \d{5}){5}$`).MatchString(code) {
		t.Errorf("code %q", code)
	}
	h[0] = 1
	if SecurityCode(bytes.Repeat([]byte{1}, 32), h) == code {
		t.Error("the roster hash does not change the code")
	}
}

// TestSwappedKeyChangesVictimsCode is the key-schedule form of test 6: a
// server that puts its own key in place of the victim's in the roster the
// leader sees can open and re-seal the victim's payload, but the victim's
// roster then differs from everyone else's, and so does its code.
func TestSwappedKeyChangesVictimsCode(t *testing.T) {
	const room = "mitm@muc.test"
	a, b, v := newTestMember(t, room, "a", nil), newTestMember(t, room, "b", nil), newTestMember(t, room, "v", nil)
	mitm, _ := GenerateKeyPair()
	l := NewLeader(room, "a", 0)
	seen := candidates(a, b, v)
	seen[2].Pub = mitm.Public() // the leader sees the server's key for v
	ep, err := l.Next(seen, false)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, ep, a, a, b)
	// The server opens v's seal, then shows v a roster with v's real key
	// and re-seals with that roster's hash.
	var k SealedKey
	for _, sk := range ep.Keys {
		if sk.Nick == "v" {
			k = sk
		}
	}
	secret, _, err := mitm.OpenEpoch(room, ep.Number, k.Index, k.Enc, k.CT)
	if err != nil {
		t.Fatalf("the server could not open: %v", err)
	}
	forged := append(Roster(nil), ep.Roster...)
	for i := range forged {
		if forged[i].Nick == "v" {
			forged[i].Pub = v.kp.Public()
		}
	}
	fh, _ := forged.Hash()
	enc, ct, _ := SealEpoch(v.kp.Public(), room, ep.Number, k.Index, secret, fh)
	st, err := v.m.OnRoster(ep.Number, false, forged)
	if err == nil && st == nil {
		st, err = v.m.OnKey(ep.Number, enc, ct)
	}
	if err != nil || st == nil {
		t.Fatalf("victim: %v", err)
	}
	if st.Code == a.last.Code || a.last.Code != b.last.Code {
		t.Errorf("victim code %s, others %s / %s: want the victim's alone to differ", st.Code, a.last.Code, b.last.Code)
	}
	// Shown the true roster instead, the victim finds its own key missing.
	if _, err := newTestMember(t, room, "v", nil).m.OnRoster(ep.Number+1, false, ep.Roster); !errors.Is(err, ErrRosterMismatch) {
		t.Errorf("own key missing: %v, want ErrRosterMismatch", err)
	}
}

func TestSealRejectsOtherContext(t *testing.T) {
	kp, _ := GenerateKeyPair()
	var h [32]byte
	secret := bytes.Repeat([]byte{9}, 32)
	enc, ct, err := SealEpoch(kp.Public(), "r@m", 4, 2, secret, h)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := kp.OpenEpoch("r@m", 4, 2, enc, ct); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %v", err)
	}
	other, _ := GenerateKeyPair()
	for name, open := range map[string]func() error{
		"other room":  func() error { _, _, err := kp.OpenEpoch("x@m", 4, 2, enc, ct); return err },
		"other epoch": func() error { _, _, err := kp.OpenEpoch("r@m", 5, 2, enc, ct); return err },
		"other index": func() error { _, _, err := kp.OpenEpoch("r@m", 4, 3, enc, ct); return err },
		"other key":   func() error { _, _, err := other.OpenEpoch("r@m", 4, 2, enc, ct); return err },
	} {
		if open() == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// TestRatchetRostersOutOfOrder: a member that gets the roster of epoch N+2
// before that of N+1 (the room delayed one) ratchets through both.
func TestRatchetRostersOutOfOrder(t *testing.T) {
	const room = "order@muc.test"
	a, b := newTestMember(t, room, "a", nil), newTestMember(t, room, "b", nil)
	c, d := newTestMember(t, room, "c", nil), newTestMember(t, room, "d", nil)
	l := NewLeader(room, "a", 0)
	ep1, _ := l.Next(candidates(a, b), false)
	deliver(t, ep1, a, a, b)
	ep2, _ := l.Next(candidates(a, b, c), false)
	ep3, _ := l.Next(candidates(a, b, c, d), false)
	if !ep2.Ratchet || !ep3.Ratchet {
		t.Fatal("joins did not ratchet")
	}
	if st, err := b.m.OnRoster(ep3.Number, true, ep3.Roster); st != nil || err != nil {
		t.Fatalf("epoch 3 before 2: %v %v", st, err)
	}
	st, err := b.m.OnRoster(ep2.Number, true, ep2.Roster)
	if err != nil || st == nil || st.Keys.Epoch != 3 {
		t.Fatalf("after epoch 2's roster: %+v %v, want epoch 3", st, err)
	}
	want := NewEpochKeys(3, Mix(ep3.Secret, nil))
	if !bytes.Equal(st.Keys.BaseKey, want.BaseKey) {
		t.Error("ratcheted through to other keys than the leader's")
	}
}

// TestTakeoverAfterEpochsSeenNotLearnt: a member that saw the roster of the
// leader's last fresh epoch but got no key for it takes over as leader
// numbering after Seen, and a member that did learn that epoch takes the
// new leader's first epoch and shares its code.
func TestTakeoverAfterEpochsSeenNotLearnt(t *testing.T) {
	const room = "takeover@muc.test"
	a, b, c := newTestMember(t, room, "a", nil), newTestMember(t, room, "b", nil), newTestMember(t, room, "c", nil)
	la := NewLeader(room, "a", 0)
	ep1, _ := la.Next(candidates(a, b, c), false)
	deliver(t, ep1, a, a, b, c)
	ep2, _ := la.Next(candidates(a, b, c), true)
	deliver(t, ep2, a, a, c)
	if st, err := b.m.OnRoster(ep2.Number, ep2.Ratchet, ep2.Roster); st != nil || err != nil {
		t.Fatalf("b learnt epoch 2 without its key: %v %v", st, err)
	}
	if b.m.Epoch() != 1 || b.m.Seen() != 2 {
		t.Fatalf("b learnt %d and saw %d, want 1 and 2", b.m.Epoch(), b.m.Seen())
	}
	lb := NewLeader(room, "b", b.m.Seen())
	ep3, err := lb.Next(candidates(b, c), true)
	if err != nil {
		t.Fatal(err)
	}
	if ep3.Number != 3 {
		t.Fatalf("b's first epoch is %d, want 3", ep3.Number)
	}
	deliver(t, ep3, b, b, c)
	if b.last.Keys.Epoch != 3 || c.last.Keys.Epoch != 3 || b.last.Code != c.last.Code {
		t.Errorf("b at epoch %d (%s), c at %d (%s)", b.last.Keys.Epoch, b.last.Code, c.last.Keys.Epoch, c.last.Code)
	}
}
