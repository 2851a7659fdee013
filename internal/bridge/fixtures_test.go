package bridge

import (
	"errors"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// fixtures are the pre-encoded media under testdata (see testdata/README.md), loaded once per test binary.
type fixtures struct {
	video     [][]byte // VP8 frames at 30 fps
	keyframes []int    // indexes of key frames in video
	audio     [][]byte // Opus packets of 20 ms
}

var loadFixtures = sync.OnceValues(func() (*fixtures, error) {
	f := &fixtures{}
	vf, err := os.Open("testdata/video.ivf")
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	ivf, _, err := ivfreader.NewWith(vf)
	if err != nil {
		return nil, err
	}
	for {
		frame, _, err := ivf.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(frame) > 0 && frame[0]&0x01 == 0 {
			f.keyframes = append(f.keyframes, len(f.video))
		}
		f.video = append(f.video, frame)
	}
	af, err := os.Open("testdata/audio.ogg")
	if err != nil {
		return nil, err
	}
	defer af.Close()
	ogg, _, err := oggreader.NewWith(af)
	if err != nil {
		return nil, err
	}
	for {
		page, hdr, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.GranulePosition == 0 { // OpusHead / OpusTags
			continue
		}
		f.audio = append(f.audio, page)
	}
	if len(f.video) == 0 || len(f.audio) == 0 || len(f.keyframes) == 0 || f.keyframes[0] != 0 {
		return nil, errors.New("fixtures: empty or not starting with a key frame")
	}
	return f, nil
})

func mustFixtures(t testing.TB) *fixtures {
	t.Helper()
	f, err := loadFixtures()
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	return f
}

func TestFixtures(t *testing.T) {
	f := mustFixtures(t)
	if len(f.video) < 60 || len(f.keyframes) < 2 || len(f.audio) < 100 {
		t.Fatalf("fixtures too short: %d frames, %d key frames, %d audio packets", len(f.video), len(f.keyframes), len(f.audio))
	}
}
