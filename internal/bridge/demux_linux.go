//go:build linux && (amd64 || arm64)

package bridge

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysRecvBatch receives with recvmmsg(2): every datagram waiting on the socket, up to maxRecv, in one
// system call.
type sysRecvBatch struct {
	rc    syscall.RawConn
	n     int
	bufs  [maxRecv][recvMTU]byte
	names [maxRecv][unix.SizeofSockaddrInet6]byte
	iovs  [maxRecv]unix.Iovec
	hdrs  [maxRecv]mmsghdr
	// The RawConn.Read callback and its result, bound once so a receive does not allocate.
	readFn func(fd uintptr) bool
	errno  syscall.Errno
}

func newSysRecvBatch(c *net.UDPConn) recvBatch {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	r := &sysRecvBatch{rc: rc}
	for i := range r.hdrs {
		r.iovs[i] = unix.Iovec{Base: &r.bufs[i][0]}
		r.iovs[i].SetLen(recvMTU)
		r.hdrs[i].hdr.Iov = &r.iovs[i]
		r.hdrs[i].hdr.Iovlen = 1
		r.hdrs[i].hdr.Name = &r.names[i][0]
	}
	r.readFn = r.read
	return r
}

func (r *sysRecvBatch) recv() (int, error) {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		r.hdrs[i].hdr.Flags = 0
		r.hdrs[i].n = 0
	}
	r.n, r.errno = 0, 0
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err // closed
	}
	switch r.errno {
	case 0:
		return r.n, nil
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.ENOBUFS, unix.ENOMEM:
		return 0, nil // an ICMP error reported on the socket, or a transient shortage
	}
	return 0, r.errno
}

// read is the RawConn.Read callback: one recvmmsg, without blocking (the socket is non-blocking; false
// waits for it to become readable). As with sendmmsg, a raw system call: it cannot wait.
func (r *sysRecvBatch) read(fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), maxRecv, 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			r.n = int(n)
		default:
			r.errno = errno
		}
		return true
	}
}

// datagram returns datagram i; a truncated one (longer than recvMTU) or one from an unknown address
// family comes back empty.
func (r *sysRecvBatch) datagram(i int) ([]byte, netip.AddrPort) {
	h := &r.hdrs[i]
	if h.hdr.Flags&unix.MSG_TRUNC != 0 || h.n == 0 {
		return nil, netip.AddrPort{}
	}
	name := &r.names[i]
	var a netip.Addr
	switch binary.NativeEndian.Uint16(name[0:]) {
	case unix.AF_INET:
		a = netip.AddrFrom4([4]byte(name[4:8]))
	case unix.AF_INET6:
		a = netip.AddrFrom16([16]byte(name[8:24])).Unmap()
	default:
		return nil, netip.AddrPort{}
	}
	return r.bufs[i][:h.n], netip.AddrPortFrom(a, binary.BigEndian.Uint16(name[2:]))
}
