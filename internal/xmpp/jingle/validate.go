package jingle

import (
	"net/netip"
	"strings"
)

// Limits bound what one Jingle message may carry. Parse, FromSDP and ToSDP enforce them.
type Limits struct {
	// MaxContents caps contents per message (and m-lines per SDP, see MaxMediaSections).
	MaxContents int
	// MaxSourcesPerOwner caps the sources, and separately the source groups, of one owner (an
	// endpoint; "" for the sender itself): Jicofo's max-ssrcs-per-user.
	MaxSourcesPerOwner int
	// MaxSources caps sources per description whatever their owner.
	MaxSources int
	// MaxMediaSections caps the m-lines of an SDP.
	MaxMediaSections int
	MaxPayloadTypes  int // per description
	MaxHdrExts       int // per description
	MaxParams        int // per payload type
	MaxFeedback      int // rtcp-fb per payload type or description
	MaxCandidates    int // per transport
}

// DefaultLimits are for what participants send: Jicofo's 20 sources and 20 groups per endpoint, 16
// contents (Jitsi sends three), 32 candidates per transport.
func DefaultLimits() Limits {
	return Limits{
		MaxContents:        16,
		MaxSourcesPerOwner: 20,
		MaxSources:         64,
		MaxMediaSections:   16,
		MaxPayloadTypes:    32,
		MaxHdrExts:         16,
		MaxParams:          16,
		MaxFeedback:        16,
		MaxCandidates:      32,
	}
}

// OfferLimits are for what a participant receives from the focus: the bridge's send slots (up to 500
// per media type, each video slot with an RTX SSRC) and LJM-style SDP with one m-line per slot.
func OfferLimits() Limits {
	l := DefaultLimits()
	l.MaxSourcesPerOwner = 1024
	l.MaxSources = 1100
	l.MaxMediaSections = 1100
	return l
}

const (
	maxGroupSize    = 8
	maxSourceParams = 8
	maxFingerprints = 4
	maxWebSockets   = 4
	maxString       = 1024 // any attribute value
)

// knownHdrExts are the RTP header-extension URIs Parse keeps (jitsi-dialect.md §11.2, plus what
// browsers commonly answer with). Others are dropped.
var knownHdrExts = map[string]bool{
	"urn:ietf:params:rtp-hdrext:ssrc-audio-level":                                             true,
	"urn:ietf:params:rtp-hdrext:toffset":                                                      true,
	"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time":                              true,
	"urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":                                           true,
	"urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id":                                  true,
	"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01":               true,
	"http://www.webrtc.org/experiments/rtp-hdrext/video-content-type":                         true,
	"http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07":                            true,
	"urn:ietf:params:rtp-hdrext:sdes:mid":                                                     true,
	"https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension": true,
	"http://www.webrtc.org/experiments/rtp-hdrext/video-layers-allocation00":                  true,
	"urn:3gpp:video-orientation":                                                              true,
	"http://www.webrtc.org/experiments/rtp-hdrext/playout-delay":                              true,
	"http://www.webrtc.org/experiments/rtp-hdrext/video-timing":                               true,
	"http://www.webrtc.org/experiments/rtp-hdrext/color-space":                                true,
	"http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time":                           true,
}

