package testmedia

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n := len(m.Layers[0])
	if n != 64 || len(m.KeyFrames) != 2 || m.KeyFrames[1] != 32 {
		t.Fatalf("%d frames, key frames %v", n, m.KeyFrames)
	}
	// Higher layers carry more bits per frame.
	size := func(l int) (s int) {
		for _, f := range m.Layers[l] {
			s += len(f)
		}
		return
	}
	if !(size(0) < size(1) && size(1) < size(2)) {
		t.Fatalf("layer sizes %d %d %d", size(0), size(1), size(2))
	}
	if len(m.Audio) < 90 {
		t.Fatalf("%d audio packets", len(m.Audio))
	}
	// TL0 frames carry the most bits (they are the references), and each
	// TL0 frame is bigger than the TL2 frame after it.
	for l := range m.Layers {
		for i := TemporalPeriod; i+1 < n; i += TemporalPeriod {
			if len(m.Layers[l][i]) <= len(m.Layers[l][i+1]) {
				t.Errorf("layer %d: TL0 frame %d (%d bytes) not bigger than the TL2 frame after it (%d)", l, i, len(m.Layers[l][i]), len(m.Layers[l][i+1]))
			}
		}
	}
}

// TestTemporalStructure decodes the fixtures with libvpx's decoder (vpxdec,
// Debian's vpx-tools) to check what Temporal says: dropping the frames of
// the upper temporal layers, and switching up at a sync frame, leaves the
// remaining frames decoding exactly as in the whole stream; switching up to
// TL2 at a frame that is not a sync frame does not.
func TestTemporalStructure(t *testing.T) {
	vpxdec, err := exec.LookPath("vpxdec")
	if err != nil {
		t.Skip("vpxdec not installed (Debian: apt-get install vpx-tools)")
	}
	for _, name := range []string{"video-180p.ivf", "video-360p.ivf", "video-720p.ivf"} {
		data, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		frames := ivfFrames(t, data)
		all := make([]int, len(frames))
		for i := range all {
			all[i] = i
		}
		whole := decode(t, vpxdec, data[:32], frames, all)
		// keep[i] is the highest temporal layer kept from frame `from` on;
		// below, lower.
		check := func(lower, upper uint8, from int, want bool) {
			t.Helper()
			var sel []int
			for i := range frames {
				tid, _ := Temporal(i)
				if limit := map[bool]uint8{true: lower, false: upper}[i < from]; tid <= limit {
					sel = append(sel, i)
				}
			}
			got := decode(t, vpxdec, data[:32], frames, sel)
			same := true
			for j, i := range sel {
				if i >= from && got[j] != whole[i] {
					same = false
				}
			}
			if same != want {
				t.Errorf("%s: TL%d up to frame %d, TL%d from there: decodes as the whole stream %v, want %v", name, lower, from, upper, same, want)
			}
		}
		check(0, 0, 0, true)                                     // TL0 alone
		check(1, 1, 0, true)                                     // TL0 and TL1
		for i := TemporalPeriod + 1; i < 2*TemporalPeriod; i++ { // one period, after a first TL0 frame that is not a key frame
			tid, sync := Temporal(i)
			if tid == 0 {
				continue
			}
			check(0, tid, i, sync) // up from TL0 at frame i: right only at a sync frame
			if tid == 2 {
				check(1, 2, i, true) // up from TL1 to TL2: any TL2 frame
			}
		}
	}
}

// ivfFrames splits an IVF file (32-byte header, then 12-byte frame headers)
// into its frames, headers included.
func ivfFrames(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for off := 32; off < len(data); {
		if off+12 > len(data) {
			t.Fatal("truncated IVF")
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		out = append(out, data[off:off+12+n])
		off += 12 + n
	}
	return out
}

// decode writes the selected frames as an IVF file, decodes it with vpxdec
// into one file per frame, and returns each decoded frame's hash.
func decode(t *testing.T, vpxdec string, header []byte, frames [][]byte, sel []int) [][32]byte {
	t.Helper()
	dir := t.TempDir()
	h := bytes.Clone(header)
	binary.LittleEndian.PutUint32(h[24:], uint32(len(sel)))
	buf := bytes.NewBuffer(h)
	for _, i := range sel {
		buf.Write(frames[i])
	}
	in := filepath.Join(dir, "in.ivf")
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(vpxdec, "--i420", "-o", filepath.Join(dir, "f-%4.yuv"), in).CombinedOutput(); err != nil {
		t.Fatalf("vpxdec: %v\n%s", err, out)
	}
	var hashes [][32]byte
	for j := range sel {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f-%04d.yuv", j+1)))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, sha256.Sum256(b))
	}
	return hashes
}
