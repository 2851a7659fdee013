package app

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/cluster"
	"github.com/parley-im/parley/internal/config"
	"github.com/parley-im/parley/internal/turn"
	"github.com/parley-im/parley/internal/xmpp/extdisco"
	"github.com/parley-im/parley/internal/xmpp/jid"
)

// TURN near users (docs/architecture.md "TURN near users"). One process (no cluster) hands out its own
// TURN server, as it always did. In a cluster, bridge nodes that have the cluster's TURN secret run
// TURN and name it in their heartbeats (host, ports and the secret's ID, never the secret); the signal
// node answers XEP-0215 with the TURN servers of the client's region only, the least loaded first
// (every region's when its own has none), with REST credentials it derives from the same secret.

// clusterTURN is what a signal node needs to hand out its bridges' TURN servers.
type clusterTURN struct {
	secret   string
	secretID string
	lifetime time.Duration
	warned   sync.Map // bridge ID → true: a TURN server with another secret was logged
}

// newClusterTURN loads the TURN secret of a clustered node that runs the focus: --turn-secret, else the
// one in its data folder (generated on first start). Other processes have none.
func (a *App) newClusterTURN() error {
	if !a.cfg.Clustered() || a.cfg.Role == config.RoleBridge {
		return nil
	}
	secret := a.cfg.TURNSecret
	if secret == "" {
		var err error
		if secret, err = turn.LoadSecret(a.cfg.Data); err != nil {
			return err
		}
	}
	a.clusterTURN = &clusterTURN{secret: secret, secretID: turn.SecretID(secret), lifetime: a.cfg.TURNConfig().CredentialLifetime}
	return nil
}

// bridgeRunsTURN reports whether a bridge node runs TURN: when it has the cluster's TURN secret, given
// as --turn-secret or copied into its data folder. Without it the signal node could not hand out
// credentials this TURN server accepts.
func bridgeRunsTURN(cfg config.Config) (bool, error) {
	if cfg.TURNSecret != "" {
		return true, nil
	}
	_, err := os.Stat(turn.SecretFile(cfg.Data))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// turnHost is the host a bridge node's TURN server is announced by: public-url's host, else
// public-ip, else the TURN listen address when it names one, else the domain. A process of role all
// keeps its domain, as before.
func (a *App) turnHost() string {
	if a.cfg.Role != config.RoleBridge {
		return a.cfg.Domain
	}
	if p := a.publicBase(); p != "" {
		if u, err := url.Parse(p); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	if a.cfg.PublicIP != "" {
		return a.cfg.PublicIP
	}
	if h, _, err := net.SplitHostPort(a.cfg.TURN); err == nil {
		if ip, err := netip.ParseAddr(h); err == nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	return a.cfg.Domain
}

// turnAnnouncement is this process's TURN server as its heartbeats name it, nil when it runs none.
func (a *App) turnAnnouncement() *cluster.TURN {
	if a.TURN == nil {
		return nil
	}
	host := a.turnHost()
	t := &cluster.TURN{Host: host, SecretID: a.TURN.SecretID()}
	for _, s := range a.TURN.Services("", host) {
		t.Services = append(t.Services, cluster.TURNService{Type: s.Type, Port: s.Port, Transport: s.Transport})
	}
	return t
}

// regionOf is the region of a client by its full JID's address, from --region-map; "" when the map
// names none or the client is not connected.
func (a *App) regionOf(full string) string {
	if len(a.cfg.RegionMap) == 0 {
		return ""
	}
	regions, _ := a.cfg.Regions() // validated by config.Validate
	j, err := jid.Parse(full)
	if err != nil {
		return ""
	}
	if s, ok := a.Router.Lookup(j).(interface{ RemoteAddr() netip.Addr }); ok {
		return regions(s.RemoteAddr())
	}
	return ""
}

// turnServices answers XEP-0215 with TURN credentials for the requester's bare JID (quotas count per
// bare JID): this process's TURN server, or in a cluster those of the requester's region (its hint,
// else its address). A STUN entry on the port of a TURN/UDP entry is left out: the TURN server answers
// STUN Binding there, and browsers take their server-reflexive candidate from the TURN allocation. Of
// the rest, at most maxICEServers are kept, in order.
func (a *App) turnServices(r extdisco.Request) []extdisco.Service {
	bare, _, _ := strings.Cut(r.User, "/")
	var all []turn.Service
	switch {
	case a.clusterTURN != nil && a.cluster.pool != nil:
		region := r.Region
		if region == "" {
			region = a.regionOf(r.User)
		}
		all = a.clusterTURNServices(bare, region)
	case a.TURN != nil:
		all = a.TURN.Services(bare, a.cfg.Domain)
	}
	turnUDP := map[string]bool{}
	for _, s := range all {
		if s.Type == "turn" && s.Transport == "udp" {
			turnUDP[net.JoinHostPort(s.Host, strconv.Itoa(s.Port))] = true
		}
	}
	var out []extdisco.Service
	for _, s := range all {
		if s.Type == "stun" && turnUDP[net.JoinHostPort(s.Host, strconv.Itoa(s.Port))] {
			continue
		}
		if len(out) == maxICEServers {
			break
		}
		out = append(out, extdisco.Service(s))
	}
	return out
}

// clusterTURNServices lists the entries of the TURN servers the registry has for region, each with a
// REST credential for user; servers whose secret is not this node's are left out (and logged once).
func (a *App) clusterTURNServices(user, region string) []turn.Service {
	ct := a.clusterTURN
	for _, hb := range a.ClusterBridges() {
		if hb.TURN != nil && hb.TURN.SecretID != ct.secretID {
			if _, seen := ct.warned.LoadOrStore(hb.Bridge, true); !seen {
				a.log.Warn("a bridge's TURN server has another secret than this node: not handed out (give every node the same --turn-secret)",
					"bridge", hb.Bridge, "region", hb.Region)
			}
		}
	}
	exp := time.Now().Add(ct.lifetime).Truncate(time.Second)
	name := turn.RESTUsername(exp, user)
	pw := turn.RESTPassword(ct.secret, name)
	var out []turn.Service
	for _, hb := range a.cluster.pool.Registry().TURNFor(region, ct.secretID) {
		for _, s := range hb.TURN.Services {
			e := turn.Service{Type: s.Type, Host: hb.TURN.Host, Port: s.Port, Transport: s.Transport}
			if s.Type != "stun" {
				e.Username, e.Password, e.Expires = name, pw, exp
			}
			out = append(out, e)
		}
	}
	return out
}
