package c2s

import (
	"strconv"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/ping"
	"github.com/parley-im/parley/internal/xmpp/sm"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// Roster namespace (RFC 6121 §2); the server keeps no roster.
const nsRoster = "jabber:iq:roster"

// handle processes one element from the bound client. A returned error is
// a stream error that ends the connection.
func (s *session) handle(el *stanza.Element) error {
	if el.Name.Space == sm.NS {
		return s.handleSM(el)
	}
	if !stanza.IsStanza(el) {
		return stream.ErrUnsupportedStanza.WithText("<%s/> in %s", el.Name.Local, el.Name.Space)
	}
	s.mu.Lock()
	ended := s.ended
	if s.smOn {
		s.hIn++
	}
	s.mu.Unlock()
	if ended {
		return stream.ErrSystemShutdown
	}

	// RFC 6120 §8.1.2.1: the server stamps from; whatever the client wrote
	// is replaced.
	el.Set("from", s.jid.String())
	var to jid.JID
	if raw := el.Get("to"); raw != "" {
		var err error
		if to, err = jid.Parse(raw); err != nil {
			s.replyError(el, stanza.ErrJIDMalformed.WithText("%v", err))
			return nil
		}
		el.Set("to", to.String())
	}
	switch el.Name.Local {
	case stanza.IQ:
		s.handleIQ(el, to)
	case stanza.Message:
		if to.IsZero() {
			el.Set("to", s.jid.Bare().String()) // RFC 6121 §8.1.1.1
		}
		s.srv.router.Route(el)
	case stanza.Presence:
		s.handlePresence(el, to)
	}
	return nil
}

// replyError answers the client's own stanza with an error from the server.
func (s *session) replyError(el *stanza.Element, err *stanza.Error) {
	r := stanza.ErrorReply(el, err)
	if r == nil {
		return
	}
	r.Set("from", s.srv.domain).Set("to", s.jid.String())
	s.Deliver(r)
}

func (s *session) handleIQ(iq *stanza.Element, to jid.JID) {
	switch iq.Get("type") {
	case "get", "set":
		if iq.Get("id") == "" || len(iq.Children) != 1 {
			s.replyError(iq, stanza.ErrBadRequest.WithText("an IQ request carries exactly one payload and an id"))
			return
		}
	case "result", "error":
	default:
		s.replyError(iq, stanza.ErrBadRequest.WithText("unknown IQ type"))
		return
	}
	if !to.IsZero() && to != s.jid.Bare() {
		s.srv.router.Route(iq)
		return
	}
	// Addressed to the user's own account: the server answers (RFC 6120 §10.3.3).
	typ := iq.Get("type")
	if typ == "result" || typ == "error" {
		return
	}
	p := iq.Children[0]
	var reply *stanza.Element
	switch {
	case typ == "get" && p.Is(nsRoster, "query"):
		reply = stanza.Result(iq, stanza.New(nsRoster, "query"))
	case typ == "set" && p.Is(stream.NSSession, "session"):
		reply = stanza.Result(iq, nil)
	case typ == "get" && p.Is(ping.NS, "ping"):
		reply = stanza.Result(iq, nil)
	case typ == "set" && p.Is(stream.NSBind, "bind"):
		reply = stanza.ErrorReply(iq, stanza.ErrNotAllowed.WithText("already bound"))
	case typ == "set" && p.Is(nsRoster, "query"):
		reply = stanza.ErrorReply(iq, stanza.ErrNotAllowed.WithText("this server keeps no roster"))
	default:
		reply = stanza.ErrorReply(iq, stanza.ErrServiceUnavailable)
	}
	reply.Set("from", "").Set("to", s.jid.String())
	if !to.IsZero() {
		reply.Set("from", to.String())
	}
	s.Deliver(reply)
}

// handlePresence updates availability (broadcast presence, no to) or tracks
// directed presence so that the recipients hear when this resource goes
// (RFC 6121 §4.6).
func (s *session) handlePresence(p *stanza.Element, to jid.JID) {
	typ := p.Get("type")
	if to.IsZero() {
		if typ != "" && typ != "unavailable" {
			return // subscription management: no roster
		}
		s.mu.Lock()
		s.available = typ == ""
		s.priority = priority(p)
		var directed map[string]struct{}
		if typ == "unavailable" {
			directed = s.directed
			s.directed = make(map[string]struct{})
		}
		s.mu.Unlock()
		// The user's own resources see its presence (RFC 6121 §4.2.2, §4.5.2).
		p.Set("to", s.jid.Bare().String())
		s.srv.router.Route(p)
		for j := range directed {
			d := p.ShallowCopy()
			d.Set("to", j)
			s.srv.router.Route(d)
		}
		return
	}
	key := to.String()
	switch typ {
	case "":
		s.mu.Lock()
		_, known := s.directed[key]
		full := !known && len(s.directed) >= s.srv.cfg.MaxDirected
		if !full {
			s.directed[key] = struct{}{}
		}
		s.mu.Unlock()
		if full {
			s.replyError(p, stanza.ErrResourceConstraint.WithText("too many directed presences"))
			return
		}
	case "unavailable":
		s.mu.Lock()
		delete(s.directed, key)
		s.mu.Unlock()
	}
	s.srv.router.Route(p)
}

func priority(p *stanza.Element) int {
	v, err := strconv.Atoi(p.ChildText(stanza.NSClient, "priority"))
	if err != nil || v < -128 || v > 127 {
		return 0
	}
	return v
}

// handleSM answers XEP-0198 elements on a bound stream.
func (s *session) handleSM(el *stanza.Element) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch el.Name.Local {
	case "enable":
		if s.smOn {
			s.sendNonzaLocked(sm.Failed("unexpected-request", nil))
			return nil
		}
		s.smOn = true
		id := ""
		if r := el.Get("resume"); (r == "true" || r == "1") && s.srv.cfg.ResumeTimeout > 0 {
			id = newID()
			s.smID = id
			s.srv.mu.Lock()
			s.srv.resumable[id] = s
			s.srv.mu.Unlock()
		}
		s.sendNonzaLocked(sm.Enabled(id, int(s.srv.cfg.ResumeTimeout.Seconds())))
	case "r":
		if s.smOn {
			s.sendNonzaLocked(sm.AckElement(s.hIn))
		}
	case "a":
		if !s.smOn {
			return nil
		}
		h, err := sm.ParseH(el.Get("h"))
		if err != nil {
			return stream.ErrUndefinedCondition.WithText("bad h")
		}
		if err := s.unacked.Ack(h); err != nil {
			return s.handledTooHighLocked(h)
		}
	case "resume":
		s.sendNonzaLocked(sm.Failed("unexpected-request", nil))
	default:
		return stream.ErrUnsupportedStanza.WithText("unknown stream management element")
	}
	return nil
}
