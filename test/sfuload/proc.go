package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux for every
// architecture Go supports there).
const clockTicks = 100

// cpuTime returns the user + system CPU time of process pid (0 = this process) from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are space-separated.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: malformed", path)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

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
