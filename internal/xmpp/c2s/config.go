package c2s

import (
	"errors"
	"time"

	"github.com/parley-im/parley/internal/xmpp/stream"
)

// Config tunes client sessions. Defaults follow the anchors in
// reference/threats-and-tests.md §2.1.
type Config struct {
	AllowAnonymous bool `toml:"allow-anonymous"`

	MaxStanzaBytes int `toml:"max-stanza-bytes"` // 256 KiB like Prosody and ejabberd
	MaxDepth       int `toml:"max-depth"`
	MaxAttrs       int `toml:"max-attributes"`

	AuthTimeout   time.Duration `toml:"auth-timeout"`   // connect → bound, else connection-timeout
	PingInterval  time.Duration `toml:"ping-interval"`  // idle time before the server pings
	PingTimeout   time.Duration `toml:"ping-timeout"`   // no traffic this long after a ping → dead
	ResumeTimeout time.Duration `toml:"resume-timeout"` // XEP-0198 hibernation
	WriteTimeout  time.Duration `toml:"write-timeout"`

	MaxUnacked     int `toml:"max-unacked"`      // XEP-0198 queue (Prosody: 500)
	SendQueueBytes int `toml:"send-queue-bytes"` // unwritten bytes before a slow consumer is dropped
	MaxSessions    int `toml:"max-sessions"`     // resources per account (ejabberd: 10)
	MaxDirected    int `toml:"max-directed"`     // directed-presence recipients per session
	MaxAuthRetries int `toml:"max-auth-retries"` // SASL failures per connection before closing

	ReadBytesPerSec  int           `toml:"read-bytes-per-second"`
	ReadBurstBytes   int           `toml:"read-burst-bytes"`
	StanzasPerSec    float64       `toml:"stanzas-per-second"`
	StanzaBurst      int           `toml:"stanza-burst"`
	MaxThrottle      time.Duration `toml:"max-throttle"` // longest a reader is held back before policy-violation
	LoginsPerSecond  float64       `toml:"logins-per-second"`
	LoginBurst       int           `toml:"login-burst"`
	LoginMaxFailures int           `toml:"login-max-failures"`
	LoginLockout     time.Duration `toml:"login-lockout"`
	AllowedWSOrigins []string      `toml:"allowed-ws-origins"` // host patterns besides the server's own
}

// Default returns the production defaults.
func Default() Config {
	return Config{
		AllowAnonymous:   true,
		MaxStanzaBytes:   256 << 10,
		MaxDepth:         32,
		MaxAttrs:         64,
		AuthTimeout:      30 * time.Second,
		PingInterval:     20 * time.Second, // with PingTimeout, a silent client is gone within 30 s
		PingTimeout:      10 * time.Second,
		ResumeTimeout:    10 * time.Minute,
		WriteTimeout:     30 * time.Second,
		MaxUnacked:       1000,
		SendQueueBytes:   4 << 20,
		MaxSessions:      10,
		MaxDirected:      256,
		MaxAuthRetries:   3,
		ReadBytesPerSec:  64 << 10,
		ReadBurstBytes:   512 << 10,
		StanzasPerSec:    50,
		StanzaBurst:      200,
		MaxThrottle:      5 * time.Second,
		LoginsPerSecond:  3,
		LoginBurst:       10,
		LoginMaxFailures: 10,
		LoginLockout:     15 * time.Minute,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxStanzaBytes < 10000:
		return errors.New("c2s: max-stanza-bytes must be at least 10000 (RFC 6120 §13.12)")
	case c.MaxDepth < 4 || c.MaxAttrs < 8:
		return errors.New("c2s: max-depth must be at least 4 and max-attributes at least 8")
	case c.AuthTimeout <= 0 || c.PingInterval <= 0 || c.PingTimeout <= 0 || c.WriteTimeout <= 0:
		return errors.New("c2s: timeouts must be positive")
	case c.ResumeTimeout < 0:
		return errors.New("c2s: resume-timeout must not be negative")
	case c.MaxUnacked < 1 || c.SendQueueBytes < c.MaxStanzaBytes:
		return errors.New("c2s: max-unacked must be positive and send-queue-bytes at least max-stanza-bytes")
	case c.MaxSessions < 1 || c.MaxDirected < 1 || c.MaxAuthRetries < 1:
		return errors.New("c2s: max-sessions, max-directed and max-auth-retries must be positive")
	case c.ReadBytesPerSec < 0 || c.StanzasPerSec < 0 || c.LoginsPerSecond < 0:
		return errors.New("c2s: rates must not be negative (0 = unlimited)")
	case c.ReadBytesPerSec > 0 && c.ReadBurstBytes < c.MaxStanzaBytes:
		return errors.New("c2s: read-burst-bytes must be at least max-stanza-bytes")
	case c.StanzasPerSec > 0 && c.StanzaBurst < 1:
		return errors.New("c2s: stanza-burst must be positive")
	}
	return nil
}

func (c Config) limits() stream.Limits {
	return stream.Limits{MaxStanzaBytes: c.MaxStanzaBytes, MaxDepth: c.MaxDepth, MaxAttrs: c.MaxAttrs}
}
