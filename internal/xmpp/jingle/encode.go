package jingle

import (
	"strconv"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Element renders j as a <jingle/> element, to be put in an IQ of type set. It does not validate;
// call Validate first for values that did not come from Parse or FromSDP.
func (j *Jingle) Element() *stanza.Element {
	el := elem(NS, "jingle", "action", j.Action, "initiator", j.Initiator, "responder", j.Responder, "sid", j.SID)
	contents := j.Contents
	var jsonText string
	if j.JSONSources {
		jsonText, contents = j.jsonSourcesText()
	}
	for _, c := range contents {
		el.Add(c.element())
	}
	for _, g := range j.Groups {
		ge := elem(NSGroup, "group", "semantics", g.Semantics)
		for _, n := range g.Contents {
			ge.Add(elem(NSGroup, "content", "name", n))
		}
		el.Add(ge)
	}
	if b := j.BridgeSession; b != nil {
		be := elem(NSFocus, "bridge-session", "id", b.ID, "region", b.Region)
		if b.Restart {
			be.Set("restart", "true")
		}
		if b.ICERestart {
			be.Set("ice-restart", "true")
		}
		el.Add(be)
	}
	if s := j.StartMuted; s != nil {
		el.Add(elem(NSStartMuted, "startmuted", "audio", strconv.FormatBool(s.Audio), "video", strconv.FormatBool(s.Video)))
	}
	if j.JSONSources {
		el.Add(elem(NSJitMeet, "json-message").SetText(jsonText))
	}
	if r := j.Reason; r != nil {
		re := elem(NS, "reason")
		if r.Condition != "" {
			re.Add(elem(NS, r.Condition))
		}
		if r.Text != "" {
			re.Add(elem(NS, "text").SetText(r.Text))
		}
		el.Add(re)
	}
	return el
}

func (c *Content) element() *stanza.Element {
	el := elem(NS, "content", "creator", c.Creator, "name", c.Name, "senders", c.Senders)
	if c.InitialLastN != nil {
		el.Add(elem(NSColibri2, "initial-last-n", "value", strconv.Itoa(*c.InitialLastN)))
	}
	if d := c.Description; d != nil {
		el.Add(d.element())
	}
	if t := c.Transport; t != nil {
		el.Add(t.element())
	}
	return el
}

func (d *Description) element() *stanza.Element {
	el := elem(NSRTP, "description", "media", d.Media)
	if d.MaxPtime != 0 {
		el.Set("maxptime", strconv.Itoa(d.MaxPtime))
	}
	for _, pt := range d.PayloadTypes {
		pe := elem(NSRTP, "payload-type", "id", strconv.Itoa(int(pt.ID)), "name", pt.Name)
		if pt.ClockRate != 0 {
			pe.Set("clockrate", strconv.FormatUint(uint64(pt.ClockRate), 10))
		}
		if pt.Channels != 0 {
			pe.Set("channels", strconv.Itoa(pt.Channels))
		}
		for _, p := range pt.Params {
			pe.Add(elem(NSRTP, "parameter", "name", p.Name, "value", p.Value))
		}
		addFeedback(pe, pt.RTCPFB)
		el.Add(pe)
	}
	addFeedback(el, d.RTCPFB)
	for _, h := range d.HdrExts {
		el.Add(elem(NSHdrExt, "rtp-hdrext", "id", strconv.Itoa(h.ID), "uri", h.URI, "senders", h.Senders))
	}
	if d.ExtmapAllowMixed {
		el.Add(elem(NSHdrExt, "extmap-allow-mixed"))
	}
	for _, s := range d.Sources {
		se := elem(NSSSMA, "source")
		if s.RID != "" {
			se.Set("rid", s.RID)
		} else {
			se.Set("ssrc", strconv.FormatUint(uint64(s.SSRC), 10))
		}
		se.Set("name", s.Name).Set("videoType", s.VideoType)
		if s.MSID != "" {
			se.Add(elem(NSSSMA, "parameter", "name", "msid", "value", s.MSID))
		}
		for _, p := range s.Params {
			se.Add(elem(NSSSMA, "parameter", "name", p.Name, "value", p.Value))
		}
		if s.Owner != "" {
			se.Add(elem(NSJitMeet, "ssrc-info", "owner", s.Owner))
		}
		el.Add(se)
	}
	for _, g := range d.SSRCGroups {
		ge := elem(NSSSMA, "ssrc-group", "semantics", g.Semantics)
		for _, s := range g.SSRCs {
			ge.Add(elem(NSSSMA, "source", "ssrc", strconv.FormatUint(uint64(s), 10)))
		}
		el.Add(ge)
	}
	for _, g := range d.RIDGroups {
		ge := elem(NSSSMA, "rid-group", "semantics", g.Semantics)
		for _, r := range g.RIDs {
			ge.Add(elem(NSSSMA, "source", "rid", r))
		}
		el.Add(ge)
	}
	if d.RTCPMux {
		el.Add(elem(NSRTP, "rtcp-mux"))
	}
	return el
}

func addFeedback(el *stanza.Element, fbs []RTCPFB) {
	for _, fb := range fbs {
		el.Add(elem(NSRTCPFB, "rtcp-fb", "type", fb.Type, "subtype", fb.Subtype))
	}
}

func (t *Transport) element() *stanza.Element {
	el := elem(NSICE, "transport", "ufrag", t.Ufrag, "pwd", t.Pwd)
	if t.ICEGeneration != 0 {
		el.Set("ice-generation", strconv.Itoa(t.ICEGeneration))
	}
	if t.RTCPMux {
		el.Add(elem(NSICE, "rtcp-mux"))
	}
	for _, f := range t.Fingerprints {
		fe := elem(NSDTLS, "fingerprint", "hash", f.Hash, "setup", f.Setup).SetText(f.Value)
		if f.Required {
			fe.Set("required", "true")
		}
		if f.Cryptex {
			fe.Set("cryptex", "true")
		}
		el.Add(fe)
	}
	for _, c := range t.Candidates {
		ce := elem(NSICE, "candidate",
			"component", strconv.Itoa(c.Component),
			"foundation", c.Foundation,
			"generation", strconv.Itoa(c.Generation),
			"id", c.ID,
			"network", strconv.Itoa(c.Network),
			"priority", strconv.FormatUint(uint64(c.Priority), 10),
			"protocol", c.Protocol,
			"type", c.Type,
			"ip", c.IP,
			"port", strconv.Itoa(c.Port),
			"rel-addr", c.RelAddr)
		if c.RelAddr != "" {
			ce.Set("rel-port", strconv.Itoa(c.RelPort))
		}
		ce.Set("tcptype", c.TCPType)
		el.Add(ce)
	}
	if m := t.SCTP; m != nil {
		el.Add(elem(NSSCTP, "sctpmap", "number", strconv.Itoa(m.Number), "protocol", m.Protocol, "streams", strconv.Itoa(m.Streams)))
	}
	for _, u := range t.WebSockets {
		el.Add(elem(NSColibri, "web-socket", "url", u))
	}
	return el
}

// elem is stanza.New leaving out attributes with empty values.
func elem(ns, local string, attrs ...string) *stanza.Element {
	el := stanza.New(ns, local)
	for i := 0; i+1 < len(attrs); i += 2 {
		el.Set(attrs[i], attrs[i+1])
	}
	return el
}
