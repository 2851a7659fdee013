// Package web is Parley's HTTPS front: the browser client and its
// config.json, XMPP over WebSocket at /xmpp-websocket, the bridge channel,
// /healthz and /metrics. It only routes; each path's handler belongs to the
// component that speaks that protocol.
package web

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
)

// Options are the handlers and facts the front needs.
type Options struct {
	Domain string
	XMPP   http.Handler // RFC 7395 endpoint
	Ready  func() bool  // every component is serving
	// Extra mounts more handlers by pattern (the bridge channel, metrics).
	Extra map[string]http.Handler
}

// New returns the HTTP handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil && !o.Ready() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/xmpp-websocket", o.XMPP)
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(clientConfig(o.Domain, r))
	})
	for pattern, h := range o.Extra {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.Contains(r.URL.Path[1:], "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(placeholder))
	})
	return securityHeaders(mux)
}

// clientConfig is the subset of Jitsi's config.js fields a client needs to
// connect (protocol/jitsi-dialect.md §1.3).
func clientConfig(domain string, r *http.Request) map[string]any {
	return map[string]any{
		"hosts": map[string]string{
			"domain": domain,
			"muc":    "conference." + domain,
			"focus":  "focus." + domain,
		},
		"websocket":             "wss://" + r.Host + "/xmpp-websocket",
		"enableWebsocketResume": true,
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{background:#111418;color:#e8eaed;font:16px system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0}main{max-width:32rem;padding:2rem}</style>
</head><body><main><h1>Parley</h1>
<p>The server is running. XMPP clients connect at <code>/xmpp-websocket</code> (WebSocket) or on the XMPP port with STARTTLS.</p>
<p>The browser client arrives with a later release.</p></main></body></html>
`

// OnlyFrom serves h only to clients whose address is in one of the
// prefixes (admin surfaces such as /metrics), and 403 to everyone else.
func OnlyFrom(allow []netip.Prefix, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil {
			ip := ap.Addr().Unmap()
			for _, p := range allow {
				if p.Contains(ip) {
					h.ServeHTTP(w, r)
					return
				}
			}
		}
		http.Error(w, "forbidden", http.StatusForbidden)
	})
}
