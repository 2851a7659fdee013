package main

import "time"

// Report is what `lkbot --json` prints for one bot: the fields of
// `parley bot --json` (internal/bot/stats.go) that mean the same here, so
// that test/shaped reads both alike, plus the bytes received per source.
type Report struct {
	Endpoint string            `json:"endpoint"` // the participant's identity
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Received map[string]Remote `json:"received"` // by remote identity
	Sent     Sent              `json:"sent"`
}

// Remote is what a bot received from one remote participant.
type Remote struct {
	AudioPackets int                    `json:"audioPackets"`
	VideoFrames  int                    `json:"videoFrames"` // complete, decodable
	Sources      map[string]SourceStats `json:"sources,omitempty"`
}

// SourceStats is what arrived of one remote source (track).
type SourceStats struct {
	Kind            string    `json:"kind"` // "audio" or "video"
	FirstPacket     time.Time `json:"firstPacket"`
	LastPacket      time.Time `json:"lastPacket"`
	Packets         int       `json:"packets"`
	PacketsLost     int       `json:"packetsLost"`
	PacketsRepaired int       `json:"packetsRepaired"`
	JitterMs        float64   `json:"jitterMs"`
	// Bytes counts the RTP packets' bytes (header and payload, padding
	// included) read from the track; BytesPerSecond is them over the time
	// from the first packet to the last.
	Bytes          int64       `json:"bytes"`
	BytesPerSecond float64     `json:"bytesPerSecond"`
	Video          *VideoStats `json:"video,omitempty"`
}

// VideoStats is what a viewer would have seen of one remote VP8 source.
type VideoStats struct {
	Frames           int     `json:"frames"`
	FramesPerSecond  float64 `json:"framesPerSecond"`
	KeyFrames        int     `json:"keyFrames"`
	FramesDropped    int     `json:"framesDropped"`
	DecodeErrors     int     `json:"decodeErrors"`
	Freezes          int     `json:"freezes"`
	FreezeMs         float64 `json:"freezeMs"`
	Width            int     `json:"width"`
	Height           int     `json:"height"`
	KeyFrameRequests int     `json:"keyFrameRequests"`
}

// Sent is what the bot sent of its camera, per simulcast layer. Frames
// counts the frames handed to LiveKit's SDK, which does not send those of
// a layer dynacast has disabled.
type Sent struct {
	KeyFrameRequests int             `json:"keyFrameRequests"`
	Encodings        []EncodingStats `json:"encodings"`
}

// EncodingStats is one simulcast layer of the camera.
type EncodingStats struct {
	RID              string `json:"rid"`
	Height           int    `json:"height"`
	Bitrate          uint32 `json:"bitrate"` // declared to LiveKit, bit/s
	Frames           int64  `json:"frames"`
	KeyFrameRequests int64  `json:"keyFrameRequests"`
}
