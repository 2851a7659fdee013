package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// vp8Stream makes the packets of a synthetic VP8 stream, as in
// internal/bot's tests: each frame split into packets with consecutive
// sequence numbers, the first with the S bit (partition 0), the last with
// the marker; a key frame's first packet carries a 320×height header.
type vp8Stream struct {
	seq uint16
	ts  uint32
}

func (s *vp8Stream) frame(packets int, key bool, height int) []*rtp.Packet {
	var out []*rtp.Packet
	s.ts += 3000
	for i := range packets {
		desc := byte(0)
		if i == 0 {
			desc = 0x10 // S=1, PID=0
		}
		payload := []byte{desc, 0x01, 0, 0} // inter frame: P bit set
		if i == 0 && key {
			payload = []byte{desc, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 320 & 0xff, 320 >> 8, byte(height), byte(height >> 8)}
		} else if i > 0 {
			payload = []byte{desc, 0xaa, 0xbb}
		}
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq, Timestamp: s.ts, Marker: i == packets-1},
			Payload: payload,
		})
		s.seq++
	}
	return out
}

// feed delivers pkts one per millisecond from *now on, but for the
// sequence numbers in skip, and counts the keyframe requests asked for.
func feed(s *sourceState, now *time.Time, pkts []*rtp.Packet, skip map[uint16]bool) (plis int) {
	for _, p := range pkts {
		*now = now.Add(time.Millisecond)
		if skip[p.SequenceNumber] {
			continue
		}
		if s.packet(p, 100, false, *now) {
			plis++
		}
	}
	return plis
}

// TestSourceCountsAsParleyBot: what lkbot reports of a video source is
// what `parley bot` would: complete decodable frames, the key frame's
// height, a frame lost for good making the next ones undecodable and
// asking for a key frame until one comes (not while one arrives), a W3C
// freeze for the gap, and loss by sequence number.
func TestSourceCountsAsParleyBot(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newSourceState("video", "ep")
	var v vp8Stream
	// Before any key frame the source needs one, but one is arriving: no
	// request.
	if plis := feed(s, &now, v.frame(3, true, 360), nil); plis != 0 {
		t.Fatalf("%d keyframe requests while a key frame arrives, want 0", plis)
	}
	for range 10 {
		now = now.Add(33 * time.Millisecond)
		if plis := feed(s, &now, v.frame(2, false, 0), nil); plis != 0 {
			t.Fatalf("a keyframe request while the stream decodes")
		}
	}
	// One packet of the next frame lost for good; the frames after it
	// wait, are given up after lossWait and then cannot be decoded.
	lost := v.seq
	plis := 0
	for range 15 {
		now = now.Add(33 * time.Millisecond)
		plis += feed(s, &now, v.frame(2, false, 0), map[uint16]bool{lost: true})
	}
	if plis == 0 {
		t.Fatal("no keyframe request after a frame was lost for good")
	}
	now = now.Add(33 * time.Millisecond)
	feed(s, &now, v.frame(3, true, 720), nil)
	for range 3 {
		now = now.Add(33 * time.Millisecond)
		feed(s, &now, v.frame(2, false, 0), nil)
	}
	st := s.stats()
	if st.Video == nil {
		t.Fatal("no video stats")
	}
	got := *st.Video
	if got.Frames != 1+10+1+3 || got.KeyFrames != 2 || got.Height != 720 || got.Width != 320 {
		t.Errorf("frames %d, key frames %d, %d×%d; want 15, 2, 320×720", got.Frames, got.KeyFrames, got.Width, got.Height)
	}
	if got.FramesDropped < 1 || got.DecodeErrors == 0 {
		t.Errorf("dropped %d, decode errors %d: the loss went unnoticed", got.FramesDropped, got.DecodeErrors)
	}
	if got.Freezes != 1 || got.FreezeMs < 400 {
		t.Errorf("%d freezes, %.0f ms: want the one gap of about half a second", got.Freezes, got.FreezeMs)
	}
	if st.PacketsLost != 1 || st.Bytes != int64(100*st.Packets) {
		t.Errorf("lost %d of %d packets, %d bytes", st.PacketsLost, st.Packets+st.PacketsLost, st.Bytes)
	}
}

