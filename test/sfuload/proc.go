package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// server is an SFU process the tool started.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer starts name with args in its own process group, logging to logPath; readyLine, when not
// nil, receives each stdout line until it returns true.
func startServer(name string, args []string, logPath string, readyLine func(string) bool) (*server, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	var out io.ReadCloser
	if readyLine != nil {
		if out, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if readyLine != nil {
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			signalled := false
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				if !signalled && readyLine(sc.Text()) {
					signalled = true
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-s.done:
			return nil, fmt.Errorf("%s exited before it was ready (log: %s)", name, logPath)
		case <-time.After(15 * time.Second):
			s.stop()
			return nil, fmt.Errorf("%s not ready after 15 s (log: %s)", name, logPath)
		}
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM to the process group, then SIGKILL after 5 s, and waits for the process.
func (s *server) stop() {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-s.done
}
