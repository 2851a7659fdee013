package extdisco

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/mux"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// serve registers a provider that records its requests and answers one TURN service, and returns a
// function asking with the given <services/> children.
func serve(t *testing.T) (ask func(children ...*stanza.Element) *stanza.Element, got *[]Request) {
	m := mux.New()
	var reqs []Request
	Register(m, disco.New(), func(r Request) []Service {
		reqs = append(reqs, r)
		return []Service{{Type: "turn", Host: "turn.example.org", Port: 3478, Transport: "udp", Username: "u", Password: "p",
			Expires: time.Unix(1_900_000_000, 0)}}
	})
	return func(children ...*stanza.Element) *stanza.Element {
		q := stanza.New(NS2, "services")
		q.Add(children...)
		iq := stanza.NewIQ("get", "q1", "alice@example.org/web", "example.org", q)
		return m.ServeIQ(context.Background(), iq)
	}, &reqs
}

// The region hint reaches the provider; a request without one asks with "".
func TestRegionHint(t *testing.T) {
	ask, reqs := serve(t)
	if res := ask(); res.Get("type") != "result" || !strings.Contains(res.String(), `port="3478"`) {
		t.Fatalf("no services: %s", res)
	}
	if res := ask(stanza.New(NSRegion, "region").SetText("eu-west.1")); res.Get("type") != "result" {
		t.Fatalf("a good hint refused: %s", res)
	}
	want := []Request{{User: "alice@example.org/web"}, {User: "alice@example.org/web", Region: "eu-west.1"}}
	if len(*reqs) != 2 || (*reqs)[0] != want[0] || (*reqs)[1] != want[1] {
		t.Fatalf("provider asked %+v, want %+v", *reqs, want)
	}
}

// A hint that is not one region name is a bad request, and the provider is not asked.
func TestBadRegionHint(t *testing.T) {
	ask, reqs := serve(t)
	for name, children := range map[string][]*stanza.Element{
		"empty":     {stanza.New(NSRegion, "region")},
		"space":     {stanza.New(NSRegion, "region").SetText("e u")},
		"markup":    {stanza.New(NSRegion, "region").SetText("<eu>")},
		"too long":  {stanza.New(NSRegion, "region").SetText(strings.Repeat("a", 65))},
		"two hints": {stanza.New(NSRegion, "region").SetText("eu"), stanza.New(NSRegion, "region").SetText("us")},
	} {
		res := ask(children...)
		if e := stanza.ErrorOf(res); res.Get("type") != "error" || e == nil || e.Condition != "bad-request" {
			t.Errorf("%s: %s, want bad-request", name, res)
		}
	}
	if len(*reqs) != 0 {
		t.Errorf("the provider was asked %d times for bad hints", len(*reqs))
	}
	// Another namespace's <region/> is not the hint.
	if res := ask(stanza.New("urn:example", "region").SetText("e u")); res.Get("type") != "result" {
		t.Errorf("a foreign <region/> refused: %s", res)
	}
}
