package impair

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// echoServer answers every datagram with itself and notes the addresses it came from.
type echoServer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	from map[netip.AddrPort]int // guarded by mu
}

func startEcho(t *testing.T) *echoServer {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{conn: conn, from: map[netip.AddrPort]int{}}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.from[from]++
			s.mu.Unlock()
			_, _ = conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return s
}

func startRelay(t *testing.T, server *net.UDPConn, up, down Profile, accept func(netip.AddrPort) bool) (*Relay, *net.UDPAddr) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRelay(ln, server.LocalAddr().(*net.UDPAddr), up, down, accept, 42)
	go r.Serve()
	t.Cleanup(func() { r.Close() })
	return r, ln.LocalAddr().(*net.UDPAddr)
}

// TestRelayLossAndDelay sends 1,000 datagrams through a relay that loses 10% on the way up and delays
// the way down by 40 ± 10 ms, and measures both at the client.
func TestRelayLossAndDelay(t *testing.T) {
	const n = 1000
	echo := startEcho(t)
	r, relayAddr := startRelay(t, echo.conn, Profile{Loss: 0.1},
		Profile{Delay: 40 * time.Millisecond, Jitter: 10 * time.Millisecond}, nil)
	c, err := net.DialUDP("udp", nil, relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	got := make(chan time.Duration, n)
	go func() {
		buf := make([]byte, 2048)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			if k == 8 {
				got <- time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(buf))))
			}
		}
	}()
	for i := range n {
		p := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(5 * time.Millisecond) // pace a little, so the socket buffers never overflow
		}
	}
	// Every datagram has reached the relay once its up counter says so; the ones it did not lose come back.
	deadline := time.After(10 * time.Second)
	for r.Up().Packets < n {
		select {
		case <-deadline:
			t.Fatalf("the relay read %d of %d datagrams", r.Up().Packets, n)
		case <-time.After(time.Millisecond):
		}
	}
	up := r.Up()
	if lost := float64(up.Lost) / n; lost < 0.07 || lost > 0.13 {
		t.Errorf("lost %d of %d on the way up, want about 10%%", up.Lost, n)
	}
	rtts := make([]time.Duration, 0, n-up.Lost)
	for range n - up.Lost {
		select {
		case d := <-got:
			rtts = append(rtts, d)
		case <-deadline:
			t.Fatalf("%d of %d echoes came back", len(rtts), n-up.Lost)
		}
	}
	slices.Sort(rtts)
	median := rtts[len(rtts)/2]
	t.Logf("lost %d of %d up; round trip %v..%v, median %v", up.Lost, n, rtts[0], rtts[len(rtts)-1], median)
	// The jitter's spread itself is TestDelayJitter's; here the delay (40 ± 10 ms down) must be applied,
	// and once. A loaded machine only adds to a round trip, so the shortest of some 900 tells: without
	// the delay it is under 1 ms, applied twice at least 60 ms.
	if rtts[0] < 30*time.Millisecond || rtts[0] >= 55*time.Millisecond {
		t.Errorf("shortest round trip %v, want from 30 ms (40 ± 10 ms down, once) to under 55 ms", rtts[0])
	}
	if median < 30*time.Millisecond {
		t.Errorf("median round trip %v, want the 40 ms delay in it", median)
	}
	if d := r.Down(); d.Lost != 0 || d.Packets != n-up.Lost {
		t.Errorf("down: %+v, want %d packets and none lost", d, n-up.Lost)
	}

	echo.mu.Lock()
	defer echo.mu.Unlock()
	if len(echo.from) != 1 {
		t.Fatalf("the server saw %d addresses, want the relay's one socket for this client", len(echo.from))
	}
	for a := range echo.from {
		if a.String() == c.LocalAddr().String() {
			t.Errorf("the server saw the client's own address %v", a)
		}
	}
}

// TestRelayRefuses: a client accept refuses gets nothing through and nothing back.
func TestRelayRefuses(t *testing.T) {
	echo := startEcho(t)
	r, relayAddr := startRelay(t, echo.conn, Profile{}, Profile{}, func(netip.AddrPort) bool { return false })
	c, err := net.DialUDP("udp", nil, relayAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 10 {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Refused() < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := r.Refused(); got != 10 {
		t.Fatalf("refused %d of 10", got)
	}
	echo.mu.Lock()
	defer echo.mu.Unlock()
	if len(echo.from) != 0 || r.Up().Packets != 0 {
		t.Errorf("refused datagrams reached the server: %v, up %+v", echo.from, r.Up())
	}
}
