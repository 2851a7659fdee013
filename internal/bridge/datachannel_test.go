package bridge

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestDataChannel runs the bridge channel over SCTP for one client and over WebSocket for the other:
// ServerHello on open, constraints over the data channel turn video on, EndpointMessage both ways with
// "from" set, and a second data channel is refused without disturbing the first.
func TestDataChannel(t *testing.T) {
	tb := newTestBridge(t, testConfig())
	a := newClient(t, tb, "dc", "a", clientOpts{dataChannel: true})
	b := newClient(t, tb, "dc", "b", clientOpts{})

	// Video from b reaches a only after a's ReceiverVideoConstraints, which went over SCTP.
	slot := a.alloc.VideoSlots[0].SSRC
	a.rec.wait(t, "video on a's first slot", func(r *recorder) bool { return r.count(slot) > 10 })

	a.send(`{"colibriClass":"EndpointMessage","to":"b","msgPayload":{"n":1}}`)
	b.wsMsgs.wait(t, "a's message at b", func(r *recorder) bool {
		return r.hasMsg(`"from":"a"`) && r.hasMsg(`"msgPayload":{"n":1}`)
	})
	b.send(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"n":2}}`)
	a.wsMsgs.wait(t, "b's broadcast at a", func(r *recorder) bool {
		return r.hasMsg(`"from":"b"`) && r.hasMsg(`"msgPayload":{"n":2}`)
	})

	// A second data channel is closed by the bridge; the first keeps working.
	proto := "http://jitsi.org/protocols/colibri"
	second, err := a.pc.CreateDataChannel("second", &webrtc.DataChannelInit{Protocol: &proto})
	must(t, err)
	closed := make(chan struct{})
	second.OnClose(func() { close(closed) })
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("second data channel not closed by the bridge")
	}
	hellos := func(r *recorder) int {
		n := 0
		for _, m := range r.msgs {
			if strings.Contains(m, `"colibriClass":"ServerHello"`) {
				n++
			}
		}
		return n
	}
	a.send(`{"colibriClass":"ClientHello"}`)
	a.wsMsgs.wait(t, "ServerHello in reply to ClientHello", func(r *recorder) bool { return hellos(r) >= 2 })
	if a.wsMsgs.hasMsgLocked("closed:datachannel") {
		t.Fatal("first data channel closed")
	}
}
