// Package extdisco implements XEP-0215 External Service Discovery: it tells
// clients which STUN and TURN services to use, with short-lived credentials.
// Jitsi's client asks with urn:xmpp:extdisco:2 and falls back to :1
// (protocol/jitsi-dialect.md §7.1); both are answered from the same list.
package extdisco

import (
	"context"
	"strconv"
	"time"

	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Namespaces of the two versions.
const (
	NS2 = "urn:xmpp:extdisco:2"
	NS1 = "urn:xmpp:extdisco:1"
)

// Service is one external service.
type Service struct {
	Type      string // stun, turn, turns
	Host      string
	Port      int
	Transport string // udp, tcp
	Username  string
	Password  string
	Expires   time.Time
}

// Provider returns the services for the requesting user (full JID).
type Provider func(user string) []Service

// Register answers service requests on m from p and advertises the feature.
// A nil p answers an empty list.
func Register(m *mux.Mux, info *disco.Info, p Provider) {
	info.AddFeature(NS2)
	for _, ns := range []string{NS2, NS1} {
		m.Handle("get", ns, "services", func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
			want := iq.Children[0].Get("type")
			out := stanza.New(ns, "services")
			if p == nil {
				return out, nil
			}
			for _, s := range p(iq.Get("from")) {
				if want != "" && s.Type != want {
					continue
				}
				out.Add(element(ns, s))
			}
			return out, nil
		})
	}
}

func element(ns string, s Service) *stanza.Element {
	e := stanza.New(ns, "service", "type", s.Type, "host", s.Host, "port", strconv.Itoa(s.Port))
	e.Set("transport", s.Transport)
	if s.Username != "" {
		e.Set("username", s.Username).Set("password", s.Password).Set("restricted", "1")
	}
	if !s.Expires.IsZero() {
		e.Set("expires", s.Expires.UTC().Format(time.RFC3339))
	}
	return e
}
