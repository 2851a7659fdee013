package bot

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/testmedia"
)

// The bot's camera sends the three simulcast encodings of
// internal/testmedia at 30 fps, each with its three temporal layers marked
// in the VP8 payload descriptor (payloader.go), as a browser does, and
// honours the bridge's SenderSourceConstraints (jitsi-dialect.md §6.2,
// §11.3): with maxHeight N it sends only the encodings no taller than N (the lowest one
// when all are taller), none for 0, all for -1; it starts again when N
// rises. An encoding that starts again, and a keyframe request from the
// bridge, make every encoding skip to the fixtures' next key frame (the
// three are aligned), so a receiver can decode at once.

// rids are the simulcast encodings' RTP stream ids, lowest first.
var rids = [3]string{"q", "h", "f"}

// camera is what the bot sent of its video, for its whole life.
type camera struct {
	heights [3]int // of each encoding, from the fixtures' first key frame; fixed

	mu        sync.Mutex // guards the rest
	maxHeight int        // the current session's SenderSourceConstraints, -1 before one
	active    [3]bool
	frames    [3]int
	keyFrames [3]int
	bytes     [3]int64
	requests  int // PLI and FIR received
	onRequest int // skips to a key frame
}

func newCamera(fx *testmedia.Media) *camera {
	c := &camera{maxHeight: -1}
	for l := range c.heights {
		_, c.heights[l], _ = keyFrameSize(fx.Layers[l][0])
	}
	return c
}

// setMaxHeight applies a SenderSourceConstraints (-1 on a new session).
func (c *camera) setMaxHeight(h int) {
	c.mu.Lock()
	c.maxHeight = h
	c.mu.Unlock()
}

// activeLayers is which encodings to send under maxHeight: all for -1,
// none for 0, else those no taller than it, or the lowest when all are.
func activeLayers(maxHeight int, heights [3]int) [3]bool {
	var on [3]bool
	if maxHeight == 0 {
		return on
	}
	some := false
	for l, h := range heights {
		on[l] = maxHeight < 0 || h <= maxHeight
		some = some || on[l]
	}
	if !some {
		on[0] = true
	}
	return on
}

// nextLayers decides the encodings of the next frame; restarted when one
// of them was not sent before.
func (c *camera) nextLayers() (on [3]bool, restarted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	on = activeLayers(c.maxHeight, c.heights)
	for l := range on {
		restarted = restarted || on[l] && !c.active[l]
	}
	c.active = on
	return on, restarted
}

// sent counts a frame written on encoding l.
func (c *camera) sent(l int, frame []byte, key bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames[l]++
	c.bytes[l] += int64(len(frame))
	if key {
		c.keyFrames[l]++
	}
}

func (c *camera) requested() {
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
}

func (c *camera) skipped() {
	c.mu.Lock()
	c.onRequest++
	c.mu.Unlock()
}

// stopped marks every encoding idle (the session ended).
func (c *camera) stopped() {
	c.mu.Lock()
	c.active = [3]bool{}
	c.mu.Unlock()
}

func (c *camera) stats() Sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Sent{MaxHeight: c.maxHeight, KeyFrameRequests: c.requests, KeyFramesOnRequest: c.onRequest}
	for l, rid := range rids {
		s.Encodings = append(s.Encodings, EncodingStats{RID: rid, Height: c.heights[l], Active: c.active[l],
			Frames: c.frames[l], KeyFrames: c.keyFrames[l], Bytes: c.bytes[l]})
	}
	return s
}

// sendVideo writes the encodings the bridge wants at 30 fps, looping the
// fixtures; after a keyframe request, or when an encoding starts again,
// the next frame is a key frame (the fixtures skip ahead to one), as a
// browser's encoder does at its next capture.
func sendVideo(m *session, fx *testmedia.Media, cam *camera, out outgoingFunc) {
	defer cam.stopped()
	tick := time.NewTicker(testmedia.VideoFrameDuration)
	defer tick.Stop()
	isKey := make(map[int]bool, len(fx.KeyFrames))
	for _, k := range fx.KeyFrames {
		isKey[k] = true
	}
	requested := false
	for i := 0; ; {
		select {
		case <-m.stop:
			return
		case <-m.plis:
			requested = true
			continue
		case <-tick.C:
		}
		on, restarted := cam.nextLayers()
		if (requested || restarted) && on != [3]bool{} {
			i = keyFrameFrom(fx.KeyFrames, i)
			cam.skipped()
			requested = false
		}
		for l, t := range m.video {
			if !on[l] {
				continue
			}
			frame, ok := out(e2ee.ContextCamera, fx.Layers[l][i])
			if !ok {
				continue
			}
			if m.vp8[l] != nil {
				m.vp8[l].next(testmedia.Temporal(i))
			}
			if err := t.WriteSample(media.Sample{Data: frame, Duration: testmedia.VideoFrameDuration}); err != nil {
				return
			}
			cam.sent(l, frame, isKey[i])
		}
		i = (i + 1) % len(fx.Layers[0])
	}
}

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

// readKeyframeRequests turns PLI and FIR for any simulcast encoding of the
// video sender into a signal for sendVideo (the bridge asks for the
// encodings it forwards).
func readKeyframeRequests(m *session, cam *camera) {
	var wg sync.WaitGroup
	for _, rid := range rids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				pkts, _, err := m.vs.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						cam.requested()
						select {
						case m.plis <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}
