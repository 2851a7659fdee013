package turn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestCoturnClient runs coturn's turnutils_uclient (a third-party TURN client; Debian package coturn)
// against the server on every transport it serves: UDP, TCP, TLS on the TURN TLS port, and TLS on the
// HTTPS port shared with the web server (ShareTLS), where the client sends no ALPN and the splitter
// decides by the first byte. Each allocates and relays to turnutils_peer on an allow-listed address;
// its relay to loopback is refused.
func TestCoturnClient(t *testing.T) {
	uclient, err := exec.LookPath("turnutils_uclient")
	if err != nil {
		t.Skip("turnutils_uclient not installed (apt-get install coturn)")
	}
	peerBin, err := exec.LookPath("turnutils_peer")
	if err != nil {
		t.Skip("turnutils_peer not installed")
	}
	peerPort := freeUDPPort(t, "127.0.0.3")
	s := newTLSTestServer(t, func(c *Config) { c.AllowPeers = []string{"127.0.0.3/32"} })
	cert := selfSigned(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The HTTPS server's configuration, as app gives it to ShareTLS.
	shared := s.ShareTLS(raw, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	web := &http.Server{Handler: http.NotFoundHandler()}
	go web.Serve(shared)
	t.Cleanup(func() { _ = web.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	peer := exec.CommandContext(ctx, peerBin, "-L", "127.0.0.3", "-p", strconv.Itoa(peerPort))
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = peer.Wait() })

	portOf := func(a net.Addr) string { return strconv.Itoa(a.(*net.TCPAddr).Port) }
	transports := []struct {
		name  string
		port  string
		extra []string
	}{
		{"udp", strconv.Itoa(int(addrPort(s.UDPAddr()).Port())), nil},
		{"tcp", portOf(s.TCPAddr()), []string{"-t"}},
		{"tls", portOf(s.TLSAddr()), []string{"-t", "-S"}},
		{"https port", portOf(raw.Addr()), []string{"-t", "-S"}},
	}
	run := func(peerIP, port string, extra ...string) string {
		args := append([]string{"-W", testSecret, "-u", "uclient", "-n", "20", "-m", "1", "-l", "120", "-z", "5", "-c",
			"-e", peerIP, "-r", strconv.Itoa(peerPort), "-p", port}, extra...)
		args = append(args, "127.0.0.1")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, uclient, args...).CombinedOutput()
		return string(out)
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			out := run("127.0.0.3", tr.port, tr.extra...)
			sent, recv := counts(out)
			if sent == 0 || recv < sent*9/10 {
				t.Errorf("relayed to the allowed peer: sent %d, received back %d\n%s", sent, recv, out)
			}
		})
	}
	before := s.refusals(ReasonLoopback)
	out := run("127.0.0.1", transports[0].port)
	if _, recv := counts(out); recv != 0 {
		t.Errorf("relayed to loopback: %d messages came back\n%s", recv, out)
	}
	if s.refusals(ReasonLoopback) == before {
		t.Errorf("loopback refusal not counted\n%s", out)
	}
}

var (
	sentRE = regexp.MustCompile(`tot_send_msgs=(\d+)`)
	recvRE = regexp.MustCompile(`tot_recv_msgs=(\d+)`)
)

// counts reads the totals turnutils_uclient prints at the end of a run.
func counts(out string) (sent, recv int) {
	if m := sentRE.FindAllStringSubmatch(out, -1); len(m) > 0 {
		sent, _ = strconv.Atoi(m[len(m)-1][1])
	}
	if m := recvRE.FindAllStringSubmatch(out, -1); len(m) > 0 {
		recv, _ = strconv.Atoi(m[len(m)-1][1])
	}
	return sent, recv
}

func freeUDPPort(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", fmt.Sprintf("%s:0", ip))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
