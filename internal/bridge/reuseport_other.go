//go:build !linux

package bridge

import (
	"errors"
	"net"
)

const reusePortSupported = false

func listenReusePort(string) (net.PacketConn, error) {
	return nil, errors.New("SO_REUSEPORT is not used on this system")
}
