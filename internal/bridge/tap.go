package bridge

import "sync/atomic"

// ForwardTap sees the payload of every media packet the bridge is about to
// forward, as the bridge holds it after SRTP: the sending endpoint, the
// kind ("audio" or "video") and the RTP payload (with the VP8 payload
// descriptor). The payload is the bridge's buffer: copy what is kept. It
// runs on the sender's reader goroutine, so it must be quick.
//
// Tests use it to check what the bridge can read of end-to-end encrypted
// media (docs/e2ee.md): a plaintext marker the sender puts in every frame
// is found with encryption off and never with it on. A test may also alter
// the payload in place (its length stays) to play a hostile bridge
// (test/internal/hostile): what it writes is what this bridge's receivers
// get, retransmissions included (not other bridges of the conference).
type ForwardTap func(endpointID, kind string, payload []byte)

// forwardTap holds the installed tap; nil when none. Unset, the packet
// path pays one atomic load per packet for it.
type forwardTap = atomic.Pointer[ForwardTap]

// SetForwardTap installs fn as the bridge's tap, or removes the tap when
// fn is nil. It may be called while the bridge runs.
func (b *Bridge) SetForwardTap(fn ForwardTap) {
	if fn == nil {
		b.tap.Store(nil)
		return
	}
	b.tap.Store(&fn)
}

// tapForward hands a packet's payload to the tap, if one is installed.
func (e *Endpoint) tapForward(kind string, payload []byte) {
	if t := e.b.tap.Load(); t != nil {
		(*t)(e.id, kind, payload)
	}
}
