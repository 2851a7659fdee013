package jingle

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// SDPOptions steer the translation in both directions.
type SDPOptions struct {
	// Responder says the SDP is the responder's (an answer, a session-accept); otherwise it is the
	// initiator's (an offer, a session-initiate). It decides how senders map to directions and which
	// creator FromSDP gives the contents.
	Responder bool
	// Split (ToSDP) gives every remote source its own m-line, as LJM does with the focus's offer: the
	// first m-line of a content carries its first source (the bridge's mixedmslabel feedback source
	// comes first) and the content's direction, the others are sendonly (the initiator sends); mids are
	// renumbered "0", "1", … and the BUNDLE group lists them all. A Pion PeerConnection needs this to
	// get one track per source. Sources are grouped into one m-line by name (then msid), together with
	// every SSRC their groups tie to them.
	Split bool
	// ByKind (FromSDP) merges the m-lines of one media kind into one content named audio, video or
	// data, as LJM does towards Jicofo: the first m-line of the kind gives the description and
	// transport, later ones add their sources. Otherwise every m-line becomes a content named by its mid.
	ByKind bool
	// Action is the action FromSDP validates for (fingerprint and setup rules) and puts in the result;
	// default session-initiate, or session-accept when Responder.
	Action string
	// SessionID and SessionVersion go into ToSDP's o= line.
	SessionID      uint64
	SessionVersion uint64
	// Limits bound FromSDP's input and ToSDP's; zero means DefaultLimits for FromSDP and OfferLimits
	// for ToSDP.
	Limits *Limits
}

// ToSDP renders j as an SDP session description. j is validated first (the same rules as Parse, with
// opt.Limits), and every value is checked again as it is written: no CR, LF or NUL can reach the SDP.
//
// What SDP cannot carry is left out: the action and session fields, bridge-session, startmuted,
// web-socket URLs, ice-generation, candidate ids and source owners. Descriptions with media
// "application" and transports with an sctpmap become m=application … webrtc-datachannel with
// a=sctp-port; a content with neither description nor sctpmap (transport-info) becomes an m-line of
// its Kind (audio when unknown) without formats, a fragment not meant for a PeerConnection.
func ToSDP(j *Jingle, opt SDPOptions) (*sdp.SessionDescription, error) {
	lim := OfferLimits()
	if opt.Limits != nil {
		lim = *opt.Limits
	}
	if err := j.validateBody(lim); err != nil {
		return nil, err
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "-", SessionID: opt.SessionID, SessionVersion: opt.SessionVersion,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: "0.0.0.0",
		},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	w := &sdpWriter{opt: opt}
	bundled := map[string]bool{}
	for _, n := range j.Bundle() {
		bundled[n] = true
	}
	var bundleMids []string
	rtp := false
	for _, c := range j.Contents {
		for _, m := range w.contentSections(c) {
			mid, _ := m.Attribute("mid")
			if bundled[c.Name] {
				bundleMids = append(bundleMids, mid)
			}
			if m.MediaName.Media != MediaApplication {
				rtp = true
			}
			sd.MediaDescriptions = append(sd.MediaDescriptions, m)
		}
	}
	if len(sd.MediaDescriptions) > lim.MaxMediaSections {
		return nil, refuse("more than %d m-lines", lim.MaxMediaSections)
	}
	for _, g := range j.Groups {
		mids := g.Contents
		if g.Semantics == SemanticsBUNDLE {
			mids = bundleMids
		} else if opt.Split {
			continue // other groups name contents whose mids were renumbered
		}
		sd.Attributes = append(sd.Attributes, sdp.NewAttribute("group", strings.Join(append([]string{g.Semantics}, mids...), " ")))
	}
	if rtp {
		sd.Attributes = append(sd.Attributes, sdp.NewAttribute("msid-semantic", "WMS *"))
	}
	if w.cryptex {
		sd.Attributes = append(sd.Attributes, sdp.NewPropertyAttribute("cryptex"))
	}
	if err := checkSDP(sd); err != nil {
		return nil, err
	}
	return sd, nil
}

// ToSDPString is ToSDP followed by Marshal.
func ToSDPString(j *Jingle, opt SDPOptions) (string, error) {
	sd, err := ToSDP(j, opt)
	if err != nil {
		return "", err
	}
	b, err := sd.Marshal()
	return string(b), err
}

type sdpWriter struct {
	opt     SDPOptions
	nextMid int
	cryptex bool
}

