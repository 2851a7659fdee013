// Package parleyproc starts a `parley serve` process on loopback for the
// load tools (test/e2eeload, test/classroom) and reads its /metrics: a
// separate process, so that its CPU time is the server's alone.
package parleyproc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/test/internal/promtext"
)

// Server is a `parley serve` Start started.
type Server struct {
	// Base is its https://HOST:PORT; PID its process id.
	Base string
	PID  int

	cmd  *exec.Cmd
	dir  string
	done chan error
}

// Config is the configuration file every server gets: many logins from one
// address, and loopback candidates, which bots on the same machine need.
const Config = "[c2s]\nlogins-per-second = 1000\nlogin-burst = 1000\n\n[bridge]\ninclude-loopback = true\n"

// Start starts `parley serve` (bin, or cmd/parley built into a temporary
// folder: run from the repository's root) with HTTPS, XMPP, media and TURN
// on loopback and Config, followed by extraConfig (more TOML tables).
func Start(ctx context.Context, bin, extraConfig string) (*Server, error) {
	dir, err := os.MkdirTemp("", "parleyproc")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, done: make(chan error, 1)}
	if bin == "" {
		bin = filepath.Join(dir, "parley")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/parley").CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("go build ./cmd/parley (run from the repository's root): %v\n%s", err, out)
		}
	}
	conf := filepath.Join(dir, "parley.toml")
	if err := os.WriteFile(conf, []byte(Config+extraConfig), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.cmd = exec.Command(bin, "serve", "--config", conf, "--data", filepath.Join(dir, "data"), "--http", addr,
		"--xmpp", "127.0.0.1:0", "--media", "127.0.0.1:0", "--turn", "127.0.0.1:0", "--turn-tls", "off",
		"--metrics-allow", "127.0.0.0/8", "--log-level", "warn")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait(); logf.Close() }()
	s.Base, s.PID = "https://"+addr, s.cmd.Process.Pid
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := Insecure.Get(s.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("parley serve ended: %v\n%s", err, log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("parley serve did not answer /healthz in 30 s")
		}
	}
}

// Stop ends the server (SIGTERM, SIGKILL after 10 s) and removes its folder.
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// Insecure is an HTTP client that does not check certificates: the server's
// is self-signed.
var Insecure = &http.Client{Timeout: 10 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// Metrics reads the /metrics of the server at base (https://HOST:PORT, its
// certificate not checked): each metric's samples summed over their labels,
// and histograms' buckets by their upper bound (promtext).
func Metrics(base string) (map[string]float64, error) {
	return promtext.Get(Insecure, strings.TrimSuffix(base, "/")+"/metrics")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
