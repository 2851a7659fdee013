package turn

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

func stunRequest(method uint16, withIntegrity bool) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], method)
	binary.BigEndian.PutUint32(b[4:8], stunMagicCookie)
	copy(b[8:20], "transaction!")
	if withIntegrity {
		attr := make([]byte, 4+20)
		binary.BigEndian.PutUint16(attr[0:2], attrMessageIntegrty)
		binary.BigEndian.PutUint16(attr[2:4], 20)
		b = append(b, attr...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-20))
	return b
}

func TestUnauthenticatedRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"allocate without integrity", stunRequest(0x0003, false), true},
		{"binding request", stunRequest(0x0001, false), true},
		{"allocate with integrity", stunRequest(0x0003, true), false},
		{"success response", stunRequest(0x0103, false), false},
		{"send indication", stunRequest(0x0016, false), false},
		{"channel data", []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, false},
		{"short", []byte{0, 1, 0}, false},
		{"no magic cookie", append([]byte{0, 3, 0, 0, 1, 2, 3, 4}, make([]byte, 12)...), false},
	} {
		if got := unauthenticatedRequest(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A flood of unauthenticated Allocate requests from one source is answered
// only up to the burst; another source is still answered, and authenticated
// traffic is never held back.
func TestUnauthenticatedFloodCapped(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.UnauthenticatedPerSecond, c.UnauthenticatedBurst = 0.001, 5 })
	addr := s.UDPAddr().String()
	count := func(from string, sent int) int {
		c, err := net.ListenPacket("udp", from+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range sent {
			c.WriteTo(stunRequest(0x0003, false), mustResolve(t, addr))
		}
		// Then a request that carries MESSAGE-INTEGRITY (a bogus one): it is
		// not limited and is always answered, after everything before it
		// (pion handles one socket's packets in order).
		marker := stunRequest(0x0003, true)
		copy(marker[8:20], "marker-txid!")
		c.WriteTo(marker, mustResolve(t, addr))
		got := 0
		buf := make([]byte, 1500)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("waiting for the marker's answer: %v (%d answers before)", err, got)
			}
			if n >= 20 && string(buf[8:20]) == "marker-txid!" {
				return got
			}
			got++
		}
	}
	if got := count("127.0.0.1", 50); got != 5 {
		t.Fatalf("50 unauthenticated requests from one source got %d answers, want the burst of 5", got)
	}
	if got := count("127.0.0.3", 3); got != 3 {
		t.Fatalf("another source got %d answers, want 3", got)
	}
	if v := s.refusals(ReasonFlood); v != 45 {
		t.Fatalf("flood refusals counted: %v", v)
	}
}

func mustResolve(t *testing.T, a string) *net.UDPAddr {
	t.Helper()
	u, err := net.ResolveUDPAddr("udp", a)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
