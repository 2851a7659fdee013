package jingle

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// FromSDP translates a session description into the contents and groups of a Jingle message and
// validates the result as Parse would (with opt.Limits, default DefaultLimits). The caller fills in
// sid, initiator, responder and anything SDP cannot carry (see ToSDP); Action is set from opt.
//
// Normalisation (what a round trip SDP→Jingle→SDP does not keep): o=, s= and t= lines, a=ice-options,
// a=rtcp, a=end-of-candidates, a=msid-semantic, a=max-message-size, session-level a=extmap-allow-mixed
// (moved to each m-line), session-level ICE and DTLS attributes (moved to each m-line), ssrc attributes
// other than msid, name and videoType (cname, mslabel, label), formats without a=rtpmap, unknown
// header extensions, candidate extensions other than raddr/rport/tcptype/generation/network-id.
// fmtp parameters are split at ";"; rtcp-fb keeps one subtype.
func FromSDP(sd *sdp.SessionDescription, opt SDPOptions) (*Jingle, error) {
	lim := DefaultLimits()
	if opt.Limits != nil {
		lim = *opt.Limits
	}
	j := &Jingle{Action: opt.Action}
	if j.Action == "" {
		j.Action = ActionSessionInitiate
		if opt.Responder {
			j.Action = ActionSessionAccept
		}
	}
	if sd == nil {
		return nil, refuse("no session description")
	}
	if len(sd.MediaDescriptions) > lim.MaxMediaSections {
		return nil, refuse("more than %d m-lines", lim.MaxMediaSections)
	}
	r := sdpReader{opt: opt, lim: lim, session: sd.Attributes}
	midToContent := map[string]string{}
	for i, m := range sd.MediaDescriptions {
		name, err := r.media(j, m, i)
		if err != nil {
			return nil, err
		}
		if mid, ok := m.Attribute("mid"); ok {
			midToContent[mid] = name
		}
	}
	for _, a := range sd.Attributes {
		if a.Key != "group" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) == 0 || f[0] != SemanticsBUNDLE {
			continue
		}
		g := Group{Semantics: SemanticsBUNDLE}
		seen := map[string]bool{}
		for _, mid := range f[1:] {
			name, ok := midToContent[mid]
			if !ok {
				return nil, refuse("BUNDLE names unknown mid %.32q", mid)
			}
			if !seen[name] {
				seen[name] = true
				g.Contents = append(g.Contents, name)
			}
		}
		j.Groups = append(j.Groups, g)
	}
	if err := j.validateBody(lim); err != nil {
		return nil, err
	}
	return j, nil
}

// FromSDPString is sdp.Unmarshal followed by FromSDP.
func FromSDPString(s string, opt SDPOptions) (*Jingle, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(s)); err != nil {
		return nil, refuse("malformed SDP: %v", err)
	}
	return FromSDP(&sd, opt)
}

type sdpReader struct {
	opt     SDPOptions
	lim     Limits
	session []sdp.Attribute
}

