package bot_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func joinOpts(t *testing.T, srv *xmpptest.Server, room string, o bot.Options) *bot.Bot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o.URL, o.Insecure, o.Loopback = "https://"+srv.HTTP+"/"+room, true, true
	b, err := bot.Join(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// decodes reports whether got has decrypted audio and video frames from
// every endpoint in from.
func decodes(from ...*bot.Bot) func(map[string]bot.Remote) bool {
	return func(got map[string]bot.Remote) bool {
		for _, b := range from {
			r := got[b.EndpointID()]
			if r.AudioPackets < 10 || r.VideoFrames < 10 {
				return false
			}
		}
		return true
	}
}

// TestEncryptedBotsDecodeEachOther: three bots in an encrypted room decode
// each other's audio and video, show one security code, and once that is
// so no frame fails to authenticate.
func TestEncryptedBotsDecodeEachOther(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	o := bot.Options{E2EE: true}
	a, b, c := joinOpts(t, srv, "sealed", o), joinOpts(t, srv, "sealed", o), joinOpts(t, srv, "sealed", o)
	all := []*bot.Bot{a, b, c}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for _, me := range all {
		var others []*bot.Bot
		for _, x := range all {
			if x != me {
				others = append(others, x)
			}
		}
		if err := me.Wait(ctx, decodes(others...)); err != nil {
			t.Fatal(err)
		}
	}
	code := a.E2EE().SecurityCode
	for _, x := range all {
		r := x.E2EE()
		t.Logf("%s: %+v", x.EndpointID(), r)
		if r.SecurityCode != code || code == "" {
			t.Errorf("%s shows code %q, %s shows %q", x.EndpointID(), r.SecurityCode, a.EndpointID(), code)
		}
	}
	// From here on, nothing fails to authenticate.
	before := map[*bot.Bot]bot.E2EEReport{}
	for _, x := range all {
		before[x] = x.E2EE()
	}
	for _, me := range all {
		var others []*bot.Bot
		for _, x := range all {
			if x != me {
				others = append(others, x)
			}
		}
		target := map[string]int{}
		for id, r := range me.Received() {
			target[id] = r.VideoFrames + 30
		}
		if err := me.Wait(ctx, func(got map[string]bot.Remote) bool {
			for _, o := range others {
				if got[o.EndpointID()].VideoFrames < target[o.EndpointID()] {
					return false
				}
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		after := me.E2EE()
		if after.Failed.Auth != before[me].Failed.Auth || after.Decrypted <= before[me].Decrypted {
			t.Errorf("%s: auth failures %d → %d, decrypted %d → %d", me.EndpointID(), before[me].Failed.Auth, after.Failed.Auth, before[me].Decrypted, after.Decrypted)
		}
	}
}

// tap records what the bridge forwards: per sending endpoint, the video
// packets, those carrying bot.Canary, and the audio payloads with when
// they passed.
type tap struct {
	mu     sync.Mutex
	video  map[string]int
	canary map[string]int
	sframe map[string]int // frame starts whose bytes after the clear prefix are an SFrame header of a camera KID
	starts map[string]int // frame starts
	audio  map[string][]tapped
}

type tapped struct {
	at      time.Time
	payload []byte
}

func newTap(srv *xmpptest.Server) *tap {
	tp := &tap{video: map[string]int{}, canary: map[string]int{}, sframe: map[string]int{}, starts: map[string]int{}, audio: map[string][]tapped{}}
	srv.App.Bridge.SetForwardTap(func(ep, kind string, payload []byte) {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		switch kind {
		case "video":
			tp.video[ep]++
			if bytes.Contains(payload, []byte(bot.Canary)) {
				tp.canary[ep]++
			}
			var d codecs.VP8Packet
			if _, err := d.Unmarshal(payload); err == nil && d.S == 1 && d.PID == 0 && len(d.Payload) > 0 {
				tp.starts[ep]++
				p := e2ee.ClearPrefixLen(e2ee.CodecVP8, d.Payload)
				if h, _, err := e2ee.ParseHeader(d.Payload[min(p, len(d.Payload)):]); err == nil {
					if ctx, _, _ := e2ee.SplitKID(h.KID); ctx == e2ee.ContextCamera && h.KID < 1<<16 {
						tp.sframe[ep]++
					}
				}
			}
		case "audio":
			tp.audio[ep] = append(tp.audio[ep], tapped{at: time.Now(), payload: append([]byte(nil), payload...)})
		}
	})
	return tp
}

func (tp *tap) counts(ep string) (video, canary int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.video[ep], tp.canary[ep]
}

// frameStarts returns how many frames of ep began at the tap, and how many
// of those had an SFrame header of a camera KID after the clear prefix.
func (tp *tap) frameStarts(ep string) (starts, sframe int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.starts[ep], tp.sframe[ep]
}

// audioBetween returns the audio payloads ep sent that passed the bridge
// between from and to.
func (tp *tap) audioBetween(ep string, from, to time.Time) [][]byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out [][]byte
	for _, a := range tp.audio[ep] {
		if !a.at.Before(from) && a.at.Before(to) {
			out = append(out, a.payload)
		}
	}
	return out
}

// others is every bot of all but me.
func others(me *bot.Bot, all []*bot.Bot) []*bot.Bot {
	var out []*bot.Bot
	for _, x := range all {
		if x != me {
			out = append(out, x)
		}
	}
	return out
}

// waitAll waits until every bot decodes every other.
func waitAll(t *testing.T, ctx context.Context, all ...*bot.Bot) {
	t.Helper()
	for _, me := range all {
		if err := me.Wait(ctx, decodes(others(me, all)...)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCanaryOnlyInTheClear is the test 3: the bridge's forwarded
// payloads carry the plaintext marker every bot video frame holds when
// encryption is off, and never when it is on.
func TestCanaryOnlyInTheClear(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	tp := newTap(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	p1, p2 := joinOpts(t, srv, "plain", bot.Options{Canary: true}), joinOpts(t, srv, "plain", bot.Options{Canary: true})
	e1, e2 := joinOpts(t, srv, "sealed", bot.Options{E2EE: true, Canary: true}), joinOpts(t, srv, "sealed", bot.Options{E2EE: true, Canary: true})
	waitAll(t, ctx, p1, p2)
	waitAll(t, ctx, e1, e2)
	// Let both encrypted senders pass 300 video packets through the tap.
	waitFor(t, ctx, "300 video packets from each encrypted bot", func() bool {
		v1, _ := tp.counts(e1.EndpointID())
		v2, _ := tp.counts(e2.EndpointID())
		return v1 >= 300 && v2 >= 300
	})
	for _, b := range []*bot.Bot{p1, p2} {
		if v, c := tp.counts(b.EndpointID()); c == 0 {
			t.Errorf("plain %s: the canary is in none of %d video packets (the control failed)", b.EndpointID(), v)
		}
	}
	for _, b := range []*bot.Bot{e1, e2} {
		if v, c := tp.counts(b.EndpointID()); c != 0 {
			t.Errorf("encrypted %s: the canary is in %d of %d video packets", b.EndpointID(), c, v)
		}
		// Every encrypted frame is laid out as docs/e2ee.md says: clear
		// prefix, then the SFrame header.
		if n, sf := tp.frameStarts(b.EndpointID()); n == 0 || sf != n {
			t.Errorf("encrypted %s: %d of %d frames have an SFrame header after the clear prefix", b.EndpointID(), sf, n)
		}
	}
}

// TestOtherPassphraseDecodesNothing is the contract: a participant
// with another passphrase receives the others' media but decodes none of
// it and reports that the keys do not match, while those sharing the
// passphrase decode each other and show one code that differs from its.
func TestOtherPassphraseDecodesNothing(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	a := joinOpts(t, srv, "pass", bot.Options{Passphrase: "one"})
	b := joinOpts(t, srv, "pass", bot.Options{Passphrase: "one", PassphraseKey: a.PassphraseKey()})
	c := joinOpts(t, srv, "pass", bot.Options{Passphrase: "two"})
	waitAll(t, ctx, a, b)
	if err := c.Wait(ctx, func(map[string]bot.Remote) bool { return c.E2EE().KeyMismatch }); err != nil {
		t.Fatalf("no key mismatch reported: %v (%+v)", err, c.E2EE())
	}
	got := c.Received()
	for _, from := range []*bot.Bot{a, b} {
		r := got[from.EndpointID()]
		failed := r.Sources[from.EndpointID()+"-v0"].DecryptFailed + r.Sources[from.EndpointID()+"-a0"].DecryptFailed
		if r.VideoFrames != 0 || r.AudioPackets != 0 || failed == 0 {
			t.Errorf("c decoded %d frames and %d audio packets of %s (%d failed)", r.VideoFrames, r.AudioPackets, from.EndpointID(), failed)
		}
	}
	if r := a.Received()[c.EndpointID()]; r.VideoFrames != 0 || r.AudioPackets != 0 {
		t.Errorf("a decoded c: %+v", r)
	}
	ea, eb, ec := a.E2EE(), b.E2EE(), c.E2EE()
	if ea.SecurityCode != eb.SecurityCode || ea.SecurityCode == ec.SecurityCode || ec.Decrypted != 0 || ec.Failed.Auth == 0 {
		t.Errorf("codes a %q b %q c %q; c decrypted %d, auth failures %d", ea.SecurityCode, eb.SecurityCode, ec.SecurityCode, ec.Decrypted, ec.Failed.Auth)
	}
}

// decryptsWith reports whether any of the epoch keys decrypts an audio
// frame (a fresh receiver for each: no replay window in the way).
func decryptsWith(keys []e2ee.EpochKeys, frame []byte) bool {
	for _, k := range keys {
		r := e2ee.NewReceiver(nil)
		r.Add(k)
		if _, err := r.Decrypt(e2ee.CodecOpus, frame); err == nil {
			return true
		}
	}
	return false
}

// TestRotationLocksOutLeaverAndNewcomer is the bot-level half of the
// issue's test 5: every key a newcomer learns fails on the audio the
// others sent before it joined, and every key a leaver learnt fails on
// what they send from 3 s after it left; the keys of a member present
// throughout decrypt both (the control).
func TestRotationLocksOutLeaverAndNewcomer(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	tp := newTap(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true}
	a, b, c := joinOpts(t, srv, "rotate", o), joinOpts(t, srv, "rotate", o), joinOpts(t, srv, "rotate", o)
	waitAll(t, ctx, a, b, c)

	joined := time.Now()
	d := joinOpts(t, srv, "rotate", o)
	waitAll(t, ctx, a, b, c, d)
	for _, from := range []*bot.Bot{a, b, c} {
		frames := tp.audioBetween(from.EndpointID(), time.Time{}, joined)
		if len(frames) < 20 {
			t.Fatalf("only %d audio frames of %s before the join", len(frames), from.EndpointID())
		}
		for i, f := range frames {
			if decryptsWith(d.LearntKeys(), f) {
				t.Fatalf("the newcomer's keys decrypt frame %d of %s from before its join", i, from.EndpointID())
			}
			if from != a && !decryptsWith(a.LearntKeys(), f) {
				t.Fatalf("a's keys do not decrypt frame %d of %s (the control failed)", i, from.EndpointID())
			}
		}
	}

	left := time.Now()
	leaverKeys := c.LearntKeys()
	c.Close()
	after := left.Add(3 * time.Second)
	waitFor(t, ctx, "a second of audio sent from 3 s after the leave", func() bool {
		return len(tp.audioBetween(a.EndpointID(), after, time.Now())) >= 50 && len(tp.audioBetween(b.EndpointID(), after, time.Now())) >= 50
	})
	for _, from := range []*bot.Bot{a, b, d} {
		frames := tp.audioBetween(from.EndpointID(), after, time.Now())
		for i, f := range frames {
			if decryptsWith(leaverKeys, f) {
				t.Fatalf("the leaver's keys decrypt frame %d of %s sent 3 s after it left", i, from.EndpointID())
			}
			if from != b && !decryptsWith(b.LearntKeys(), f) {
				t.Fatalf("b's keys do not decrypt frame %d of %s (the control failed)", i, from.EndpointID())
			}
		}
	}
	if ea, ed := a.E2EE(), d.E2EE(); ea.Epoch <= leaverKeys[len(leaverKeys)-1].Epoch || ea.SecurityCode != ed.SecurityCode {
		t.Errorf("after the leave: a at epoch %d (leaver's last %d), codes %q / %q", ea.Epoch, leaverKeys[len(leaverKeys)-1].Epoch, ea.SecurityCode, ed.SecurityCode)
	}
}

// sameEpoch reports whether every bot learnt and sends with the same
// epoch, after after.
func sameEpoch(after uint32, all ...*bot.Bot) bool {
	e := all[0].E2EE()
	if e.Epoch <= after {
		return false
	}
	for _, b := range all {
		if r := b.E2EE(); r.Epoch != e.Epoch || r.SendEpoch != e.Epoch || r.SecurityCode != e.SecurityCode {
			return false
		}
	}
	return true
}

// TestLeaderResendsWhatTheRoomRefused: a fresh epoch for seven members is
// more messages at once than the room lets one occupant send; the leader
// sends the refused ones again, and everyone reaches the new epoch.
func TestLeaderResendsWhatTheRoomRefused(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	o := bot.Options{E2EE: true, Constraints: &bot.Constraints{MaxHeight: 0, LastN: 0}}
	var all []*bot.Bot
	for range 8 {
		all = append(all, joinOpts(t, srv, "crowd", o))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := all[0].Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(0, all...) }); err != nil {
		for _, b := range all {
			t.Logf("%s: %+v", b.EndpointID(), b.E2EE())
		}
		t.Fatalf("the eight never shared an epoch: %v", err)
	}
	before := all[0].E2EE().Epoch
	all[3].Close()
	rest := append(append([]*bot.Bot(nil), all[:3]...), all[4:]...)
	if err := all[0].Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(before, rest...) }); err != nil {
		for _, b := range rest {
			t.Logf("%s: %+v", b.EndpointID(), b.E2EE())
		}
		t.Fatalf("not everyone reached the epoch after the leave: %v", err)
	}
}

// TestPlainBotRefusedInEncryptedRoom: a bot that does not encrypt gets no
// session in an encrypted room, only the focus's word why, and the
// encrypted bot never receives media from it.
func TestPlainBotRefusedInEncryptedRoom(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	enc := joinOpts(t, srv, "closed", bot.Options{E2EE: true})
	plain := joinOpts(t, srv, "closed", bot.Options{})
	err := plain.Wait(ctx, func(map[string]bot.Remote) bool { return false })
	if !errors.Is(err, bot.ErrE2EEUnsupported) {
		t.Fatalf("plain bot: %v, want ErrE2EEUnsupported", err)
	}
	if got := enc.Received()[plain.EndpointID()]; got.AudioPackets != 0 || got.VideoFrames != 0 || len(got.Sources) != 0 {
		t.Errorf("the encrypted bot received %+v from the plain one", got)
	}
}

// TestNewLeaderTakesOver: when the key leader leaves, the focus names the
// oldest member left, which makes a fresh epoch that everyone left shares
// and decodes with.
func TestNewLeaderTakesOver(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true}
	a := joinOpts(t, srv, "handover", o)
	b := joinOpts(t, srv, "handover", o)
	c := joinOpts(t, srv, "handover", o)
	waitAll(t, ctx, a, b, c)
	if l := b.E2EE().Leader; l != a.EndpointID() {
		t.Fatalf("leader %q, want the first to join, %s", l, a.EndpointID())
	}
	before := b.E2EE()
	a.Close()
	if err := b.Wait(ctx, func(map[string]bot.Remote) bool {
		return sameEpoch(before.Epoch, b, c) && b.E2EE().Leader == b.EndpointID() && c.E2EE().Leader == b.EndpointID()
	}); err != nil {
		t.Fatalf("no new shared epoch under b: b %+v, c %+v: %v", b.E2EE(), c.E2EE(), err)
	}
	if e := b.E2EE(); e.EpochsLed == 0 || e.SecurityCode == before.SecurityCode {
		t.Errorf("b led %d epochs; code %q (was %q)", e.EpochsLed, e.SecurityCode, before.SecurityCode)
	}
	// Media still decodes both ways under the new leader's epoch.
	for _, x := range []struct{ me, from *bot.Bot }{{b, c}, {c, b}} {
		n := x.me.Received()[x.from.EndpointID()].VideoFrames
		if err := x.me.Wait(ctx, func(got map[string]bot.Remote) bool { return got[x.from.EndpointID()].VideoFrames >= n+30 }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPeriodicRotation: the leader makes a fresh epoch every period (10
// minutes; 3 s here), everyone follows, and media keeps decoding across.
func TestPeriodicRotation(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.WithRotation(bot.Options{E2EE: true}, 3*time.Second)
	a, b := joinOpts(t, srv, "spin", o), joinOpts(t, srv, "spin", o)
	waitAll(t, ctx, a, b)
	first := b.E2EE()
	if err := b.Wait(ctx, func(map[string]bot.Remote) bool { return sameEpoch(first.Epoch+1, a, b) }); err != nil {
		t.Fatalf("no two rotations: a %+v, b %+v: %v", a.E2EE(), b.E2EE(), err)
	}
	if e := b.E2EE(); e.SecurityCode == first.SecurityCode || e.Failed.Auth != 0 {
		t.Errorf("after rotating: code %q (was %q), auth failures %d", e.SecurityCode, first.SecurityCode, e.Failed.Auth)
	}
	n := b.Received()[a.EndpointID()].VideoFrames
	if err := b.Wait(ctx, func(got map[string]bot.Remote) bool { return got[a.EndpointID()].VideoFrames >= n+30 }); err != nil {
		t.Fatal(err)
	}
}
