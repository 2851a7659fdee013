package bridge

import (
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
)

// Batched sends. Every endpoint shares the bridge's one UDP socket, so the fan-out of one incoming packet
// (the same packet rewritten and encrypted for each receiver) can leave in one sendmmsg(2) call instead of
// one sendto(2) per receiver: the reader goroutine encrypts each receiver's copy straight into its own
// sendBatch and flushes it once per incoming packet. A receiver is sent to this way once its ICE pair is
// selected (Endpoint.dst, updated when the pair changes); pion/ice's keepalives and consent checks go on
// as before on the same socket. Where the socket is not a kernel UDP socket (Pion's vnet in tests) or the
// platform has no sendmmsg, packets go through the endpoint's ICE connection one by one.

// maxBatch is the most packets one sendmmsg call carries; a larger fan-out takes several calls.
const maxBatch = 32

// sockaddr is a destination in the kernel's sockaddr_in / sockaddr_in6 form for the bridge's socket.
type sockaddr struct {
	raw [28]byte
	len uint32
}

// batchSocket sends many datagrams in one system call (sendmmsg on Linux).
type batchSocket interface {
	// sockaddr converts a destination for this socket; ok=false when the socket cannot reach it (an
	// IPv6 destination on an IPv4 socket).
	sockaddr(ap netip.AddrPort) (sa sockaddr, ok bool)
	// newBatch returns an empty batch for one goroutine's use.
	newBatch() *sendBatch
}

// newBatchSocket returns the batch sender for the bridge's media socket, or nil when it has none. delay
// observes each incoming packet's time in the bridge at its first flush (sendBatch.readAt).
func newBatchSocket(c net.PacketConn, delay prometheus.Observer) batchSocket {
	uc, ok := c.(*net.UDPConn)
	if !ok {
		return nil
	}
	return newSysBatchSocket(uc, delay)
}

// dstFromAddr converts a transport address (an ICE pair's remote) for the batch socket.
func (b *Bridge) dstFromAddr(a net.Addr) *sockaddr {
	if b.batch == nil {
		return nil
	}
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return nil
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return nil
	}
	sa, ok := b.batch.sockaddr(netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port)))
	if !ok {
		return nil
	}
	return &sa
}

// setDst points batched sends at the endpoint's selected ICE pair, and has the demultiplexer hand the
// datagrams from there straight to the endpoint.
func (e *Endpoint) setDst(remote net.Addr) {
	e.dst.Store(e.b.dstFromAddr(remote))
	if e.b.demux != nil {
		e.b.demux.route(e, remote)
	}
}
