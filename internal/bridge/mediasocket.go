package bridge

import (
	"fmt"
	"net"
	"runtime"
)

// The media port's sockets. One socket read by one goroutine forwards with at most one core: every
// sender's packets are decrypted, rewritten and encrypted for each receiver on that goroutine. With
// SO_REUSEPORT several sockets share the port, the kernel hashes each remote address to one of them
// (so one sender's packets keep their order on one reader), and each has a reader of its own
// (demux.go). Writes all go out on the first socket: any socket of the group sends from the same
// address.

// maxMediaReaders bounds Config.MediaReaders (and what GOMAXPROCS asks for).
const maxMediaReaders = 64

// mediaReaders is how many sockets the bridge opens on its media port.
func (b *Bridge) mediaReaders() int {
	n := b.cfg.MediaReaders
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), maxMediaReaders)
	}
	if !b.hostNet || !reusePortSupported {
		return 1
	}
	return n
}

// listenMedia opens the media port's sockets: the first is the bridge's socket for writes and pion's
// mux, the others only read. A port some other socket holds is refused even with SO_REUSEPORT (which
// would otherwise let a second bridge of the same user share it and take half of each other's
// media): the port is first bound alone, then released and bound by the group.
func (b *Bridge) listenMedia(addr *net.UDPAddr) ([]net.PacketConn, error) {
	n := b.mediaReaders()
	if n == 1 {
		c, err := b.net.ListenUDP("udp", addr)
		if err != nil {
			return nil, err
		}
		return []net.PacketConn{c}, nil
	}
	probe, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, err
	}
	at := probe.LocalAddr().String() // the port chosen when addr's is 0
	if err := probe.Close(); err != nil {
		return nil, err
	}
	conns := make([]net.PacketConn, 0, n)
	for range n {
		c, err := listenReusePort(at)
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, fmt.Errorf("media port %s: %w", at, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}
