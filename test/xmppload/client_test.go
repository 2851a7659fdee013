package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is just enough of an XMPP server to drive the client: STARTTLS,
// SASL (ANONYMOUS, or PLAIN accepting only password "good"), bind, ping, and
// message routing between its sessions by full JID.
type fakeServer struct {
	t   *testing.T
	ln  net.Listener
	tls *tls.Config

	mu       sync.Mutex
	sessions map[string]*fakeSession // guarded by mu; full JID → session
	n        int                     // guarded by mu; sessions so far
}

type fakeSession struct {
	mu sync.Mutex // guards writes to conn
	c  net.Conn
}

func (s *fakeSession) write(x string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Write([]byte(x))
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, sessions: map[string]*fakeSession{},
		tls: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// next returns the next top-level start element, skipping its stream header.
func next(d *xml.Decoder) (xml.StartElement, error) {
	for {
		t, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := t.(xml.StartElement); ok && se.Name.Local != "stream" {
			return se, nil
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

const fakeHeader = `<?xml version='1.0'?><stream:stream from='localhost' id='x' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

func (s *fakeServer) serve(raw net.Conn) {
	defer raw.Close()
	var c net.Conn = raw
	d := xml.NewDecoder(c)
	c.Write([]byte(fakeHeader + `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`))
	if se, err := next(d); err != nil || se.Name.Local != "starttls" {
		return
	}
	c.Write([]byte(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`))
	c = tls.Server(raw, s.tls)

	d = xml.NewDecoder(c)
	c.Write([]byte(fakeHeader + `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>ANONYMOUS</mechanism></mechanisms></stream:features>`))
	se, err := next(d)
	if err != nil || se.Name.Local != "auth" {
		return
	}
	var payload string
	d.DecodeElement(&payload, &se)
	plain, _ := base64.StdEncoding.DecodeString(payload)
	if attr(se, "mechanism") == "PLAIN" && string(plain) != "\x00bench7\x00good" {
		c.Write([]byte(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`))
		return
	}
	c.Write([]byte(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`))

	d = xml.NewDecoder(c)
	c.Write([]byte(fakeHeader + `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`))
	sess := &fakeSession{c: c}
	s.mu.Lock()
	s.n++
	jid := fmt.Sprintf("anon%d@localhost/r", s.n)
	s.sessions[jid] = sess
	s.mu.Unlock()
	for {
		se, err := next(d)
		if err != nil {
			return
		}
		switch se.Name.Local {
		case "iq":
			d.Skip()
			result := `<iq type='result' id='` + attr(se, "id") + `'>`
			if attr(se, "id") == "bind" {
				result += `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>` + jid + `</jid></bind>`
			}
			sess.write(result + `</iq>`)
		case "message":
			var m struct {
				Body string `xml:"body"`
			}
			d.DecodeElement(&m, &se)
			s.mu.Lock()
			to := s.sessions[attr(se, "to")]
			s.mu.Unlock()
			if to != nil {
				to.write(`<message from='` + jid + `' type='chat'><body>` + m.Body + `</body></message>`)
			}
		default:
			d.Skip()
		}
	}
}

func (s *fakeServer) opts() common {
	return common{addr: s.ln.Addr().String(), domain: "localhost", concurrency: 4, spread: 1, timeout: time.Minute}
}

func TestLoginAnonymousAndRoute(t *testing.T) {
	srv := newFakeServer(t)
	o := routeOpts{common: srv.opts(), pairs: 2, window: 4, messages: 500, duration: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clients, err := o.connectMany(ctx, 4, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	peers := make([]*peer, len(clients))
	for i, c := range clients {
		peers[i] = &peer{c: c, window: make(chan struct{}, o.window)}
		for range o.window {
			peers[i].window <- struct{}{}
		}
	}
	for i, p := range peers {
		p.to = escape(peers[i^1].c.jid)
	}
	r, err := o.run(ctx, peers)
	if err != nil {
		t.Fatal(err)
	}
	// Without a warm-up a few deliveries may precede the measured interval.
	if r.Sent != 2000 || r.Delivered < 1000 || r.Delivered > 2000 || r.Lost != 0 || r.Errors != 0 {
		t.Errorf("sent %d, delivered %d, lost %d, errors %d; want 2000, ~2000, 0, 0", r.Sent, r.Delivered, r.Lost, r.Errors)
	}
	if r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
		t.Errorf("latency p50 %v p99 %v", r.P50Ms, r.P99Ms)
	}
}

func TestLoginPlain(t *testing.T) {
	srv := newFakeServer(t)
	for _, tc := range []struct {
		password string
		wantErr  string
	}{
		{"good", ""},
		{"bad", "not-authorized"},
	} {
		o := srv.opts()
		o.user, o.password = "bench%d", tc.password
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := dial(ctx, o.login(7))
		cancel()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("password %q: %v", tc.password, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("password %q: got %v, want an error with %q", tc.password, err, tc.wantErr)
		}
		if c != nil {
			c.close()
		}
	}
}

func TestCheckAllowsOnlyLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:5222": true,
		"localhost:5222": true,
		"[::1]:5222":     true,
		"127.9.9.9:5222": true,
		"10.0.0.1:5222":  false,
		"example.org:1":  false,
		"0.0.0.0:5222":   false,
	} {
		c := common{addr: addr, spread: 1, timeout: time.Minute}
		if err := c.check(); (err == nil) != ok {
			t.Errorf("%s: check() = %v, want allowed=%v", addr, err, ok)
		}
	}
}

func TestParseBody(t *testing.T) {
	for body, want := range map[string][3]int64{
		"12 3456 xxxx": {12, 3456, 1},
		"12 3456":      {12, 3456, 1},
		"12":           {0, 0, 0},
		"a 1 x":        {0, 0, 0},
		"":             {0, 0, 0},
	} {
		seq, at, ok := parseBody(body)
		if ok != (want[2] == 1) || ok && (seq != want[0] || at != want[1]) {
			t.Errorf("parseBody(%q) = %d, %d, %v", body, seq, at, ok)
		}
	}
}

func TestToolCommand(t *testing.T) {
	saved := os.Args
	defer func() { os.Args = saved }()
	os.Args = []string{"xmppload", "route", "--pid", "123", "--out=r.jsonl", "--server-cmd", "a b",
		"--server", "Prosody 0.12", "--user", "bench%d"}
	want := `go run ./test/xmppload route --pid=$PID --server 'Prosody 0.12' --user 'bench%d'`
	if got := toolCommand(); got != want {
		t.Errorf("toolCommand() = %s\nwant %s", got, want)
	}
}

func TestPercentile(t *testing.T) {
	s := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(s, 0.5); p != 5 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(s, 0.99); p != 10 {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("empty p50 = %v", p)
	}
}
