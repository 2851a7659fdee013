package e2ee

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/go-frames.json")

// The fixed inputs of go-frames.json. Nothing here is secret: they exist so
// the Go and TypeScript sides can check each other.
const (
	fixtureRoom       = "e2ee-fixture@conference.parley.test"
	fixturePassphrase = "correct horse battery staple"
	fixtureEpoch      = 7
)

var (
	// fixtureSecret is 00 01 02 ... 1f.
	fixtureSecret = func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
	// Each member's private key is 32 bytes of one value.
	fixtureMembers = []struct {
		index uint16
		nick  string
		priv  byte
	}{{0, "alice", 0x11}, {1, "bob", 0x22}, {2, "carol-ü", 0x33}}
)

// The canary every bot video frame carries right after its clear prefix.
const fixtureCanary = "PARLEY-PLAINTEXT-CANARY-00000000"

type goFrames struct {
	About         string          `json:"about"`
	Room          string          `json:"room"`
	Passphrase    string          `json:"passphrase"`
	PassphraseKey string          `json:"passphrase_key"`
	Epoch         uint32          `json:"epoch"`
	EpochSecret   string          `json:"epoch_secret"`
	Mixed         string          `json:"mixed_secret"`
	BaseKey       string          `json:"base_key"`
	Roster        []fixtureMember `json:"roster"`
	RosterHash    string          `json:"roster_hash"`
	SecurityCode  string          `json:"security_code"`
	NoPassphrase  fixtureKeys     `json:"no_passphrase"`
	Ratchet       fixtureKeys     `json:"ratchet"`
	Seal          fixtureSeal     `json:"seal"`
	Frames        []fixtureFrame  `json:"frames"`
}

type fixtureMember struct {
	Index uint16 `json:"index"`
	Nick  string `json:"nick"`
	Pub   string `json:"pub"`  // base64, as in presence
	Priv  string `json:"priv"` // hex raw X25519 private key
}

type fixtureKeys struct {
	Epoch        uint32 `json:"epoch"`
	EpochSecret  string `json:"epoch_secret"`
	Mixed        string `json:"mixed_secret"`
	BaseKey      string `json:"base_key"`
	SecurityCode string `json:"security_code"`
}

type fixtureSeal struct {
	ToIndex uint16 `json:"to_index"`
	ToNick  string `json:"to_nick"`
	Info    string `json:"info"`
	Enc     string `json:"enc"` // base64, as in e2ee-key
	CT      string `json:"ct"`
}

type fixtureFrame struct {
	Name        string `json:"name"`
	Codec       string `json:"codec"`
	Context     uint8  `json:"context"`
	SenderIndex uint16 `json:"sender_index"`
	Epoch       uint32 `json:"epoch"`
	Passphrase  bool   `json:"passphrase"`
	KID         uint64 `json:"kid"`
	CTR         uint64 `json:"ctr"`
	Plaintext   string `json:"plaintext"`
	Frame       string `json:"frame"`
}

func fixtureRoster(t *testing.T) (Roster, []*KeyPair) {
	var r Roster
	var kps []*KeyPair
	for _, m := range fixtureMembers {
		kp, err := KeyPairFromBytes(bytes.Repeat([]byte{m.priv}, 32))
		if err != nil {
			t.Fatal(err)
		}
		r = append(r, Entry{Index: m.index, Nick: m.nick, Pub: kp.Public()})
		kps = append(kps, kp)
	}
	return r, kps
}

// fixtureFrames are the plaintexts: an Opus frame, a VP8 key frame and a
// VP8 delta frame carrying the canary after their prefix, a screen-share
// delta, and a VP8 frame shorter than its prefix.
func fixturePlaintexts() []struct {
	name string
	ctx  Context
	pt   []byte
} {
	key := append([]byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, fixtureCanary...)
	key = append(key, bytes.Repeat([]byte{0xa5, 0x5a}, 40)...)
	delta := append([]byte{0x31}, fixtureCanary...)
	delta = append(delta, bytes.Repeat([]byte{0x3c}, 30)...)
	return []struct {
		name string
		ctx  Context
		pt   []byte
	}{
		{"audio", ContextAudio, []byte{0xfc, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05}},
		{"vp8-key", ContextCamera, key},
		{"vp8-delta", ContextCamera, delta},
		{"screen-delta", ContextScreen, append([]byte{0x71}, "screen share"...)},
		{"vp8-delta-1-byte", ContextCamera, []byte{0x31}},
	}
}

func hx(b []byte) string      { return hex.EncodeToString(b) }
func b64(b []byte) string     { return base64.StdEncoding.EncodeToString(b) }
func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

