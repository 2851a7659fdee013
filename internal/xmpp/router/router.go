// Package router knows who is online and delivers stanzas between client
// sessions and components (RFC 6120 §10, RFC 6121 §8.5).
//
// Callers hand Route a stanza whose from the c2s layer has already stamped.
// Route looks only at to:
//
//	to is a component's domain (conference.D, focus.D, D itself) → that component
//	to is local@D/res and that session is bound → the session
//	to is local@D (bare) → every available resource (messages, presence), or the
//	                      server answers on the account's behalf (IQs)
//	anything else       → the error RFC 6121 §8.5 prescribes, bounced to from
//
// There is no federation: other domains get remote-server-not-found.
// The router holds one RWMutex over its maps; Deliver on a session only
// enqueues, so no delivery blocks while the lock is held for long.
package router

import (
	"log/slog"
	"sync"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Session is a bound client resource as the router sees it.
type Session interface {
	JID() jid.JID
	// Deliver queues the stanza for the client. It must not block.
	Deliver(el *stanza.Element)
	// Available reports whether the resource has sent available presence,
	// and its priority.
	Available() (bool, int)
}

// Component handles every stanza addressed to its domain.
type Component interface {
	Route(el *stanza.Element)
}

// ComponentFunc adapts a function to Component.
type ComponentFunc func(el *stanza.Element)

// Route calls f.
func (f ComponentFunc) Route(el *stanza.Element) { f(el) }

// ErrRemoteServerNotFound answers stanzas for domains we do not serve.
var ErrRemoteServerNotFound = &stanza.Error{Type: stanza.Cancel, Condition: "remote-server-not-found"}

// Router routes stanzas for one domain.
type Router struct {
	domain string
	log    *slog.Logger

	mu         sync.RWMutex
	users      map[string]map[string]Session // localpart → resource → session; guarded by mu
	components map[string]Component          // domain → component; guarded by mu
}

// New returns a router for domain.
func New(domain string, log *slog.Logger) *Router {
	return &Router{
		domain:     domain,
		log:        log,
		users:      make(map[string]map[string]Session),
		components: make(map[string]Component),
	}
}

// Domain returns the domain this router serves.
func (r *Router) Domain() string { return r.domain }

// AddComponent registers c for every stanza to domain.
func (r *Router) AddComponent(domain string, c Component) {
	r.mu.Lock()
	r.components[domain] = c
	r.mu.Unlock()
}

// Components lists the registered component domains other than the main one.
func (r *Router) Components() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for d := range r.components {
		if d != r.domain {
			out = append(out, d)
		}
	}
	return out
}

// Bind registers s under its full JID. It returns false if the full JID is
// taken, in which case nothing changes.
func (r *Router) Bind(s Session) bool {
	j := s.JID()
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.users[j.Local]
	if res == nil {
		res = make(map[string]Session)
		r.users[j.Local] = res
	}
	if _, taken := res[j.Resource]; taken {
		return false
	}
	res[j.Resource] = s
	return true
}

// Unbind removes s; it is a no-op if s is no longer the bound session.
func (r *Router) Unbind(s Session) {
	j := s.JID()
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.users[j.Local]
	if res[j.Resource] != s {
		return
	}
	delete(res, j.Resource)
	if len(res) == 0 {
		delete(r.users, j.Local)
	}
}

// Resources returns how many resources local has bound.
func (r *Router) Resources(local string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.users[local])
}

// Lookup returns the session bound to full, if any.
func (r *Router) Lookup(full jid.JID) Session {
	if full.Domain != r.domain {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.users[full.Local][full.Resource]
}

// Count returns the number of bound sessions.
func (r *Router) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, res := range r.users {
		n += len(res)
	}
	return n
}

// Route delivers el according to its to attribute. to must be present and
// from stamped by the caller. A nil el is dropped: it is what
// stanza.ErrorReply gives for an error, which is never answered.
func (r *Router) Route(el *stanza.Element) {
	if el == nil {
		return
	}
	to, err := jid.Parse(el.Get("to"))
	if err != nil {
		r.bounce(el, stanza.ErrJIDMalformed)
		return
	}
	if to.Local == "" && to.Resource == "" || to.Domain != r.domain {
		r.mu.RLock()
		c := r.components[to.Domain]
		r.mu.RUnlock()
		if c != nil {
			c.Route(el)
			return
		}
		if to.Domain != r.domain {
			r.bounce(el, ErrRemoteServerNotFound)
			return
		}
	}
	if to.Resource != "" {
		r.routeFull(el, to)
	} else {
		r.routeBare(el, to)
	}
}

// routeFull delivers to one resource (RFC 6121 §8.5.3).
func (r *Router) routeFull(el *stanza.Element, to jid.JID) {
	if s := r.Lookup(to); s != nil {
		s.Deliver(el)
		return
	}
	switch el.Name.Local {
	case stanza.Message:
		switch stanza.Type(el) {
		case "normal", "chat", "headline":
			r.routeBare(el, to.Bare())
		case "groupchat":
			r.bounce(el, stanza.ErrServiceUnavailable)
		}
	case stanza.IQ:
		r.bounce(el, stanza.ErrServiceUnavailable)
	}
	// Presence to an unavailable resource is dropped silently.
}

// routeBare delivers to a local account (RFC 6121 §8.5.2).
func (r *Router) routeBare(el *stanza.Element, to jid.JID) {
	switch el.Name.Local {
	case stanza.IQ:
		// The server answers on the account's behalf and has nothing to say.
		r.bounce(el, stanza.ErrServiceUnavailable)
		return
	case stanza.Presence:
		switch el.Get("type") {
		case "", "unavailable":
		default:
			return // subscriptions: there is no roster to act on
		}
	}
	targets := r.available(to.Local, el.Name.Local == stanza.Message)
	if len(targets) == 0 {
		if el.Name.Local == stanza.Message {
			switch stanza.Type(el) {
			case "normal", "chat", "groupchat":
				r.bounce(el, stanza.ErrServiceUnavailable)
			}
		}
		return
	}
	for _, s := range targets {
		s.Deliver(el)
	}
}

// available returns the resources of local that should receive a stanza for
// the bare JID: available ones, and for messages only those with a
// non-negative priority.
func (r *Router) available(local string, message bool) []Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Session
	for _, s := range r.users[local] {
		ok, prio := s.Available()
		if ok && (!message || prio >= 0) {
			out = append(out, s)
		}
	}
	return out
}

// Bounce answers el with err on behalf of its recipient, unless el is itself
// an error or a response that must not be answered.
func (r *Router) Bounce(el *stanza.Element, err *stanza.Error) { r.bounce(el, err) }

func (r *Router) bounce(el *stanza.Element, err *stanza.Error) {
	if el.Name.Local == stanza.IQ && el.Get("type") == "result" {
		return
	}
	reply := stanza.ErrorReply(el, err)
	if reply == nil || reply.Get("to") == "" {
		return
	}
	if reply.Get("from") == "" {
		reply.Set("from", r.domain)
	}
	to, perr := jid.Parse(reply.Get("to"))
	if perr != nil || to.Domain != r.domain {
		return // never bounce an error to a domain we cannot reach
	}
	r.Route(reply)
}
