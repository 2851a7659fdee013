// Package config is Parley's one configuration tree: Default() gives working
// values, Load layers a TOML file (--config), PARLEY_* environment variables
// and command-line flags on top, in that order, and Validate checks the
// result. Each component takes its own part of the tree in its constructor.
//
// The top-level keys are the `parley serve` flags of DESIGN.md, spelled the
// same in the file (`tls-cert = "…"`) and in the environment
// (PARLEY_TLS_CERT). Tuning lives in sections such as [c2s].
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/bridge"
	"github.com/parley-im/parley/internal/focus"
	"github.com/parley-im/parley/internal/turn"
	"github.com/parley-im/parley/internal/xmpp/c2s"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/muc"
)

// Config is everything `parley serve` can be told.
type Config struct {
	Domain         string   `toml:"domain"`
	HTTP           string   `toml:"http"`
	XMPP           string   `toml:"xmpp"`
	Media          string   `toml:"media"`
	TURN           string   `toml:"turn"`
	TURNTLS        string   `toml:"turn-tls"`
	TURNSecret     string   `toml:"turn-secret"`
	TURNAllowPeers []string `toml:"turn-allow-peers"`
	PublicIP       string   `toml:"public-ip"`
	Data           string   `toml:"data"`
	TLSCert        string   `toml:"tls-cert"`
	TLSKey         string   `toml:"tls-key"`
	LogLevel       string   `toml:"log-level"`

	// PublicURL is the https:// address clients reach the HTTPS port by when
	// it is not https://DOMAIN:PORT (a reverse proxy, a site host other than
	// the domain): bridge-channel URLs, config.js and the WebSocket Origin
	// rule use it (see PublicBase).
	PublicURL string `toml:"public-url"`

	// MetricsAllow lists the networks that may read /metrics (default: loopback only).
	MetricsAllow []string `toml:"metrics-allow"`

	// Role is what this process runs: "all" (everything, the default), "signal" (XMPP, rooms, the
	// focus, the web front) or "bridge" (the videobridge and its HTTPS channel, /healthz, /metrics).
	// Cluster lists NATS servers (nats://HOST:PORT) the nodes meet on, ClusterCreds the credentials
	// file they sign in with (the signal nodes' cluster.creds, the bridge nodes' cluster-bridge.creds);
	// ClusterListen makes a signal node embed a NATS server there, which writes both into Data. Region names where a bridge is (bridges of the participant's region are
	// picked first). docs/architecture.md "More than one machine" has the contract.
	Role          string   `toml:"role"`
	Cluster       []string `toml:"cluster"`
	ClusterCreds  string   `toml:"cluster-creds"`
	ClusterListen string   `toml:"cluster-listen"`
	Region        string   `toml:"region"`
	// RegionMap ("CIDR=REGION" pairs) gives a participant whose join presence names no region the
	// region of its client address, on a signal node (the longest matching prefix wins).
	RegionMap []string `toml:"region-map"`
	// DrainTimeout bounds how long a clustered bridge node drains on SIGTERM or SIGINT (no new
	// endpoints, its participants moved to other bridges) before it exits anyway; 0 exits at once.
	DrainTimeout time.Duration `toml:"drain-timeout"`

	C2S    c2s.Config    `toml:"c2s"`
	Bridge bridge.Config `toml:"bridge"`
	// TURNServer tunes the embedded TURN server; its addresses, secret, allowed peers and public IP are
	// the top-level turn, turn-tls, turn-secret, turn-allow-peers and public-ip keys (see TURNConfig).
	TURNServer TURNSection `toml:"turn-server"`
	MUC        muc.Config  `toml:"muc"`
	// Auth is who may connect and start rooms; JWT is how tokens are
	// checked in jwt mode (docs/operations.md).
	Auth auth.Config    `toml:"auth"`
	JWT  auth.JWTConfig `toml:"jwt"`
	// Focus bounds the conferences requests can start.
	Focus focus.Limits `toml:"focus"`

	// given says how Load was given each key set by a flag or variable
	// ("--tls-cert", "PARLEY_TLS_CERT"), for Named.
	given map[string]string
}

