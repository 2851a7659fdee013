package focus

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/bridgeapi"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/jingle"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// participant is one occupant other than the focus, owned by its
// conference's goroutine.
type participant struct {
	c        *conference
	nick     string  // endpoint id
	occupant jid.JID // room/nick
	real     string  // real JID from the room's presence
	role     string  // MUC role from the room's latest presence

	features map[string]bool
	sid      string // current Jingle session
	accepted bool
	answered bridge.Answer // the accepted session-accept, to recognise a resend of it
	sources  []bridge.Source
	groups   []bridge.Group
	restarts []time.Time
	gone     bool

	// Where the participant's media goes (bridging.go).
	region     string               // <jitsi_participant_region/> of the join presence: where to look for a bridge first
	lane       *lane                // the participant's bridge requests, in order
	alloc      *bridgeapi.Allocated // the endpoint, nil while there is none
	allocating bool                 // an allocation is on its way
	gen        int                  // counts expiries, so an allocation that an expiry overtook is known
	retries    int                  // allocations failed in a row for want of a bridge
	move       *moving              // a move off a gone or draining bridge on its way (move.go), nil when none
}

// Feature vars the offer depends on (jitsi-dialect.md §5.1).
const (
	featureAudio = "urn:xmpp:jingle:apps:rtp:audio"
	featureVideo = "urn:xmpp:jingle:apps:rtp:video"
	featureRTX   = "urn:ietf:rfc:4588"
	featureTCC   = "http://jitsi.org/tcc"
	featureRED   = "http://jitsi.org/opus-red"

	// uriTransportCC is the transport-wide sequence number header extension (RFC 8285 URI).
	uriTransportCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
)

// invite asks for the participant's features, then starts its session.
func (p *participant) invite() {
	p.c.request(p.occupant, "get", stanza.New(stanza.NSDiscoInf, "query"), func(r *stanza.Element) {
		if p.gone {
			return
		}
		p.features = map[string]bool{featureAudio: true, featureVideo: true}
		if r != nil && r.Get("type") == "result" {
			if q := r.Child(stanza.NSDiscoInf, "query"); q != nil {
				p.features = map[string]bool{}
				for _, f := range q.Children {
					if f.Name.Local == "feature" {
						p.features[f.Get("var")] = true
					}
				}
			}
		}
		p.initiate()
	})
}

// initiate allocates a bridge endpoint (off the conference goroutine)
// and then sends session-initiate.
func (p *participant) initiate() {
	if p.alloc == nil {
		p.allocate()
		return
	}
	p.offerSession()
}

// offerSession sends session-initiate for the allocated endpoint.
func (p *participant) offerSession() {
	c := p.c
	p.sid = randomHex(8)
	p.accepted = false
	p.sources, p.groups = nil, nil // a new session announces its sources afresh
	j := offer(c.f.cfg, p.alloc.Allocation, p.alloc.ChannelBase, p.sid, c.f.user.String(), c.e2eeFeatures(p.features))
	c.request(p.occupant, "set", j.Element(), func(r *stanza.Element) {
		if r != nil && r.Get("type") == "error" && !p.gone {
			c.f.log.Info("participant refused session-initiate", "endpoint", p.nick, "err", stanza.ErrorOf(r))
		}
	})
}

// leave expires the participant's endpoint.
func (c *conference) leave(p *participant, why string) {
	p.gone = true
	delete(c.parts, p.nick)
	c.count.Store(int32(len(c.parts)))
	p.expireEndpoint()
	c.keepLane(p.nick, p.lane)
	c.f.log.Debug("participant left", "room", c.room.String(), "endpoint", p.nick, "why", why)
}

