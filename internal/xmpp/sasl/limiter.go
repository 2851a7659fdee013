package sasl

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// LimiterConfig bounds login attempts per client address. Zero fields take
// the defaults in parentheses.
type LimiterConfig struct {
	AttemptsPerSecond float64       // sustained attempts (3)
	Burst             int           // attempts allowed at once (10)
	MaxFailures       int           // failures within Window that lock out (10)
	Window            time.Duration // failure counting window (10m)
	Lockout           time.Duration // how long a lockout lasts (15m)
	MaxEntries        int           // addresses remembered; least recently used forgotten (10000)
	Now               func() time.Time
}

func (c LimiterConfig) withDefaults() LimiterConfig {
	if c.AttemptsPerSecond <= 0 {
		c.AttemptsPerSecond = 3
	}
	if c.Burst <= 0 {
		c.Burst = 10
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 10
	}
	if c.Window <= 0 {
		c.Window = 10 * time.Minute
	}
	if c.Lockout <= 0 {
		c.Lockout = 15 * time.Minute
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Limiter rate-limits SASL attempts per client and locks a client out after
// MaxFailures failures within Window. A client is an IPv4 address or an
// IPv6 /64 (one subscriber's usual allocation: per-address limits on IPv6
// would be no limit at all). Memory is bounded by MaxEntries; the least
// recently seen client is forgotten first, so someone controlling more than
// MaxEntries addresses (or /64s) can flush a lockout; the limit exists to
// keep memory bounded, and per-account throttling is not this type's job.
// Safe for concurrent use.
//
// The c2s code calls Allow before each <auth/>, then Failure or Success.
type Limiter struct {
	cfg LimiterConfig

	mu      sync.Mutex
	entries map[netip.Prefix]*list.Element // guarded by mu; values are *limitEntry
	lru     list.List                      // guarded by mu; front = most recently used
}

type limitEntry struct {
	key         netip.Prefix
	tokens      float64   // token bucket for AttemptsPerSecond/Burst
	refilled    time.Time // when tokens was last brought up to date
	failures    int       // failures since windowStart
	windowStart time.Time
	lockedUntil time.Time
}

// NewLimiter returns a Limiter for cfg.
func NewLimiter(cfg LimiterConfig) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), entries: make(map[netip.Prefix]*list.Element)}
}

// clientKey maps an address to the unit that is limited.
func clientKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil { // invalid Addr: all such callers share one entry
		return netip.Prefix{}
	}
	return p
}

// Allow is called before an attempt. It returns ErrTemporaryAuthFailure when
// the client is locked out or over its rate, and otherwise uses one token.
func (l *Limiter) Allow(ip netip.Addr) error {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(clientKey(ip), now)
	if now.Before(e.lockedUntil) {
		return fail(ErrTemporaryAuthFailure, "too many failed attempts; try again later", nil)
	}
	if dt := now.Sub(e.refilled).Seconds(); dt > 0 {
		e.tokens = min(float64(l.cfg.Burst), e.tokens+dt*l.cfg.AttemptsPerSecond)
	}
	e.refilled = now
	if e.tokens < 1 {
		return fail(ErrTemporaryAuthFailure, "too many attempts; slow down", nil)
	}
	e.tokens--
	return nil
}

// Failure records a failed attempt; the MaxFailures-th within Window starts
// a lockout.
func (l *Limiter) Failure(ip netip.Addr) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(clientKey(ip), now)
	if now.Sub(e.windowStart) >= l.cfg.Window {
		e.failures, e.windowStart = 0, now
	}
	e.failures++
	if e.failures >= l.cfg.MaxFailures {
		e.lockedUntil = now.Add(l.cfg.Lockout)
		e.failures, e.windowStart = 0, now
	}
}

// Success clears the client's failure count (not its rate).
func (l *Limiter) Success(ip netip.Addr) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(clientKey(ip), now)
	e.failures, e.windowStart = 0, now
}

// Len is the number of clients remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// entryLocked finds or creates the entry for key and marks it most recently
// used, forgetting the least recently used entry when full.
func (l *Limiter) entryLocked(key netip.Prefix, now time.Time) *limitEntry {
	if el, ok := l.entries[key]; ok {
		l.lru.MoveToFront(el)
		return el.Value.(*limitEntry)
	}
	for len(l.entries) >= l.cfg.MaxEntries {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.entries, old.Value.(*limitEntry).key)
	}
	e := &limitEntry{key: key, tokens: float64(l.cfg.Burst), refilled: now, windowStart: now}
	l.entries[key] = l.lru.PushFront(e)
	return e
}