// Named returns err with a KeyError's key spelled as Load was given it
// (--tls-cert or PARLEY_TLS_CERT); other errors come back unchanged. Errors
// found after Load, such as an unreadable tls-cert file, go through it.
func (c Config) Named(err error) error {
	var ke *KeyError
	if errors.As(err, &ke) && ke.Name == "" && c.given[ke.Key] != "" {
		ke.Name = c.given[ke.Key]
	}
	return err
}

// TURNSection is the [turn-server] section: turn.Config's keys, and tls-port, the key the TURN TLS port
// had before turn-tls. A file that sets tls-port = N still works as turn-tls = ":N" (0 as off); setting
// both is an error.
type TURNSection struct {
	turn.Config
	TLSPort *int `toml:"tls-port"`
}

// Default returns a configuration that serves https://localhost:8443.
func Default() Config {
	return Config{
		Domain:       "localhost",
		HTTP:         ":8443",
		XMPP:         ":5222",
		Media:        ":10000",
		TURN:         ":3478",
		TURNTLS:      ":5349",
		Data:         "./data",
		LogLevel:     "info",
		Role:         RoleAll,
		DrainTimeout: 30 * time.Second,
		C2S:          c2s.Default(),
		Bridge:       bridge.Default(),
		TURNServer:   TURNSection{Config: turn.Default()},
		MUC:          muc.Default(),
		Auth:         auth.DefaultConfig(),
		Focus:        focus.DefaultLimits(),
	}
}

// KeyError is a bad value of one top-level key. Load names the key the way
// the value was given: "--http" for a flag, "PARLEY_HTTP" for the
// environment, "http" for the file or a default.
type KeyError struct {
	Key     string // the key, as in the file: "http"
	Name    string // how the value was given; Key when empty
	Problem string // what is wrong, without the key: `"8443" is not host:port`
}

func (e *KeyError) Error() string {
	name := e.Name
	if name == "" {
		name = e.Key
	}
	return name + ": " + e.Problem
}