// contentSections renders one content as one m-line, or one per source track when splitting.
func (w *sdpWriter) contentSections(c *Content) []*sdp.MediaDescription {
	d := c.Description
	if !w.opt.Split || d == nil || len(d.Sources) == 0 {
		mid := c.Name
		if w.opt.Split {
			mid = w.mid()
		}
		return []*sdp.MediaDescription{w.section(c, mid, c.Senders, d)}
	}
	var out []*sdp.MediaDescription
	for i, t := range tracks(d) {
		dd := *d
		dd.Sources, dd.SSRCGroups = t.sources, t.groups
		senders := c.Senders
		if i == 0 {
			dd.RIDGroups = d.RIDGroups
		} else {
			dd.RIDGroups = nil
			senders = SendersInitiator
		}
		out = append(out, w.section(c, w.mid(), senders, &dd))
	}
	return out
}

func (w *sdpWriter) mid() string {
	m := strconv.Itoa(w.nextMid)
	w.nextMid++
	return m
}

// section renders one m-line for content c with description d (which may differ from c's when split).
func (w *sdpWriter) section(c *Content, mid, senders string, d *Description) *sdp.MediaDescription {
	kind := c.Kind()
	if kind == "" {
		kind = MediaAudio
	}
	t := c.Transport
	m := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: kind, Port: sdp.RangedPort{Value: 9}},
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: "0.0.0.0"},
		},
	}
	if senders == SendersRejected {
		m.MediaName.Port.Value = 0
	}
	data := kind == MediaApplication
	if data {
		m.MediaName.Protos = []string{"UDP", "DTLS", "SCTP"}
		m.MediaName.Formats = []string{"webrtc-datachannel"}
	} else {
		m.MediaName.Protos = []string{"UDP", "TLS", "RTP", "SAVPF"}
		if d != nil {
			for _, pt := range d.PayloadTypes {
				m.MediaName.Formats = append(m.MediaName.Formats, strconv.Itoa(int(pt.ID)))
			}
		}
	}
	add := func(k, v string) { m.Attributes = append(m.Attributes, sdp.NewAttribute(k, v)) }
	flag := func(k string) { m.Attributes = append(m.Attributes, sdp.NewPropertyAttribute(k)) }
	if t != nil {
		if t.Ufrag != "" {
			add("ice-ufrag", t.Ufrag)
		}
		if t.Pwd != "" {
			add("ice-pwd", t.Pwd)
		}
		for _, f := range t.Fingerprints {
			add("fingerprint", f.Hash+" "+f.Value)
			w.cryptex = w.cryptex || f.Cryptex
		}
		if len(t.Fingerprints) > 0 && t.Fingerprints[0].Setup != "" {
			add("setup", t.Fingerprints[0].Setup)
		}
	}
	add("mid", mid)
	if d != nil && !data {
		for _, h := range d.HdrExts {
			id := strconv.Itoa(h.ID)
			if h.Senders != "" {
				id += "/" + direction(h.Senders, w.opt.Responder)
			}
			add("extmap", id+" "+h.URI)
		}
		if d.ExtmapAllowMixed {
			flag("extmap-allow-mixed")
		}
	}
	if dir := direction(senders, w.opt.Responder); dir != "" && senders != SendersRejected {
		flag(dir)
	}
	if !data && ((d != nil && d.RTCPMux) || (t != nil && t.RTCPMux)) {
		flag("rtcp-mux")
	}
	if d != nil && !data {
		for _, pt := range d.PayloadTypes {
			id := strconv.Itoa(int(pt.ID))
			rtpmap := id + " " + pt.Name + "/" + strconv.FormatUint(uint64(pt.ClockRate), 10)
			if pt.Channels > 1 {
				rtpmap += "/" + strconv.Itoa(pt.Channels)
			}
			add("rtpmap", rtpmap)
			if len(pt.Params) > 0 {
				parts := make([]string, len(pt.Params))
				for i, p := range pt.Params {
					parts[i] = p.Value
					if p.Name != "" {
						parts[i] = p.Name + "=" + p.Value
					}
				}
				add("fmtp", id+" "+strings.TrimRight(strings.Join(parts, ";"), ";"))
			}
			for _, fb := range pt.RTCPFB {
				add("rtcp-fb", id+" "+fb.String())
			}
		}
		for _, fb := range d.RTCPFB {
			add("rtcp-fb", "* "+fb.String())
		}
		if d.MaxPtime != 0 {
			add("maxptime", strconv.Itoa(d.MaxPtime))
		}
		for _, g := range d.SSRCGroups {
			v := g.Semantics
			for _, s := range g.SSRCs {
				v += " " + strconv.FormatUint(uint64(s), 10)
			}
			add("ssrc-group", v)
		}
		var rids []string
		for _, s := range d.Sources {
			if s.RID != "" {
				rids = append(rids, s.RID)
				continue
			}
			ssrc := strconv.FormatUint(uint64(s.SSRC), 10) + " "
			if s.MSID != "" {
				add("ssrc", ssrc+"msid:"+s.MSID)
			}
			if s.Name != "" {
				add("ssrc", ssrc+"name:"+s.Name)
			}
			if s.VideoType != "" {
				add("ssrc", ssrc+"videoType:"+s.VideoType)
			}
			for _, p := range s.Params {
				add("ssrc", ssrc+p.Name+":"+p.Value)
			}
			if s.MSID == "" && s.Name == "" && s.VideoType == "" && len(s.Params) == 0 {
				add("ssrc", ssrc+"cname:-") // an SSRC needs one attribute line to exist in SDP
			}
		}
		for _, r := range rids {
			add("rid", r+" send")
		}
		for _, g := range d.RIDGroups {
			add("simulcast", "send "+strings.Join(g.RIDs, ";"))
		}
	}
	if t != nil {
		for _, cand := range t.Candidates {
			add("candidate", strings.TrimPrefix(cand.SDP(), "candidate:"))
		}
		if data && t.SCTP != nil {
			add("sctp-port", strconv.Itoa(t.SCTP.Number))
			add("max-message-size", "262144")
		}
	}
	return m
}

