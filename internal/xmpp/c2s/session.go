package c2s

import (
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/ping"
	"github.com/parley-im/parley/internal/xmpp/sm"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// session is a bound resource. It outlives its connection while it
// hibernates for XEP-0198 resumption.
type session struct {
	srv       *Server
	jid       jid.JID // set at bind, then immutable
	anonymous bool
	token     *auth.Claims  // set at bind for a token user, then immutable
	stanzas   *rate.Limiter // inbound stanza budget; used by the reader only
	hold      throttle      // used by the reader only

	mu           sync.Mutex
	conn         *conn               // guarded by mu: attached connection, nil while hibernating
	pending      [][]byte            // guarded by mu: serialised elements not yet written
	pendingBytes int                 // guarded by mu
	smOn         bool                // guarded by mu: XEP-0198 enabled
	smID         string              // guarded by mu: resumption id, "" if not resumable
	unacked      sm.Queue            // guarded by mu
	hIn          uint32              // guarded by mu: stanzas handled from the client
	sinceReq     int                 // guarded by mu: stanzas sent since our last <r/>
	available    bool                // guarded by mu
	priority     int                 // guarded by mu
	directed     map[string]struct{} // guarded by mu: who got directed available presence
	ended        bool                // guarded by mu
	hibernation  *time.Timer         // guarded by mu
}

func newSession(srv *Server, bare jid.JID, anonymous bool) *session {
	s := &session{srv: srv, jid: bare, anonymous: anonymous, directed: make(map[string]struct{}),
		hold: throttle{max: srv.cfg.MaxThrottle}}
	if srv.cfg.StanzasPerSec > 0 {
		s.stanzas = rate.NewLimiter(rate.Limit(srv.cfg.StanzasPerSec), srv.cfg.StanzaBurst)
	}
	return s
}

// JID implements router.Session.
func (s *session) JID() jid.JID { return s.jid }

// Available implements router.Session.
func (s *session) Available() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.priority
}

// Deliver implements router.Session: it queues a stanza for the client and
// never blocks. A client that lets its queue overflow is disconnected.
func (s *session) Deliver(el *stanza.Element) {
	b := el.Bytes()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.smOn {
		if s.unacked.Len() >= s.srv.cfg.MaxUnacked {
			go s.kill(stream.ErrPolicyViolation.WithText("too many unacknowledged stanzas"))
			return
		}
		s.unacked.Push(sm.Item{El: el, Bytes: b})
		s.sinceReq++
	}
	if s.conn == nil {
		return // hibernating: the stanza waits in the unacked queue
	}
	if s.pendingBytes+len(b) > s.srv.cfg.SendQueueBytes {
		go s.kill(stream.ErrPolicyViolation.WithText("client is not reading"))
		return
	}
	s.pending = append(s.pending, b)
	s.pendingBytes += len(b)
	if s.smOn && s.sinceReq >= 5 {
		s.pending = append(s.pending, sm.Request)
		s.sinceReq = 0
	}
	s.wakeLocked()
}

// sendNonzaLocked queues an element that is not a stanza (XEP-0198 <a/>, <enabled/>).
func (s *session) sendNonzaLocked(el *stanza.Element) {
	if s.conn == nil {
		return
	}
	b := el.Bytes()
	s.pending = append(s.pending, b)
	s.pendingBytes += len(b)
	s.wakeLocked()
}

func (s *session) wakeLocked() {
	if s.conn != nil {
		select {
		case s.conn.wake <- struct{}{}:
		default:
		}
	}
}

// attach makes c the session's connection and starts its writer.
func (s *session) attach(c *conn, first [][]byte) {
	c.wake = make(chan struct{}, 1)
	s.mu.Lock()
	s.conn = c
	s.pending = append(first, s.pending...)
	for _, b := range first {
		s.pendingBytes += len(b)
	}
	s.wakeLocked()
	s.mu.Unlock()
	go s.writer(c)
	s.startPinger(c)
}

