package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ErrInvalidConfig wraps every Validate error.
var ErrInvalidConfig = errors.New("turn: invalid configuration")

// Config is the TURN server's part of Parley's configuration tree. The fields tagged toml:"-" come from
// the top-level `parley serve` flags (--turn, --turn-tls, --turn-secret, --turn-allow-peers, --public-ip);
// the rest is the [turn-server] section.
type Config struct {
	// Listen is the UDP and TCP address of STUN and TURN (--turn, default ":3478").
	Listen string `toml:"-"`
	// Secret is the TURN REST shared secret (--turn-secret). When empty, New reads it from
	// DATA/turn-secret, generating that file (mode 0600) on first start.
	Secret string `toml:"-"`
	// AllowPeers are the CIDRs a relay may reach besides the bridge (--turn-allow-peers).
	AllowPeers []string `toml:"-"`
	// PublicIP is the relay address advertised in XOR-RELAYED-ADDRESS (--public-ip). When empty: the
	// relay bind address if it is specific, else the first global IPv4 address of an interface.
	PublicIP string `toml:"-"`

	// TLSListen is the TCP address of TURN over TLS ("turns", --turn-tls, default ":5349"); empty turns
	// it off. An empty host is Listen's host. When Listen's port is 0 (tests), TLS gets an ephemeral port
	// too.
	TLSListen string `toml:"-"`
	// RelayBind is the IP relay sockets bind to; empty means Listen's host, or every address.
	RelayBind string `toml:"relay-bind"`
	// Realm is the TURN realm (RFC 8489 §9.2); empty means the XMPP domain.
	Realm string `toml:"realm"`
	// BridgeAddresses are media addresses of bridges besides the embedded one (ip:port), for bridges
	// that run as separate processes. The embedded bridge's address is given to Start.
	BridgeAddresses []string `toml:"bridge-addresses"`
	// CredentialLifetime is how long a REST credential handed out over XEP-0215 stays valid; a username
	// whose expiry lies further ahead than this (plus a minute of clock skew) is refused.
	CredentialLifetime time.Duration `toml:"credential-lifetime"`
	// AllocationLifetime is the lifetime granted when the client asks for none or for one of an hour or
	// more; pion/turn grants what the client asks below one hour (RFC 8656 §7.2 recommends 3600 s as
	// the maximum), so no allocation lives longer than an hour without a Refresh.
	AllocationLifetime time.Duration `toml:"allocation-lifetime"`
	// PermissionLifetime and ChannelLifetime are RFC 8656's 300 s and 600 s.
	PermissionLifetime time.Duration `toml:"permission-lifetime"`
	ChannelLifetime    time.Duration `toml:"channel-lifetime"`
	// UserAllocations bounds the allocations one user (the userid of the REST username) holds at once;
	// the next Allocate gets 486 Allocation Quota Reached.
	UserAllocations int `toml:"user-allocations"`
	// UserBandwidth bounds the bytes per second relayed for one user, both directions and every
	// allocation together; packets over it are dropped. 0 means unlimited.
	UserBandwidth int `toml:"user-bandwidth"`
	// MaxTCPConnections bounds the concurrent TURN connections over TCP and TLS (each is a goroutine and
	// a socket).
	MaxTCPConnections int `toml:"max-tcp-connections"`

	// UnauthenticatedPerSecond and UnauthenticatedBurst bound, per source
	// address, the UDP requests that carry no MESSAGE-INTEGRITY: the ones the
	// server can only answer unauthenticated (401, Binding success). Spoofed
	// floods of those would otherwise make the server reflect traffic at a
	// victim (threats-and-tests §5.1 item 32). 0 turns the limit off.
	UnauthenticatedPerSecond float64 `toml:"unauthenticated-per-second"`
	UnauthenticatedBurst     int     `toml:"unauthenticated-burst"`
}

