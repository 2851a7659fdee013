package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// The media a LiveKit sender publishes is `parley bot`'s: the fixtures of
// internal/testmedia (three VP8 simulcast layers of one test pattern, 180p,
// 360p and 720p at 30 fps, and an Opus tone), read from that folder at run
// time because another module cannot embed or import them.

// Frame durations of the fixtures.
const (
	videoFrameDuration = time.Second / 30
	audioFrameDuration = 20 * time.Millisecond
)

// fixtures is the decoded media.
type fixtures struct {
	layers    [3][][]byte // VP8 frames of each layer, lowest first, aligned
	keyFrames []int       // frame indexes that are key frames in every layer
	heights   [3]int
	widths    [3]int
	audio     [][]byte // Opus packets of 20 ms
}

// loadFixtures reads internal/testmedia's files from dir.
func loadFixtures(dir string) (*fixtures, error) {
	fx := &fixtures{}
	for i, name := range []string{"video-180p.ivf", "video-360p.ivf", "video-720p.ivf"} {
		frames, keys, err := readIVF(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		fx.layers[i] = frames
		fx.widths[i], fx.heights[i], _ = keyFrameSize(frames[0])
		if i == 0 {
			fx.keyFrames = keys
		} else if len(frames) != len(fx.layers[0]) || fmt.Sprint(keys) != fmt.Sprint(fx.keyFrames) {
			return nil, fmt.Errorf("media: %s is not aligned with the other layers", name)
		}
	}
	var err error
	if fx.audio, err = readOgg(filepath.Join(dir, "audio.ogg")); err != nil {
		return nil, err
	}
	return fx, nil
}

// bitrate is layer l's mean bit rate in bit/s, what a sender declares.
func (fx *fixtures) bitrate(l int) uint32 {
	var n int
	for _, f := range fx.layers[l] {
		n += len(f)
	}
	return uint32(float64(n*8) / (float64(len(fx.layers[l])) * videoFrameDuration.Seconds()))
}

func readIVF(path string) ([][]byte, []int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("media: %w", err)
	}
	r, _, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("media: %s: %w", path, err)
	}
	var frames [][]byte
	var keys []int
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("media: %s: %w", path, err)
		}
		if len(f) > 0 && f[0]&1 == 0 { // VP8 frame tag: P bit clear = key frame (RFC 6386 §9.1)
			keys = append(keys, len(frames))
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 || len(keys) == 0 || keys[0] != 0 {
		return nil, nil, fmt.Errorf("media: %s must start with a key frame", path)
	}
	return frames, keys, nil
}

func readOgg(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	r, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("media: %s: %w", path, err)
	}
	var out [][]byte
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("media: %s: %w", path, err)
		}
		if bytes.HasPrefix(page, []byte("OpusHead")) || bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		out = append(out, page)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("media: %s has no audio", path)
	}
	return out, nil
}

// layerSource is a LiveKit sample provider for one simulcast layer: the
// layer's frames in a loop at 30 fps (the SDK paces by the samples'
// durations and skips the writes while dynacast disables the layer). A
// keyframe request for the layer makes its next frame the fixtures' next
// key frame, as a browser's encoder answers a PLI.
type layerSource struct {
	fx       *fixtures
	layer    int
	next     int
	keyWant  atomic.Bool  // a PLI or FIR arrived since the last key frame
	requests atomic.Int64 // PLIs and FIRs received
	frames   atomic.Int64 // frames handed to the SDK
}

func (s *layerSource) NextSample(ctx context.Context) (media.Sample, error) {
	if err := ctx.Err(); err != nil {
		return media.Sample{}, err
	}
	if s.keyWant.Swap(false) {
		s.next = keyFrameFrom(s.fx.keyFrames, s.next)
	}
	frame := s.fx.layers[s.layer][s.next]
	s.next = (s.next + 1) % len(s.fx.layers[s.layer])
	s.frames.Add(1)
	return media.Sample{Data: frame, Duration: videoFrameDuration}, nil
}

// keyFrameRequested is called for each PLI or FIR of the layer.
func (s *layerSource) keyFrameRequested() {
	s.requests.Add(1)
	s.keyWant.Store(true)
}

func (s *layerSource) OnBind() error   { return nil }
func (s *layerSource) OnUnbind() error { return nil }
func (s *layerSource) Close() error    { return nil }

// keyFrameFrom returns i when it is a key frame, else the first key frame
// after it, wrapping around.
func keyFrameFrom(keys []int, i int) int {
	for _, k := range keys {
		if k >= i {
			return k
		}
	}
	return keys[0]
}

// audioSource is the Opus tone in a loop, 20 ms a packet.
type audioSource struct {
	fx   *fixtures
	next int
}

func (s *audioSource) NextSample(ctx context.Context) (media.Sample, error) {
	if err := ctx.Err(); err != nil {
		return media.Sample{}, err
	}
	p := s.fx.audio[s.next]
	s.next = (s.next + 1) % len(s.fx.audio)
	return media.Sample{Data: p, Duration: audioFrameDuration}, nil
}

func (s *audioSource) OnBind() error   { return nil }
func (s *audioSource) OnUnbind() error { return nil }
func (s *audioSource) Close() error    { return nil }
