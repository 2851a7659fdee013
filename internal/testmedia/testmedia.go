// Package testmedia holds pre-encoded media for synthetic participants
// (`parley bot`), load tools and tests: three VP8 simulcast layers (180p,
// 360p, 720p) of one test pattern, each with three temporal layers (L1T3,
// as browsers send), and an Opus tone, about 2 s long, to be looped.
// Frames are decoded from the embedded IVF and Ogg files once.
package testmedia

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

//go:embed video-180p.ivf video-360p.ivf video-720p.ivf audio.ogg
var files embed.FS

// Frame durations of the fixtures.
const (
	VideoFrameDuration = time.Second / 30
	AudioFrameDuration = 20 * time.Millisecond
)

// The video's temporal structure: libvpx's three-layer pattern of period 4,
// temporal layer ids 0 2 1 2. A TL0 frame references the previous TL0
// frame; a TL1 frame only TL0; the TL2 frame after a TL0 frame only TL0,
// the one after a TL1 frame that TL1 frame too. So every TL1 frame and
// every other TL2 frame is a layer sync frame (RFC 7741 §4.2, Y bit): a
// receiver that had only lower layers can decode from it. Key frames come
// at multiples of the period, and every layer has a multiple of it in
// frames, so looping keeps the pattern. README.md says how the fixtures
// were made and checked with a real decoder.
const TemporalPeriod = 4

var temporalPattern = [TemporalPeriod]struct {
	tid  uint8
	sync bool
}{{0, false}, {2, true}, {1, true}, {2, false}}

// Temporal returns frame i's temporal layer id and whether it is a layer
// sync frame.
func Temporal(i int) (tid uint8, sync bool) {
	p := temporalPattern[i%TemporalPeriod]
	return p.tid, p.sync
}

// Media is the decoded fixtures.
type Media struct {
	// Layers holds the VP8 frames of each simulcast layer, lowest first;
	// every layer has the same number of frames.
	Layers [3][][]byte
	// KeyFrames lists the frame indexes that are key frames in every layer.
	KeyFrames []int
	// Audio holds Opus packets of 20 ms.
	Audio [][]byte
}

var (
	once    sync.Once
	loaded  *Media
	errLoad error
)

// Load decodes the fixtures (once per process).
func Load() (*Media, error) {
	once.Do(func() { loaded, errLoad = load() })
	return loaded, errLoad
}

func load() (*Media, error) {
	m := &Media{}
	for i, name := range []string{"video-180p.ivf", "video-360p.ivf", "video-720p.ivf"} {
		frames, keys, err := readIVF(name)
		if err != nil {
			return nil, err
		}
		m.Layers[i] = frames
		if i == 0 {
			m.KeyFrames = keys
		} else if len(frames) != len(m.Layers[0]) || fmt.Sprint(keys) != fmt.Sprint(m.KeyFrames) {
			return nil, fmt.Errorf("testmedia: %s is not aligned with the other layers", name)
		}
		if len(frames)%TemporalPeriod != 0 {
			return nil, fmt.Errorf("testmedia: %s has %d frames, not a multiple of the temporal period", name, len(frames))
		}
		for _, k := range keys {
			if k%TemporalPeriod != 0 {
				return nil, fmt.Errorf("testmedia: %s has a key frame at %d, not at the start of a temporal period", name, k)
			}
		}
	}
	var err error
	if m.Audio, err = readOgg("audio.ogg"); err != nil {
		return nil, err
	}
	return m, nil
}

func readIVF(name string) ([][]byte, []int, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("testmedia: %s: %w", name, err)
	}
	var frames [][]byte
	var keys []int
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("testmedia: %s: %w", name, err)
		}
		if len(f) > 0 && f[0]&1 == 0 { // VP8 payload header: P bit clear = key frame (RFC 6386 §9.1)
			keys = append(keys, len(frames))
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 || len(keys) == 0 || keys[0] != 0 {
		return nil, nil, fmt.Errorf("testmedia: %s must start with a key frame", name)
	}
	return frames, keys, nil
}

func readOgg(name string) ([][]byte, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	r, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("testmedia: %s: %w", name, err)
	}
	var out [][]byte
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("testmedia: %s: %w", name, err)
		}
		if bytes.HasPrefix(page, []byte("OpusHead")) || bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		out = append(out, page)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("testmedia: %s has no audio", name)
	}
	return out, nil
}