// TestAudioSourceNeverAsksKeyFrames: audio counts packets and loss only.
func TestAudioSourceNeverAsksKeyFrames(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newSourceState("audio", "ep")
	for seq := range uint16(50) {
		if seq == 20 || seq == 21 {
			continue
		}
		now = now.Add(20 * time.Millisecond)
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{1}}
		if s.packet(p, 60, false, now) {
			t.Fatal("an audio source asked for a key frame")
		}
	}
	st := s.stats()
	if st.Video != nil || st.Packets != 48 || st.PacketsLost != 2 {
		t.Errorf("video %v, %d packets, %d lost; want none, 48, 2", st.Video, st.Packets, st.PacketsLost)
	}
}

// TestLayerSourceAnswersKeyFrameRequests: the fixtures load from
// internal/testmedia, each layer loops its frames at 30 fps, and a
// keyframe request makes the layer's next frame a key frame, as an encoder
// answers a PLI.
func TestLayerSourceAnswersKeyFrameRequests(t *testing.T) {
	fx, err := loadFixtures("../../../internal/testmedia")
	if err != nil {
		t.Fatal(err)
	}
	if fx.heights != [3]int{180, 360, 720} || !(fx.bitrate(0) < fx.bitrate(1) && fx.bitrate(1) < fx.bitrate(2)) {
		t.Fatalf("heights %v, bit rates %d %d %d", fx.heights, fx.bitrate(0), fx.bitrate(1), fx.bitrate(2))
	}
	src := &layerSource{fx: fx, layer: 2}
	ctx := context.Background()
	for range 5 {
		smp, err := src.NextSample(ctx)
		if err != nil || smp.Duration != videoFrameDuration {
			t.Fatalf("sample %v, %v", smp.Duration, err)
		}
	}
	smp, _ := src.NextSample(ctx)
	if smp.Data[0]&1 == 0 {
		t.Fatal("frame 5 of the fixtures is a key frame: the test needs an inter frame here")
	}
	src.keyFrameRequested()
	smp, _ = src.NextSample(ctx)
	if _, h, ok := keyFrameSize(smp.Data); !ok || h != 720 {
		t.Fatalf("after a keyframe request: key frame %v, height %d", ok, h)
	}
	if src.requests.Load() != 1 || src.frames.Load() != 7 {
		t.Errorf("%d requests, %d frames", src.requests.Load(), src.frames.Load())
	}
	smp, _ = src.NextSample(ctx)
	if smp.Data[0]&1 == 0 {
		t.Error("a second key frame without a second request")
	}
}

// TestReportHasParleyBotFields: the JSON keys test/shaped reads of
// `parley bot --json` (its report.go) are where lkbot puts them.
func TestReportHasParleyBotFields(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newSourceState("video", "ep")
	var v vp8Stream
	feed(s, &now, v.frame(3, true, 180), nil)
	a := newSourceState("audio", "ep")
	a.packet(&rtp.Packet{Header: rtp.Header{Version: 2}}, 60, false, now)
	fx, err := loadFixtures("../../../internal/testmedia")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bot{identity: "rx", cfg: Config{Fixtures: fx}, sources: map[string]*sourceState{"ep-v0": s, "ep-a0": a}, start: now, end: now.Add(time.Second)}
	for l := range b.layers {
		b.layers[l] = &layerSource{fx: fx, layer: l}
	}
	raw, err := json.Marshal(b.report())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Endpoint string    `json:"endpoint"`
		Start    time.Time `json:"start"`
		Received map[string]struct {
			AudioPackets int `json:"audioPackets"`
			VideoFrames  int `json:"videoFrames"`
			Sources      map[string]struct {
				Kind    string `json:"kind"`
				Packets int    `json:"packets"`
				Video   *struct {
					Frames int `json:"frames"`
					Height int `json:"height"`
				} `json:"video"`
			} `json:"sources"`
		} `json:"received"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	ep := got.Received["ep"]
	vs, as := ep.Sources["ep-v0"], ep.Sources["ep-a0"]
	if got.Endpoint != "rx" || !got.Start.Equal(now) || ep.AudioPackets != 1 || ep.VideoFrames != 1 ||
		vs.Kind != "video" || vs.Video == nil || vs.Video.Frames != 1 || vs.Video.Height != 180 || as.Kind != "audio" || as.Video != nil {
		t.Errorf("report %s", raw)
	}
}
