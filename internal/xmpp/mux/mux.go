// Package mux dispatches IQs addressed to a service (the server's domain,
// a component) to a handler chosen by IQ type and payload name, and builds
// the reply: a result with the handler's payload, or the stanza error it
// returned. An IQ nobody handles gets service-unavailable (RFC 6120 §8.4).
package mux

import (
	"context"
	"encoding/xml"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Handler answers one IQ request. It returns the result payload (nil for an
// empty result) or an error; a *stanza.Error is sent as is, anything else as
// internal-server-error.
type Handler func(ctx context.Context, iq *stanza.Element) (*stanza.Element, error)

type key struct {
	typ  string
	name xml.Name
}

// Mux maps (type, payload name) to a handler. It is filled before use and
// read-only afterwards.
type Mux struct {
	handlers map[key]Handler
}

// New returns an empty mux.
func New() *Mux { return &Mux{handlers: make(map[key]Handler)} }

// Handle registers h for IQs of type typ ("get" or "set") whose payload is ns/local.
func (m *Mux) Handle(typ, ns, local string, h Handler) {
	m.handlers[key{typ, xml.Name{Space: ns, Local: local}}] = h
}

// ServeIQ answers a get or set IQ. It returns nil for results and errors,
// which are never answered.
func (m *Mux) ServeIQ(ctx context.Context, iq *stanza.Element) *stanza.Element {
	typ := iq.Get("type")
	if typ != "get" && typ != "set" {
		return nil
	}
	if len(iq.Children) != 1 || iq.Get("id") == "" {
		return stanza.ErrorReply(iq, stanza.ErrBadRequest.WithText("an IQ request carries exactly one payload and an id"))
	}
	p := iq.Children[0]
	h := m.handlers[key{typ, p.Name}]
	if h == nil {
		return stanza.ErrorReply(iq, stanza.ErrServiceUnavailable)
	}
	res, err := h(ctx, iq)
	if err != nil {
		return stanza.ErrorReply(iq, stanza.AsError(err))
	}
	return stanza.Result(iq, res)
}

// Route answers el as a service would: an IQ request gets its reply through
// send; responses, messages and presence addressed to the service are
// dropped (nothing here starts conversations of its own).
func (m *Mux) Route(ctx context.Context, el *stanza.Element, send func(*stanza.Element)) {
	if el.Name.Local != stanza.IQ {
		return
	}
	if reply := m.ServeIQ(ctx, el); reply != nil {
		send(reply)
	}
}