// writer drains the queue onto c until c closes or is replaced.
func (s *session) writer(c *conn) {
	for {
		select {
		case <-c.wake:
		case <-c.closed:
			return
		}
		s.mu.Lock()
		if s.conn != c {
			s.mu.Unlock()
			return
		}
		batch := s.pending
		s.pending, s.pendingBytes = nil, 0
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		c.wmu.Lock()
		c.t.setWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		err := c.t.write(batch...)
		c.wmu.Unlock()
		if err != nil {
			c.fail(nil)
			return
		}
	}
}

// startPinger checks c for idleness: after PingInterval without input it
// sends a ping (XEP-0199), and if nothing at all arrives within PingTimeout
// the connection is dropped. Any input counts, not only the ping's answer.
func (s *session) startPinger(c *conn) {
	cfg := s.srv.cfg
	var pingedAt time.Time
	var t *time.Timer
	check := func() {
		select {
		case <-c.closed:
			return
		default:
		}
		last := c.t.lastRead()
		if !pingedAt.IsZero() && last.After(pingedAt) {
			pingedAt = time.Time{}
		}
		if !pingedAt.IsZero() {
			if wait := cfg.PingTimeout - time.Since(pingedAt); wait > 0 {
				t.Reset(wait)
				return
			}
			c.failDead(stream.ErrConnectionTimeout.WithText("no answer to ping"))
			return
		}
		idle := time.Since(last)
		if idle < cfg.PingInterval {
			t.Reset(cfg.PingInterval - idle)
			return
		}
		pingedAt = time.Now()
		s.Deliver(ping.Request("ping-"+newID()[:8], s.srv.domain, s.jid.String()))
		t.Reset(cfg.PingTimeout)
	}
	assigned := make(chan struct{}) // check uses t, so t must be set before it runs
	t = time.AfterFunc(cfg.PingInterval, func() {
		<-assigned
		check()
	})
	close(assigned)
}

// readLoop handles the client's stanzas until its connection ends.
func (s *session) readLoop(c *conn) {
	for {
		start := time.Now()
		el, err := c.t.next()
		if err == nil {
			err = s.throttle(time.Since(start))
		}
		if err == nil {
			err = s.handle(el)
		}
		if err != nil {
			s.connLost(c, err)
			return
		}
	}
}

// throttle holds the reader to the stanza budget (see type throttle); the
// stanza took waited to arrive.
func (s *session) throttle(waited time.Duration) error {
	if s.stanzas == nil {
		return nil
	}
	return s.hold.wait(s.stanzas, 1, waited)
}

// connLost decides what a broken or closed connection means for the session:
// a clean close, a protocol error or a deliberate disconnect ends it; a
// network failure (or a dead link found by ping) with resumption enabled lets
// it hibernate.
func (s *session) connLost(c *conn, err error) {
	var se *stream.Error
	end := true
	switch {
	case errors.Is(err, stream.ErrClosed):
	case errors.As(err, &se):
	default:
		c.fail(nil)
		end = c.deliberate()
	}
	s.mu.Lock()
	if s.conn != c || s.ended {
		s.mu.Unlock()
		c.fail(se)
		return // replaced by a resumed connection, or already over
	}
	if end || s.smID == "" || s.srv.cfg.ResumeTimeout == 0 || s.srv.closing.Load() {
		s.mu.Unlock()
		s.endWith(se) // unbinds before the client sees its stream close
		c.fail(se)
		return
	}
	s.conn = nil
	s.pending, s.pendingBytes = nil, 0
	s.hibernation = time.AfterFunc(s.srv.cfg.ResumeTimeout, s.end)
	s.mu.Unlock()
}

// resumeOn moves the session onto c after <resume h=…/>: drop what the
// client acknowledged, answer <resumed/> and resend the rest.
func (s *session) resumeOn(c *conn, h uint32) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return errors.New("session ended")
	}
	if err := s.unacked.Ack(h); err != nil {
		s.mu.Unlock()
		return err
	}
	if s.hibernation != nil {
		s.hibernation.Stop()
		s.hibernation = nil
	}
	old := s.conn
	s.conn = nil
	s.pending, s.pendingBytes = nil, 0
	first := [][]byte{sm.Resumed(s.smID, s.hIn).Bytes()}
	for _, it := range s.unacked.Items() {
		first = append(first, it.Bytes)
	}
	s.mu.Unlock()
	if old != nil {
		old.fail(stream.ErrConflict.WithText("replaced by a resumed stream"))
	}
	s.attach(c, first)
	return nil
}

