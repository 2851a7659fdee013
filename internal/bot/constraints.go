package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Constraints is the video the bot asks the bridge for, in
// ReceiverVideoConstraints (jitsi-dialect.md §6.2), as Jitsi's client does
// for its layout: a default height for every source, how many sources to
// receive video of, and a source on stage (first in line, as tall as it
// comes).
type Constraints struct {
	// MaxHeight is the default maxHeight: -1 unlimited, 0 no video.
	MaxHeight int
	// LastN is how many sources' video to receive, -1 all.
	LastN int
	// Stage is a source name, or an endpoint id for its camera
	// (ENDPOINT-v0), to put on stage; "" none.
	Stage string
	// MaxFrameRate is the default maxFrameRate, frames a second, of every
	// source but the stage's; 0 no limit. The bridge forwards the temporal
	// layers within it (senders at 30 fps with three: 7.5, 15 or 30).
	MaxFrameRate float64
}

// DefaultConstraints asks for every source up to 720p.
func DefaultConstraints() Constraints { return Constraints{MaxHeight: 720, LastN: -1} }

// Errors of Constraints.Validate.
var (
	ErrMaxHeight = errors.New("must be -1 (no limit), 0 (no video) or a height in pixels")
	ErrLastN     = errors.New("must be -1 (every source) or a number of sources")
	ErrFrameRate = errors.New("must be 0 (no limit) or a number of frames a second")
)

// Validate reports a value the bridge would not take; the error wraps
// ErrMaxHeight, ErrLastN or ErrFrameRate.
func (c Constraints) Validate() error {
	if c.MaxHeight < -1 {
		return fmt.Errorf("bot: max height %d: %w", c.MaxHeight, ErrMaxHeight)
	}
	if c.LastN < -1 {
		return fmt.Errorf("bot: last-n %d: %w", c.LastN, ErrLastN)
	}
	if c.MaxFrameRate < 0 || c.MaxFrameRate != c.MaxFrameRate {
		return fmt.Errorf("bot: max frame rate %v: %w", c.MaxFrameRate, ErrFrameRate)
	}
	return nil
}

// StageSource is the source name Stage names: itself when it is a source
// name (ENDPOINT-v0), else the endpoint's camera.
func (c Constraints) StageSource() string {
	if c.Stage == "" || strings.Contains(c.Stage, "-") {
		return c.Stage
	}
	return c.Stage + "-v0"
}

// message is the ReceiverVideoConstraints asking for c. Every field is
// present, so a message replaces all the bridge keeps (it updates only the
// fields a message has).
func (c Constraints) message() []byte {
	type constraint struct {
		MaxHeight    int     `json:"maxHeight"`
		MaxFrameRate float64 `json:"maxFrameRate"` // -1 no limit
	}
	fps := c.MaxFrameRate
	if fps <= 0 {
		fps = -1
	}
	msg := struct {
		Class       string                `json:"colibriClass"`
		LastN       int                   `json:"lastN"`
		OnStage     []string              `json:"onStageSources"`
		Default     constraint            `json:"defaultConstraints"`
		Constraints map[string]constraint `json:"constraints"`
	}{Class: "ReceiverVideoConstraints", LastN: c.LastN, OnStage: []string{}, Default: constraint{c.MaxHeight, fps},
		Constraints: map[string]constraint{}}
	if s := c.StageSource(); s != "" {
		msg.OnStage = append(msg.OnStage, s)
		msg.Constraints[s] = constraint{-1, -1}
	}
	data, _ := json.Marshal(msg)
	return data
}

// SetConstraints asks the bridge for other video, now and on every later
// session.
func (b *Bot) SetConstraints(ctx context.Context, c Constraints) error {
	if err := c.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.constraints = c
	var ws *websocket.Conn
	if b.media != nil {
		ws = b.media.ws
	}
	b.mu.Unlock()
	if ws == nil {
		return nil // the next bridge channel sends them
	}
	if err := ws.Write(ctx, websocket.MessageText, c.message()); err != nil {
		return fmt.Errorf("bot: sending constraints on the bridge channel: %w", err)
	}
	return nil
}

// ErrUnknownSource: no sources map has named the source in this session.
var ErrUnknownSource = errors.New("bot: no slot carries that source")

// RequestKeyFrame sends a PLI for a remote video source's slot now,
// whatever the automatic requests' pace.
func (b *Bot) RequestKeyFrame(source string) error {
	b.mu.Lock()
	s, m := b.in.sources[source], b.media
	if s == nil || s.ssrc == 0 || s.kind != "video" || m == nil {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownSource, source)
	}
	s.lastPLI = time.Now()
	s.plis++
	ssrc := s.ssrc
	b.mu.Unlock()
	m.sendFeedback(feedback{plis: []uint32{ssrc}})
	return nil
}