// Validate checks j against the dialect and lim; Parse and FromSDP call it, and ToSDP refuses what it
// refuses. What it checks (threats-and-tests §5.1 items 13-19, the parsing part):
//   - every value that is rendered into SDP is free of CR, LF, NUL and other control characters, and
//     values that are single SDP tokens (ufrag, payload names, candidate fields, …) have no spaces;
//   - known action, a sid; content names unique; creators, senders, media kinds, group semantics
//     from the dialect; groups name existing contents;
//   - payload types unique per description (0-127), header-extension IDs unique (1-14, 16-255);
//   - SSRCs non-zero and unique in the message, at most lim.MaxSourcesPerOwner sources and as many
//     groups per owner; groups reference sources of their description, FID pairs two SSRCs, SIM 2-4;
//   - msid is "<stream> [<track>]", videoType camera or desktop;
//   - ICE ufrag/pwd of RFC 8839 syntax and length; at most lim.MaxCandidates candidates, each with a
//     known protocol and type and an IP literal or host name;
//   - a fingerprint on every transport with ICE credentials in session-initiate/session-accept, with
//     sha-256/384/512 (SHA-1 and unknown hashes refused), a value of the hash's length, and a setup
//     role allowed for the action (actpass only in an offer);
//   - the SCTP map names webrtc-datachannel; web-socket URLs are ws(s) URLs.
//
// Semantic checks that need conference state (the SSRC belongs to another endpoint, the sender is not
// the focus, …) belong to the focus.
func (j *Jingle) Validate(lim Limits) error {
	if !actions[j.Action] {
		return refuse("unknown action %.32q", j.Action)
	}
	if !isToken(j.SID) || len(j.SID) > 128 {
		return refuse("bad sid")
	}
	for _, v := range []string{j.Initiator, j.Responder} {
		if !isText(v) {
			return refuse("bad initiator or responder")
		}
	}
	return j.validateBody(lim)
}

// validateBody checks everything but the action and session fields (FromSDP has none yet).
func (j *Jingle) validateBody(lim Limits) error {
	if len(j.Contents) > lim.MaxContents {
		return refuse("more than %d contents", lim.MaxContents)
	}
	names := map[string]bool{}
	ssrcs := map[uint32]bool{}
	perOwner := map[string]int{}
	groupsPerOwner := map[string]int{}
	for _, c := range j.Contents {
		if c == nil {
			return refuse("empty content")
		}
		if !isToken(c.Name) {
			return refuse("bad content name %.32q", c.Name)
		}
		if names[c.Name] {
			return refuse("content %q appears twice", c.Name)
		}
		names[c.Name] = true
		if err := c.validate(j.Action, lim, ssrcs, perOwner, groupsPerOwner); err != nil {
			return err
		}
	}
	for owner, n := range perOwner {
		if n > lim.MaxSourcesPerOwner {
			return refuse("more than %d sources for %.64q", lim.MaxSourcesPerOwner, owner)
		}
	}
	for owner, n := range groupsPerOwner {
		if n > lim.MaxSourcesPerOwner {
			return refuse("more than %d source groups for %.64q", lim.MaxSourcesPerOwner, owner)
		}
	}
	for _, g := range j.Groups {
		if g.Semantics != SemanticsBUNDLE && g.Semantics != "LS" {
			return refuse("unknown group semantics %.32q", g.Semantics)
		}
		seen := map[string]bool{}
		for _, n := range g.Contents {
			if !names[n] || seen[n] {
				return refuse("group names unknown or repeated content %.32q", n)
			}
			seen[n] = true
		}
	}
	if b := j.BridgeSession; b != nil && (!isText(b.ID) || !isText(b.Region)) {
		return refuse("bad bridge-session")
	}
	if r := j.Reason; r != nil && (!isText(r.Condition) || len(r.Text) > 4096) {
		return refuse("bad reason")
	}
	return nil
}

func (c *Content) validate(action string, lim Limits, ssrcs map[uint32]bool, perOwner, groupsPerOwner map[string]int) error {
	switch c.Creator {
	case "", CreatorInitiator, CreatorResponder:
	default:
		return refuse("content %q: bad creator", c.Name)
	}
	switch c.Senders {
	case "", SendersBoth, SendersInitiator, SendersResponder, SendersNone, SendersRejected:
	default:
		return refuse("content %q: bad senders", c.Name)
	}
	if c.InitialLastN != nil && (*c.InitialLastN < 0 || *c.InitialLastN > 1<<20) {
		return refuse("content %q: bad initial-last-n", c.Name)
	}
	if d := c.Description; d != nil {
		if err := d.validate(c.Name, lim, ssrcs, perOwner, groupsPerOwner); err != nil {
			return err
		}
	}
	if t := c.Transport; t != nil {
		if err := t.validate(c.Name, action, lim); err != nil {
			return err
		}
	}
	return nil
}