func (s *session) sameUser(bare jid.JID, anonymous bool) bool {
	if s.anonymous && anonymous {
		// An anonymous identity is only as strong as the resumption id the
		// client presents, which is a 128-bit secret.
		return true
	}
	return !s.anonymous && !anonymous && s.jid.Bare() == bare
}

// kill disconnects the client with err and ends the session.
func (s *session) kill(err *stream.Error) { s.endWith(err) }

// end finishes the session: unbind, tell directed-presence recipients it is
// gone, and bounce what it never acknowledged (XEP-0198 §4).
func (s *session) end() { s.endWith(nil) }

// endWith ends the session and closes its connection with reason (nil for
// a plain close) once it is no longer routable.
func (s *session) endWith(reason *stream.Error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	c := s.conn
	s.conn = nil
	if s.hibernation != nil {
		s.hibernation.Stop()
	}
	unacked := s.unacked.Drain()
	directed := s.directed
	s.directed = make(map[string]struct{})
	wasAvailable := s.available
	s.available = false
	smID := s.smID
	s.pending = nil
	s.mu.Unlock()

	srv := s.srv
	srv.router.Unbind(s)
	srv.mu.Lock()
	delete(srv.sessions, s)
	if smID != "" {
		delete(srv.resumable, smID)
	}
	srv.mu.Unlock()
	if c != nil {
		c.fail(reason)
	}
	if wasAvailable || len(directed) > 0 {
		s.broadcastUnavailable(directed, wasAvailable)
	}
	for _, it := range unacked {
		bounceUnacked(srv, it.El)
	}
}

func (s *session) broadcastUnavailable(directed map[string]struct{}, toOwn bool) {
	from := s.jid.String()
	for to := range directed {
		p := stanza.New(stanza.NSClient, stanza.Presence, "type", "unavailable", "from", from, "to", to)
		s.srv.router.Route(p)
	}
	if toOwn {
		p := stanza.New(stanza.NSClient, stanza.Presence, "type", "unavailable", "from", from, "to", s.jid.Bare().String())
		s.srv.router.Route(p)
	}
}

// bounceUnacked answers a stanza the client never acknowledged, so that its
// sender learns it was not delivered. Groupchat and presence are not bounced.
func bounceUnacked(srv *Server, el *stanza.Element) {
	switch el.Name.Local {
	case stanza.Message:
		switch stanza.Type(el) {
		case "normal", "chat":
			srv.router.Bounce(el, stanza.ErrRecipientUnavailable)
		}
	case stanza.IQ:
		switch el.Get("type") {
		case "get", "set":
			if from, err := jid.Parse(el.Get("from")); err == nil && from.Domain == srv.domain && from.Local != "" {
				srv.router.Bounce(el, stanza.ErrServiceUnavailable)
			}
		}
	}
}

// handledTooHighLocked is the stream error for an acknowledgement of more
// stanzas than were sent (XEP-0198 §4).
func (s *session) handledTooHighLocked(h uint32) error {
	e := stream.ErrUndefinedCondition.WithText("acknowledged more stanzas than were sent")
	e.Extra = []*stanza.Element{stanza.New(sm.NS, "handled-count-too-high",
		"h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(s.unacked.Sent()), 10))}
	return e
}

// Anonymous reports whether the server invented the session's node: SASL
// ANONYMOUS, or a token login (see Token); guests have no Token
// (other components, such as rooms, ask; see router.Lookup).
func (s *session) Anonymous() bool { return s.anonymous }

// Token is the verified JWT the session logged in with (jwt mode), nil for
// guests and account holders. A token user is authenticated even though it
// used ANONYMOUS (jitsi-dialect.md §2.2).
func (s *session) Token() *auth.Claims { return s.token }

// RemoteAddr is the client's IP address on its current connection, or the
// zero Addr while the session hibernates.
func (s *session) RemoteAddr() netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return netip.Addr{}
	}
	return s.conn.t.remoteIP()
}
