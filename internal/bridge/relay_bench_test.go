package bridge

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRelay measures what one packet costs to cross a relay between two bridges in this process:
// bridge A encrypts and sends a local sender's packet over the relay (relayOut and the flush of the
// sender's send batch, as the packet path does, here with no local receiver's copy beside it),
// bridge B's relay reader receives it, decrypts it and runs the sender side of its packet path for the
// relayed endpoint (no receiver subscribed: the fan-out after it is what any sender's packet costs). It
// reports the process's CPU time (both bridges, user and system) per packet B received, and the share
// lost on the loopback. Packets leave at 20,000 a second.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{100, 1200} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) { benchRelay(b, size) })
	}
}

func benchRelay(b *testing.B, size int) {
	bridges := make([]*Bridge, 2)
	for i, id := range []string{"bridge-a", "bridge-b"} {
		cfg := testConfig()
		cfg.ID, cfg.ConnectTimeout = id, time.Minute
		br, err := New(cfg, nil, nil)
		must(b, err)
		must(b, br.Start())
		b.Cleanup(func() { _ = br.Close() })
		_, err = br.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: "local-" + id})
		must(b, err)
		bridges[i] = br
	}
	ba, bb := bridges[0], bridges[1]
	da, err := ba.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: bb.ID(), Controlling: true})
	must(b, err)
	db, err := bb.AllocateRelay(RelayRequest{ConferenceID: "room", Peer: ba.ID(), Remote: da})
	must(b, err)
	must(b, ba.ConnectRelay(RelayConnect{ConferenceID: "room", Peer: bb.ID(), Remote: *db}))
	const ssrc = 4321
	must(b, bb.UpdateRelay(RelayEndpoints{ConferenceID: "room", Peer: ba.ID(),
		Endpoints: []RelayedEndpoint{{ID: "sender", Sources: []Source{{Kind: KindAudio, SSRC: ssrc, Name: "sender-a0"}}}}}))
	ra, err := ba.relayOf("room", bb.ID())
	must(b, err)
	rb, err := bb.relayOf("room", ba.ID())
	must(b, err)
	deadline := time.Now().Add(10 * time.Second)
	for !ra.ready.Load() || !rb.ready.Load() {
		if time.Now().After(deadline) {
			b.Fatal("relay did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := ba.conference("room", false)
	must(b, err)
	sender := c.endpoint("local-bridge-a") // whose reader's send batch the copies join, as in forwardFrom

	pkt := make([]byte, 12+size)
	pkt[0], pkt[1] = 0x80, PayloadTypeOpus
	binary.BigEndian.PutUint32(pkt[8:], ssrc)
	for i := 12; i < len(pkt); i++ {
		pkt[i] = byte(i)
	}
	const perTick = 20 // 20 packets per millisecond
	base := rb.received.Load()
	cpu0 := cpuTime()
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < b.N; i++ {
		if i%perTick == 0 {
			<-tick.C
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i)*960)
		if bt := c.relayOut(pkt, sender, nil); bt != nil {
			flushPending(bt)
		}
	}
	// Wait until B has read what it will get.
	last := rb.received.Load()
	for {
		time.Sleep(20 * time.Millisecond)
		n := rb.received.Load()
		if n == last {
			break
		}
		last = n
	}
	b.StopTimer()
	got := last - base
	if got == 0 {
		b.Fatal("nothing crossed the relay")
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(got), "cpu-ns/pkt")
	b.ReportMetric(100*(1-float64(got)/float64(b.N)), "lost-%")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
