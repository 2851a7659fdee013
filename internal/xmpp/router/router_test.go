package router

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

type fakeSession struct {
	j         jid.JID
	available bool
	prio      int
	mu        sync.Mutex
	got       []*stanza.Element
	bytes     int
}

func (f *fakeSession) JID() jid.JID           { return f.j }
func (f *fakeSession) Available() (bool, int) { return f.available, f.prio }
func (f *fakeSession) Deliver(el *stanza.Element) {
	b := el.Bytes() // what c2s does: serialise once per recipient
	f.mu.Lock()
	f.got = append(f.got, el)
	f.bytes += len(b)
	f.mu.Unlock()
}

func (f *fakeSession) take() []*stanza.Element {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.got
	f.got = nil
	return g
}

func msg(from, to, typ string) *stanza.Element {
	return stanza.New(stanza.NSClient, "message", "from", from, "to", to, "type", typ, "id", "m").
		Add(stanza.New(stanza.NSClient, "body").SetText("hi"))
}

func TestRouting(t *testing.T) {
	r := New("localhost", slog.Default())
	a := &fakeSession{j: jid.MustParse("a@localhost/1"), available: true}
	a2 := &fakeSession{j: jid.MustParse("a@localhost/2"), available: true, prio: -1}
	b := &fakeSession{j: jid.MustParse("b@localhost/1"), available: true}
	for _, s := range []*fakeSession{a, a2, b} {
		if !r.Bind(s) {
			t.Fatal("bind")
		}
	}
	if r.Bind(&fakeSession{j: a.j}) {
		t.Fatal("a taken full JID was bound twice")
	}
	// Bare JID: available resources with non-negative priority.
	r.Route(msg("b@localhost/1", "a@localhost", "chat"))
	if len(a.take()) != 1 || len(a2.take()) != 0 {
		t.Fatal("bare routing ignored priorities")
	}
	// Offline full JID falls back to the bare JID for chat...
	r.Route(msg("b@localhost/1", "a@localhost/gone", "chat"))
	if len(a.take()) != 1 {
		t.Fatal("chat to an offline resource")
	}
	// ...but groupchat and IQs bounce to the sender.
	r.Route(msg("b@localhost/1", "a@localhost/gone", "groupchat"))
	iq := stanza.NewIQ("get", "q", "b@localhost/1", "a@localhost/gone", stanza.New("urn:x", "q"))
	r.Route(iq)
	got := b.take()
	if len(got) != 2 || stanza.ErrorOf(got[0]).Condition != "service-unavailable" || got[1].Get("id") != "q" {
		t.Fatalf("bounces: %v", got)
	}
	// Nobody online: chat bounces, headline is dropped, errors never bounce.
	r.Route(msg("b@localhost/1", "nobody@localhost", "chat"))
	r.Route(msg("b@localhost/1", "nobody@localhost", "headline"))
	r.Route(msg("b@localhost/1", "nobody@localhost", "error"))
	if got := b.take(); len(got) != 1 {
		t.Fatalf("to nobody: %v", got)
	}
	// Other domains and malformed addresses.
	r.Route(msg("b@localhost/1", "x@elsewhere.example", "chat"))
	r.Route(msg("b@localhost/1", "x@@bad", "chat"))
	got = b.take()
	if len(got) != 2 || stanza.ErrorOf(got[0]).Condition != "remote-server-not-found" || stanza.ErrorOf(got[1]).Condition != "jid-malformed" {
		t.Fatalf("foreign and malformed: %v", got)
	}
	// Components receive everything for their domain.
	var comp []*stanza.Element
	r.AddComponent("conference.localhost", ComponentFunc(func(el *stanza.Element) { comp = append(comp, el) }))
	r.Route(msg("b@localhost/1", "room@conference.localhost/nick", "groupchat"))
	if len(comp) != 1 || len(r.Components()) != 1 {
		t.Fatal("component")
	}
	r.Unbind(a)
	r.Unbind(a) // twice is harmless
	if r.Count() != 2 || r.Resources("a") != 1 {
		t.Fatalf("count %d", r.Count())
	}
}

// BenchmarkRouteMessage measures one chat message from session to session:
// address parsing, lookup and serialisation for the recipient.
func BenchmarkRouteMessage(b *testing.B) {
	r := New("localhost", slog.Default())
	to := &fakeSession{j: jid.MustParse("3f2a9c1e-0000-4000-8000-000000000002@localhost/web"), available: true}
	r.Bind(to)
	m := msg("3f2a9c1e-0000-4000-8000-000000000001@localhost/web", to.j.String(), "chat")
	b.ReportAllocs()
	for b.Loop() {
		r.Route(m)
		if len(to.got) > 1024 {
			to.got = to.got[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// A nil stanza, what stanza.ErrorReply gives for an error, is dropped.
func TestRouteDropsNil(t *testing.T) {
	r := New("localhost", slog.Default())
	a := &fakeSession{j: jid.MustParse("a@localhost/1"), available: true}
	r.Bind(a)
	r.Route(stanza.ErrorReply(msg("a@localhost/1", "a@localhost/1", "error"), stanza.ErrItemNotFound))
	if got := a.take(); len(got) != 0 {
		t.Fatalf("an error was answered: %v", got)
	}
}