// attr returns the first value of key in m, falling back to the session level.
func (r *sdpReader) attr(m *sdp.MediaDescription, key string) (string, bool) {
	if v, ok := m.Attribute(key); ok {
		return v, true
	}
	for _, a := range r.session {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// media adds m-line i to j and returns the name of the content it went to.
func (r *sdpReader) media(j *Jingle, m *sdp.MediaDescription, i int) (string, error) {
	kind := m.MediaName.Media
	switch kind {
	case MediaAudio, MediaVideo, MediaApplication:
	default:
		return "", refuse("m-line %d: unsupported media %.16q", i, kind)
	}
	mid, ok := m.Attribute("mid")
	if !ok {
		mid = strconv.Itoa(i)
	}
	if !isToken(mid) || len(mid) > 64 {
		return "", refuse("m-line %d: bad mid", i)
	}
	name := mid
	if r.opt.ByKind {
		name = kind
		if kind == MediaApplication {
			name = ContentData
		}
	}
	if c := j.Content(name); c != nil {
		if !r.opt.ByKind {
			return "", refuse("mid %.32q appears twice", mid)
		}
		// A later m-line of a kind: only its sources join the content.
		if kind != MediaApplication {
			d, err := r.description(m, i, true)
			if err != nil {
				return "", err
			}
			if d != nil {
				if c.Description == nil {
					c.Description = &Description{Media: kind}
				}
				c.Description.Sources = append(c.Description.Sources, d.Sources...)
				c.Description.SSRCGroups = append(c.Description.SSRCGroups, d.SSRCGroups...)
				c.Description.RIDGroups = append(c.Description.RIDGroups, d.RIDGroups...)
				if len(c.Description.Sources) > r.lim.MaxSources {
					return "", refuse("more than %d sources", r.lim.MaxSources)
				}
			}
		}
		return name, nil
	}
	if len(j.Contents) >= r.lim.MaxContents {
		return "", refuse("more than %d contents", r.lim.MaxContents)
	}
	c := &Content{Name: name, Creator: CreatorInitiator}
	if r.opt.Responder {
		c.Creator = CreatorResponder
	}
	c.Senders = r.senders(m)
	var err error
	if kind == MediaApplication {
		if !r.opt.Responder {
			c.Description = &Description{Media: MediaApplication}
		}
	} else if c.Description, err = r.description(m, i, false); err != nil {
		return "", err
	}
	if c.Transport, err = r.transport(m, i); err != nil {
		return "", err
	}
	if _, mux := m.Attribute("rtcp-mux"); mux && c.Transport != nil && kind != MediaApplication {
		c.Transport.RTCPMux = true
	}
	j.Contents = append(j.Contents, c)
	return name, nil
}

func (r *sdpReader) senders(m *sdp.MediaDescription) string {
	if m.MediaName.Port.Value == 0 {
		if _, ok := r.attr(m, "bundle-only"); !ok {
			return SendersRejected
		}
	}
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendrecv":
			return SendersBoth
		case "inactive":
			return SendersNone
		case "sendonly", "recvonly":
			if (a.Key == "sendonly") != r.opt.Responder {
				return SendersInitiator
			}
			return SendersResponder
		}
	}
	return ""
}

