package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
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
