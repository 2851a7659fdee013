package cluster

import (
	"encoding/json"
	"errors"
	"net/netip"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
)

// Subjects (see the package doc).
const (
	subjectPrefix    = "parley.bridge."
	subjectHeartbeat = "parley.bridges.heartbeat"
	subjectEvents    = "parley.bridges.events"
)

// Request kinds, the last token of a bridge's request subjects.
const (
	opAllocate = "allocate"
	opAnswer   = "answer"
	opSources  = "sources"
	opExpire   = "expire"
)

// requestSubject is where bridge id takes requests of kind op.
func requestSubject(id, op string) string { return subjectPrefix + id + "." + op }

// Heartbeat is what a bridge says about itself every second.
type Heartbeat struct {
	Bridge      string `json:"bridge"`
	Region      string `json:"region,omitempty"`
	Version     string `json:"version"`
	ChannelBase string `json:"channelBase"` // wss://HOST:PORT of the bridge's /colibri-ws/
	Endpoints   int    `json:"endpoints"`
	Conferences int    `json:"conferences"`
	// PacketsPerSecond counts packets received and sent over the last interval.
	PacketsPerSecond float64 `json:"packetsPerSecond"`
	// CPU is the share of the machine's cores the bridge's process used over the last interval, 0..1.
	CPU      float64 `json:"cpu"`
	Draining bool    `json:"draining,omitempty"`
	// TURN is the bridge node's TURN server, nil when it runs none.
	TURN *TURN `json:"turn,omitempty"`
}

// TURN is where a bridge node's TURN server is reached. No credential or secret crosses the cluster:
// the signal node derives each client's REST credential from the TURN secret they share, and hands
// out only servers whose SecretID is its own secret's.
type TURN struct {
	Host     string        `json:"host"`
	Services []TURNService `json:"services"`
	SecretID string        `json:"secretId"`
}

// TURNService is one port of a TURN server, as XEP-0215 names it.
type TURNService struct {
	Type      string `json:"type"`      // stun, turn, turns
	Port      int    `json:"port"`      // 1-65535
	Transport string `json:"transport"` // udp, tcp
}

// maxTURNServices bounds the entries a heartbeat's TURN may list.
const maxTURNServices = 8

// valid reports whether t can be handed to clients: a host name or IP address, at most
// maxTURNServices ports with known types and transports, and a secret ID.
func (t *TURN) valid() bool {
	if t.SecretID == "" || len(t.SecretID) > 64 || !validHost(t.Host) || len(t.Services) == 0 || len(t.Services) > maxTURNServices {
		return false
	}
	for _, s := range t.Services {
		switch {
		case s.Type != "stun" && s.Type != "turn" && s.Type != "turns",
			s.Transport != "udp" && s.Transport != "tcp",
			s.Port < 1 || s.Port > 65535:
			return false
		}
	}
	return true
}

// validHost reports whether h is an IP address or a DNS name (letters, digits, '-', '.').
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Stress is the bridge's load in 0..1 (more when overloaded), as bridge selection compares it: the
// process's CPU share, or its endpoints against maxEndpoints, whichever is higher.
func (h Heartbeat) Stress() float64 {
	return max(h.CPU, float64(h.Endpoints)/maxEndpoints)
}

// maxEndpoints is how many endpoints count as a full bridge in Stress when the CPU says less (Jicofo's
// max-bridge-participants is 80 per conference; a bridge holds a few conferences of that size).
const maxEndpoints = 400

// stressThreshold is the stress above which a bridge has no room for another conference (Jicofo's 0.8).
const stressThreshold = 0.8

// reply is the body of every answer to a request.
type reply struct {
	Allocated *bridgeapi.Allocated `json:"allocated,omitempty"`
	Error     string               `json:"error,omitempty"`
	Code      string               `json:"code,omitempty"` // a key of errorCodes, "" for others
}

// errorCodes name the errors that keep their identity across the network.
var errorCodes = map[string]error{
	"closed":               bridge.ErrClosed,
	"conference-not-found": bridge.ErrConferenceNotFound,
	"endpoint-not-found":   bridge.ErrEndpointNotFound,
	"endpoint-exists":      bridge.ErrEndpointExists,
	"invalid-id":           bridge.ErrInvalidID,
	"answer-already-set":   bridge.ErrAnswerAlreadySet,
	"bad-fingerprint":      bridge.ErrBadFingerprint,
	"bad-setup":            bridge.ErrBadSetup,
	"bad-ice-credentials":  bridge.ErrBadICECredentials,
	"bad-sources":          bridge.ErrBadSources,
	"draining":             bridgeapi.ErrDraining,
	"relay-not-found":      bridge.ErrRelayNotFound,
	"relay-exists":         bridge.ErrRelayExists,
	"relay-connected":      bridge.ErrRelayConnected,
	"bad-peer":             bridge.ErrBadPeer,
}

// errorReply encodes err with its code.
func errorReply(err error) reply {
	r := reply{Error: err.Error()}
	for code, e := range errorCodes {
		if errors.Is(err, e) {
			r.Code = code
			break
		}
	}
	return r
}

// remoteError is a bridge's error on the requesting side: its text as the bridge wrote it, and the
// identity of the error its code names.
type remoteError struct {
	text string
	is   error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.is }

// err returns r's error, nil when it carries none.
func (r reply) err() error {
	if r.Error == "" && r.Code == "" {
		return nil
	}
	return &remoteError{text: r.Error, is: errorCodes[r.Code]}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("cluster: encode: " + err.Error()) // only our own plain values are encoded
	}
	return b
}
