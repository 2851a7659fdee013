package bwe

import (
	"testing"
	"unsafe"
)

// The history is per receiver; 100 receivers hold 100 of them.
func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n > 24 {
		t.Fatalf("a send record takes %d bytes, want ≤ 24 (history %d KiB per receiver)", n, int(n)*historySize/1024)
	}
}
