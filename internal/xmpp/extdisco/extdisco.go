// Package extdisco implements XEP-0215 External Service Discovery: it tells
// clients which STUN and TURN services to use, with short-lived credentials.
// Jitsi's client asks with urn:xmpp:extdisco:2 and falls back to :1
// (protocol/jitsi-dialect.md §7.1); both are answered from the same list.
//
// A request may name the client's region, Parley's own addition, as a child of <services/>:
// <region xmlns="urn:parley:region:0">eu</region>. A cluster then answers with the TURN servers of
// that region (docs/architecture.md "TURN near users"). Clients that do not send it are answered by
// the region of their address.
package extdisco

import (
	"context"
	"strconv"
	"time"

	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Namespaces of the two versions, and of the region hint.
const (
	NS2      = "urn:xmpp:extdisco:2"
	NS1      = "urn:xmpp:extdisco:1"
	NSRegion = "urn:parley:region:0"
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

// Request is who asks: the requesting user's full JID and the region it names ("" when none).
type Request struct {
	User   string
	Region string
}

// Provider returns the services for a request.
type Provider func(Request) []Service

// maxRegion is the longest region name (config's region rule: letters, digits, '-', '_', '.').
const maxRegion = 64

// validRegion reports whether s is a region name.
func validRegion(s string) bool {
	if s == "" || len(s) > maxRegion {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Register answers service requests on m from p and advertises the feature.
// A nil p answers an empty list.
func Register(m *mux.Mux, info *disco.Info, p Provider) {
	info.AddFeature(NS2)
	for _, ns := range []string{NS2, NS1} {
		m.Handle("get", ns, "services", func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
			q := iq.Children[0]
			want := q.Get("type")
			req := Request{User: iq.Get("from")}
			hints := 0
			for _, c := range q.Children {
				if c.Is(NSRegion, "region") {
					hints++
					req.Region = c.Text
				}
			}
			if hints > 1 || hints == 1 && !validRegion(req.Region) {
				return nil, stanza.ErrBadRequest.WithText("the region hint is one <region/> of letters, digits, '-', '_' or '.' (at most 64)")
			}
			out := stanza.New(ns, "services")
			if p == nil {
				return out, nil
			}
			for _, s := range p(req) {
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
