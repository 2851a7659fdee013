package bot

import "time"

// Report is what `parley bot --json` prints for one bot: what it received
// from each remote participant, what it sent, and when.
type Report struct {
	Endpoint string `json:"endpoint"`
	// Start is when the bot began to join; End when it left (or now, while
	// it is still in the room).
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Received map[string]Remote `json:"received"` // by remote endpoint id
	Sent     Sent              `json:"sent"`
	// Forwarded is the bridge's last ForwardedSources: the video sources it
	// forwards to this bot (jitsi-dialect.md §6.2).
	Forwarded []string `json:"forwardedSources"`
	// E2EE is the end-to-end encryption state (e2ee.go), when the bot
	// takes part in it.
	E2EE *E2EEReport `json:"e2ee,omitempty"`
}

// Remote is what a bot received from one remote participant.
type Remote struct {
	// AudioPackets adds up the audio packets received of its sources;
	// VideoFrames the complete, decodable video frames (as a viewer would
	// see them; packets lost for good or undecodable frames do not count).
	AudioPackets int `json:"audioPackets"`
	VideoFrames  int `json:"videoFrames"`
	// Sources details each of its sources, by source name.
	Sources map[string]SourceStats `json:"sources,omitempty"`
}

// SourceStats is what arrived of one remote source.
type SourceStats struct {
	Kind string `json:"kind"` // "audio" or "video"
	// SSRC is the bridge's slot that carried it last (the SSRC a keyframe
	// request names).
	SSRC        uint32    `json:"ssrc"`
	FirstPacket time.Time `json:"firstPacket"`
	LastPacket  time.Time `json:"lastPacket"`
	// Packets counts the packets received, without duplicates, with those
	// RTX repaired (PacketsRepaired of them); PacketsLost the ones the
	// sequence numbers say were sent and never arrived, even repaired.
	Packets         int     `json:"packets"`
	PacketsLost     int     `json:"packetsLost"`
	PacketsRepaired int     `json:"packetsRepaired"`
	JitterMs        float64 `json:"jitterMs"` // RFC 3550 interarrival jitter
	// Decrypted counts the frames (audio: packets) that decrypted, with
	// end-to-end encryption; DecryptFailed those dropped instead, which
	// count nowhere else (not as packets, frames or decode errors).
	Decrypted     int `json:"decrypted,omitempty"`
	DecryptFailed int `json:"decryptFailed,omitempty"`
	// KeptBack counts the packets that came out of Pion's buffer when the
	// slot's track started, having waited there longer than a receiver
	// keeps anything (arrival.go): dropped unread, counted nowhere else.
	KeptBack int `json:"keptBack,omitempty"`
	// Video is set for a video source.
	Video *VideoStats `json:"video,omitempty"`
}

// VideoStats is what a viewer would have seen of one remote VP8 source
// (frames.go).
type VideoStats struct {
	// Frames counts the complete, decodable frames; FramesPerSecond is
	// them over the time from the source's first packet to its last.
	Frames          int     `json:"frames"`
	FramesPerSecond float64 `json:"framesPerSecond"`
	KeyFrames       int     `json:"keyFrames"`
	// FramesDropped counts frames given up with packets missing;
	// DecodeErrors the complete frames after one, before the next key frame,
	// that a decoder could not decode.
	FramesDropped int `json:"framesDropped"`
	DecodeErrors  int `json:"decodeErrors"`
	// PictureIDJumps counts the complete frames whose VP8 picture ID did
	// not follow the previous frame's with no frame lost between: a
	// receiver's decoder would wait for frames that never come (a bridge
	// that leaves out temporal layers must number the rest one by one).
	PictureIDJumps int `json:"pictureIdJumps"`
	// Freezes and FreezeMs are W3C webrtc-stats' freezeCount and
	// totalFreezesDuration over the decodable frames.
	Freezes  int     `json:"freezes"`
	FreezeMs float64 `json:"freezeMs"`
	// FreezeLog is the latest freezes (at most 32), oldest first: when
	// each ended, at the decodable frame after it, and how long it was.
	FreezeLog []Freeze `json:"freezeLog,omitempty"`
	// Width and Height are the last key frame's.
	Width  int `json:"width"`
	Height int `json:"height"`
	// KeyFrameRequests counts the PLIs the bot sent for this source.
	KeyFrameRequests int `json:"keyFrameRequests"`
}

// Freeze is one freeze of a video source: the time between two decodable
// frames that W3C webrtc-stats counts as one.
type Freeze struct {
	End time.Time `json:"end"`
	Ms  float64   `json:"ms"`
}

// Sent is what the bot sent of its camera, per simulcast encoding.
type Sent struct {
	// MaxHeight is the bridge's last SenderSourceConstraints for the
	// camera: -1 unlimited (also before any), 0 no video.
	MaxHeight int `json:"maxHeight"`
	// KeyFrameRequests counts the PLIs and FIRs received for the camera;
	// KeyFramesOnRequest the key frames sent out of turn for one (or to
	// start an encoding again).
	KeyFrameRequests   int             `json:"keyFrameRequests"`
	KeyFramesOnRequest int             `json:"keyFramesOnRequest"`
	Encodings          []EncodingStats `json:"encodings"`
}

// EncodingStats is one simulcast encoding of the camera.
type EncodingStats struct {
	RID       string `json:"rid"`
	Height    int    `json:"height"`
	Active    bool   `json:"active"` // sending now
	Frames    int    `json:"frames"`
	KeyFrames int    `json:"keyFrames"`
	Bytes     int64  `json:"bytes"`
}
