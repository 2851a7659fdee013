package testmedia

import "testing"

func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n := len(m.Layers[0])
	if n != 60 || len(m.KeyFrames) != 2 || m.KeyFrames[1] != 30 {
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
}
