package bridge

import (
	"errors"
	"net"
	"testing"
	"time"
)

// startOn starts a bridge whose media port is addr with the given number of readers.
func startOn(t *testing.T, addr string, readers int) (*Bridge, error) {
	t.Helper()
	cfg := testConfig()
	cfg.MediaAddr, cfg.MediaReaders = addr, readers
	b, err := New(cfg, nil, nil)
	must(t, err)
	if err := b.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, nil
}

// With two readers, datagrams from many remote addresses are spread by the kernel over both sockets
// of the port, and every one of them is taken; a second bridge cannot take the port, with or without
// SO_REUSEPORT.
func TestMediaPortReaders(t *testing.T) {
	if !reusePortSupported {
		t.Skip("no SO_REUSEPORT on this system: the bridge opens one socket")
	}
	b, err := startOn(t, "127.0.0.1:0", 2)
	must(t, err)
	if n := len(b.demux.readCounts()); n != 2 {
		t.Fatalf("%d readers, want 2", n)
	}
	port := b.MediaAddr().(*net.UDPAddr)
	const senders = 32
	for range senders {
		c, err := net.DialUDP("udp4", nil, port)
		must(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Write([]byte{0, 1, 0, 0}) // STUN-like: goes to pion's mux, which drops it
		must(t, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var counts []uint64
	for {
		counts = b.demux.readCounts()
		if counts[0]+counts[1] >= senders || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if counts[0]+counts[1] != senders || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("datagrams taken by each socket: %v, want %d spread over both", counts, senders)
	}

	for _, readers := range []int{1, 2} {
		if _, err := startOn(t, port.String(), readers); err == nil {
			t.Fatalf("a second bridge with %d readers took the port %s", readers, port)
		}
	}
}

// A bridge asked for one reader opens one socket; more than maxMediaReaders is refused.
func TestMediaPortOneReader(t *testing.T) {
	b, err := startOn(t, "127.0.0.1:0", 1)
	must(t, err)
	if n := len(b.demux.readCounts()); n != 1 {
		t.Fatalf("%d readers, want 1", n)
	}
	cfg := testConfig()
	cfg.MediaReaders = maxMediaReaders + 1
	if _, err := New(cfg, nil, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("media readers %d: %v", cfg.MediaReaders, err)
	}
}
