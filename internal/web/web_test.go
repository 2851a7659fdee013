package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"
)

func TestOnlyFrom(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) })
	h := OnlyFrom([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ok)
	for addr, want := range map[string]int{
		"127.0.0.1:5000":       http.StatusOK,
		"[::ffff:127.0.0.1]:1": http.StatusOK,
		"192.0.2.7:5000":       http.StatusForbidden,
		"[2001:db8::1]:443":    http.StatusForbidden,
		"not an address":       http.StatusForbidden,
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", addr, rec.Code, want)
		}
	}
}

func TestRoutes(t *testing.T) {
	ready := false
	h := New(Options{Domain: "localhost", XMPP: http.NotFoundHandler(), Ready: func() bool { return ready }})
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	if get("/healthz").Code != http.StatusServiceUnavailable {
		t.Fatal("healthz before ready")
	}
	ready = true
	if get("/healthz").Code != http.StatusOK || get("/SomeRoom").Code != http.StatusOK || get("/a/b").Code != http.StatusNotFound {
		t.Fatal("routes")
	}
	if rec := get("/config.json"); rec.Code != http.StatusOK || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("config.json")
	}
}

func TestClientServing(t *testing.T) {
	client := fstest.MapFS{
		"index.html":          {Data: []byte(`<!doctype html><script src="/static/app-X.js"></script>`)},
		"static/app-X.js":     {Data: []byte("console.log(1)")},
		"static/style-Y.css":  {Data: []byte("body{}")},
		"static/sub/nested.x": {Data: []byte("x")},
	}
	h := New(Options{Domain: "localhost", XMPP: http.NotFoundHandler(), Client: client})
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	for _, path := range []string{"/", "/SomeRoom", "/r%C3%A9union"} {
		rec := do("GET", path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "app-X.js") {
			t.Fatalf("%s: %d %q", path, rec.Code, rec.Body.String())
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: page cacheable: %q", path, rec.Header().Get("Cache-Control"))
		}
	}
	if rec := do("HEAD", "/SomeRoom"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec := do("POST", "/SomeRoom"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	rec := do("GET", "/static/app-X.js")
	if rec.Code != http.StatusOK || rec.Body.String() != "console.log(1)" || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("asset: %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Cache-Control"))
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("asset content type %q", ct)
	}
	for _, path := range []string{"/static/", "/static/sub", "/static/missing.js", "/static/../index.html", "/favicon.ico", "/a/b"} {
		// ServeMux redirects unclean paths to their clean form; nothing else may answer.
		if rec := do("GET", path); rec.Code != http.StatusNotFound && rec.Code/100 != 3 {
			t.Errorf("%s: %d, want 404 or a redirect", path, rec.Code)
		}
	}
}

// TestEmbeddedClient serves the real bundle: the page and what it loads.
func TestEmbeddedClient(t *testing.T) {
	h := New(Options{Domain: "localhost", XMPP: http.NotFoundHandler()})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/SomeRoom", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="app"`) {
		t.Fatalf("page: %d %.200q", rec.Code, body)
	}
	for _, part := range strings.Split(body, `"/static/`)[1:] {
		asset := "/static/" + part[:strings.IndexByte(part, '"')]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", asset, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", asset, rec.Code)
		}
	}
}

// TestConfigJS: /config.js defines `config` as jitsi-meet's does, with the
// hosts, the WebSocket on the host the page came from (or public-url), and
// the settings that steer lib-jitsi-meet to what Parley serves.
func TestConfigJS(t *testing.T) {
	load := func(o Options, host string) map[string]any {
		t.Helper()
		o.XMPP = http.NotFoundHandler()
		req := httptest.NewRequest("GET", "/config.js", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		New(o).ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("config.js: %d %v", rec.Code, rec.Header())
		}
		body := rec.Body.String()
		i := strings.Index(body, "var config = ")
		if i < 0 || !strings.HasSuffix(body, ";\n") {
			t.Fatalf("config.js does not define config: %q", body)
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSuffix(body[i+len("var config = "):], ";\n")), &c); err != nil {
			t.Fatalf("config.js: %v in %q", err, body)
		}
		return c
	}
	get := func(c map[string]any, path ...string) any {
		var v any = c
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		return v
	}
	c := load(Options{Domain: "example.org"}, "site.example:8443")
	for _, tc := range []struct {
		path []string
		want any
	}{
		{[]string{"hosts", "domain"}, "example.org"},
		{[]string{"hosts", "muc"}, "conference.example.org"},
		{[]string{"hosts", "focus"}, "focus.example.org"},
		{[]string{"focusUserJid"}, "focus@auth.example.org"},
		{[]string{"serviceUrl"}, "wss://site.example:8443/xmpp-websocket"},
		{[]string{"websocket"}, "wss://site.example:8443/xmpp-websocket"},
		{[]string{"bridgeChannel", "preferSctp"}, true},
		{[]string{"flags", "ssrcRewritingEnabled"}, true},
		{[]string{"p2p", "enabled"}, false},
	} {
		if got := get(c, tc.path...); got != tc.want {
			t.Errorf("config.%s = %v, want %v", strings.Join(tc.path, "."), got, tc.want)
		}
	}
	if got := get(c, "videoQuality", "codecPreferenceOrder").([]any); len(got) != 1 || got[0] != "VP8" {
		t.Errorf("codecPreferenceOrder %v, want [VP8]", got)
	}
	// public-url wins over the Host header.
	c = load(Options{Domain: "example.org", Public: "https://meet.example.org"}, "10.0.0.5:8443")
	if got := get(c, "serviceUrl"); got != "wss://meet.example.org/xmpp-websocket" {
		t.Errorf("serviceUrl behind a proxy: %v", got)
	}
	// A hostile Host header stays inside a JSON string.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/config.js", nil)
	req.Host = `x";alert(1);</script>`
	New(Options{Domain: "example.org", XMPP: http.NotFoundHandler()}).ServeHTTP(rec, req)
	if b := rec.Body.String(); strings.Contains(b, "</script>") || strings.Count(b, "alert(1)") != 2 || !strings.Contains(b, `x\";alert(1);\u003c/script\u003e`) {
		t.Errorf("hostile Host in config.js: %q", b)
	}
}

// A cluster's signal node lets its pages connect to its bridge nodes' channels: their origins join
// connect-src; anything that is not a plain wss or https origin is left out.
func TestConnectSrcNamesBridgeNodes(t *testing.T) {
	client := fstest.MapFS{"index.html": {Data: []byte(`<!doctype html>`)}}
	h := New(Options{Domain: "localhost", XMPP: http.NotFoundHandler(), Client: client, ConnectSrc: func() []string {
		return []string{"wss://b1.example:8443", "wss://x.example; script-src *", "http://b2.example", "wss://b3.example/path"}
	}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/Room", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' wss://b1.example:8443;") || strings.Contains(csp, "x.example") ||
		strings.Contains(csp, "b2.example") || strings.Contains(csp, "b3.example") {
		t.Fatalf("policy %q", csp)
	}
}
