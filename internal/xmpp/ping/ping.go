// Package ping implements XEP-0199 XMPP Ping: answering pings sent to a
// service, and building the pings the server sends to idle clients.
package ping

import (
	"context"

	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Register answers pings on m and advertises the feature.
func Register(m *mux.Mux, info *disco.Info) {
	info.AddFeature(NS)
	m.Handle("get", NS, "ping", func(context.Context, *stanza.Element) (*stanza.Element, error) {
		return nil, nil
	})
}

// Request builds a ping from one address to another.
func Request(id, from, to string) *stanza.Element {
	return stanza.NewIQ("get", id, from, to, stanza.New(NS, "ping"))
}