// Default returns the configuration `parley serve` starts with.
func Default() Config {
	return Config{
		Listen:             ":3478",
		TLSListen:          ":5349",
		CredentialLifetime: 24 * time.Hour,
		AllocationLifetime: 10 * time.Minute,
		PermissionLifetime: 5 * time.Minute,
		ChannelLifetime:    10 * time.Minute,
		UserAllocations:    12,
		UserBandwidth:      5_000_000,
		MaxTCPConnections:  4096,

		UnauthenticatedPerSecond: 20,
		UnauthenticatedBurst:     50,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrInvalidConfig, c.Listen, err)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%w: listen %q: the host must be an IP address", ErrInvalidConfig, c.Listen)
		}
	}
	if c.Secret != "" && len(c.Secret) < 16 {
		return fmt.Errorf("%w: the TURN secret must be at least 16 characters", ErrInvalidConfig)
	}
	if _, err := c.allowPrefixes(); err != nil {
		return err
	}
	if _, err := c.bridgeAddrs(); err != nil {
		return err
	}
	for _, a := range []struct{ name, ip string }{{"public-ip", c.PublicIP}, {"relay-bind", c.RelayBind}} {
		if a.ip != "" {
			if _, err := netip.ParseAddr(a.ip); err != nil {
				return fmt.Errorf("%w: %s %q is not an IP address", ErrInvalidConfig, a.name, a.ip)
			}
		}
	}
	if c.TLSListen != "" {
		if _, port, err := net.SplitHostPort(c.TLSListen); err != nil {
			return fmt.Errorf("%w: turn-tls %q is not host:port", ErrInvalidConfig, c.TLSListen)
		} else if n, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("%w: turn-tls %q: port %q is not 0-65535", ErrInvalidConfig, c.TLSListen, port)
		} else if _, listenPort, _ := net.SplitHostPort(c.Listen); n != 0 && port == listenPort {
			return fmt.Errorf("%w: turn-tls %q and turn %q share a TCP port", ErrInvalidConfig, c.TLSListen, c.Listen)
		}
	}
	switch {
	case c.CredentialLifetime < time.Minute || c.CredentialLifetime > 7*24*time.Hour:
		return fmt.Errorf("%w: credential-lifetime %v not in 1m..168h", ErrInvalidConfig, c.CredentialLifetime)
	case c.AllocationLifetime < time.Minute || c.AllocationLifetime > time.Hour:
		return fmt.Errorf("%w: allocation-lifetime %v not in 1m..1h", ErrInvalidConfig, c.AllocationLifetime)
	case c.PermissionLifetime < 30*time.Second || c.PermissionLifetime > time.Hour,
		c.ChannelLifetime < 30*time.Second || c.ChannelLifetime > time.Hour:
		return fmt.Errorf("%w: permission and channel lifetimes must be in 30s..1h", ErrInvalidConfig)
	case c.UserAllocations < 1:
		return fmt.Errorf("%w: user-allocations must be positive", ErrInvalidConfig)
	case c.UnauthenticatedPerSecond < 0 || c.UnauthenticatedPerSecond > 0 && c.UnauthenticatedBurst < 1:
		return fmt.Errorf("%w: unauthenticated-per-second must not be negative, and needs a positive burst", ErrInvalidConfig)
	case c.UserBandwidth < 0:
		return fmt.Errorf("%w: user-bandwidth must not be negative", ErrInvalidConfig)
	case c.MaxTCPConnections < 1:
		return fmt.Errorf("%w: max-tcp-connections must be positive", ErrInvalidConfig)
	}
	return nil
}

func (c Config) allowPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.AllowPeers {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: allow-peers %q is not a CIDR", ErrInvalidConfig, s)
		}
		if a, tunnel := Normalise(p.Addr()); a.Is4() && p.Addr().Is6() && !tunnel && p.Bits() >= 96 {
			p = netip.PrefixFrom(a, p.Bits()-96) // ::ffff:10.0.0.0/104 is 10.0.0.0/8
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c Config) bridgeAddrs() ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range c.BridgeAddresses {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return nil, fmt.Errorf("%w: bridge-addresses %q is not ip:port", ErrInvalidConfig, s)
		}
		out = append(out, ap)
	}
	return out, nil
}