// buildGoFrames computes every value of the fixture. Only the HPKE seal
// is random; the test compares everything else with the committed file.
func buildGoFrames(t *testing.T) goFrames {
	roster, _ := fixtureRoster(t)
	hash, err := roster.Hash()
	if err != nil {
		t.Fatal(err)
	}
	pk, err := PassphraseKey(fixturePassphrase, fixtureRoom)
	if err != nil {
		t.Fatal(err)
	}
	mixed := Mix(fixtureSecret, pk)
	plainMixed := Mix(fixtureSecret, nil)
	next := Ratchet(fixtureSecret)
	nextMixed := Mix(next, pk)
	g := goFrames{
		About: "Frames encrypted by internal/e2ee (Parley SFrame v1, docs/e2ee.md) from the fixed inputs below. " +
			"Hex unless named base64. Regenerate: go test ./internal/e2ee -run TestGoFrames -update",
		Room: fixtureRoom, Passphrase: fixturePassphrase, PassphraseKey: hx(pk),
		Epoch: fixtureEpoch, EpochSecret: hx(fixtureSecret), Mixed: hx(mixed), BaseKey: hx(BaseKey(mixed)),
		RosterHash: hx(hash[:]), SecurityCode: SecurityCode(mixed, hash),
		NoPassphrase: fixtureKeys{Epoch: fixtureEpoch, EpochSecret: hx(fixtureSecret), Mixed: hx(plainMixed),
			BaseKey: hx(BaseKey(plainMixed)), SecurityCode: SecurityCode(plainMixed, hash)},
		Ratchet: fixtureKeys{Epoch: fixtureEpoch + 1, EpochSecret: hx(next), Mixed: hx(nextMixed),
			BaseKey: hx(BaseKey(nextMixed)), SecurityCode: SecurityCode(nextMixed, hash)},
	}
	for i, m := range roster {
		g.Roster = append(g.Roster, fixtureMember{Index: m.Index, Nick: m.Nick, Pub: b64(m.Pub),
			Priv: hx(bytes.Repeat([]byte{fixtureMembers[i].priv}, 32))})
	}
	to := roster[1]
	enc, ct, err := SealEpoch(to.Pub, fixtureRoom, fixtureEpoch, to.Index, fixtureSecret, hash)
	if err != nil {
		t.Fatal(err)
	}
	g.Seal = fixtureSeal{ToIndex: to.Index, ToNick: to.Nick, Info: hx(sealInfo(fixtureRoom, fixtureEpoch, to.Index)),
		Enc: b64(enc), CT: b64(ct)}

	type keyset struct {
		epoch uint32
		mixed []byte
		pass  bool
	}
	for _, ks := range []keyset{{fixtureEpoch, mixed, true}, {fixtureEpoch + 1, nextMixed, true}, {fixtureEpoch, plainMixed, false}} {
		s := NewSender()
		if err := s.Use(NewEpochKeys(ks.epoch, ks.mixed), 2); err != nil {
			t.Fatal(err)
		}
		for _, p := range fixturePlaintexts() {
			if ks.epoch != fixtureEpoch && p.name != "vp8-delta" || !ks.pass && p.name != "audio" {
				continue // the other key sets need one frame each
			}
			f, err := s.Encrypt(p.ctx, p.pt)
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := ParseHeader(f[min(ClearPrefixLen(p.ctx.Codec(), p.pt), len(p.pt)):])
			if err != nil {
				t.Fatal(err)
			}
			g.Frames = append(g.Frames, fixtureFrame{Name: p.name, Codec: p.ctx.Codec().String(), Context: uint8(p.ctx),
				SenderIndex: 2, Epoch: ks.epoch, Passphrase: ks.pass, KID: h.KID, CTR: h.CTR, Plaintext: hx(p.pt), Frame: hx(f)})
		}
	}
	return g
}

