//go:build !(linux && (amd64 || arm64))

package bridge

import "net"

// Without recvmmsg the demultiplexer reads one datagram per system call (connRecv).

func newSysRecvBatch(*net.UDPConn) recvBatch { return nil }