// description reads the RTP description of an audio or video m-line; nil when the m-line has no
// formats, sources or header extensions (a transport-only fragment). sourcesOnly reads just the
// sources, for later m-lines merged into a content.
func (r *sdpReader) description(m *sdp.MediaDescription, i int, sourcesOnly bool) (*Description, error) {
	d := &Description{Media: m.MediaName.Media}
	ptIndex := map[uint8]int{}
	if !sourcesOnly {
		if len(m.MediaName.Formats) > r.lim.MaxPayloadTypes {
			return nil, refuse("m-line %d: more than %d formats", i, r.lim.MaxPayloadTypes)
		}
		formats := map[uint8]bool{}
		for _, f := range m.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 8)
			if err != nil || n > 127 {
				return nil, refuse("m-line %d: bad format %.8q", i, f)
			}
			if formats[uint8(n)] {
				return nil, refuse("m-line %d: payload type %d appears twice", i, n)
			}
			formats[uint8(n)] = true
		}
		// Payload types in the order of the m-line's formats, those with an rtpmap only.
		rtpmaps := map[uint8]PayloadType{}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, err := parseRtpmap(a.Value)
			if err != nil {
				return nil, refuse("m-line %d: %v", i, err)
			}
			if _, dup := rtpmaps[pt.ID]; dup {
				return nil, refuse("m-line %d: payload type %d mapped twice", i, pt.ID)
			}
			rtpmaps[pt.ID] = pt
		}
		for _, f := range m.MediaName.Formats {
			n, _ := strconv.ParseUint(f, 10, 8)
			if pt, ok := rtpmaps[uint8(n)]; ok {
				ptIndex[pt.ID] = len(d.PayloadTypes)
				d.PayloadTypes = append(d.PayloadTypes, pt)
			}
		}
	}
	ssrcIndex := map[uint32]int{}
	extIDs := 0
	for _, a := range m.Attributes {
		switch a.Key {
		case "fmtp", "rtcp-fb":
			if sourcesOnly {
				continue
			}
			id, rest, _ := strings.Cut(a.Value, " ")
			if a.Key == "rtcp-fb" && id == "*" {
				if len(d.RTCPFB) < r.lim.MaxFeedback {
					d.RTCPFB = append(d.RTCPFB, parseRTCPFB(rest))
				}
				continue
			}
			n, err := strconv.ParseUint(id, 10, 8)
			k, ok := ptIndex[uint8(n)]
			if err != nil || !ok {
				continue // for a format we did not keep
			}
			pt := &d.PayloadTypes[k]
			if a.Key == "rtcp-fb" {
				if len(pt.RTCPFB) >= r.lim.MaxFeedback {
					return nil, refuse("m-line %d: too many rtcp-fb", i)
				}
				pt.RTCPFB = append(pt.RTCPFB, parseRTCPFB(rest))
				continue
			}
			for _, p := range strings.Split(rest, ";") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if len(pt.Params) >= r.lim.MaxParams {
					return nil, refuse("m-line %d: too many fmtp parameters", i)
				}
				k, v, ok := strings.Cut(p, "=")
				if !ok {
					k, v = "", p
				}
				pt.Params = append(pt.Params, Parameter{Name: k, Value: v})
			}
		case "extmap":
			if sourcesOnly {
				continue
			}
			if extIDs++; extIDs > 64 {
				return nil, refuse("m-line %d: too many extmap lines", i)
			}
			f := strings.Fields(a.Value)
			if len(f) < 2 || !knownHdrExts[f[1]] {
				continue // unknown extensions are dropped
			}
			idStr, dir, _ := strings.Cut(f[0], "/")
			id, err := strconv.Atoi(idStr)
			if err != nil || len(idStr) > 3 {
				return nil, refuse("m-line %d: bad extmap id", i)
			}
			h := HdrExt{ID: id, URI: f[1]}
			if dir != "" {
				h.Senders = sendersOf(dir, r.opt.Responder)
				if h.Senders == "" {
					return nil, refuse("m-line %d: bad extmap direction", i)
				}
			}
			d.HdrExts = append(d.HdrExts, h)
		case "extmap-allow-mixed":
			d.ExtmapAllowMixed = true
		case "rtcp-mux":
			d.RTCPMux = !sourcesOnly
		case "maxptime":
			if sourcesOnly {
				continue
			}
			n, err := strconv.Atoi(a.Value)
			if err != nil || n < 1 || n > 10000 {
				return nil, refuse("m-line %d: bad maxptime", i)
			}
			d.MaxPtime = n
		case "ssrc":
			id, rest, _ := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(id, 10, 32)
			if err != nil || n == 0 {
				return nil, refuse("m-line %d: bad ssrc", i)
			}
			k, ok := ssrcIndex[uint32(n)]
			if !ok {
				if len(d.Sources) >= r.lim.MaxSources {
					return nil, refuse("more than %d sources", r.lim.MaxSources)
				}
				k = len(d.Sources)
				ssrcIndex[uint32(n)] = k
				d.Sources = append(d.Sources, Source{SSRC: uint32(n)})
			}
			attr, value, _ := strings.Cut(rest, ":")
			switch s := &d.Sources[k]; attr {
			case "msid":
				s.MSID = value
			case "name":
				s.Name = value
			case "videoType":
				s.VideoType = value
			}
		case "ssrc-group":
			f := strings.Fields(a.Value)
			if len(f) < 2 || len(f) > maxGroupSize+1 {
				return nil, refuse("m-line %d: bad ssrc-group", i)
			}
			if len(d.SSRCGroups) >= r.lim.MaxSources {
				return nil, refuse("more than %d source groups", r.lim.MaxSources)
			}
			g := SSRCGroup{Semantics: f[0]}
			for _, s := range f[1:] {
				n, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return nil, refuse("m-line %d: bad ssrc-group", i)
				}
				g.SSRCs = append(g.SSRCs, uint32(n))
			}
			d.SSRCGroups = append(d.SSRCGroups, g)
		case "rid":
			f := strings.Fields(a.Value)
			if len(f) < 2 || f[1] != "send" {
				continue
			}
			if len(d.Sources) >= r.lim.MaxSources {
				return nil, refuse("more than %d sources", r.lim.MaxSources)
			}
			d.Sources = append(d.Sources, Source{RID: f[0]})
		case "simulcast":
			dir, list, _ := strings.Cut(a.Value, " ")
			if dir != "send" || len(d.RIDGroups) > 0 {
				continue
			}
			g := RIDGroup{Semantics: SemanticsSIM}
			for _, alt := range strings.Split(list, ";") {
				if len(g.RIDs) >= maxGroupSize {
					return nil, refuse("m-line %d: simulcast too large", i)
				}
				first, _, _ := strings.Cut(alt, ",")
				g.RIDs = append(g.RIDs, strings.TrimPrefix(first, "~"))
			}
			d.RIDGroups = append(d.RIDGroups, g)
		}
	}
	if v, ok := m.Attribute("msid"); ok {
		// Unified-plan SDP (Pion) may give the msid at media level only.
		for k := range d.Sources {
			if d.Sources[k].MSID == "" && d.Sources[k].RID == "" {
				d.Sources[k].MSID = v
			}
		}
	}
	if !sourcesOnly {
		if _, ok := r.attr(m, "extmap-allow-mixed"); ok {
			d.ExtmapAllowMixed = true
		}
	}
	if len(d.PayloadTypes) == 0 && len(d.Sources) == 0 && len(d.HdrExts) == 0 && len(d.RTCPFB) == 0 {
		return nil, nil
	}
	return d, nil
}