func (fb RTCPFB) String() string {
	if fb.Subtype == "" {
		return fb.Type
	}
	return fb.Type + " " + fb.Subtype
}

// direction maps Jingle senders to an SDP direction, seen from the side the SDP describes.
func direction(senders string, responder bool) string {
	switch senders {
	case SendersBoth:
		return "sendrecv"
	case SendersNone:
		return "inactive"
	case SendersInitiator:
		if responder {
			return "recvonly"
		}
		return "sendonly"
	case SendersResponder:
		if responder {
			return "sendonly"
		}
		return "recvonly"
	}
	return ""
}

type track struct {
	sources []Source
	groups  []SSRCGroup
}

// tracks partitions d's SSRC sources into media tracks: sources sharing a name (or, without one, an
// msid) or an SSRC group belong together. The bridge's mixedmslabel sources come first; the others
// keep their order. RID sources go with the first track.
func tracks(d *Description) []track {
	n := len(d.Sources)
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		if ra, rb := find(a), find(b); ra != rb {
			if ra < rb {
				parent[rb] = ra
			} else {
				parent[ra] = rb
			}
		}
	}
	byKey := map[string]int{}
	bySSRC := map[uint32]int{}
	for i, s := range d.Sources {
		bySSRC[s.SSRC] = i
		key := s.Name
		if key == "" {
			key = "msid " + s.MSID
		}
		if s.Name == "" && s.MSID == "" {
			continue
		}
		if j, ok := byKey[key]; ok {
			union(i, j)
		} else {
			byKey[key] = i
		}
	}
	for _, g := range d.SSRCGroups {
		for _, s := range g.SSRCs[1:] {
			union(bySSRC[g.SSRCs[0]], bySSRC[s])
		}
	}
	index := map[int]int{} // root → track index
	var out []track
	for i, s := range d.Sources {
		if s.RID != "" {
			continue
		}
		r := find(i)
		k, ok := index[r]
		if !ok {
			k = len(out)
			index[r] = k
			out = append(out, track{})
		}
		out[k].sources = append(out[k].sources, s)
	}
	for _, g := range d.SSRCGroups {
		k := index[find(bySSRC[g.SSRCs[0]])]
		out[k].groups = append(out[k].groups, g)
	}
	// The bridge's feedback source first: LJM sends its own media on the first m-line of a kind.
	for k, t := range out {
		if k > 0 && strings.HasPrefix(t.sources[0].MSID, "mixedmslabel") {
			out = append([]track{t}, append(out[:k:k], out[k+1:]...)...)
			break
		}
	}
	var rids []Source
	for _, s := range d.Sources {
		if s.RID != "" {
			rids = append(rids, s)
		}
	}
	if len(out) == 0 {
		out = append(out, track{})
	}
	out[0].sources = append(out[0].sources, rids...)
	return out
}

// checkSDP refuses any control character in what will be written: the last line of defence against
// a line break injected into the SDP.
func checkSDP(sd *sdp.SessionDescription) error {
	check := func(attrs []sdp.Attribute) error {
		for _, a := range attrs {
			if !isToken(a.Key) || !isText(a.Value) {
				return refuse("value not allowed in SDP")
			}
		}
		return nil
	}
	if err := check(sd.Attributes); err != nil {
		return err
	}
	for _, m := range sd.MediaDescriptions {
		if !isToken(m.MediaName.Media) {
			return refuse("value not allowed in SDP")
		}
		for _, f := range append(m.MediaName.Formats, m.MediaName.Protos...) {
			if !isToken(f) {
				return refuse("value not allowed in SDP")
			}
		}
		if err := check(m.Attributes); err != nil {
			return err
		}
	}
	return nil
}
