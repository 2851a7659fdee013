//go:build linux && (amd64 || arm64)

package bridge

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// sysBatchSocket sends with sendmmsg(2) on the bridge's UDP socket.
type sysBatchSocket struct {
	rc    syscall.RawConn
	v6    bool // AF_INET6 (dual-stack unless bound to an IPv6 address); IPv4 destinations are v4-mapped
	delay prometheus.Observer
}

func newSysBatchSocket(c *net.UDPConn, delay prometheus.Observer) batchSocket {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	domain, serr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) {
		domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil || serr != nil {
		return nil
	}
	switch domain {
	case unix.AF_INET:
		return &sysBatchSocket{rc: rc, delay: delay}
	case unix.AF_INET6:
		return &sysBatchSocket{rc: rc, v6: true, delay: delay}
	}
	return nil
}

func (s *sysBatchSocket) sockaddr(ap netip.AddrPort) (sa sockaddr, ok bool) {
	a := ap.Addr()
	if !s.v6 {
		if !a.Is4() {
			return sa, false
		}
		binary.NativeEndian.PutUint16(sa.raw[0:], unix.AF_INET)
		binary.BigEndian.PutUint16(sa.raw[2:], ap.Port())
		a4 := a.As4()
		copy(sa.raw[4:8], a4[:])
		sa.len = unix.SizeofSockaddrInet4
		return sa, true
	}
	binary.NativeEndian.PutUint16(sa.raw[0:], unix.AF_INET6)
	binary.BigEndian.PutUint16(sa.raw[2:], ap.Port())
	a16 := a.As16() // IPv4 becomes ::ffff:a.b.c.d
	copy(sa.raw[8:24], a16[:])
	sa.len = unix.SizeofSockaddrInet6
	return sa, true
}

// mmsghdr is struct mmsghdr on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// sendBatch is one goroutine's batch of encrypted packets and their destinations.
type sendBatch struct {
	sock  *sysBatchSocket
	n     int
	bufs  [maxBatch][1700]byte
	addrs [maxBatch]sockaddr
	iovs  [maxBatch]unix.Iovec
	hdrs  [maxBatch]mmsghdr
	// The RawConn callbacks and their in/out values: bound once so a flush does not allocate.
	writeFn  func(fd uintptr) bool
	tryFn    func(fd uintptr)
	again    bool // tryFn's sendmmsg would have blocked (or was interrupted)
	from     int
	sent     int
	errno    syscall.Errno
	failures int
	// readAt is when the incoming packet being forwarded was read off the socket (set by
	// Endpoint.receive, zero otherwise): the fan-out observes the time since in sock.delay once its last
	// copy is sent (Endpoint.fanOut); a flush with readAt still set (a relay's copies alone) does.
	readAt time.Time
	// queued counts the packets ever added (a fan-out tells whether it sent anything).
	queued uint64
}

func (s *sysBatchSocket) newBatch() *sendBatch {
	b := &sendBatch{sock: s}
	b.writeFn = b.write
	b.tryFn = func(fd uintptr) { b.again = !b.write(fd) }
	return b
}

// buf returns the buffer for the next packet; the batch must not be full.
func (b *sendBatch) buf() []byte { return b.bufs[b.n][:0] }

func (b *sendBatch) full() bool { return b.n == maxBatch }

func (b *sendBatch) pending() bool { return b.n > 0 }

// add queues pkt (which must be the slice buf returned, filled) for dst.
func (b *sendBatch) add(pkt []byte, dst *sockaddr) {
	i := b.n
	if len(pkt) > 0 && &pkt[0] != &b.bufs[i][0] {
		copy(b.bufs[i][:], pkt) // the encryption outgrew buf (it cannot at 1,600-byte packets)
	}
	b.queued++
	b.addrs[i] = *dst
	b.iovs[i] = unix.Iovec{Base: &b.bufs[i][0]}
	b.iovs[i].SetLen(len(pkt))
	b.hdrs[i] = mmsghdr{hdr: unix.Msghdr{
		Name:    &b.addrs[i].raw[0],
		Namelen: b.addrs[i].len,
		Iov:     &b.iovs[i],
		Iovlen:  1,
	}}
	b.n++
}

// flush sends the queued packets. A destination the kernel refuses (for example an unreachable network)
// loses that one packet, as a failed sendto would.
func (b *sendBatch) flush() {
	if !b.readAt.IsZero() {
		b.observe(b.readAt)
		b.readAt = time.Time{}
	}
	b.from = 0
	for b.from < b.n {
		b.sent, b.errno = 0, 0
		// RawConn.Write holds the socket's write lock, which would make the batches of every reader and
		// fan-out worker wait for each other (datagrams need no such order): the first attempt goes
		// through Control, which only keeps the descriptor open; Write waits when the socket is full.
		if err := b.sock.rc.Control(b.tryFn); err != nil {
			break // socket closed
		}
		if b.again {
			if err := b.sock.rc.Write(b.writeFn); err != nil {
				break
			}
		}
		switch {
		case b.errno != 0:
			b.from++ // skip the packet that failed
			b.failures++
		default:
			b.from += b.sent
		}
	}
	b.n = 0
}

// observe records the time since readAt in the forward-delay histogram.
func (b *sendBatch) observe(readAt time.Time) {
	if b.sock.delay != nil {
		b.sock.delay.Observe(time.Since(readAt).Seconds())
	}
}

// write is the RawConn.Write callback: one sendmmsg from b.from on. The socket is non-blocking, so the
// call cannot wait: a raw system call spares the scheduler's bookkeeping (and waking sysmon) per call.
func (b *sendBatch) write(fd uintptr) bool {
	r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[b.from])), uintptr(b.n-b.from),
		0, 0, 0)
	if errno == unix.EAGAIN {
		return false // wait until the socket is writable
	}
	if errno == unix.EINTR {
		return false
	}
	if errno != 0 {
		b.errno = errno
		return true
	}
	b.sent = int(r)
	return true
}
