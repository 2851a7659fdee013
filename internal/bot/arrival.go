package bot

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/pion/transport/v5/packetio"
)

// Pion keeps back the packets of an SSRC that no m-line names yet: a slot
// of the bridge's whose packets come before its sources map (and so before
// the m-line the bot adds for it) waits in that SSRC's SRTP read buffer,
// all of it, until the track starts, and then comes out at once. On a
// starved machine that was 2–13 s after the map, and the packets read then
// had been sent 4–38 s before: audio of epochs the end-to-end receiver had
// long dropped, counted as frames that failed to decrypt while no epoch
// change was in progress (docs/e2ee.md, known gaps). A receiver would have
// thrown such packets away (a jitter buffer has no use for audio seconds
// old), and the bot bounds what it holds of an unmapped slot itself to the
// last pendingFor (recv.go). So the bot's SRTP read buffers note when each
// packet arrived (arrivalBuffer, Pion's SettingEngine.BufferFactory), and
// of what a track reads first, the packets that waited longer than
// pendingFor are dropped unread (inbound.arrived), up to the first that
// did not.

// SRTP and SRTCP read buffer limits, Pion's own.
const (
	srtpBufferSize  = 1000 * 1000
	srtcpBufferSize = 100 * 1000
)

// arrivalBuffer is one SRTP (or SRTCP) stream's read buffer: Pion's packet
// buffer that also keeps when each packet in it arrived, and when the one
// read last did.
type arrivalBuffer struct {
	buf *packetio.Buffer
	now func() time.Time

	mu   sync.Mutex
	at   []time.Time // guarded by mu: arrival of each packet in buf, oldest first
	read time.Time   // guarded by mu: arrival of the packet read last
}

func newArrivalBuffer(limit int, now func() time.Time) *arrivalBuffer {
	if now == nil {
		now = time.Now
	}
	b := &arrivalBuffer{buf: packetio.NewBuffer(), now: now}
	b.buf.SetLimitSize(limit)
	return b
}

func (b *arrivalBuffer) Write(p []byte) (int, error) { return b.WriteWithAttributes(p, nil) }

// WriteWithAttributes stores one packet (Pion's SRTP session calls it as
// the packet arrives).
func (b *arrivalBuffer) WriteWithAttributes(p []byte, attrs packetio.Attributes) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p, attrs)
	if err == nil {
		b.at = append(b.at, b.now())
	}
	return n, err
}

func (b *arrivalBuffer) Read(p []byte) (int, error) {
	n, _, err := b.ReadWithAttributes(p, nil)
	return n, err
}

// ReadWithAttributes takes the oldest packet, waiting for one.
func (b *arrivalBuffer) ReadWithAttributes(p []byte, attrs packetio.Attributes) (int, packetio.Attributes, error) {
	n, attrs, err := b.buf.Read(p, attrs)
	if err == nil || errors.Is(err, io.ErrShortBuffer) { // a short read consumes the packet too
		b.mu.Lock()
		if len(b.at) > 0 {
			b.read = b.at[0]
			b.at = b.at[1:]
		}
		b.mu.Unlock()
	}
	return n, attrs, err
}

// lastArrival is when the packet read last arrived (zero before any).
func (b *arrivalBuffer) lastArrival() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

func (b *arrivalBuffer) SetReadDeadline(t time.Time) error { return b.buf.SetReadDeadline(t) }

func (b *arrivalBuffer) Close() error { return b.buf.Close() }

// arrivals holds a session's SRTP read buffers by SSRC, for the tracks to
// look up.
type arrivals struct {
	mu  sync.Mutex
	rtp map[uint32]*arrivalBuffer // guarded by mu
}

func newArrivals() *arrivals { return &arrivals{rtp: map[uint32]*arrivalBuffer{}} }

// factory is Pion's SettingEngine.BufferFactory.
func (a *arrivals) factory(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	if kind == packetio.RTCPBufferPacket {
		return newArrivalBuffer(srtcpBufferSize, nil)
	}
	b := newArrivalBuffer(srtpBufferSize, nil)
	a.mu.Lock()
	a.rtp[ssrc] = b
	a.mu.Unlock()
	return b
}

// of returns the read buffer of an SSRC's SRTP stream, nil when none.
func (a *arrivals) of(ssrc uint32) *arrivalBuffer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rtp[ssrc]
}
