package bot

import (
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// The bot's audio carries the RFC 6464 audio level (ssrc-audio-level, which the focus offers as id 1), so
// the bridge's dominant speaker detection hears the bot. The Opus fixture is a steady tone, and a steady
// level is what the bridge takes for background noise, so the level follows a speech-like envelope by
// the packet's sequence number rather than the packet: a 100 ms breath at −60 dBov, then a 400 ms spurt
// at −25 dBov, over and over.

// speechLevel is the level (−dBov) the bot announces for the audio packet with sequence number seq
// (20 ms per packet).
func speechLevel(seq uint16) uint8 {
	if seq%25 < 5 {
		return 60
	}
	return 25
}

// silenceLevel is the level (−dBov) of a muted bot's audio: digital silence.
const silenceLevel = 127

// audioLevels is the interceptor factory that stamps the level on the bot's audio, when the extension
// was negotiated: speechLevel's, or silenceLevel when muted (Options.Muted).
type audioLevels struct{ muted bool }

func (a audioLevels) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &audioLevelStamper{muted: a.muted}, nil
}

type audioLevelStamper struct {
	interceptor.NoOp
	muted bool
}

func (s *audioLevelStamper) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "audio/") {
		return w
	}
	id := 0
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			id = e.ID
		}
	}
	if id < 1 || id > 14 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		level := speechLevel(h.SequenceNumber)
		if s.muted {
			level = silenceLevel
		}
		if err := h.SetExtension(uint8(id), []byte{level}); err != nil {
			return 0, err
		}
		return w.Write(h, payload, a)
	})
}
