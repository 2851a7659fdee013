package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A bot is one LiveKit participant made of LiveKit's Go SDK: it publishes
// the fixtures as a three-layer VP8 simulcast camera and an Opus
// microphone, as `parley bot` does, subscribes to every remote track and
// counts what arrives (recv.go). Like a LiveKit client without adaptive
// stream, it asks for every track at its best quality and leaves the
// layer to the server; it sends a PLI when a frame cannot be decoded, and
// the SDK's interceptors send the NACKs and transport-cc feedback.

// Config is what every bot of a run shares.
type Config struct {
	URL               string // ws://HOST:PORT
	APIKey, APISecret string
	Room              string
	Fixtures          *fixtures
}

// Bot is one participant.
type Bot struct {
	identity string
	cfg      Config
	room     *lksdk.Room
	layers   [3]*layerSource

	mu         sync.Mutex // guards the fields below
	start, end time.Time
	sources    map[string]*sourceState // by source name: OWNER-a0, OWNER-v0
}

// rids are the simulcast layers' RTP stream ids, lowest first, as the SDK
// names them.
var rids = [3]string{"q", "h", "f"}

var qualities = [3]livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH}

// token is an access token for identity to join cfg.Room, signed with the
// API key's secret.
func token(cfg Config, identity string) (string, error) {
	t := auth.NewAccessToken(cfg.APIKey, cfg.APISecret).SetIdentity(identity).SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: cfg.Room})
	return t.ToJWT()
}

// join connects identity to the room and publishes its media.
func join(cfg Config, identity string) (*Bot, error) {
	b := &Bot{identity: identity, cfg: cfg, sources: map[string]*sourceState{}, start: time.Now()}
	for l := range b.layers {
		b.layers[l] = &layerSource{fx: cfg.Fixtures, layer: l}
	}
	jwt, err := token(cfg, identity)
	if err != nil {
		return nil, fmt.Errorf("%s: access token: %w", identity, err)
	}
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{OnTrackSubscribed: b.onTrack}}
	b.room, err = lksdk.ConnectToRoomWithToken(cfg.URL, jwt, cb, lksdk.WithAutoSubscribe(true),
		lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%s: join %s: %w", identity, cfg.URL, err)
	}
	if err := b.publish(); err != nil {
		b.room.Disconnect()
		return nil, fmt.Errorf("%s: %w", identity, err)
	}
	return b, nil
}

// publish publishes the microphone and the camera's three layers; each
// track starts writing when the SDK binds it.
func (b *Bot) publish() error {
	fx := b.cfg.Fixtures
	mic, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		return fmt.Errorf("microphone track: %w", err)
	}
	startOnBind(mic, &audioSource{fx: fx})
	if _, err := b.room.LocalParticipant.PublishTrack(mic, &lksdk.TrackPublicationOptions{Name: "mic", Source: livekit.TrackSource_MICROPHONE}); err != nil {
		return fmt.Errorf("publish the microphone: %w", err)
	}
	var tracks []*lksdk.LocalTrack
	for l, src := range b.layers {
		layer := &livekit.VideoLayer{Quality: qualities[l], Width: uint32(fx.widths[l]), Height: uint32(fx.heights[l]), Bitrate: fx.bitrate(l)}
		t, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			lksdk.WithSimulcast("camera", layer), lksdk.WithRTCPHandler(func(p rtcp.Packet) {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					src.keyFrameRequested()
				}
			}))
		if err != nil {
			return fmt.Errorf("camera layer %s: %w", rids[l], err)
		}
		startOnBind(t, src)
		tracks = append(tracks, t)
	}
	_, err = b.room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera",
		Source: livekit.TrackSource_CAMERA, VideoWidth: fx.widths[2], VideoHeight: fx.heights[2]})
	if err != nil {
		return fmt.Errorf("publish the camera: %w", err)
	}
	return nil
}

// startOnBind makes t write src's samples from each time the SDK binds it.
func startOnBind(t *lksdk.LocalTrack, src lksdk.SampleProvider) {
	t.OnBind(func() {
		_ = t.StartWrite(src, nil)
	})
}

// onTrack reads a subscribed track until it ends.
func (b *Bot) onTrack(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	kind, suffix := "audio", "-a0"
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		kind, suffix = "video", "-v0"
	}
	owner := rp.Identity()
	b.mu.Lock()
	s := b.sources[owner+suffix]
	if s == nil {
		s = newSourceState(kind, owner)
		b.sources[owner+suffix] = s
	}
	b.mu.Unlock()
	go func() {
		buf := make([]byte, 1500)
		var p rtp.Packet
		for {
			n, attr, err := track.Read(buf)
			if err != nil {
				return
			}
			if p.Unmarshal(buf[:n]) != nil {
				continue
			}
			repaired := attr != nil && attr.Get(webrtc.AttributeRtxSsrc) != nil
			if s.packet(&p, n, repaired, time.Now()) {
				rp.WritePLI(track.SSRC())
			}
		}
	}()
}

// leave disconnects the bot and notes when.
func (b *Bot) leave() {
	b.room.Disconnect()
	b.mu.Lock()
	b.end = time.Now()
	b.mu.Unlock()
}

// report is what the bot received and sent until now (or until it left).
func (b *Bot) report() Report {
	b.mu.Lock()
	r := Report{Endpoint: b.identity, Start: b.start, End: b.end, Received: map[string]Remote{}}
	sources := make(map[string]*sourceState, len(b.sources))
	for name, s := range b.sources {
		sources[name] = s
	}
	b.mu.Unlock()
	if r.End.IsZero() {
		r.End = time.Now()
	}
	for name, s := range sources {
		st := s.stats()
		rem := r.Received[s.owner]
		if rem.Sources == nil {
			rem.Sources = map[string]SourceStats{}
		}
		rem.Sources[name] = st
		if st.Video != nil {
			rem.VideoFrames += st.Video.Frames
		} else {
			rem.AudioPackets += st.Packets
		}
		r.Received[s.owner] = rem
	}
	fx := b.cfg.Fixtures
	for l, src := range b.layers {
		req := src.requests.Load()
		r.Sent.KeyFrameRequests += int(req)
		r.Sent.Encodings = append(r.Sent.Encodings, EncodingStats{RID: rids[l], Height: fx.heights[l], Bitrate: fx.bitrate(l),
			Frames: src.frames.Load(), KeyFrameRequests: req})
	}
	return r
}
