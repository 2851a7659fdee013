package bridge

import "errors"

// Errors returned by the API. Callers (the focus) map them onto Jingle/colibri errors in one place.
var (
	// ErrInvalidConfig: a Config field cannot work (Config.Validate).
	ErrInvalidConfig = errors.New("bridge: invalid config")
	// ErrClosed: the bridge was closed.
	ErrClosed = errors.New("bridge: closed")
	// ErrConferenceNotFound and ErrEndpointNotFound: colibri2 "conference not found" / item-not-found.
	ErrConferenceNotFound = errors.New("bridge: conference not found")
	ErrEndpointNotFound   = errors.New("bridge: endpoint not found")
	// ErrEndpointExists: an endpoint with that ID is already allocated in the conference.
	ErrEndpointExists = errors.New("bridge: endpoint already exists")
	// ErrInvalidID: a conference or endpoint ID is not [A-Za-z0-9._-]{1,64}.
	ErrInvalidID = errors.New("bridge: invalid id")
	// ErrAnswerAlreadySet: SetAnswer was called twice for one endpoint (an ICE restart is a new endpoint).
	ErrAnswerAlreadySet = errors.New("bridge: answer already set")
	// ErrBadFingerprint: the answer's DTLS fingerprint is missing or not sha-256/384/512 (RFC 8842, RFC 8827).
	ErrBadFingerprint = errors.New("bridge: bad dtls fingerprint")
	// ErrBadSetup: the answer's a=setup is not "active" (the bridge is the DTLS server; RFC 8842 §5.3).
	ErrBadSetup = errors.New("bridge: bad dtls setup role")
	// ErrBadICECredentials: ufrag/pwd outside RFC 8839 §5.4 (ufrag 4..256, pwd 22..256 ice-chars).
	ErrBadICECredentials = errors.New("bridge: bad ice credentials")
	// ErrBadSources: sources or groups violate the Jicofo rules (too many, reused, foreign, unknown kind).
	ErrBadSources = errors.New("bridge: bad sources")
	// ErrFingerprintMismatch: the DTLS peer certificate does not match the signalled fingerprint.
	ErrFingerprintMismatch = errors.New("bridge: dtls certificate does not match fingerprint")
)
