package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-im/parley/internal/xmpp/client"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

func TestClient(t *testing.T) {
	// Registered first, so it runs after the server's own cleanup.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	srv := xmpptest.Start(t, nil)
	srv.AddUser(t, "gina", "pw g")
	ctx, cancel := context.WithTimeout(context.Background(), xmpptest.Timeout)
	defer cancel()

	got := make(chan *stanza.Element, 1)
	a, err := client.Dial(ctx, client.Options{URL: srv.WSURL(""), Domain: "localhost", Insecure: true,
		Handler: func(el *stanza.Element) {
			if el.Name.Local == "message" {
				got <- el
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := client.Dial(ctx, client.Options{URL: srv.WSURL(""), Domain: "localhost", Insecure: true,
		User: "gina", Password: "pw g", Resource: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	if b.JID() != "gina@localhost/bot" {
		t.Fatalf("bound %q", b.JID())
	}
	if _, err := b.IQ(ctx, stanza.NewIQ("get", "", "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("ping: %v", err)
	}
	_, err = b.IQ(ctx, stanza.NewIQ("get", "", "", "localhost", stanza.New("urn:x", "nothing")))
	if !errors.Is(err, stanza.ErrServiceUnavailable) {
		t.Fatalf("unknown IQ: %v", err)
	}
	b.Send(stanza.New(stanza.NSClient, "message", "to", a.JID(), "type", "chat").Add(stanza.New(stanza.NSClient, "body").SetText("hi")))
	select {
	case m := <-got:
		if m.Get("from") != b.JID() {
			t.Fatalf("from %q", m.Get("from"))
		}
	case <-ctx.Done():
		t.Fatal("no message")
	}
	if _, err := client.Dial(ctx, client.Options{URL: srv.WSURL(""), Domain: "localhost", Insecure: true, User: "gina", Password: "wrong"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	a.Close()
	b.Close()
	// A request on a closed client fails at once rather than hanging.
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := a.IQ(short, stanza.NewIQ("get", "", "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err == nil {
		t.Fatal("IQ on a closed client")
	}
}
