package muc

import (
	"sync"

	"golang.org/x/time/rate"
)

// maxAttemptKeys bounds the failed-password table. When it is full of
// clients still being throttled, new clients are not tracked (fail open):
// an attacker filling the table from many addresses gains nothing the
// per-address limit did not already give them, and nobody is locked out.
const maxAttemptKeys = 1 << 16

// attempts throttles failed room passwords per client (threats §1.2): each
// failure takes a token from the client's bucket; with none left, joins of
// password-protected rooms are refused before the password is looked at.
// It is shared by every room, under its own mutex.
type attempts struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter // guarded by mu: client → failure budget
}

func newAttempts(perSecond float64, burst int) *attempts {
	return &attempts{rate: rate.Limit(perSecond), burst: burst, m: make(map[string]*rate.Limiter)}
}

func (a *attempts) off() bool { return a.rate <= 0 }

// allow reports whether key may try a password now.
func (a *attempts) allow(key string) bool {
	if a.off() {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.m[key]
	return l == nil || l.Tokens() >= 1
}

// fail records a wrong password from key.
func (a *attempts) fail(key string) {
	if a.off() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.m[key]
	if l == nil {
		if len(a.m) >= maxAttemptKeys/2 {
			a.pruneLocked()
		}
		if len(a.m) >= maxAttemptKeys {
			return
		}
		l = rate.NewLimiter(a.rate, a.burst)
		a.m[key] = l
	}
	l.Allow()
}

// pruneLocked forgets clients whose bucket has refilled.
func (a *attempts) pruneLocked() {
	for k, l := range a.m {
		if l.Tokens() >= float64(a.burst) {
			delete(a.m, k)
		}
	}
}

// len counts clients on record, pruning the forgiven first.
func (a *attempts) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked()
	return len(a.m)
}
