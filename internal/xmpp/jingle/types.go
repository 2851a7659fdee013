package jingle

// Jingle is one <jingle xmlns="urn:xmpp:jingle:1"/> element: the payload of a Jingle IQ.
type Jingle struct {
	Action    string
	SID       string
	Initiator string
	Responder string

	Contents []*Content
	// Groups holds <group xmlns="urn:xmpp:jingle:apps:grouping:0"/>; Jitsi sends one BUNDLE group.
	Groups []Group

	BridgeSession *BridgeSession
	StartMuted    *StartMuted
	Reason        *Reason

	// JSONSources says the sources travel in Jitsi's <json-message> (jitsi-dialect.md §5.3) rather than
	// as <source> elements. Parsing expands a json-message into the contents' descriptions and sets it;
	// Element moves the sources back into one json-message when it is set.
	JSONSources bool
}

// Content is a <content/>: one media stream (audio, video or the data channel).
type Content struct {
	Creator string // initiator or responder; may be empty in source-add/remove
	Name    string // audio, video, data; SDP mids in transport-info
	Senders string // both, initiator, responder, none (LJM also uses "rejected")

	Description *Description
	Transport   *Transport
	// InitialLastN is <initial-last-n xmlns="jitsi:colibri2" value=N/> (video content of session-accept);
	// nil when absent.
	InitialLastN *int
}

// Description is an RTP <description xmlns="urn:xmpp:jingle:apps:rtp:1"/> (XEP-0167) with Jitsi's
// source extensions. Media "application" (the data content) carries nothing else.
type Description struct {
	Media    string // audio, video, application
	MaxPtime int    // maxptime attribute; 0 when absent

	PayloadTypes     []PayloadType
	RTCPFB           []RTCPFB // feedback for every payload type (a=rtcp-fb:*)
	HdrExts          []HdrExt
	ExtmapAllowMixed bool
	RTCPMux          bool

	Sources    []Source    // ssma <source/> (XEP-0339) with Jitsi's ssrc-info owner
	SSRCGroups []SSRCGroup // ssma <ssrc-group/>
	RIDGroups  []RIDGroup  // ssma <rid-group/> (Firefox simulcast)
}

// PayloadType is a <payload-type/>: one codec.
type PayloadType struct {
	ID        uint8
	Name      string
	ClockRate uint32
	Channels  int // 0 when absent (one channel)
	Params    []Parameter
	RTCPFB    []RTCPFB
}

// Parameter is a name/value <parameter/>. An empty Name is an fmtp value without a key (RED's "111/111").
type Parameter struct {
	Name  string
	Value string
}

// RTCPFB is an <rtcp-fb/> (XEP-0293): "nack", "nack pli", "ccm fir", "transport-cc", "goog-remb".
type RTCPFB struct {
	Type    string
	Subtype string
}

// HdrExt is an <rtp-hdrext/> (XEP-0294).
type HdrExt struct {
	ID      int
	URI     string
	Senders string // empty means both
}

// Source is an ssma <source/>: one SSRC (or, from Firefox, one RID) with Jitsi's attributes.
type Source struct {
	SSRC      uint32
	RID       string // set instead of SSRC by Firefox's rid signalling
	Name      string // source name: "<endpoint>-v0", "jvb-a0"
	VideoType string // camera, desktop; empty when absent
	MSID      string // <parameter name="msid"/>: "<stream> <track>"
	Owner     string // <ssrc-info owner=/>: endpoint ID, "jvb", or a full JID
	// Params holds any other <parameter/> (e.g. cname), in order.
	Params []Parameter
}

// SSRCGroup is an ssma <ssrc-group/>: SIM lists simulcast layers low to high, FID pairs a primary
// SSRC with its RTX SSRC.
type SSRCGroup struct {
	Semantics string
	SSRCs     []uint32
}

// RIDGroup is an ssma <rid-group/>.
type RIDGroup struct {
	Semantics string
	RIDs      []string
}

// Transport is an ICE-UDP <transport/> (XEP-0176) with DTLS (XEP-0320), SCTP (XEP-0343) and Jitsi's
// bridge-channel URL.
type Transport struct {
	Ufrag string
	Pwd   string
	// ICEGeneration is the ice-generation attribute of an in-place ICE restart (§7.3); 0 when absent.
	ICEGeneration int
	RTCPMux       bool

	Fingerprints []Fingerprint
	Candidates   []Candidate
	SCTP         *SCTPMap
	// WebSockets are the colibri WebSocket URLs of <web-socket xmlns="http://jitsi.org/protocol/colibri"/>.
	WebSockets []string
}

// Fingerprint is a DTLS <fingerprint/>: the certificate hash and the DTLS role.
type Fingerprint struct {
	Hash     string // sha-256, sha-384, sha-512
	Setup    string // actpass, active, passive
	Value    string // "AB:CD:…"
	Required bool   // required="true"
	Cryptex  bool   // cryptex="true" (RFC 9335)
}

// Candidate is an ICE-UDP <candidate/>.
type Candidate struct {
	Component  int
	Foundation string
	Generation int
	ID         string
	Network    int
	Priority   uint32
	Protocol   string // udp, tcp, ssltcp
	Type       string // host, srflx, prflx, relay
	IP         string // address literal, or a hostname (mDNS ".local")
	Port       int
	RelAddr    string
	RelPort    int
	TCPType    string // active, passive, so
}

// SCTPMap is <sctpmap xmlns="urn:xmpp:jingle:transports:dtls-sctp:1"/>: the data channel's SCTP port.
type SCTPMap struct {
	Number   int    // SCTP port, 5000
	Protocol string // webrtc-datachannel
	Streams  int
}

// Group is a <group/> of content names, e.g. BUNDLE.
type Group struct {
	Semantics string
	Contents  []string
}

// BridgeSession is Jitsi's <bridge-session xmlns="http://jitsi.org/protocol/focus"/>.
type BridgeSession struct {
	ID         string
	Region     string
	Restart    bool // restart="true" in session-terminate: re-invite me
	ICERestart bool // ice-restart="true" in session-info: restart ICE in place
}

// StartMuted is <startmuted xmlns="http://jitsi.org/jitmeet/start-muted"/>.
type StartMuted struct {
	Audio bool
	Video bool
}

// Reason is a session-terminate <reason/>: a condition element (success, gone, …) and optional text.
type Reason struct {
	Condition string
	Text      string
}

// Content returns the content named name, or nil.
func (j *Jingle) Content(name string) *Content {
	for _, c := range j.Contents {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Bundle returns the content names of the BUNDLE group, or nil.
func (j *Jingle) Bundle() []string {
	for _, g := range j.Groups {
		if g.Semantics == SemanticsBUNDLE {
			return g.Contents
		}
	}
	return nil
}

// Kind returns the media kind of c: its description's media, "application" for a data content
// (sctpmap or name "data"), or its name when that is audio or video; "" when unknown.
func (c *Content) Kind() string {
	switch {
	case c.Description != nil && c.Description.Media != "":
		return c.Description.Media
	case c.Transport != nil && c.Transport.SCTP != nil, c.Name == ContentData:
		return MediaApplication
	case c.Name == MediaAudio || c.Name == MediaVideo:
		return c.Name
	}
	return ""
}
