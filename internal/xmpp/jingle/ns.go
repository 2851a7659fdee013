package jingle

import "github.com/parley-im/parley/internal/xmpp/stanza"

// Namespaces of the elements this package reads and writes (jitsi-dialect.md, cheat-sheet).
const (
	NS           = "urn:xmpp:jingle:1"                      // XEP-0166
	NSErrors     = "urn:xmpp:jingle:errors:1"               // XEP-0166 §10
	NSRTP        = "urn:xmpp:jingle:apps:rtp:1"             // XEP-0167
	NSRTCPFB     = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"     // XEP-0293
	NSHdrExt     = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"  // XEP-0294
	NSSSMA       = "urn:xmpp:jingle:apps:rtp:ssma:0"        // XEP-0339
	NSICE        = "urn:xmpp:jingle:transports:ice-udp:1"   // XEP-0176
	NSDTLS       = "urn:xmpp:jingle:apps:dtls:0"            // XEP-0320
	NSSCTP       = "urn:xmpp:jingle:transports:dtls-sctp:1" // XEP-0343
	NSGroup      = "urn:xmpp:jingle:apps:grouping:0"        // XEP-0338
	NSFocus      = "http://jitsi.org/protocol/focus"        // bridge-session
	NSJitMeet    = "http://jitsi.org/jitmeet"               // ssrc-info, json-message
	NSColibri    = "http://jitsi.org/protocol/colibri"      // web-socket
	NSColibri2   = "jitsi:colibri2"                         // initial-last-n
	NSStartMuted = "http://jitsi.org/jitmeet/start-muted"   // startmuted
)

// Jingle actions (XEP-0166 §7.2) and the ones Jitsi adds (jitsi-dialect.md §5.6).
const (
	ActionSessionInitiate  = "session-initiate"
	ActionSessionAccept    = "session-accept"
	ActionSessionInfo      = "session-info"
	ActionSessionTerminate = "session-terminate"
	ActionTransportInfo    = "transport-info"
	ActionTransportReplace = "transport-replace"
	ActionTransportAccept  = "transport-accept"
	ActionTransportReject  = "transport-reject"
	ActionContentAdd       = "content-add"
	ActionContentModify    = "content-modify"
	ActionContentRemove    = "content-remove"
	ActionContentAccept    = "content-accept"
	ActionContentReject    = "content-reject"
	ActionSourceAdd        = "source-add"
	ActionSourceRemove     = "source-remove"
	// Legacy spellings Jicofo still accepts from old clients.
	ActionAddSource    = "addsource"
	ActionRemoveSource = "removesource"
)

var actions = map[string]bool{
	ActionSessionInitiate: true, ActionSessionAccept: true, ActionSessionInfo: true,
	ActionSessionTerminate: true, ActionTransportInfo: true, ActionTransportReplace: true,
	ActionTransportAccept: true, ActionTransportReject: true, ActionContentAdd: true,
	ActionContentModify: true, ActionContentRemove: true, ActionContentAccept: true,
	ActionContentReject: true, ActionSourceAdd: true, ActionSourceRemove: true,
	ActionAddSource: true, ActionRemoveSource: true,
}

// Content creators and senders (XEP-0166 §7.1). SendersRejected is LJM's marker for a rejected m-line.
const (
	CreatorInitiator = "initiator"
	CreatorResponder = "responder"

	SendersBoth      = "both"
	SendersInitiator = "initiator"
	SendersResponder = "responder"
	SendersNone      = "none"
	SendersRejected  = "rejected"
)

// Media kinds of a description; content names Jitsi uses for them.
const (
	MediaAudio       = "audio"
	MediaVideo       = "video"
	MediaApplication = "application"
	ContentData      = "data"
)

// SSRC group semantics (RFC 5576, RFC 4588, simulcast).
const (
	SemanticsSIM    = "SIM"
	SemanticsFID    = "FID"
	SemanticsBUNDLE = "BUNDLE"
)

// Errors of XEP-0166 §10 with their stanza conditions, for handlers to reply with. Parsing itself
// returns stanza.ErrBadRequest with a text naming what was refused.
var (
	ErrUnknownSession = &stanza.Error{Type: stanza.Cancel, Condition: "item-not-found",
		Extra: []*stanza.Element{stanza.New(NSErrors, "unknown-session")}}
	ErrOutOfOrder = &stanza.Error{Type: stanza.Wait, Condition: "unexpected-request",
		Extra: []*stanza.Element{stanza.New(NSErrors, "out-of-order")}}
	ErrTieBreak = &stanza.Error{Type: stanza.Cancel, Condition: "conflict",
		Extra: []*stanza.Element{stanza.New(NSErrors, "tie-break")}}
	ErrUnsupportedInfo = &stanza.Error{Type: stanza.Modify, Condition: "feature-not-implemented",
		Extra: []*stanza.Element{stanza.New(NSErrors, "unsupported-info")}}
)

// refuse returns the bad-request error every validation failure becomes.
func refuse(format string, args ...any) error {
	return stanza.ErrBadRequest.WithText("jingle: "+format, args...)
}