func (d *Description) validate(content string, lim Limits, ssrcs map[uint32]bool, perOwner, groupsPerOwner map[string]int) error {
	switch d.Media {
	case MediaAudio, MediaVideo, MediaApplication:
	default:
		return refuse("content %q: bad media %.32q", content, d.Media)
	}
	if d.MaxPtime < 0 || d.MaxPtime > 10000 {
		return refuse("content %q: bad maxptime", content)
	}
	if len(d.PayloadTypes) > lim.MaxPayloadTypes || len(d.HdrExts) > lim.MaxHdrExts ||
		len(d.RTCPFB) > lim.MaxFeedback || len(d.Sources) > lim.MaxSources ||
		len(d.SSRCGroups) > lim.MaxSources || len(d.RIDGroups) > lim.MaxSources {
		return refuse("content %q: description over limits", content)
	}
	pts := map[uint8]bool{}
	for _, pt := range d.PayloadTypes {
		if pt.ID > 127 {
			return refuse("content %q: payload type %d out of range", content, pt.ID)
		}
		if pts[pt.ID] {
			return refuse("content %q: payload type %d appears twice", content, pt.ID)
		}
		pts[pt.ID] = true
		if !isCodecName(pt.Name) || pt.ClockRate == 0 || pt.Channels < 0 || pt.Channels > 255 {
			return refuse("content %q: payload type %d: bad name or clock rate", content, pt.ID)
		}
		if len(pt.Params) > lim.MaxParams || len(pt.RTCPFB) > lim.MaxFeedback {
			return refuse("content %q: payload type %d over limits", content, pt.ID)
		}
		for _, p := range pt.Params {
			if !isParamName(p.Name, true) || !isText(p.Value) || strings.ContainsAny(p.Value, " ") || (p.Name == "" && p.Value == "") {
				return refuse("content %q: payload type %d: bad parameter", content, pt.ID)
			}
		}
		if err := validFeedback(pt.RTCPFB); err != nil {
			return refuse("content %q: payload type %d: %v", content, pt.ID, err)
		}
	}
	if err := validFeedback(d.RTCPFB); err != nil {
		return refuse("content %q: %v", content, err)
	}
	ids := map[int]bool{}
	for _, h := range d.HdrExts {
		if h.ID < 1 || h.ID > 255 || h.ID == 15 {
			return refuse("content %q: header extension ID %d out of range", content, h.ID)
		}
		if ids[h.ID] {
			return refuse("content %q: header extension ID %d appears twice", content, h.ID)
		}
		ids[h.ID] = true
		if !knownHdrExts[h.URI] {
			return refuse("content %q: unknown header extension", content)
		}
		switch h.Senders {
		case "", SendersBoth, SendersInitiator, SendersResponder, SendersNone:
		default:
			return refuse("content %q: header extension %d: bad senders", content, h.ID)
		}
	}
	local := map[uint32]string{} // SSRC → owner, this description
	rids := map[string]bool{}
	for _, s := range d.Sources {
		if s.RID != "" {
			if s.SSRC != 0 || !isRID(s.RID) || rids[s.RID] {
				return refuse("content %q: bad or repeated rid source", content)
			}
			rids[s.RID] = true
		} else {
			if s.SSRC == 0 {
				return refuse("content %q: source without SSRC", content)
			}
			if ssrcs[s.SSRC] {
				return refuse("content %q: SSRC %d appears twice", content, s.SSRC)
			}
			ssrcs[s.SSRC] = true
			local[s.SSRC] = s.Owner
		}
		perOwner[s.Owner]++
		if !isTokenOrEmpty(s.Name) || !isTokenOrEmpty(s.Owner) || len(s.Name) > 256 || len(s.Owner) > 512 {
			return refuse("content %q: source %d: bad name or owner", content, s.SSRC)
		}
		switch s.VideoType {
		case "", "camera", "desktop":
		default:
			return refuse("content %q: source %d: bad videoType", content, s.SSRC)
		}
		if s.MSID != "" && !isMSID(s.MSID) {
			return refuse("content %q: source %d: bad msid", content, s.SSRC)
		}
		if len(s.Params) > maxSourceParams {
			return refuse("content %q: source %d: too many parameters", content, s.SSRC)
		}
		for _, p := range s.Params {
			switch p.Name {
			case "msid", "name", "videoType", "owner", "":
				return refuse("content %q: source %d: bad parameter", content, s.SSRC)
			}
			if !isParamName(p.Name, false) || !isText(p.Value) || len(p.Value) > 256 {
				return refuse("content %q: source %d: bad parameter", content, s.SSRC)
			}
		}
	}
	for _, g := range d.SSRCGroups {
		n := len(g.SSRCs)
		switch {
		case g.Semantics == SemanticsFID && n != 2,
			g.Semantics == SemanticsSIM && (n < 2 || n > 4),
			g.Semantics != SemanticsFID && g.Semantics != SemanticsSIM && g.Semantics != "FEC-FR":
			return refuse("content %q: bad %.16q source group of %d", content, g.Semantics, n)
		case n > maxGroupSize:
			return refuse("content %q: source group too large", content)
		}
		seen := map[uint32]bool{}
		for _, ssrc := range g.SSRCs {
			if _, ok := local[ssrc]; !ok || seen[ssrc] {
				return refuse("content %q: source group names unknown or repeated SSRC %d", content, ssrc)
			}
			seen[ssrc] = true
		}
		groupsPerOwner[local[g.SSRCs[0]]]++
	}
	for _, g := range d.RIDGroups {
		if g.Semantics != SemanticsSIM || len(g.RIDs) < 1 || len(g.RIDs) > maxGroupSize {
			return refuse("content %q: bad rid group", content)
		}
		for _, r := range g.RIDs {
			if !rids[r] {
				return refuse("content %q: rid group names unknown rid", content)
			}
		}
	}
	return nil
}

