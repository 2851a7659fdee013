package procstat

import (
	"os"
	"testing"
	"time"
)

func TestCPUTimeGrows(t *testing.T) {
	before, err := CPUTime(0)
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the clock-tick counter moves (10 ms ticks).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		x := 0
		for i := range 1_000_000 {
			x += i
		}
		_ = x
		if now, _ := CPUTime(os.Getpid()); now > before {
			return
		}
	}
	t.Fatal("CPU time did not grow")
}

func TestMissingProcess(t *testing.T) {
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}
