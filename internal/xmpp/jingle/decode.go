package jingle

import (
	"strconv"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Parse reads a <jingle/> element (or an <iq/> carrying one) and validates it against lim (see
// Validate). Every refusal is a *stanza.Error with condition bad-request and a text saying what was
// wrong, ready to be sent back to the client.
//
// Elements and attributes the dialect does not use are ignored (LJM's traceparent, XEP-0167's
// encryption, …); header extensions with a URI not known (KnownHdrExt) are dropped (threats-and-tests
// §5.1 item 18).
func Parse(el *stanza.Element, lim Limits) (*Jingle, error) {
	if el == nil {
		return nil, refuse("no element")
	}
	if el.Name.Local == "iq" {
		if el = el.Child(NS, "jingle"); el == nil {
			return nil, refuse("no <jingle/> in the IQ")
		}
	}
	if !el.Is(NS, "jingle") {
		return nil, refuse("not a <jingle/> element")
	}
	j := &Jingle{
		Action:    el.Get("action"),
		SID:       el.Get("sid"),
		Initiator: el.Get("initiator"),
		Responder: el.Get("responder"),
	}
	var jsonText *string
	for _, c := range el.Children {
		switch {
		case c.Is(NS, "content"):
			if len(j.Contents) >= lim.MaxContents {
				return nil, refuse("more than %d contents", lim.MaxContents)
			}
			content, err := parseContent(c, lim)
			if err != nil {
				return nil, err
			}
			j.Contents = append(j.Contents, content)
		case c.Is(NSGroup, "group"):
			if len(j.Groups) >= 4 {
				return nil, refuse("more than 4 groups")
			}
			g := Group{Semantics: c.Get("semantics")}
			if g.Semantics == "" {
				g.Semantics = c.Get("type") // the pre-XEP-0338 spelling
			}
			for _, gc := range c.Children {
				if gc.Name.Local == "content" {
					if len(g.Contents) >= lim.MaxContents {
						return nil, refuse("group lists more than %d contents", lim.MaxContents)
					}
					g.Contents = append(g.Contents, gc.Get("name"))
				}
			}
			j.Groups = append(j.Groups, g)
		case c.Is(NSFocus, "bridge-session"):
			j.BridgeSession = &BridgeSession{
				ID:         c.Get("id"),
				Region:     c.Get("region"),
				Restart:    c.Get("restart") == "true",
				ICERestart: c.Get("ice-restart") == "true",
			}
		case c.Is(NSStartMuted, "startmuted"):
			j.StartMuted = &StartMuted{Audio: c.Get("audio") == "true", Video: c.Get("video") == "true"}
		case c.Is(NS, "reason"):
			r := &Reason{}
			for _, rc := range c.Children {
				if rc.Name.Local == "text" {
					r.Text = rc.Text
				} else if r.Condition == "" {
					r.Condition = rc.Name.Local
				}
			}
			j.Reason = r
		case c.Is(NSJitMeet, "json-message"):
			if jsonText != nil {
				return nil, refuse("more than one json-message")
			}
			jsonText = &c.Text
		}
	}
	if jsonText != nil {
		if err := expandJSONSources(j, *jsonText, lim); err != nil {
			return nil, err
		}
	}
	if err := j.Validate(lim); err != nil {
		return nil, err
	}
	return j, nil
}

func parseContent(el *stanza.Element, lim Limits) (*Content, error) {
	c := &Content{Creator: el.Get("creator"), Name: el.Get("name"), Senders: el.Get("senders")}
	for _, ch := range el.Children {
		var err error
		switch {
		case ch.Is(NSRTP, "description"):
			if c.Description != nil {
				return nil, refuse("content %q has two descriptions", c.Name)
			}
			c.Description, err = parseDescription(ch, lim)
		case ch.Is(NSICE, "transport"):
			if c.Transport != nil {
				return nil, refuse("content %q has two transports", c.Name)
			}
			c.Transport, err = parseTransport(ch, lim)
		case ch.Is(NSColibri2, "initial-last-n"):
			var n int
			n, err = intAttr(ch, "value", 0, 1<<20)
			c.InitialLastN = &n
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func parseDescription(el *stanza.Element, lim Limits) (*Description, error) {
	d := &Description{Media: el.Get("media")}
	var err error
	if el.Has("maxptime") {
		if d.MaxPtime, err = intAttr(el, "maxptime", 1, 10000); err != nil {
			return nil, err
		}
	}
	for _, ch := range el.Children {
		switch {
		case ch.Is(NSRTP, "payload-type"):
			if len(d.PayloadTypes) >= lim.MaxPayloadTypes {
				return nil, refuse("more than %d payload types", lim.MaxPayloadTypes)
			}
			pt, err := parsePayloadType(ch, lim)
			if err != nil {
				return nil, err
			}
			d.PayloadTypes = append(d.PayloadTypes, pt)
		case ch.Is(NSRTCPFB, "rtcp-fb"):
			if len(d.RTCPFB) >= lim.MaxFeedback {
				return nil, refuse("more than %d rtcp-fb", lim.MaxFeedback)
			}
			d.RTCPFB = append(d.RTCPFB, RTCPFB{Type: ch.Get("type"), Subtype: ch.Get("subtype")})
		case ch.Is(NSHdrExt, "rtp-hdrext"):
			if len(d.HdrExts) >= lim.MaxHdrExts {
				return nil, refuse("more than %d header extensions", lim.MaxHdrExts)
			}
			id, err := intAttr(ch, "id", 1, 255)
			if err != nil {
				return nil, err
			}
			uri := ch.Get("uri")
			if !knownHdrExts[uri] {
				continue // stripped: we neither forward nor negotiate what we do not know
			}
			d.HdrExts = append(d.HdrExts, HdrExt{ID: id, URI: uri, Senders: ch.Get("senders")})
		case ch.Is(NSHdrExt, "extmap-allow-mixed"):
			d.ExtmapAllowMixed = true
		case ch.Name.Local == "rtcp-mux":
			d.RTCPMux = true
		case ch.Is(NSSSMA, "source"):
			if len(d.Sources) >= lim.MaxSources {
				return nil, refuse("more than %d sources", lim.MaxSources)
			}
			s, err := parseSource(ch)
			if err != nil {
				return nil, err
			}
			d.Sources = append(d.Sources, s)
		case ch.Is(NSSSMA, "ssrc-group"):
			if len(d.SSRCGroups) >= lim.MaxSources {
				return nil, refuse("more than %d source groups", lim.MaxSources)
			}
			g := SSRCGroup{Semantics: ch.Get("semantics")}
			for _, s := range ch.Children {
				if s.Name.Local != "source" {
					continue
				}
				if len(g.SSRCs) >= maxGroupSize {
					return nil, refuse("source group with more than %d sources", maxGroupSize)
				}
				ssrc, err := ssrcAttr(s)
				if err != nil {
					return nil, err
				}
				g.SSRCs = append(g.SSRCs, ssrc)
			}
			d.SSRCGroups = append(d.SSRCGroups, g)
		case ch.Is(NSSSMA, "rid-group"):
			if len(d.RIDGroups) >= lim.MaxSources {
				return nil, refuse("more than %d rid groups", lim.MaxSources)
			}
			g := RIDGroup{Semantics: ch.Get("semantics")}
			for _, s := range ch.Children {
				if s.Name.Local != "source" {
					continue
				}
				if len(g.RIDs) >= maxGroupSize {
					return nil, refuse("rid group with more than %d sources", maxGroupSize)
				}
				g.RIDs = append(g.RIDs, s.Get("rid"))
			}
			d.RIDGroups = append(d.RIDGroups, g)
		}
	}
	return d, nil
}

func parsePayloadType(el *stanza.Element, lim Limits) (PayloadType, error) {
	id, err := intAttr(el, "id", 0, 127)
	if err != nil {
		return PayloadType{}, err
	}
	pt := PayloadType{ID: uint8(id), Name: el.Get("name")}
	if el.Has("clockrate") {
		cr, err := intAttr(el, "clockrate", 1, 1<<31-1)
		if err != nil {
			return pt, err
		}
		pt.ClockRate = uint32(cr)
	}
	if el.Has("channels") {
		if pt.Channels, err = intAttr(el, "channels", 1, 255); err != nil {
			return pt, err
		}
	}
	for _, ch := range el.Children {
		switch {
		case ch.Name.Local == "parameter" && (ch.Name.Space == NSRTP || ch.Name.Space == el.Name.Space):
			if len(pt.Params) >= lim.MaxParams {
				return pt, refuse("payload type %d: more than %d parameters", id, lim.MaxParams)
			}
			pt.Params = append(pt.Params, Parameter{Name: ch.Get("name"), Value: ch.Get("value")})
		case ch.Is(NSRTCPFB, "rtcp-fb"):
			if len(pt.RTCPFB) >= lim.MaxFeedback {
				return pt, refuse("payload type %d: more than %d rtcp-fb", id, lim.MaxFeedback)
			}
			pt.RTCPFB = append(pt.RTCPFB, RTCPFB{Type: ch.Get("type"), Subtype: ch.Get("subtype")})
		}
	}
	return pt, nil
}

func parseSource(el *stanza.Element) (Source, error) {
	s := Source{Name: el.Get("name"), VideoType: el.Get("videoType"), RID: el.Get("rid")}
	if el.Has("ssrc") || s.RID == "" {
		ssrc, err := ssrcAttr(el)
		if err != nil {
			return s, err
		}
		s.SSRC = ssrc
	}
	for _, ch := range el.Children {
		switch {
		case ch.Name.Local == "parameter":
			if len(s.Params) >= maxSourceParams {
				return s, refuse("source %d: more than %d parameters", s.SSRC, maxSourceParams)
			}
			name, value := ch.Get("name"), ch.Get("value")
			if name == "msid" && s.MSID == "" {
				s.MSID = value
			} else {
				s.Params = append(s.Params, Parameter{Name: name, Value: value})
			}
		case ch.Is(NSJitMeet, "ssrc-info"):
			s.Owner = ch.Get("owner")
		}
	}
	return s, nil
}

func parseTransport(el *stanza.Element, lim Limits) (*Transport, error) {
	t := &Transport{Ufrag: el.Get("ufrag"), Pwd: el.Get("pwd")}
	var err error
	if el.Has("ice-generation") {
		if t.ICEGeneration, err = intAttr(el, "ice-generation", 0, 1<<16); err != nil {
			return nil, err
		}
	}
	for _, ch := range el.Children {
		switch {
		case ch.Name.Local == "rtcp-mux":
			t.RTCPMux = true
		case ch.Is(NSDTLS, "fingerprint"):
			if len(t.Fingerprints) >= maxFingerprints {
				return nil, refuse("more than %d fingerprints", maxFingerprints)
			}
			t.Fingerprints = append(t.Fingerprints, Fingerprint{
				Hash:     ch.Get("hash"),
				Setup:    ch.Get("setup"),
				Value:    ch.Text,
				Required: ch.Get("required") == "true",
				Cryptex:  ch.Get("cryptex") == "true",
			})
		case ch.Is(NSICE, "candidate"):
			if len(t.Candidates) >= lim.MaxCandidates {
				return nil, refuse("more than %d candidates", lim.MaxCandidates)
			}
			c, err := parseCandidate(ch)
			if err != nil {
				return nil, err
			}
			t.Candidates = append(t.Candidates, c)
		case ch.Is(NSSCTP, "sctpmap"):
			m := &SCTPMap{Protocol: ch.Get("protocol")}
			if m.Number, err = intAttr(ch, "number", 0, 65535); err != nil {
				return nil, err
			}
			if ch.Has("streams") {
				if m.Streams, err = intAttr(ch, "streams", 0, 65535); err != nil {
					return nil, err
				}
			}
			t.SCTP = m
		case ch.Is(NSColibri, "web-socket"):
			if len(t.WebSockets) >= maxWebSockets {
				return nil, refuse("more than %d web-socket URLs", maxWebSockets)
			}
			t.WebSockets = append(t.WebSockets, ch.Get("url"))
		}
	}
	return t, nil
}

func parseCandidate(el *stanza.Element) (Candidate, error) {
	c := Candidate{
		Foundation: el.Get("foundation"),
		ID:         el.Get("id"),
		Protocol:   el.Get("protocol"),
		Type:       el.Get("type"),
		IP:         el.Get("ip"),
		RelAddr:    el.Get("rel-addr"),
		TCPType:    el.Get("tcptype"),
	}
	var err error
	if c.Component, err = intAttr(el, "component", 1, 256); err != nil {
		return c, err
	}
	if c.Port, err = intAttr(el, "port", 0, 65535); err != nil {
		return c, err
	}
	prio, err := intAttr(el, "priority", 0, 1<<32-1)
	if err != nil {
		return c, err
	}
	c.Priority = uint32(prio)
	for _, opt := range []struct {
		name string
		dst  *int
		max  int
	}{{"generation", &c.Generation, 1 << 16}, {"network", &c.Network, 1 << 16}, {"rel-port", &c.RelPort, 65535}} {
		if el.Has(opt.name) {
			if *opt.dst, err = intAttr(el, opt.name, 0, opt.max); err != nil {
				return c, err
			}
		}
	}
	if c.RelAddr == "" {
		c.RelPort = 0 // rel-port means nothing without rel-addr (and SDP cannot carry it)
	}
	return c, nil
}

// intAttr parses a required decimal attribute within [min, max].
func intAttr(el *stanza.Element, name string, min, max int) (int, error) {
	v := el.Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || len(v) > 12 || n < int64(min) || n > int64(max) {
		return 0, refuse("<%s/> attribute %s=%.32q is not a number in %d..%d", el.Name.Local, name, v, min, max)
	}
	return int(n), nil
}

func ssrcAttr(el *stanza.Element) (uint32, error) {
	n, err := intAttr(el, "ssrc", 1, 1<<32-1)
	return uint32(n), err
}