func validFeedback(fbs []RTCPFB) error {
	for _, fb := range fbs {
		if !isParamName(fb.Type, false) || (fb.Subtype != "" && !isParamName(fb.Subtype, false)) {
			return refuse("bad rtcp-fb")
		}
	}
	return nil
}

func (t *Transport) validate(content, action string, lim Limits) error {
	if len(t.Candidates) > lim.MaxCandidates || len(t.Fingerprints) > maxFingerprints || len(t.WebSockets) > maxWebSockets {
		return refuse("content %q: transport over limits", content)
	}
	if (t.Ufrag != "" || t.Pwd != "") && (!isICEChars(t.Ufrag, 4) || !isICEChars(t.Pwd, 22)) {
		return refuse("content %q: bad ICE ufrag or pwd", content)
	}
	if t.ICEGeneration < 0 {
		return refuse("content %q: bad ice-generation", content)
	}
	needFP := (action == ActionSessionInitiate || action == ActionSessionAccept) && t.Ufrag != ""
	if needFP && len(t.Fingerprints) == 0 {
		return refuse("content %q: transport without DTLS fingerprint", content)
	}
	for _, f := range t.Fingerprints {
		if err := f.validate(action); err != nil {
			return refuse("content %q: %v", content, err)
		}
	}
	for i := range t.Candidates {
		if err := t.Candidates[i].Validate(); err != nil {
			return refuse("content %q: %v", content, err)
		}
	}
	if m := t.SCTP; m != nil {
		if m.Protocol != "webrtc-datachannel" || m.Number < 0 || m.Number > 65535 || m.Streams < 0 || m.Streams > 65535 {
			return refuse("content %q: bad sctpmap", content)
		}
	}
	for _, u := range t.WebSockets {
		if !(strings.HasPrefix(u, "wss://") || strings.HasPrefix(u, "ws://")) || !isText(u) || strings.Contains(u, " ") {
			return refuse("content %q: bad web-socket URL", content)
		}
	}
	return nil
}

