package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
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
