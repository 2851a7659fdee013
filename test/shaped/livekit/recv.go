package main

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// What a LiveKit receiver got of each remote source, counted as
// `parley bot` counts it (internal/bot/recv.go): packets and RFC 3550 loss
// by sequence number, and for video the complete, decodable frames, W3C
// freezes and the height of the last key frame. LiveKit keeps one
// subscribed track (one SSRC) per source across its layer switches, so a
// source here is a track; its name is ENDPOINT-a0 or ENDPOINT-v0, as in
// Parley's reports.

// keyFrameInterval is the least time between two keyframe requests for a
// source, as in `parley bot`.
const keyFrameInterval = 500 * time.Millisecond

// Clock rates of the codecs.
const (
	videoClock = 90000
	audioClock = 48000
)

// sourceState is what arrived of one remote source. Its methods are called
// from the track's reader goroutine; stats from the report, under mu.
type sourceState struct {
	mu          sync.Mutex
	kind, owner string

	seq *seqTracker
	asm *frameAssembler // video only

	first, last time.Time
	packets     int
	repaired    int
	bytes       int64 // RTP payload and header, as received

	frames, keyFrames, dropped, decodeErrors int
	width, height                            int
	freeze                                   freezeDetector
	needKey                                  bool
	lastPLI                                  time.Time
	plis                                     int
}

func newSourceState(kind, owner string) *sourceState {
	s := &sourceState{kind: kind, owner: owner, seq: newSeqTracker(audioClock)}
	if kind == "video" {
		s.seq = newSeqTracker(videoClock)
		s.asm = newFrameAssembler()
		s.needKey = true
	}
	return s
}

// packet counts one packet of size bytes arrived at now (repaired when it
// came by RTX) and reports whether to send a keyframe request.
func (s *sourceState) packet(p *rtp.Packet, size int, repaired bool, now time.Time) (pli bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(size)
	ext, ok := s.seq.push(p.SequenceNumber, p.Timestamp, repaired, now)
	if !ok {
		return false
	}
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.packets++
	if repaired {
		s.repaired++
	}
	if s.asm == nil {
		return false
	}
	if v, ok := parseVP8(p); ok {
		for _, f := range s.asm.push(ext, v, now) {
			s.noteFrame(f)
		}
	}
	return s.keyFrameRequestLocked(now)
}

// noteFrame counts a frame the assembler finished with.
func (s *sourceState) noteFrame(f frameEvent) {
	switch {
	case !f.complete:
		s.dropped += f.dropped
		s.needKey = true
	case !f.decodable:
		s.decodeErrors++
		s.needKey = true
	default:
		s.frames++
		s.freeze.frame(f.at)
		if f.key {
			s.keyFrames++
			s.needKey = false
			if f.height > 0 {
				s.width, s.height = f.width, f.height
			}
		}
	}
}

// keyFrameRequestLocked reports whether s needs a key frame, none is
// arriving and the last request is keyFrameInterval old, and counts the
// request.
func (s *sourceState) keyFrameRequestLocked(now time.Time) bool {
	if !s.needKey || !s.lastPLI.IsZero() && now.Sub(s.lastPLI) < keyFrameInterval || s.asm != nil && s.asm.keyArriving() {
		return false
	}
	s.lastPLI = now
	s.plis++
	return true
}

// stats is what arrived of s, in `parley bot`'s --json form.
func (s *sourceState) stats() SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SourceStats{Kind: s.kind, FirstPacket: s.first, LastPacket: s.last, Packets: s.packets,
		PacketsLost: s.seq.lost(), PacketsRepaired: s.repaired, JitterMs: s.seq.jitterMs(), Bytes: s.bytes}
	d := s.last.Sub(s.first)
	if d > 0 {
		st.BytesPerSecond = float64(s.bytes) / d.Seconds()
	}
	if s.kind != "video" {
		return st
	}
	v := &VideoStats{Frames: s.frames, KeyFrames: s.keyFrames, FramesDropped: s.dropped, DecodeErrors: s.decodeErrors,
		Freezes: s.freeze.count, FreezeMs: float64(s.freeze.total) / float64(time.Millisecond),
		Width: s.width, Height: s.height, KeyFrameRequests: s.plis}
	if d > 0 {
		v.FramesPerSecond = float64(s.frames) / d.Seconds()
	}
	st.Video = v
	return st
}
