// Package disco implements XEP-0030 service discovery for a service: the
// identities and features it has (disco#info) and the items under it
// (disco#items). Other packages add features as they are wired in.
package disco

import (
	"context"
	"slices"
	"sync"

	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Identity is a disco#info identity.
type Identity struct {
	Category, Type, Name string
}

// Item is a disco#items entry.
type Item struct {
	JID, Name string
}

// Info is the discovery data of one service.
type Info struct {
	mu         sync.RWMutex
	identities []Identity        // guarded by mu
	features   []string          // guarded by mu
	forms      []*stanza.Element // guarded by mu
	items      func() []Item     // guarded by mu
}

// New returns discovery data with the given identities; disco#info and
// disco#items are features from the start.
func New(ids ...Identity) *Info {
	return &Info{identities: ids, features: []string{stanza.NSDiscoInf, stanza.NSDiscoIt}}
}

// AddIdentity adds an identity.
func (i *Info) AddIdentity(id Identity) {
	i.mu.Lock()
	i.identities = append(i.identities, id)
	i.mu.Unlock()
}

// AddFeature adds feature vars (duplicates ignored).
func (i *Info) AddFeature(vars ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, v := range vars {
		if !slices.Contains(i.features, v) {
			i.features = append(i.features, v)
		}
	}
}

// SetItems sets the function that lists items.
func (i *Info) SetItems(f func() []Item) {
	i.mu.Lock()
	i.items = f
	i.mu.Unlock()
}

// Features returns a copy of the features.
func (i *Info) Features() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return slices.Clone(i.features)
}

// InfoElement renders the disco#info query result.
func (i *Info) InfoElement(node string) *stanza.Element {
	i.mu.RLock()
	defer i.mu.RUnlock()
	q := stanza.New(stanza.NSDiscoInf, "query")
	q.Set("node", node)
	for _, id := range i.identities {
		e := stanza.New(stanza.NSDiscoInf, "identity", "category", id.Category, "type", id.Type)
		e.Set("name", id.Name)
		q.Add(e)
	}
	for _, f := range i.features {
		q.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
	}
	for _, f := range i.forms {
		q.Add(f)
	}
	return q
}

// ItemsElement renders the disco#items query result.
func (i *Info) ItemsElement(node string) *stanza.Element {
	i.mu.RLock()
	items := i.items
	i.mu.RUnlock()
	q := stanza.New(stanza.NSDiscoIt, "query")
	q.Set("node", node)
	if items != nil && node == "" {
		for _, it := range items() {
			e := stanza.New(stanza.NSDiscoIt, "item", "jid", it.JID)
			e.Set("name", it.Name)
			q.Add(e)
		}
	}
	return q
}

// Register installs the disco#info and disco#items handlers on m.
func (i *Info) Register(m *mux.Mux) {
	m.Handle("get", stanza.NSDiscoInf, "query", func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		node := iq.Children[0].Get("node")
		if node != "" {
			return nil, stanza.ErrItemNotFound
		}
		return i.InfoElement(node), nil
	})
	m.Handle("get", stanza.NSDiscoIt, "query", func(_ context.Context, iq *stanza.Element) (*stanza.Element, error) {
		node := iq.Children[0].Get("node")
		if node != "" {
			return nil, stanza.ErrItemNotFound
		}
		return i.ItemsElement(node), nil
	})
}
