package bridge

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

const reusePortSupported = true

// listenReusePort binds a UDP socket to addr with SO_REUSEPORT set.
func listenReusePort(addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(context.Background(), "udp", addr)
}
