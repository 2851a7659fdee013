package focus

import (
	"net/netip"
	"time"

	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Limits bound what conference requests can make the focus hold. A
// conference is pending from the request that creates it until somebody
// joins its room; pending conferences are charged to the session and the
// client address that asked, so that nobody can fill the server with empty
// rooms (reference/threats-and-tests.md §1.7), and end after JoinWithin.
type Limits struct {
	MaxConferences    int           `toml:"max-conferences"`     // running at once, in total
	PendingPerSession int           `toml:"pending-per-session"` // unjoined conferences one full JID started
	PendingPerAddress int           `toml:"pending-per-address"` // the same per client address (IPv6 per /64)
	JoinWithin        time.Duration `toml:"join-within"`         // a conference nobody joins ends after this
}

// DefaultLimits returns the production limits.
func DefaultLimits() Limits {
	return Limits{MaxConferences: 1000, PendingPerSession: 3, PendingPerAddress: 20, JoinWithin: 10 * time.Second}
}

// Validate reports the first limit that cannot work.
func (l Limits) Validate() error {
	switch {
	case l.MaxConferences < 1 || l.PendingPerSession < 1 || l.PendingPerAddress < 1:
		return errorString("focus: max-conferences, pending-per-session and pending-per-address must be at least 1")
	case l.JoinWithin < time.Second:
		return errorString("focus: join-within must be at least 1s")
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// Requester is what the server knows about whoever asks for a conference.
type Requester struct {
	Addr netip.Addr // client address; zero when unknown
	// MayStart lets the request bring a conference into being. Without it
	// the request only joins a conference that is already running: on a
	// secure domain guests wait until an authenticated user has started the
	// room (jitsi-dialect.md §3.3).
	MayStart bool
}

// Errors of the conference request.
var (
	errNotStarted   = stanza.ErrNotAuthorized.WithText("waiting for the host: only an authenticated user can start this meeting")
	errTooMany      = stanza.ErrResourceConstraint.WithText("the server runs too many conferences")
	errTooManyYours = stanza.ErrResourceConstraint.WithText("too many conferences requested that nobody joined")
)

// admit returns the conference for room on behalf of from, starting it if
// from may, or the error to answer.
func (f *Focus) admit(from, room jid.JID) (*conference, *stanza.Error) {
	req := Requester{MayStart: true}
	if f.cfg.Requester != nil {
		req = f.cfg.Requester(from, room)
	}
	keys := []string{"session " + from.String()}
	if a := req.Addr.Unmap(); a.Is4() {
		keys = append(keys, "addr "+a.String())
	} else if a.Is6() {
		p, _ := a.Prefix(64)
		keys = append(keys, "addr "+p.String())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.confs[room]; c != nil {
		return c, nil
	}
	lim := f.cfg.Limits
	switch {
	case f.ctx.Err() != nil:
		return nil, stanza.ErrServiceUnavailable.WithText("shutting down")
	case !req.MayStart:
		return nil, errNotStarted
	case len(f.confs) >= lim.MaxConferences:
		return nil, errTooMany
	case f.pending[keys[0]] >= lim.PendingPerSession:
		return nil, errTooManyYours
	case len(keys) > 1 && f.pending[keys[1]] >= lim.PendingPerAddress:
		return nil, errTooManyYours
	}
	c := newConference(f, room)
	c.charged = keys
	for _, k := range keys {
		f.pending[k]++
	}
	f.confs[room] = c
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		c.run()
	}()
	return c, nil
}

// settle stops charging c to whoever started it: somebody joined, or it
// ended. Called on c's goroutine; idempotent.
func (f *Focus) settle(c *conference) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range c.charged {
		if n := f.pending[k] - 1; n > 0 {
			f.pending[k] = n
		} else {
			delete(f.pending, k)
		}
	}
	c.charged = nil
}
