package bridge

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestChannelRejectsWrongIDsAndPassword(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "room", "alice", clientOpts{noSend: true, noChannel: true})
	base := "http://" + tb.http.Listener.Addr().String()
	pwd := a.alloc.Channel.Password
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/colibri-ws/other-bridge/room/alice?pwd=" + pwd, http.StatusNotFound},
		{"/colibri-ws/parley/nope/alice?pwd=" + pwd, http.StatusNotFound},
		{"/colibri-ws/parley/room/nobody?pwd=" + pwd, http.StatusNotFound},
		{"/colibri-ws/parley/room/alice/extra?pwd=" + pwd, http.StatusNotFound},
		{"/colibri-ws/parley/room/alice?pwd=wrong", http.StatusForbidden},
		{"/colibri-ws/parley/room/alice", http.StatusForbidden},
		{"/colibri-ws/parley/room/alice?pwd=" + a.alloc.ICE.Pwd, http.StatusForbidden}, // not the ICE pwd
	} {
		resp, err := http.Get(base + tc.path)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
	if a.alloc.Channel.Path != "/colibri-ws/parley/room/alice" || len(pwd) != 24 {
		t.Errorf("channel %+v", a.alloc.Channel)
	}
	a.close()
}

func TestChannelNewerSocketReplacesOlder(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "room", "alice", clientOpts{noSend: true})
	old := a.ws
	a.connectChannel(tb) // second socket
	a.wsMsgs.wait(t, "old socket closed", func(r *recorder) bool { return r.hasMsg("closed:") })
	a.wsMsgs.mu.Lock()
	ok := a.wsMsgs.hasMsg(fmt.Sprintf("closed:%d:", websocket.StatusNormalClosure)) && a.wsMsgs.hasMsg("replaced")
	a.wsMsgs.mu.Unlock()
	if !ok {
		t.Fatalf("old socket did not end with normal closure \"replaced\": %q", a.wsMsgs.msgs)
	}
	// The new socket still works.
	a.send(`{"colibriClass":"ClientHello"}`)
	a.wsMsgs.wait(t, "reply on new socket", func(r *recorder) bool {
		n := 0
		for _, m := range r.msgs {
			if strings.Contains(m, "ServerHello") {
				n++
			}
		}
		return n == 3
	})
	_ = old.CloseNow()
	a.close()
}

func TestChannelRelaysEndpointMessagesAndStats(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "room", "alice", clientOpts{noSend: true})
	b := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	c := newClient(t, tb, "room", "carol", clientOpts{noSend: true})

	a.send(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"type":"e2e-ping-request","id":4},"extra":1}`)
	for _, r := range []*client{b, c} {
		r.wsMsgs.wait(t, "broadcast at "+r.id, func(rec *recorder) bool {
			return rec.hasMsg(`"from":"alice"`) && rec.hasMsg(`"msgPayload":{"type":"e2e-ping-request","id":4}`) && rec.hasMsg(`"extra":1`)
		})
	}
	b.send(`{"colibriClass":"EndpointMessage","to":"carol","from":"mallory","msgPayload":{"n":"only-carol"}}`)
	c.wsMsgs.wait(t, "directed message", func(rec *recorder) bool {
		return rec.hasMsg(`"from":"bob"`) && rec.hasMsg(`only-carol`) && !rec.hasMsg(`mallory`)
	})
	c.send(`{"colibriClass":"EndpointStats","connectionQuality":100,"jvbRTT":12}`)
	a.wsMsgs.wait(t, "stats", func(rec *recorder) bool {
		return rec.hasMsg(`"colibriClass":"EndpointStats"`) && rec.hasMsg(`"from":"carol"`)
	})
	// Sequencing point: a message sent after the directed one reaches alice only after it would have.
	b.send(`{"colibriClass":"EndpointMessage","to":"alice","msgPayload":{"n":"marker"}}`)
	a.wsMsgs.wait(t, "marker", func(rec *recorder) bool { return rec.hasMsg("marker") })
	a.wsMsgs.mu.Lock()
	leaked := a.wsMsgs.hasMsg("only-carol")
	a.wsMsgs.mu.Unlock()
	if leaked {
		t.Fatal("a message to carol reached alice")
	}

	a.send(`{"colibriClass":"ReceiverVideoConstraints","lastN":3,"onStageSources":["bob-v0"],"constraints":{"bob-v0":{"maxHeight":360}}}`)
	a.send(`{"colibriClass":"SourceVideoTypeMessage","sourceName":"alice-v0","videoType":"DESKTOP"}`)
	a.send(`{"colibriClass":"ClientHello"}`)
	a.wsMsgs.wait(t, "second ServerHello", func(rec *recorder) bool {
		n := 0
		for _, m := range rec.msgs {
			if strings.Contains(m, "ServerHello") {
				n++
			}
		}
		return n == 2
	})
	s, err := tb.Settings("room", "alice")
	must(t, err)
	if s.LastN != 3 || len(s.OnStageSources) != 1 || s.Constraints["bob-v0"] != 360 || s.SourceVideoTypes["alice-v0"] != "desktop" {
		t.Fatalf("settings %+v", s)
	}
	a.close()
	b.close()
	c.close()
}

func TestConnectivityStatusWhenSenderGoesQuiet(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig()
	cfg.InactiveAfter = 300 * time.Millisecond
	tb := newTestBridge(t, cfg)
	a := newClient(t, tb, "room", "alice", clientOpts{})
	b := newClient(t, tb, "room", "bob", clientOpts{noSend: true})
	v := slotOf(t, b, "alice-v0")
	b.rec.wait(t, "media", func(r *recorder) bool { return r.count(v) > 10 })
	a.paused.Store(true)
	b.wsMsgs.wait(t, "inactive", func(r *recorder) bool {
		return r.hasMsg(`{"colibriClass":"EndpointConnectivityStatusChangeEvent","endpoint":"alice","active":"false"}`)
	})
	a.paused.Store(false)
	b.wsMsgs.wait(t, "active again", func(r *recorder) bool {
		return r.hasMsg(`{"colibriClass":"EndpointConnectivityStatusChangeEvent","endpoint":"alice","active":"true"}`)
	})
	a.close()
	b.close()
}

// TestNoVideoBeforeConstraints: a receiver that has not sent ReceiverVideoConstraints gets audio but no
// video (dialect §6.1); its first constraints turn video on, starting at a key frame.
func TestNoVideoBeforeConstraints(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "room", "alice", clientOpts{})
	b := newClient(t, tb, "room", "bob", clientOpts{noSend: true, noChannel: true})
	v := b.alloc.VideoSlots[0].SSRC
	aud := b.alloc.AudioSlots[0].SSRC
	b.rec.wait(t, "audio", func(r *recorder) bool { return r.count(aud) > 50 })
	if n := b.rec.n(v); n != 0 {
		t.Fatalf("%d video packets before constraints", n)
	}
	b.connectChannel(tb)
	b.rec.wait(t, "video", func(r *recorder) bool { return r.count(v) > 10 })
	checkDecodable(t, "video after constraints", b.rec.snapshot(v), true)
	a.close()
	b.close()
}