var hashLen = map[string]int{"sha-256": 32, "sha-384": 48, "sha-512": 64}

func (f Fingerprint) validate(action string) error {
	n, ok := hashLen[f.Hash]
	if !ok {
		return refuse("fingerprint hash %.16q not accepted (sha-256, sha-384, sha-512)", f.Hash)
	}
	if len(f.Value) != 3*n-1 {
		return refuse("fingerprint of the wrong length for %s", f.Hash)
	}
	for i := 0; i < len(f.Value); i++ {
		c := f.Value[i]
		if i%3 == 2 {
			if c != ':' {
				return refuse("malformed fingerprint")
			}
		} else if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return refuse("malformed fingerprint")
		}
	}
	switch f.Setup {
	case "active", "passive", "":
	case "actpass":
		if action == ActionSessionAccept {
			return refuse("setup actpass in an answer")
		}
	default:
		return refuse("bad DTLS setup %.16q", f.Setup)
	}
	return nil
}

// Validate checks one candidate's syntax; whether its address may be used is the bridge's policy.
func (c *Candidate) Validate() error {
	switch {
	case c.Component < 1 || c.Component > 256:
		return refuse("candidate: bad component")
	case !isICEChars(c.Foundation, 1) || len(c.Foundation) > 32:
		return refuse("candidate: bad foundation")
	case c.ID != "" && (!isToken(c.ID) || len(c.ID) > 64):
		return refuse("candidate: bad id")
	case c.Port < 0 || c.Port > 65535 || c.RelPort < 0 || c.RelPort > 65535 || c.Generation < 0 || c.Network < 0:
		return refuse("candidate: bad number")
	case !isHost(c.IP) || (c.RelAddr != "" && !isHost(c.RelAddr)):
		return refuse("candidate: bad address")
	}
	switch strings.ToLower(c.Protocol) {
	case "udp", "tcp", "ssltcp":
	default:
		return refuse("candidate: bad protocol")
	}
	switch c.Type {
	case "host", "srflx", "prflx", "relay":
	default:
		return refuse("candidate: bad type")
	}
	switch c.TCPType {
	case "", "active", "passive", "so":
	default:
		return refuse("candidate: bad tcptype")
	}
	return nil
}

// isText: no control characters (CR, LF, NUL, …) and not too long: safe inside one SDP line.
func isText(s string) bool {
	if len(s) > maxString {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// isToken: non-empty printable ASCII without spaces: one field of an SDP line.
func isToken(s string) bool {
	if s == "" || len(s) > maxString {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func isTokenOrEmpty(s string) bool { return s == "" || isToken(s) }

// isParamName: a token without the fmtp separators ';' '=' and the ssrc separator ':' (when strict).
func isParamName(s string, emptyOK bool) bool {
	if s == "" {
		return emptyOK
	}
	return isToken(s) && len(s) <= 64 && !strings.ContainsAny(s, ";=:")
}

func isCodecName(s string) bool {
	return isToken(s) && len(s) <= 64 && !strings.ContainsAny(s, "/;=:")
}

// isICEChars: RFC 8839 ice-char (ALPHA / DIGIT / "+" / "/"), min..256 long.
func isICEChars(s string, min int) bool {
	if len(s) < min || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// isRID: RFC 8851 rid-id (ALPHA / DIGIT / "-" / "_"), at most 255 long (browsers send 1-16).
func isRID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isMSID: "<stream-id>" or "<stream-id> <track-id>" (RFC 8830), tokens of at most 256 characters each.
func isMSID(s string) bool {
	parts := strings.Split(s, " ")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if !isToken(p) || len(p) > 256 {
			return false
		}
	}
	return true
}

// isHost: an IP literal, or a DNS name (mDNS candidates end in ".local").
func isHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return !strings.Contains(s, "%") // no IPv6 zones
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// KnownHdrExt reports whether Parse and FromSDP keep a header extension with this URI.
func KnownHdrExt(uri string) bool { return knownHdrExts[uri] }