// onRequest handles IQ requests occupants send the focus: Jingle, mute
// requests, and anything else gets service-unavailable.
func (c *conference) onRequest(iq *stanza.Element, from jid.JID) {
	reply := func(err error) {
		if err != nil {
			r := stanza.ErrorReply(iq, stanza.AsError(err))
			r.Set("from", "")
			c.send(r)
			return
		}
		r := stanza.Result(iq, nil)
		r.Set("from", "")
		c.send(r)
	}
	if m := muteRequest(iq); m != nil {
		reply(c.onMute(m, from))
		return
	}
	if e2eeToggle(iq) != nil {
		reply(c.onRoomE2EEToggle(iq, from))
		return
	}
	if iq.Child(NSJingle, "jingle") == nil {
		reply(stanza.ErrServiceUnavailable)
		return
	}
	p := c.parts[from.Resource]
	if p == nil || from.Bare() != c.room {
		reply(stanza.ErrItemNotFound.WithText("not a participant of this conference"))
		return
	}
	j, err := jingle.Parse(iq, jingle.DefaultLimits())
	if err != nil {
		reply(err)
		return
	}
	if j.SID != p.sid {
		e := stanza.ErrItemNotFound.WithText("unknown session")
		e.Extra = []*stanza.Element{stanza.New("urn:xmpp:jingle:errors:1", "unknown-session")}
		reply(e)
		return
	}
	if err := p.onJingle(j, reply); !errors.Is(err, errReplyLater) {
		reply(err)
	}
}

// errReplyLater: onJingle asked the bridge and replies with its answer.
var errReplyLater = errors.New("focus: reply once the bridge answers")

// onJingle applies one Jingle action from the participant. Where the
// bridge must agree it returns errReplyLater and calls reply once the
// bridge answered.
func (p *participant) onJingle(j *jingle.Jingle, reply func(error)) error {
	c := p.c
	switch j.Action {
	case "session-accept":
		if p.accepted {
			// A client that resends its accept (its stream resumed before our
			// reply reached it) gets the same result again; another answer
			// to a session already running is refused.
			if p.resends(j) {
				return nil
			}
			return stanza.ErrUnexpectedRequest.WithText("session already accepted")
		}
		ans, err := p.answer(j)
		if err != nil {
			return err
		}
		// Accepted now, so that a resend is recognised and nobody else
		// claims these SSRCs while the bridge answers; undone if it refuses.
		sid := p.sid
		p.accepted, p.answered = true, ans
		p.sources, p.groups = ans.Sources, ans.Groups
		p.bridgeCall(func(ctx context.Context, b string) error { return c.f.bridge.SetAnswer(ctx, b, ans) }, func(err error) {
			if err != nil && p.sid == sid {
				p.accepted, p.answered = false, bridge.Answer{}
				p.sources, p.groups = nil, nil
			}
			reply(bridgeError(err))
		})
		return errReplyLater
	case "transport-info":
		return nil // the bridge is full ICE and learns the path from checks
	case "source-add", "source-remove":
		if !p.accepted {
			return stanza.ErrUnexpectedRequest.WithText("no session yet")
		}
		srcs, groups := sourcesOf(j)
		next, nextGroups, err := p.applySources(j.Action, srcs, groups)
		if err != nil {
			return err
		}
		sid, prev, prevGroups := p.sid, p.sources, p.groups
		p.sources, p.groups = next, nextGroups
		u := bridge.SourcesUpdate{ConferenceID: c.id, EndpointID: p.nick, Sources: next, Groups: nextGroups}
		p.bridgeCall(func(ctx context.Context, b string) error { return c.f.bridge.UpdateSources(ctx, b, u) }, func(err error) {
			if err != nil && p.sid == sid {
				p.sources, p.groups = prev, prevGroups
			}
			reply(bridgeError(err))
		})
		return errReplyLater
	case "session-terminate":
		restart := j.BridgeSession != nil && j.BridgeSession.Restart
		if !restart {
			return nil
		}
		return p.restart()
	case "session-info":
		if j.BridgeSession != nil && j.BridgeSession.ICERestart {
			return p.restart()
		}
		return nil
	}
	return stanza.ErrBadRequest.WithText("unsupported action %q", j.Action)
}

