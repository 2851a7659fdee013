package app

import (
	"fmt"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/xmpp/c2s"
	"github.com/parley-im/parley/internal/xmpp/router"
)

// registerXMPPMetrics exposes the XMPP core's gauges.
func registerXMPPMetrics(reg prometheus.Registerer, srv *c2s.Server, r *router.Router) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_xmpp_connections", Help: "Open client connections (TCP and WebSocket).",
		}, func() float64 { return float64(srv.Connections()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_xmpp_sessions", Help: "Bound client sessions, hibernating ones included.",
		}, func() float64 { return float64(srv.Sessions()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_xmpp_routes", Help: "Full JIDs the router can deliver to.",
		}, func() float64 { return float64(r.Count()) }),
	)
}

// allowList parses CIDRs; an empty list means loopback only.
func allowList(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 {
		return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, nil
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("metrics-allow: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
