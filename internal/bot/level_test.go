package bot

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestAudioLevels: the bot's audio carries the speech-like level, or
// silence when muted; video carries none.
func TestAudioLevels(t *testing.T) {
	exts := []interceptor.RTPHeaderExtension{{URI: sdp.AudioLevelURI, ID: 1}}
	stamp := func(muted bool, mime string, seq uint16) []byte {
		i, err := audioLevels{muted: muted}.NewInterceptor("")
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		w := i.BindLocalStream(&interceptor.StreamInfo{MimeType: mime, RTPHeaderExtensions: exts},
			interceptor.RTPWriterFunc(func(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
				got = h.GetExtension(1)
				return 0, nil
			}))
		if _, err := w.Write(&rtp.Header{SequenceNumber: seq}, nil, nil); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := stamp(false, "audio/opus", 10); len(got) != 1 || got[0] != 25 {
		t.Errorf("speaking, in a spurt: level %v, want 25", got)
	}
	if got := stamp(false, "audio/opus", 1); len(got) != 1 || got[0] != 60 {
		t.Errorf("speaking, between spurts: level %v, want 60", got)
	}
	for _, seq := range []uint16{1, 10} {
		if got := stamp(true, "audio/opus", seq); len(got) != 1 || got[0] != silenceLevel {
			t.Errorf("muted: level %v, want %d", got, silenceLevel)
		}
	}
	if got := stamp(true, "video/VP8", 10); got != nil {
		t.Errorf("video carries level %v", got)
	}
}
