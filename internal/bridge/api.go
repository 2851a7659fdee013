package bridge

import (
	"fmt"
	"strconv"
	"strings"
)

// The focus talks to the bridge with these plain values. They carry JSON tags so that the same
// messages can cross a network when bridges run as separate processes (DESIGN.md "Scale").

// Media kinds of a source or slot.
const (
	KindAudio = "audio"
	KindVideo = "video"
)

// SSRC group semantics (RFC 5576 §4, RFC 4588 §8.1, draft-westerlund-avtcore-rtp-simulcast).
const (
	GroupSIM = "SIM"
	GroupFID = "FID"
)

// Payload types the bridge forwards with (Jicofo's defaults, jitsi-dialect.md §11.1). Every endpoint of
// a conference gets the same offer, so forwarded packets keep the sender's payload type.
const (
	PayloadTypeOpus   = 111
	PayloadTypeVP8    = 100
	PayloadTypeVP8RTX = 96
)

// AllocateRequest asks for a new endpoint in a conference (created on first use).
type AllocateRequest struct {
	ConferenceID string `json:"conferenceId"`
	EndpointID   string `json:"endpointId"`
}

// Allocation is what the focus needs to build the Jingle session-initiate (the bridge's side of the offer).
type Allocation struct {
	ConferenceID string `json:"conferenceId"`
	EndpointID   string `json:"endpointId"`
	ICE          ICE    `json:"ice"`
	DTLS         DTLS   `json:"dtls"`
	// Feedback holds the bridge's RTCP-only sources (jvb-a0, jvb-v0, msid "mixedmslabel …").
	Feedback []Source `json:"feedback"`
	// AudioSlots and VideoSlots are the bridge's send slots toward this endpoint: fixed SSRCs onto which
	// other senders' streams are rewritten. Video slots carry an RTX SSRC (FID group). The focus does not
	// offer them (Jicofo's SSRC-rewriting offer has the feedback sources only): clients learn a slot's
	// SSRCs from the sources maps on the bridge channel when it first carries someone.
	AudioSlots []Slot `json:"audioSlots"`
	VideoSlots []Slot `json:"videoSlots"`
	// Channel is the bridge channel (colibri WebSocket) for this endpoint.
	Channel Channel `json:"channel"`
}

// ICE holds one side's ICE parameters (RFC 8839).
type ICE struct {
	Ufrag      string      `json:"ufrag"`
	Pwd        string      `json:"pwd"`
	Candidates []Candidate `json:"candidates,omitempty"`
}

// DTLS holds one side's certificate fingerprint and role (RFC 8842).
type DTLS struct {
	Hash        string `json:"hash"`        // "sha-256"
	Fingerprint string `json:"fingerprint"` // "AB:CD:…"
	Setup       string `json:"setup"`       // bridge: "actpass"; answer: "active"
}

// Candidate is an ICE candidate in the fields Jingle's ice-udp transport uses.
type Candidate struct {
	Foundation string `json:"foundation"`
	Component  int    `json:"component"`
	Protocol   string `json:"protocol"`
	Priority   uint32 `json:"priority"`
	IP         string `json:"ip"`
	Port       int    `json:"port"`
	Type       string `json:"type"` // host, srflx, prflx, relay
	RelAddr    string `json:"relAddr,omitempty"`
	RelPort    int    `json:"relPort,omitempty"`
	Generation int    `json:"generation,omitempty"`
}

// SDP renders c as the value of an SDP a=candidate attribute (RFC 8839 §5.1), without the "candidate:"
// prefix's "a=".
func (c Candidate) SDP() string {
	var b strings.Builder
	fmt.Fprintf(&b, "candidate:%s %d %s %d %s %d typ %s", c.Foundation, c.Component, strings.ToLower(c.Protocol),
		c.Priority, c.IP, c.Port, c.Type)
	if c.RelAddr != "" {
		b.WriteString(" raddr " + c.RelAddr + " rport " + strconv.Itoa(c.RelPort))
	}
	b.WriteString(" generation " + strconv.Itoa(c.Generation))
	return b.String()
}

// Slot is one of the bridge's send slots toward a receiver.
type Slot struct {
	Kind string `json:"kind"`
	SSRC uint32 `json:"ssrc"`
	// RTX is the slot's retransmission SSRC (video only; FID group SSRC, RTX).
	RTX  uint32 `json:"rtx,omitempty"`
	Name string `json:"name"` // "jvb-v3"
	MSID string `json:"msid"` // "remote-video-3 remote-video-3"
}

// Source is a media source an endpoint sends (jitsi-dialect.md §5.5).
type Source struct {
	Kind      string `json:"kind"`
	SSRC      uint32 `json:"ssrc"`
	Name      string `json:"name"` // "<endpoint>-v0"
	MSID      string `json:"msid,omitempty"`
	VideoType string `json:"videoType,omitempty"` // camera, desktop
}

// Group is an SSRC group: SIM lists simulcast layers low to high; FID pairs a primary with its RTX SSRC.
type Group struct {
	Semantics string   `json:"semantics"`
	SSRCs     []uint32 `json:"ssrcs"`
}

// Channel locates an endpoint's bridge channel: wss://<host><Path>?pwd=<Password>.
type Channel struct {
	Path     string `json:"path"`
	Password string `json:"password"`
}

// URL returns the channel's WebSocket URL under base (e.g. "wss://meet.example.com").
func (c Channel) URL(base string) string {
	return strings.TrimSuffix(base, "/") + c.Path + "?pwd=" + c.Password
}

// Answer is the endpoint's side of the session (from its Jingle session-accept).
type Answer struct {
	ConferenceID string   `json:"conferenceId"`
	EndpointID   string   `json:"endpointId"`
	ICE          ICE      `json:"ice"`
	DTLS         DTLS     `json:"dtls"`
	Sources      []Source `json:"sources,omitempty"`
	Groups       []Group  `json:"groups,omitempty"`
	// RTX is true when the endpoint accepted the RTX payload type for video (urn:ietf:rfc:4588); the bridge
	// then answers its NACKs with RTX on the slot's RTX SSRC rather than plain retransmissions.
	RTX bool `json:"rtx,omitempty"`
	// TransportCC is the id (1-14) under which the endpoint accepted the transport-wide sequence number
	// extension with transport-cc feedback, 0 when it did not: the bridge then numbers the packets it
	// sends to the endpoint and estimates the endpoint's bandwidth from its feedback.
	TransportCC int `json:"transportCC,omitempty"`
	// RED is the payload type (PayloadTypeRED) under which the endpoint accepted red/48000/2 for audio, 0
	// when it did not: the bridge then sends it audio as RED, with redundancy when its link loses packets.
	RED int `json:"red,omitempty"`
}

// SourcesUpdate replaces the sources an endpoint sends (Jingle source-add / source-remove).
type SourcesUpdate struct {
	ConferenceID string   `json:"conferenceId"`
	EndpointID   string   `json:"endpointId"`
	Sources      []Source `json:"sources"`
	Groups       []Group  `json:"groups,omitempty"`
}

// ExpireRequest removes an endpoint (and its conference with the last endpoint).
type ExpireRequest struct {
	ConferenceID string `json:"conferenceId"`
	EndpointID   string `json:"endpointId"`
}
