// Package web is Parley's HTTPS front: the browser client and its
// config.json, a jitsi-meet style /config.js for Jitsi clients, XMPP over
// WebSocket at /xmpp-websocket, the bridge channel, /healthz and /metrics. It only routes; each path's handler belongs to the
// component that speaks that protocol.
package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	webclient "github.com/parley-im/parley/web"
)

// Options are the handlers and facts the front needs.
type Options struct {
	Domain string
	// Public is public-url's https://HOST[:PORT]: the address clients
	// reach this server by. Empty: the host each request came in on.
	Public string
	XMPP   http.Handler // RFC 7395 endpoint
	Ready  func() bool  // every component is serving
	// Extra mounts more handlers by pattern (the bridge channel, metrics).
	Extra map[string]http.Handler
	// Client is the built browser client (index.html, static/); nil
	// serves the one embedded from web/.
	Client fs.FS
	// ConnectSrc, when set, lists more origins the page may connect to
	// (wss://HOST:PORT of a cluster's bridge nodes, whose bridge channels
	// are elsewhere), asked each time the page is served.
	ConnectSrc func() []string
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
	mux.HandleFunc("GET /config.js", func(w http.ResponseWriter, r *http.Request) {
		b, err := json.MarshalIndent(jitsiConfig(o.Domain, o.Public, r), "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// json.Marshal escapes <, >, & and U+2028/2029: the object is a safe
		// JavaScript literal whatever the Host header says.
		fmt.Fprintf(w, "// Parley's configuration for Jitsi clients (lib-jitsi-meet, jitsi-meet).\nvar config = %s;\n", b)
	})
	for pattern, h := range o.Extra {
		mux.Handle(pattern, h)
	}
	client := o.Client
	if client == nil {
		client = webclient.FS()
	}
	mux.Handle("GET /static/", staticHandler(client))
	page := appPage(client, o.ConnectSrc)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// "/" is the home page and "/<Room>" a meeting: the same single page.
		if strings.Contains(r.URL.Path[1:], "/") || r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		page.ServeHTTP(w, r)
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

// jitsiConfig is the config.js object jitsi-meet deployments serve
// (protocol/jitsi-dialect.md §1.3), with what Parley offers: XMPP over
// WebSocket only (no BOSH), the bridge channel over SCTP, SSRC rewriting
// (the focus offers only the bridge's feedback sources), VP8 and Opus only
// (the bridge forwards nothing else, and lib-jitsi-meet would otherwise
// take AV1, its first preference, and set AV1 scalability modes on a VP8
// sender), and no peer-to-peer mode (the focus never starts one).
func jitsiConfig(domain, public string, r *http.Request) map[string]any {
	base := public
	if base == "" {
		base = "https://" + r.Host
	}
	ws := "wss://" + strings.TrimPrefix(base, "https://") + "/xmpp-websocket"
	codecs := []string{"VP8"}
	return map[string]any{
		"hosts": map[string]string{
			"domain": domain,
			"muc":    "conference." + domain,
			"focus":  "focus." + domain,
		},
		"focusUserJid":          "focus@auth." + domain,
		"serviceUrl":            ws,
		"websocket":             ws,
		"enableWebsocketResume": true,
		"bridgeChannel":         map[string]any{"preferSctp": true},
		"flags":                 map[string]any{"ssrcRewritingEnabled": true},
		"videoQuality": map[string]any{
			"codecPreferenceOrder":       codecs,
			"mobileCodecPreferenceOrder": codecs,
		},
		"p2p": map[string]any{"enabled": false},
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

// contentSecurityPolicy allows the client's own script, style, images and
// same-origin connections (config.json, XMPP and bridge WebSockets), local
// media in <video>, and nothing inline, framed or from elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// appPage serves index.html for "/" and every room, or a placeholder when
// the client is missing from the build; connectSrc (may be nil) adds
// origins to the policy's connect-src.
func appPage(client fs.FS, connectSrc func() []string) http.Handler {
	index, err := fs.ReadFile(client, "index.html")
	if err != nil {
		index = []byte(placeholder)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		csp := contentSecurityPolicy
		if connectSrc != nil {
			var more []string
			for _, o := range connectSrc() {
				if isOrigin(o) {
					more = append(more, o)
				}
			}
			if len(more) > 0 {
				csp = strings.Replace(csp, "connect-src 'self'", "connect-src 'self' "+strings.Join(more, " "), 1)
			}
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), autoplay=(self), geolocation=()")
		h.Set("X-Frame-Options", "DENY")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(index)
	})
}

// staticHandler serves the client's content-hashed assets, cacheable for
// a year; a new build has new names.
func staticHandler(client fs.FS) http.Handler {
	files := http.FileServerFS(client)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if st, err := fs.Stat(client, name); err != nil || st.IsDir() {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		files.ServeHTTP(w, r)
	})
}

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{background:#111418;color:#e8eaed;font:16px system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0}main{max-width:32rem;padding:2rem}</style>
</head><body><main><h1>Parley</h1>
<p>The server is running. XMPP clients connect at <code>/xmpp-websocket</code> (WebSocket) or on the XMPP port with STARTTLS.</p>
<p>This build has no browser client: run <code>make web</code>.</p></main></body></html>
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

// isOrigin reports whether s is a scheme://host[:port] a policy can name:
// wss or https, and nothing that would end or widen the source list.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "wss" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" &&
		!strings.ContainsAny(s, " ;,'*\"\t\r\n")
}