func keyError(key, format string, args ...any) error {
	return &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// checkAddr is a listen address's check: host:port with a port 0-65535.
func checkAddr(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		if _, perr := strconv.Atoi(addr); perr == nil {
			return keyError(key, "%q is not host:port (%q listens on every address)", addr, ":"+addr)
		}
		return keyError(key, "%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return keyError(key, "%q has a bad port (0-65535)", addr)
	}
	return nil
}

// Validate reports the first problem in c.
func (c Config) Validate() error {
	if d, err := jid.New("", c.Domain, ""); err != nil || d.Domain != c.Domain {
		return keyError("domain", "%q is not a valid, normalised domain name", c.Domain)
	}
	for _, a := range []struct{ name, addr string }{
		{"http", c.HTTP}, {"xmpp", c.XMPP}, {"media", c.Media}, {"turn", c.TURN},
	} {
		if err := checkAddr(a.name, a.addr); err != nil {
			return err
		}
	}
	for _, p := range c.TURNAllowPeers {
		if _, err := netip.ParsePrefix(p); err != nil {
			return keyError("turn-allow-peers", "%q is not a CIDR", p)
		}
	}
	for _, p := range c.MetricsAllow {
		if _, err := netip.ParsePrefix(p); err != nil {
			return keyError("metrics-allow", "%q is not a CIDR", p)
		}
	}
	if c.PublicIP != "" {
		if _, err := netip.ParseAddr(c.PublicIP); err != nil {
			return keyError("public-ip", "%q is not an IP address", c.PublicIP)
		}
	}
	if c.PublicURL != "" {
		if _, err := c.PublicBase(); err != nil {
			return err
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key go together")
	}
	if c.Data == "" {
		return keyError("data", "a state directory is required")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return keyError("log-level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if err := c.C2S.Validate(); err != nil {
		return err
	}
	if err := c.TURNConfig().Validate(); err != nil {
		return err
	}
	if tl := c.TURNConfig().TLSListen; tl != "" {
		_, tp, _ := net.SplitHostPort(tl)
		for _, a := range []struct{ name, addr string }{{"http", c.HTTP}, {"xmpp", c.XMPP}} {
			if _, p, _ := net.SplitHostPort(a.addr); tp != "0" && p == tp {
				return fmt.Errorf("turn-tls %q and %s %q share a TCP port (TURN over TLS is served on the HTTPS port anyway)", tl, a.name, a.addr)
			}
		}
	}
	if err := c.MUC.Validate(); err != nil {
		return err
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if c.Auth.Mode == auth.ModeJWT {
		if err := c.JWT.Validate(); err != nil {
			return err
		}
	}
	if err := c.Focus.Validate(); err != nil {
		return err
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	return c.Bridge.Validate()
}

// Roles of a process (--role).
const (
	RoleAll    = "all"
	RoleSignal = "signal"
	RoleBridge = "bridge"
)

// Clustered reports whether the process meets other nodes over NATS.
func (c Config) Clustered() bool { return len(c.Cluster) > 0 || c.ClusterListen != "" }

// validateCluster checks the role and cluster keys: a signal node needs a cluster to find bridges
// in, a bridge node a cluster to serve, and only a node with the focus embeds the NATS server.
func (c Config) validateCluster() error {
	switch c.Role {
	case RoleAll, RoleSignal, RoleBridge:
	default:
		return keyError("role", "%q is not signal, bridge or all", c.Role)
	}
	for _, u := range c.Cluster {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" || p.Port() == "" {
			return keyError("cluster", "%q is not nats://HOST:PORT", u)
		}
	}
	if c.ClusterListen != "" {
		if err := checkAddr("cluster-listen", c.ClusterListen); err != nil {
			return err
		}
		if c.Role == RoleBridge {
			return keyError("cluster-listen", "a bridge node does not embed the NATS server; give it --cluster")
		}
	}
	switch {
	case c.Role == RoleSignal && !c.Clustered():
		return keyError("role", "a signal node needs --cluster or --cluster-listen to find its bridges")
	case c.Role == RoleBridge && len(c.Cluster) == 0:
		return keyError("role", "a bridge node needs --cluster nats://HOST:PORT to serve")
	case c.ClusterCreds != "" && !c.Clustered():
		return keyError("cluster-creds", "given without --cluster or --cluster-listen")
	}
	if c.DrainTimeout < 0 {
		return keyError("drain-timeout", "%v is negative", c.DrainTimeout)
	}
	if c.Region != "" && !isRegion(c.Region) {
		return keyError("region", "%q is not letters, digits, '-', '_' or '.' (at most 64)", c.Region)
	}
	_, err := c.Regions()
	return err
}

// Regions parses RegionMap into a function from a client address to its region, "" when no prefix
// holds it.
func (c Config) Regions() (func(netip.Addr) string, error) {
	type entry struct {
		prefix netip.Prefix
		region string
	}
	var m []entry
	for _, pair := range c.RegionMap {
		cidr, region, ok := strings.Cut(pair, "=")
		p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
		region = strings.TrimSpace(region)
		if !ok || err != nil || !isRegion(region) {
			return nil, keyError("region-map", "%q is not CIDR=REGION", pair)
		}
		m = append(m, entry{p.Masked(), region})
	}
	return func(a netip.Addr) string {
		a = a.Unmap()
		best, bits := "", -1
		for _, e := range m {
			if e.prefix.Contains(a) && e.prefix.Bits() > bits {
				best, bits = e.region, e.prefix.Bits()
			}
		}
		return best
	}, nil
}

// isRegion reports whether s is a region name: [A-Za-z0-9._-]{1,64}.
func isRegion(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s != ""
}

// TURNConfig is the [turn-server] section with the top-level TURN keys folded in; the realm defaults to
// the domain. turn-tls "off" is empty: no TURN TLS listener.
func (c Config) TURNConfig() turn.Config {
	t := c.TURNServer.Config
	t.Listen, t.Secret, t.AllowPeers, t.PublicIP = c.TURN, c.TURNSecret, c.TURNAllowPeers, c.PublicIP
	t.TLSListen = c.TURNTLS
	if t.TLSListen == "off" {
		t.TLSListen = ""
	}
	if t.Realm == "" {
		t.Realm = c.Domain
	}
	return t
}

// option is one top-level key: its flag and variable name and where it goes.
type option struct {
	name, usage string
	str         *string
	list        *[]string
	dur         *time.Duration
}

func (c *Config) options() []option {
	return []option{
		{name: "domain", usage: "XMPP domain (rooms live at conference.DOMAIN)", str: &c.Domain},
		{name: "http", usage: "HTTPS listen address (web client, WebSocket, bridge channel)", str: &c.HTTP},
		{name: "xmpp", usage: "XMPP client-to-server TCP listen address (STARTTLS)", str: &c.XMPP},
		{name: "media", usage: "bridge UDP media address", str: &c.Media},
		{name: "turn", usage: "STUN/TURN listen address (UDP and TCP)", str: &c.TURN},
		{name: "turn-tls", usage: "TURN over TLS listen address; empty host: --turn's host; \"off\" turns it off", str: &c.TURNTLS},
		{name: "turn-secret", usage: "TURN REST shared secret (generated into --data when empty); in a cluster the same on the signal node and on each bridge node, which runs TURN only with it", str: &c.TURNSecret},
		{name: "turn-allow-peers", usage: "comma-separated CIDRs a TURN relay may reach besides the bridge", list: &c.TURNAllowPeers},
		{name: "public-url", usage: "https://HOST[:PORT] clients reach the HTTPS port by, when not https://DOMAIN:PORT (behind a proxy)", str: &c.PublicURL},
		{name: "public-ip", usage: "public IP address advertised as a media candidate", str: &c.PublicIP},
		{name: "data", usage: "state directory (accounts, certificate, secrets)", str: &c.Data},
		{name: "tls-cert", usage: "TLS certificate file (PEM); self-signed when empty", str: &c.TLSCert},
		{name: "tls-key", usage: "TLS key file (PEM)", str: &c.TLSKey},
		{name: "log-level", usage: "debug, info, warn or error", str: &c.LogLevel},
		{name: "metrics-allow", usage: "comma-separated CIDRs that may read /metrics (default loopback only)", list: &c.MetricsAllow},
		{name: "role", usage: "what this process runs: all (one machine), signal (XMPP, rooms, focus, web) or bridge (media)", str: &c.Role},
		{name: "cluster", usage: "NATS server nats://HOST:PORT the nodes meet on (repeatable, or comma-separated)", list: &c.Cluster},
		{name: "cluster-creds", usage: "credentials file for the cluster: cluster.creds on a signal node, cluster-bridge.creds on a bridge node (both written by the signal node embedding NATS, or parley cluster-creds), or a NATS user .creds", str: &c.ClusterCreds},
		{name: "cluster-listen", usage: "HOST:PORT where a signal node embeds a NATS server for the cluster (writes cluster.creds and cluster-bridge.creds into --data)", str: &c.ClusterListen},
		{name: "region", usage: "the region a bridge serves (participants of that region are placed on it first)", str: &c.Region},
		{name: "region-map", usage: "comma-separated CIDR=REGION pairs: a participant's region by client address when its presence names none (signal node)", list: &c.RegionMap},
		{name: "drain-timeout", usage: "how long a bridge node drains on SIGTERM (its participants moved to other bridges) before it exits anyway; 0 exits at once", dur: &c.DrainTimeout},
	}
}

// listValue is a comma-separated flag; given again, it adds to the list
// (the first time, it replaces what the file or environment said).
type listValue struct {
	p     *[]string
	given bool
}

func (l listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *listValue) Set(s string) error {
	if !l.given {
		*l.p = nil
		l.given = true
	}
	*l.p = append(*l.p, splitList(s)...)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// serveUsage opens `parley serve --help`: the one-machine default and the
// cluster contract (docs/architecture.md "More than one machine").
const serveUsage = `usage: parley serve [flags]

With no flags one process runs everything (XMPP, rooms, the focus, the
bridge, TURN, the web client) and there is no NATS anywhere.

More than one machine: the nodes meet on NATS.
  signal node  (XMPP, rooms, focus, web; embeds NATS and writes DATA/cluster.creds, its own,
               and DATA/cluster-bridge.creds, the bridge nodes', on first start):
    parley serve --role signal --cluster-listen :4222
  bridge nodes (media port, /colibri-ws/, /healthz, /metrics; copy cluster-bridge.creds to each):
    parley serve --role bridge --cluster nats://SIGNAL:4222 --cluster-creds cluster-bridge.creds \
                 --region eu --public-url https://bridge1.example:8443 --public-ip 203.0.113.7
Bridges send a heartbeat every second (endpoints, packets/s, CPU, region,
version, draining); one silent for 3 s is taken out. A new conference goes to
a bridge of its participant's region (its <jitsi_participant_region/>, which
parley bot sends from ?region= on the room URL; else --region-map by client
address), else to the least loaded, and stays on that bridge while it lives
and does not drain. When a bridge is gone (silent for 3 s, or its process
died) or drains, the focus moves its participants to another bridge at once
(a new Jingle session). SIGTERM on a bridge node drains it: no new endpoints,
its participants moved, then it exits once it holds none, or after
--drain-timeout (30s). The cluster link is TLS with the certificate
the credentials pin; nodes without one of the two keys are refused. Each
role has its own NATS permissions: cluster.creds (signal and all nodes)
may ask any bridge for anything; cluster-bridge.creds may only send its
heartbeats and events and answer the requests it is sent, so never give
a bridge node cluster.creds (it refuses to start with it). An older
Parley's single cluster.creds becomes the bridge nodes' key when the
signal node starts; signal nodes on other machines then need the new
cluster.creds. On a nats-server cluster, parley cluster-creds writes both.
Every role answers GET /healthz.

Flags (each also a config-file key and a PARLEY_* variable):
`

// EnvName is the environment variable for a key: PARLEY_ + upper case, - → _.
func EnvName(key string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// Load builds the configuration of `parley serve` from args (without the
// program and subcommand names) and the environment. Usage and flag errors
// are written to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	path := getenv(EnvName("config"))
	pre := flag.NewFlagSet("serve", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	pre.String("config", "", "")
	// Only --config matters on this pass; unknown flags are reported below.
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if v, ok := strings.CutPrefix(a, "config="); ok && strings.HasPrefix(args[i], "-") {
			path = v
		} else if a == "config" && strings.HasPrefix(args[i], "-") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	cfg := Default()
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return Config{}, err
		}
	}
	// given says how each key set outside the file was given, for errors.
	given := map[string]string{}
	for _, o := range cfg.options() {
		v, ok := lookupEnv(getenv, EnvName(o.name))
		if !ok {
			continue
		}
		given[o.name] = EnvName(o.name)
		switch {
		case o.str != nil:
			*o.str = v
		case o.dur != nil:
			d, err := time.ParseDuration(v)
			if err != nil {
				return Config{}, fmt.Errorf("%s: %q is not a duration (30s, 1m)", EnvName(o.name), v)
			}
			*o.dur = d
		default:
			*o.list = splitList(v)
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, serveUsage)
		fs.PrintDefaults()
	}
	fs.String("config", path, "TOML configuration file")
	for _, o := range cfg.options() {
		switch {
		case o.str != nil:
			fs.StringVar(o.str, o.name, *o.str, o.usage)
		case o.dur != nil:
			fs.DurationVar(o.dur, o.name, *o.dur, o.usage)
		default:
			fs.Var(&listValue{p: o.list}, o.name, o.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = "--" + f.Name })
	cfg.given = given
	return cfg, cfg.Named(cfg.Validate())
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return "", false
	}
	v := getenv(name)
	return v, v != ""
}

// loadFile decodes a TOML file over c; unknown keys are an error so that a
// typo does not silently fall back to a default.
func (c *Config) loadFile(path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	if p := c.TURNServer.TLSPort; p != nil {
		if md.IsDefined("turn-tls") {
			return fmt.Errorf("config %s: [turn-server] tls-port and turn-tls both set; keep turn-tls", path)
		}
		switch {
		case *p < 0 || *p > 65535:
			return fmt.Errorf("config %s: [turn-server] tls-port %d is not 0-65535", path, *p)
		case *p == 0:
			c.TURNTLS = "off"
		default:
			c.TURNTLS = ":" + strconv.Itoa(*p)
		}
		c.TURNServer.TLSPort = nil
	}
	return nil
}

// Getenv is os.Getenv, named for callers of Load.
func Getenv(k string) string { return os.Getenv(k) }

// PublicBase returns public-url's scheme and host ("https://meet.example.org"
// or with a port), or "" when it is not set. Only an https URL with a host
// and nothing after it (a lone "/" aside) is taken: bridge-channel and
// XMPP WebSocket URLs are built on it.
func (c Config) PublicBase() (string, error) {
	if c.PublicURL == "" {
		return "", nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", keyError("public-url", "%q is not https://HOST[:PORT]", c.PublicURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", keyError("public-url", "%q has a bad port", c.PublicURL)
		}
	}
	return "https://" + strings.ToLower(u.Host), nil
}
