package main

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TestAnswerSTUN: the STUN responder LiveKit's server asks for its address answers a binding
// request with the address it was given and the asker's port (what LiveKit then advertises
// beside its own), and ignores what is not a binding request.
func TestAnswerSTUN(t *testing.T) {
	host := netip.MustParseAddr("198.18.0.1")
	addr, stop, err := answerSTUN(host)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("not stun")); err != nil {
		t.Fatal(err)
	}
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp := &stun.Message{Raw: buf[:n]}
	if err := resp.Decode(); err != nil {
		t.Fatal(err)
	}
	var mapped stun.XORMappedAddress
	if err := mapped.GetFrom(resp); err != nil {
		t.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	if resp.Type != stun.BindingSuccess || resp.TransactionID != req.TransactionID || !mapped.IP.Equal(host.AsSlice()) || mapped.Port != port {
		t.Errorf("answer %v %v, want a binding success for %v:%d", resp.Type, mapped, host, port)
	}
}
