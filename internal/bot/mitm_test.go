package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/router"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// mitm is a hostile server: it sits in front of the MUC, puts its own key
// in place of one victim's in the victim's presence, and so gets the epoch
// secret sealed to that key; it opens it, seals it again to the victim's
// real key with the hash of a roster that shows the victim its own key,
// and sends the victim that roster (as if from the leader) beside the
// leader's own. Everyone else sees the server's key for the victim.
type mitm struct {
	t      *testing.T
	srv    *xmpptest.Server
	keys   *e2ee.KeyPair
	room   string
	inner  func(*stanza.Element)
	mu     sync.Mutex
	joined []string          // nicks that joined with a key, in order
	victim string            // the second of them
	vreal  string            // the victim's full JID
	vpub   []byte            // its real key
	nicks  map[string]string // real JID → nick
	rost   map[uint32]e2ee.Roster
}

func newMITM(t *testing.T, srv *xmpptest.Server, room string) *mitm {
	kp, err := e2ee.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m := &mitm{t: t, srv: srv, keys: kp, room: room, inner: srv.App.MUC.Route, nicks: map[string]string{}, rost: map[uint32]e2ee.Roster{}}
	srv.App.Router.AddComponent(srv.App.MUC.Domain(), router.ComponentFunc(m.route))
	return m
}

func (m *mitm) route(el *stanza.Element) {
	to, _ := jid.Parse(el.Get("to"))
	if to.Bare().String() != m.room {
		m.inner(el)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case el.Name.Local == stanza.Presence && to.Resource != "" && to.Resource != "focus":
		m.nicks[el.Get("from")] = to.Resource
		if key := el.Child(e2eexml.NS, "e2ee"); key != nil && el.Get("type") == "" {
			pub, _ := e2eexml.ParseKey(el)
			if !contains(m.joined, to.Resource) {
				m.joined = append(m.joined, to.Resource)
			}
			if len(m.joined) >= 2 && m.joined[1] == to.Resource {
				m.victim, m.vreal, m.vpub = to.Resource, el.Get("from"), pub
				el = el.Copy()
				for i, c := range el.Children {
					if c.Is(e2eexml.NS, "e2ee") {
						el.Children[i] = e2eexml.Key(m.keys.Public())
					}
				}
			}
		}
	case el.Name.Local == stanza.Message && stanza.Type(el) == "groupchat":
		if r, ok, err := e2eexml.ParseRoster(el); ok && err == nil {
			m.rost[r.Epoch] = r.Members
			m.inner(el)
			m.forgeRoster(el.Get("from"), r)
			return
		}
	case el.Name.Local == stanza.Message && to.Resource == m.victim && m.victim != "":
		if k, ok, err := e2eexml.ParseSealedKey(el); ok && err == nil {
			el = m.reseal(el, k)
		}
	}
	m.inner(el)
}

// forgedRoster is r with the victim's real key in its entry.
func (m *mitm) forgedRoster(r e2ee.Roster) e2ee.Roster {
	f := append(e2ee.Roster(nil), r...)
	for i := range f {
		if f[i].Nick == m.victim {
			f[i].Pub = m.vpub
		}
	}
	return f
}

// forgeRoster sends the victim, from the leader's occupant JID, the roster
// with its own key.
func (m *mitm) forgeRoster(leaderReal string, r e2eexml.Roster) {
	if _, ok := r.Members.ByNick(m.victim); !ok {
		return
	}
	msg := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "to", m.vreal,
		"from", m.room+"/"+m.nicks[leaderReal])
	msg.Add(e2eexml.RosterElement(e2eexml.Roster{Epoch: r.Epoch, Ratchet: r.Ratchet, Members: m.forgedRoster(r.Members)}))
	m.srv.App.Router.Route(msg)
}

// reseal opens the leader's seal to the server's key and seals the secret
// again to the victim with the forged roster's hash.
func (m *mitm) reseal(el *stanza.Element, k e2eexml.SealedKey) *stanza.Element {
	r := m.rost[k.Epoch]
	me, ok := r.ByNick(m.victim)
	if !ok {
		m.t.Errorf("mitm: no roster of epoch %d", k.Epoch)
		return el
	}
	secret, _, err := m.keys.OpenEpoch(m.room, k.Epoch, me.Index, k.Enc, k.CT)
	if err != nil {
		m.t.Errorf("mitm: could not open the victim's key: %v", err)
		return el
	}
	hash, _ := m.forgedRoster(r).Hash()
	enc, ct, err := e2ee.SealEpoch(m.vpub, m.room, k.Epoch, me.Index, secret, hash)
	if err != nil {
		m.t.Errorf("mitm: reseal: %v", err)
		return el
	}
	out := stanza.New(stanza.NSClient, stanza.Message, "type", "chat", "to", el.Get("to"), "from", el.Get("from"))
	out.Add(e2eexml.SealedKeyElement(e2eexml.SealedKey{Epoch: k.Epoch, Enc: enc, CT: ct}))
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestSwappedKeyChangesVictimsCode is the test 6: everyone shows
// the same security code, except the one participant whose key a hostile
// server swapped, even though that server read the epoch secret and the
// victim decrypts the media.
func TestSwappedKeyChangesVictimsCode(t *testing.T) {
	srv := xmpptest.Start(t, nil)
	room := "mitm@conference." + srv.Domain
	m := newMITM(t, srv, room)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	o := bot.Options{E2EE: true}
	leader := joinOpts(t, srv, "mitm", o)
	victim := joinOpts(t, srv, "mitm", o)
	other := joinOpts(t, srv, "mitm", o)
	waitAll(t, ctx, leader, victim, other)
	m.mu.Lock()
	if m.victim != victim.EndpointID() {
		t.Fatalf("the server swapped %q, want the second to join (%s)", m.victim, victim.EndpointID())
	}
	m.mu.Unlock()
	// All three at the same epoch: the victim's code alone differs.
	if err := victim.Wait(ctx, func(map[string]bot.Remote) bool {
		e := leader.E2EE().Epoch
		return e > 0 && victim.E2EE().Epoch == e && other.E2EE().Epoch == e
	}); err != nil {
		t.Fatal(err)
	}
	cl, cv, co := leader.E2EE(), victim.E2EE(), other.E2EE()
	if cl.SecurityCode != co.SecurityCode {
		t.Errorf("leader %q and other %q differ", cl.SecurityCode, co.SecurityCode)
	}
	if cv.SecurityCode == cl.SecurityCode {
		t.Errorf("the victim shows the others' code %q although its key was swapped", cv.SecurityCode)
	}
	t.Logf("leader %s, victim %s (roster alarms %d), other %s", cl.SecurityCode, cv.SecurityCode, cv.RosterAlarms, co.SecurityCode)
}