// restart re-invites a participant whose ICE failed, at most
// MaxRestartsPerMinute times a minute (Jicofo's limit).
func (p *participant) restart() error {
	now := time.Now()
	recent := p.restarts[:0]
	for _, t := range p.restarts {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	p.restarts = recent
	if len(p.restarts) >= p.c.f.cfg.MaxRestartsPerMinute {
		return stanza.ErrResourceConstraint.WithText("too many restarts")
	}
	p.restarts = append(p.restarts, now)
	// The old endpoint goes first: the participant's lane runs the expiry
	// before the new allocation. Answer first, then start the new session.
	p.expireEndpoint()
	p.c.post(p.initiate)
	return nil
}

// answer turns a session-accept into the bridge's Answer, refusing what a
// client may not do (threats-and-tests §5.1 items 13-17).
func (p *participant) answer(j *jingle.Jingle) (bridge.Answer, error) {
	ans := bridge.Answer{ConferenceID: p.c.id, EndpointID: p.nick}
	var transport *jingle.Transport
	for _, ct := range j.Contents {
		if ct.Transport != nil && (ct.Transport.Ufrag != "" || len(ct.Transport.Fingerprints) > 0) {
			transport = ct.Transport
			break
		}
	}
	if transport == nil || transport.Ufrag == "" || transport.Pwd == "" {
		return ans, stanza.ErrBadRequest.WithText("no ICE credentials")
	}
	if len(transport.Fingerprints) == 0 {
		return ans, stanza.ErrBadRequest.WithText("no DTLS fingerprint")
	}
	fp := transport.Fingerprints[0]
	ans.ICE = bridge.ICE{Ufrag: transport.Ufrag, Pwd: transport.Pwd}
	for _, cand := range transport.Candidates {
		ans.ICE.Candidates = append(ans.ICE.Candidates, bridgeCandidate(cand))
	}
	ans.DTLS = bridge.DTLS{Hash: fp.Hash, Fingerprint: fp.Value, Setup: fp.Setup}
	if ans.DTLS.Setup == "" || ans.DTLS.Setup == "actpass" {
		ans.DTLS.Setup = "active"
	}
	for _, ct := range j.Contents {
		if ct.Description != nil && ct.Description.Media == "audio" {
			for _, pt := range ct.Description.PayloadTypes {
				if strings.EqualFold(pt.Name, "red") && pt.ID == bridge.PayloadTypeRED && pt.ClockRate == 48000 {
					ans.RED = bridge.PayloadTypeRED
				}
			}
		}
		if ct.Description == nil || ct.Description.Media != "video" {
			continue
		}
		for _, pt := range ct.Description.PayloadTypes {
			if pt.Name == "rtx" {
				ans.RTX = true
			}
		}
		ans.TransportCC = transportCCExt(ct.Description)
	}
	srcs, groups := sourcesOf(j)
	var err error
	ans.Sources, ans.Groups, err = p.applySources("source-add", srcs, groups)
	return ans, err
}

// transportCCExt is the id under which a description accepts the transport-wide sequence number
// extension, if it also accepts transport-cc feedback for one of its payload types; 0 otherwise.
func transportCCExt(d *jingle.Description) int {
	fb := false
	for _, pt := range d.PayloadTypes {
		for _, f := range pt.RTCPFB {
			fb = fb || f.Type == "transport-cc"
		}
	}
	for _, f := range d.RTCPFB {
		fb = fb || f.Type == "transport-cc"
	}
	if !fb {
		return 0
	}
	for _, h := range d.HdrExts {
		if h.URI == uriTransportCC && h.ID >= 1 && h.ID <= 14 {
			return h.ID
		}
	}
	return 0
}

// sourcesOf collects the sources and groups of every content.
func sourcesOf(j *jingle.Jingle) ([]bridge.Source, []bridge.Group) {
	var srcs []bridge.Source
	var groups []bridge.Group
	for _, ct := range j.Contents {
		d := ct.Description
		if d == nil {
			continue
		}
		kind := d.Media
		if kind == "" {
			kind = ct.Name
		}
		for _, s := range d.Sources {
			if s.SSRC == 0 {
				continue // Firefox rid-only sources carry no SSRC yet
			}
			srcs = append(srcs, bridge.Source{Kind: kind, SSRC: s.SSRC, Name: s.Name, MSID: s.MSID, VideoType: s.VideoType})
		}
		for _, g := range d.SSRCGroups {
			groups = append(groups, bridge.Group{Semantics: g.Semantics, SSRCs: append([]uint32(nil), g.SSRCs...)})
		}
	}
	return srcs, groups
}

// applySources adds or removes sources and checks the result: at most
// MaxSourcesPerEndpoint SSRCs and groups, no SSRC another participant uses,
// no duplicates, groups only over the participant's own SSRCs.
func (p *participant) applySources(action string, srcs []bridge.Source, groups []bridge.Group) ([]bridge.Source, []bridge.Group, error) {
	var next []bridge.Source
	var nextGroups []bridge.Group
	if action == "source-remove" {
		drop := map[uint32]bool{}
		for _, s := range srcs {
			drop[s.SSRC] = true
		}
		for _, s := range p.sources {
			if !drop[s.SSRC] {
				next = append(next, s)
			}
		}
		for _, g := range p.groups {
			keep := true
			for _, s := range g.SSRCs {
				if drop[s] {
					keep = false
				}
			}
			if keep {
				nextGroups = append(nextGroups, g)
			}
		}
		return next, nextGroups, nil
	}
	next = append(append(next, p.sources...), srcs...)
	nextGroups = append(append(nextGroups, p.groups...), groups...)
	max := p.c.f.cfg.MaxSourcesPerEndpoint
	if len(next) > max || len(nextGroups) > max {
		return nil, nil, stanza.ErrResourceConstraint.WithText("at most %d sources and %d groups per participant", max, max)
	}
	own := map[uint32]bool{}
	for _, s := range next {
		if own[s.SSRC] {
			return nil, nil, stanza.ErrBadRequest.WithText("SSRC %d signalled twice", s.SSRC)
		}
		own[s.SSRC] = true
	}
	for _, other := range p.c.parts {
		if other == p {
			continue
		}
		for _, s := range other.sources {
			if own[s.SSRC] {
				return nil, nil, stanza.ErrBadRequest.WithText("SSRC %d belongs to another participant", s.SSRC)
			}
		}
	}
	for _, g := range nextGroups {
		if len(g.SSRCs) < 2 {
			return nil, nil, stanza.ErrBadRequest.WithText("%s group with fewer than two SSRCs", g.Semantics)
		}
		for _, s := range g.SSRCs {
			if !own[s] {
				return nil, nil, stanza.ErrBadRequest.WithText("%s group names SSRC %d, which is not signalled", g.Semantics, s)
			}
		}
	}
	return next, nextGroups, nil
}

func bridgeCandidate(c jingle.Candidate) bridge.Candidate {
	return bridge.Candidate{
		Foundation: c.Foundation, Component: c.Component, Protocol: c.Protocol, Priority: c.Priority,
		IP: c.IP, Port: c.Port, Type: c.Type, RelAddr: c.RelAddr, RelPort: c.RelPort, Generation: c.Generation,
	}
}

func itoa[T ~int | ~int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// resends reports whether a session-accept carries the transport and
// sources of the one already accepted: the same answer sent again.
func (p *participant) resends(j *jingle.Jingle) bool {
	var t *jingle.Transport
	for _, ct := range j.Contents {
		if ct.Transport != nil && ct.Transport.Ufrag != "" {
			t = ct.Transport
			break
		}
	}
	was := p.answered
	if t == nil || t.Ufrag != was.ICE.Ufrag || t.Pwd != was.ICE.Pwd || len(t.Fingerprints) == 0 || t.Fingerprints[0].Value != was.DTLS.Fingerprint {
		return false
	}
	srcs, _ := sourcesOf(j)
	if len(srcs) != len(was.Sources) {
		return false
	}
	for i := range srcs {
		if srcs[i].SSRC != was.Sources[i].SSRC {
			return false
		}
	}
	return true
}
