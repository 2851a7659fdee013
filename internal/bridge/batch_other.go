//go:build !(linux && (amd64 || arm64))

package bridge

import (
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Without sendmmsg every packet goes through the endpoint's ICE connection.

func newSysBatchSocket(*net.UDPConn, prometheus.Observer) batchSocket { return nil }

type sendBatch struct {
	failures int
	readAt   time.Time
	queued   uint64
}

func (b *sendBatch) buf() []byte           { return nil }
func (b *sendBatch) full() bool            { return true }
func (b *sendBatch) add([]byte, *sockaddr) {}
func (b *sendBatch) flush()                {}
func (b *sendBatch) pending() bool         { return false }
func (b *sendBatch) observe(time.Time)     {}
