package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config is the bridge's part of Parley's configuration tree ([bridge] in the TOML file; durations are
// strings such as "8s"). The zero value is not usable: start from Default and change what you need, then
// call Validate (New does).
type Config struct {
	// ID is the bridge's identifier, the <bridge-id> segment of /colibri-ws/<bridge-id>/<conf>/<endpoint>.
	ID string `toml:"id"`
	// MediaAddr is the one UDP address every endpoint's ICE, DTLS, SRTP and SRTCP share (--media).
	MediaAddr string `toml:"media-addr"`
	// PublicIP, when set, is advertised as an extra host candidate on MediaAddr's port (--public-ip), for a
	// bridge behind a static 1:1 NAT.
	PublicIP string `toml:"public-ip"`
	// MediaReaders is how many sockets share MediaAddr's port, each read by a goroutine of its own
	// (SO_REUSEPORT: the kernel keeps each remote address on one of them), so the forwarding of
	// different senders runs on different cores. 0 means one per core (GOMAXPROCS); 1 is one socket.
	// Only on the host network of a system with SO_REUSEPORT (Linux); elsewhere one socket.
	MediaReaders int `toml:"media-readers"`
	// FanOutWorkers is how many goroutines help a reader forward one packet to many receivers (from
	// 16 subscribers, fanout.go), so one sender's fan-out uses more than one core. 0 means GOMAXPROCS−1;
	// -1 (the default: on two shared cores they cost more CPU than they save time, docs/performance.md)
	// turns them off. Only where the media socket batches its sends (Linux).
	FanOutWorkers int `toml:"fan-out-workers"`
	// IncludeLoopback makes the bridge offer loopback candidates and accept loopback remote candidates.
	// Off in production (a client must not point the bridge at the bridge host); on in tests.
	IncludeLoopback bool `toml:"include-loopback"`

	// AudioSlots and VideoSlots are how many send slots (SSRCs) each receiver gets per media type; a
	// receiver sees at most that many other senders at once, recent speakers first (SSRC-rewriting mode).
	AudioSlots int `toml:"audio-slots"`
	VideoSlots int `toml:"video-slots"`

	// InactiveAfter is how long an endpoint may send no media before the others hear
	// EndpointConnectivityStatusChangeEvent active=false (Jitsi: 8 s).
	InactiveAfter time.Duration `toml:"inactive-after"`
	// ConnectTimeout bounds how long an allocated endpoint may take to complete ICE and DTLS after its
	// answer (and how long it may wait for an answer at all); it is then expired.
	ConnectTimeout time.Duration `toml:"connect-timeout"`
	// ICEDisconnectedTimeout and ICEFailedTimeout implement consent freshness (RFC 7675): with no
	// authenticated check response for the first the endpoint is disconnected, after both it is expired.
	ICEDisconnectedTimeout time.Duration `toml:"ice-disconnected-timeout"`
	ICEFailedTimeout       time.Duration `toml:"ice-failed-timeout"`
	// ICEKeepaliveInterval is how often consent checks go out on the selected pair.
	ICEKeepaliveInterval time.Duration `toml:"ice-keepalive-interval"`

	// PacketCacheSize is how many recent packets per video SSRC are kept to answer NACKs (a power of two).
	PacketCacheSize int `toml:"packet-cache-size"`
	// KeyframeInterval is the least time between two keyframe requests the bridge sends for one source.
	KeyframeInterval time.Duration `toml:"keyframe-interval"`
	// RetransmitRate and RetransmitBurst bound how many packets per second (and at once) one receiver's
	// NACKs (or a peer bridge's, over one relay) can make the bridge retransmit, so a NACK flood cannot
	// turn the bridge into an amplifier.
	RetransmitRate  int `toml:"retransmit-rate"`
	RetransmitBurst int `toml:"retransmit-burst"`
	// MaxSourcesPerEndpoint bounds signalled SSRCs per endpoint (Jicofo max-ssrcs-per-user: 20).
	MaxSourcesPerEndpoint int `toml:"max-sources-per-endpoint"`
	// MaxCandidates bounds the remote candidates accepted per endpoint.
	MaxCandidates int `toml:"max-candidates"`
}

// Default returns the configuration `parley serve` starts with.
func Default() Config {
	return Config{
		ID:                     "parley",
		MediaAddr:              ":10000",
		AudioSlots:             50,
		VideoSlots:             50,
		InactiveAfter:          8 * time.Second,
		ConnectTimeout:         60 * time.Second,
		ICEDisconnectedTimeout: 5 * time.Second,
		ICEFailedTimeout:       25 * time.Second,
		ICEKeepaliveInterval:   2 * time.Second,
		PacketCacheSize:        512,
		KeyframeInterval:       200 * time.Millisecond,
		RetransmitRate:         1000,
		RetransmitBurst:        200,
		MaxSourcesPerEndpoint:  20,
		MaxCandidates:          32,
		FanOutWorkers:          -1,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.ID == "" || !isToken(c.ID) {
		return fmt.Errorf("%w: id %q must be non-empty letters, digits, '-', '_' or '.'", ErrInvalidConfig, c.ID)
	}
	if _, _, err := net.SplitHostPort(c.MediaAddr); err != nil {
		return fmt.Errorf("%w: media address %q: %v", ErrInvalidConfig, c.MediaAddr, err)
	}
	if c.PublicIP != "" {
		if _, err := netip.ParseAddr(c.PublicIP); err != nil {
			return fmt.Errorf("%w: public ip %q: %v", ErrInvalidConfig, c.PublicIP, err)
		}
	}
	switch {
	case c.AudioSlots < 1 || c.AudioSlots > 500:
		return fmt.Errorf("%w: audio slots %d not in 1..500", ErrInvalidConfig, c.AudioSlots)
	case c.VideoSlots < 1 || c.VideoSlots > 500:
		return fmt.Errorf("%w: video slots %d not in 1..500", ErrInvalidConfig, c.VideoSlots)
	case c.InactiveAfter <= 0, c.ConnectTimeout <= 0, c.ICEDisconnectedTimeout <= 0,
		c.ICEFailedTimeout <= 0, c.ICEKeepaliveInterval <= 0, c.KeyframeInterval <= 0:
		return fmt.Errorf("%w: timeouts and intervals must be positive", ErrInvalidConfig)
	case c.PacketCacheSize < 16 || c.PacketCacheSize > 1<<15 || c.PacketCacheSize&(c.PacketCacheSize-1) != 0:
		return fmt.Errorf("%w: packet cache size %d must be a power of two in 16..32768", ErrInvalidConfig, c.PacketCacheSize)
	case c.RetransmitRate < 1 || c.RetransmitBurst < 1:
		return fmt.Errorf("%w: retransmit rate and burst must be positive", ErrInvalidConfig)
	case c.MediaReaders < 0 || c.MediaReaders > maxMediaReaders:
		return fmt.Errorf("%w: media readers %d not in 0..%d", ErrInvalidConfig, c.MediaReaders, maxMediaReaders)
	case c.FanOutWorkers < -1 || c.FanOutWorkers > maxMediaReaders:
		return fmt.Errorf("%w: fan-out workers %d not in -1..%d", ErrInvalidConfig, c.FanOutWorkers, maxMediaReaders)
	case c.MaxSourcesPerEndpoint < 1 || c.MaxCandidates < 1:
		return fmt.Errorf("%w: source and candidate limits must be positive", ErrInvalidConfig)
	}
	return nil
}

// isToken reports whether s is safe as a URL path segment and a log field: [A-Za-z0-9._-]{1,64}.
func isToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