// TestGoFrames checks the committed go-frames.json against a fresh build
// (every derived value) and decrypts its frames and its seal, so the file
// the TypeScript side reads is known to be right.
func TestGoFrames(t *testing.T) {
	built := buildGoFrames(t)
	const path = "testdata/go-frames.json"
	if *update {
		b, err := json.MarshalIndent(built, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goFrames
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	// Everything but the randomised seal must match a fresh build.
	cmp := func(name string, got, want any) {
		t.Helper()
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s: file has %s, built %s", name, gj, wj)
		}
	}
	cmp("passphrase key", g.PassphraseKey, built.PassphraseKey)
	cmp("mixed", g.Mixed, built.Mixed)
	cmp("base key", g.BaseKey, built.BaseKey)
	cmp("roster", g.Roster, built.Roster)
	cmp("roster hash", g.RosterHash, built.RosterHash)
	cmp("security code", g.SecurityCode, built.SecurityCode)
	cmp("no passphrase", g.NoPassphrase, built.NoPassphrase)
	cmp("ratchet", g.Ratchet, built.Ratchet)
	cmp("frames", g.Frames, built.Frames)

	roster, kps := fixtureRoster(t)
	enc, _ := base64.StdEncoding.DecodeString(g.Seal.Enc)
	ct, _ := base64.StdEncoding.DecodeString(g.Seal.CT)
	secret, hash, err := kps[g.Seal.ToIndex].OpenEpoch(g.Room, g.Epoch, g.Seal.ToIndex, enc, ct)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	if hx(secret) != g.EpochSecret || hx(hash[:]) != g.RosterHash {
		t.Errorf("seal opened to %x / %x", secret, hash)
	}
	if err := kps[1].CheckRoster(roster, "bob", 1, hash); err != nil {
		t.Error(err)
	}
	decryptFixtureFrames(t, g.Frames, map[bool]fixtureKeys{true: {Epoch: g.Epoch, Mixed: g.Mixed}}, g.Ratchet, g.NoPassphrase)
}

// decryptFixtureFrames decrypts frames with the receiver keys they name and
// compares the plaintexts.
func decryptFixtureFrames(t *testing.T, frames []fixtureFrame, pass map[bool]fixtureKeys, ratchet, noPass fixtureKeys) {
	t.Helper()
	withPass := NewReceiver(nil)
	withPass.Add(NewEpochKeys(pass[true].Epoch, mustHex(pass[true].Mixed)))
	withPass.Add(NewEpochKeys(ratchet.Epoch, mustHex(ratchet.Mixed)))
	without := NewReceiver(nil)
	without.Add(NewEpochKeys(noPass.Epoch, mustHex(noPass.Mixed)))
	if len(frames) < 4 {
		t.Fatalf("%d frames", len(frames))
	}
	for _, f := range frames {
		r := withPass
		if !f.Passphrase {
			r = without
		}
		codec := CodecOpus
		if f.Codec == "vp8" {
			codec = CodecVP8
		}
		got, err := r.Decrypt(codec, mustHex(f.Frame))
		if err != nil {
			t.Errorf("%s (epoch %d): %v", f.Name, f.Epoch, err)
			continue
		}
		if hx(got.Plaintext) != f.Plaintext || got.KID != f.KID || got.Index != f.SenderIndex {
			t.Errorf("%s: plaintext %x KID %d index %d", f.Name, got.Plaintext, got.KID, got.Index)
		}
	}
}

// TestTSFrames decrypts the frames the TypeScript side wrote in the same
// layout (web/test/fixtures/ts-frames.json); it is skipped until that file
// exists.
func TestTSFrames(t *testing.T) {
	b, err := os.ReadFile("../../web/test/fixtures/ts-frames.json")
	if os.IsNotExist(err) {
		t.Skip("web/test/fixtures/ts-frames.json not written yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	var g goFrames
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("ts-frames.json: %v", err)
	}
	// The TypeScript side derives the same keys and code from the same
	// inputs, and its HPKE seal opens here.
	want := buildGoFrames(t)
	for name, v := range map[string][2]string{
		"passphrase key": {g.PassphraseKey, want.PassphraseKey}, "mixed": {g.Mixed, want.Mixed},
		"base key": {g.BaseKey, want.BaseKey}, "roster hash": {g.RosterHash, want.RosterHash},
		"security code": {g.SecurityCode, want.SecurityCode}, "ratchet": {g.Ratchet.Mixed, want.Ratchet.Mixed},
		"no passphrase code": {g.NoPassphrase.SecurityCode, want.NoPassphrase.SecurityCode},
	} {
		if v[0] != v[1] {
			t.Errorf("%s: TypeScript %s, Go %s", name, v[0], v[1])
		}
	}
	_, kps := fixtureRoster(t)
	enc, _ := base64.StdEncoding.DecodeString(g.Seal.Enc)
	ct, _ := base64.StdEncoding.DecodeString(g.Seal.CT)
	if int(g.Seal.ToIndex) >= len(kps) {
		t.Fatalf("seal to index %d", g.Seal.ToIndex)
	}
	secret, hash, err := kps[g.Seal.ToIndex].OpenEpoch(g.Room, g.Epoch, g.Seal.ToIndex, enc, ct)
	if err != nil || hx(secret) != g.EpochSecret || hx(hash[:]) != g.RosterHash {
		t.Errorf("TypeScript seal: %x %x %v", secret, hash, err)
	}
	decryptFixtureFrames(t, g.Frames, map[bool]fixtureKeys{true: {Epoch: g.Epoch, Mixed: g.Mixed}}, g.Ratchet, g.NoPassphrase)
}