func (r *sdpReader) transport(m *sdp.MediaDescription, i int) (*Transport, error) {
	t := &Transport{}
	t.Ufrag, _ = r.attr(m, "ice-ufrag")
	t.Pwd, _ = r.attr(m, "ice-pwd")
	setup, _ := r.attr(m, "setup")
	_, cryptex := r.attr(m, "cryptex")
	fps := m.Attributes
	if _, ok := m.Attribute("fingerprint"); !ok {
		fps = r.session
	}
	for _, a := range fps {
		if a.Key != "fingerprint" {
			continue
		}
		if len(t.Fingerprints) >= maxFingerprints {
			return nil, refuse("m-line %d: too many fingerprints", i)
		}
		hash, value, _ := strings.Cut(a.Value, " ")
		t.Fingerprints = append(t.Fingerprints, Fingerprint{Hash: strings.ToLower(hash), Value: value, Setup: setup,
			Cryptex: cryptex, Required: r.opt.Responder && r.opt.Action == ActionTransportInfo})
	}
	for _, a := range m.Attributes {
		switch a.Key {
		case "candidate":
			if len(t.Candidates) >= r.lim.MaxCandidates {
				return nil, refuse("m-line %d: more than %d candidates", i, r.lim.MaxCandidates)
			}
			c, err := ParseCandidate(a.Value)
			if err != nil {
				return nil, err
			}
			t.Candidates = append(t.Candidates, c)
		case "sctp-port":
			n, err := strconv.Atoi(a.Value)
			if err != nil || n < 0 || n > 65535 {
				return nil, refuse("m-line %d: bad sctp-port", i)
			}
			t.SCTP = &SCTPMap{Number: n, Protocol: "webrtc-datachannel"}
		case "sctpmap":
			f := strings.Fields(a.Value)
			if len(f) < 2 || t.SCTP != nil {
				continue
			}
			sm := &SCTPMap{Protocol: f[1]}
			var err error
			if sm.Number, err = strconv.Atoi(f[0]); err == nil && len(f) > 2 {
				sm.Streams, err = strconv.Atoi(f[2])
			}
			if err != nil {
				return nil, refuse("m-line %d: bad sctpmap", i)
			}
			t.SCTP = sm
		}
	}
	if t.Ufrag == "" && t.Pwd == "" && len(t.Fingerprints) == 0 && len(t.Candidates) == 0 && t.SCTP == nil {
		return nil, nil
	}
	return t, nil
}

// sendersOf maps an SDP direction to Jingle senders, seen from the side the SDP describes.
func sendersOf(dir string, responder bool) string {
	for _, s := range []string{SendersBoth, SendersNone, SendersInitiator, SendersResponder} {
		if direction(s, responder) == dir {
			return s
		}
	}
	return ""
}

func parseRtpmap(v string) (PayloadType, error) {
	id, enc, _ := strings.Cut(v, " ")
	n, err := strconv.ParseUint(id, 10, 8)
	if err != nil || n > 127 {
		return PayloadType{}, refuse("bad rtpmap %.32q", v)
	}
	parts := strings.Split(enc, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return PayloadType{}, refuse("bad rtpmap %.32q", v)
	}
	pt := PayloadType{ID: uint8(n), Name: parts[0]}
	cr, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || cr == 0 {
		return pt, refuse("bad rtpmap clock rate")
	}
	pt.ClockRate = uint32(cr)
	if len(parts) == 3 {
		ch, err := strconv.Atoi(parts[2])
		if err != nil || ch < 1 || ch > 255 {
			return pt, refuse("bad rtpmap channels")
		}
		if ch > 1 {
			pt.Channels = ch
		}
	}
	return pt, nil
}

func parseRTCPFB(v string) RTCPFB {
	f := strings.Fields(v)
	var fb RTCPFB
	if len(f) > 0 {
		fb.Type = f[0]
	}
	if len(f) > 1 {
		fb.Subtype = f[1]
	}
	return fb
}
