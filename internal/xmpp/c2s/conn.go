package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"

	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/sasl"
	"github.com/parley-im/parley/internal/xmpp/sm"
	"github.com/parley-im/parley/internal/xmpp/stanza"
	"github.com/parley-im/parley/internal/xmpp/stream"
)

// conn is one client connection: negotiation, then the reader loop of the
// session it bound or resumed.
type conn struct {
	srv    *Server
	t      transport
	previd string // WebSocket ?previd=, to keep an anonymous identity across resumption
	token  string // WebSocket ?token=, the JWT that SASL ANONYMOUS checks in jwt mode

	wmu       writeLock     // serialises writes to t
	wake      chan struct{} // signals the writer; made when a session attaches
	closeOnce sync.Once
	closed    chan struct{} // closed when the connection is being torn down
	reason    *stream.Error // what the server sent when it closed; set once in closeOnce
	headerOut atomic.Bool   // our stream header for the current stream was written
	linkDead  bool          // closed because the peer stopped answering; set once in closeOnce

	// Set during negotiation by the reader goroutine only.
	authed    bool
	identity  jid.JID // bare JID after SASL
	anonymous bool
	claims    *auth.Claims // the verified token of a token user
	sess      *session
}

func (s *Server) serve(t transport) { s.serveWithQuery(t, "", "") }

func (s *Server) serveWithQuery(t transport, previd, token string) {
	c := &conn{srv: s, t: t, previd: previd, token: token, closed: make(chan struct{}), wmu: make(writeLock, 1)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in client connection", "panic", r, "remote", t.remoteIP())
			c.fail(stream.ErrInternalServerError)
			if c.sess != nil {
				c.sess.end()
			}
		}
	}()

	timer := time.AfterFunc(s.cfg.AuthTimeout, func() {
		c.fail(stream.ErrConnectionTimeout.WithText("not bound within %s", s.cfg.AuthTimeout))
	})
	err := c.negotiate()
	timer.Stop()
	if err != nil {
		c.finish(err)
		return
	}
	c.sess.readLoop(c)
}

// finish ends a connection after err from the reader.
func (c *conn) finish(err error) {
	var se *stream.Error
	switch {
	case errors.Is(err, stream.ErrClosed):
		c.fail(nil)
	case errors.As(err, &se):
		c.fail(se)
	default:
		c.fail(nil)
	}
}

// fail ends the connection, sending err (if any) and the stream close when
// the write side is free. It never blocks for long: a writer stuck on a slow
// peer holds wmu, and after a short wait the socket is just closed.
func (c *conn) fail(err *stream.Error) { c.close(err, false) }

// failDead ends a connection whose peer stopped answering; the session may
// hibernate for resumption.
func (c *conn) failDead(err *stream.Error) { c.close(err, true) }

func (c *conn) close(err *stream.Error, dead bool) {
	c.closeOnce.Do(func() {
		c.reason, c.linkDead = err, dead
		close(c.closed)
		if c.wmu.lockWithin(250 * time.Millisecond) {
			c.t.setWriteDeadline(time.Now().Add(time.Second))
			if err != nil {
				if !c.headerOut.Load() {
					// RFC 6120 §4.9.1.1: a header precedes an error sent before one.
					c.t.writeHeader(newID(), c.srv.domain)
				}
				c.t.write(stream.Marshal(err.Element()))
			}
			c.t.writeClose()
			c.wmu.Unlock()
		}
		c.t.close()
	})
}

// deliberate reports whether the server closed the connection on purpose
// (a stream error it sent), as opposed to the network failing.
func (c *conn) deliberate() bool {
	select {
	case <-c.closed:
		return c.reason != nil && !c.linkDead
	default:
		return false
	}
}

// send writes elements synchronously; used before the writer goroutine runs.
func (c *conn) send(els ...*stanza.Element) error {
	frames := make([][]byte, len(els))
	for i, el := range els {
		frames[i] = stream.Marshal(el)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.t.setWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	return c.t.write(frames...)
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// negotiate runs stream headers, STARTTLS, SASL and bind or resume. On
// success c.sess is set and attached to c.
func (c *conn) negotiate() error {
	srv := c.srv
	for {
		hdr, err := c.t.readHeader()
		if err != nil {
			return err
		}
		if err := c.writeHeader(); err != nil {
			return err
		}
		if v := hdr.Get("version"); v != "1.0" && c.t.canStartTLS() || v != "" && v != "1.0" {
			return stream.ErrUnsupportedVersion
		}
		if to := hdr.Get("to"); to != srv.domain {
			return stream.ErrHostUnknown.WithText("this server serves %s", srv.domain)
		}
		if err := c.send(c.features()); err != nil {
			return err
		}
		restart, err := c.negotiateStream()
		if err != nil || !restart {
			return err
		}
		c.t.restart()
		c.headerOut.Store(false)
	}
}

func (c *conn) writeHeader() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.t.setWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	err := c.t.writeHeader(newID(), c.srv.domain)
	c.headerOut.Store(true)
	return err
}

// negotiateStream reads elements until the stream must restart (after
// STARTTLS or SASL success) or a session is bound.
func (c *conn) negotiateStream() (restart bool, err error) {
	srv := c.srv
	failures := 0
	for {
		el, err := c.t.next()
		if err != nil {
			return false, err
		}
		switch {
		case el.Is(stream.NSTLS, "starttls"):
			if !c.t.canStartTLS() || srv.tls == nil {
				c.send(stanza.New(stream.NSTLS, "failure"))
				return false, stream.ErrPolicyViolation.WithText("STARTTLS not available")
			}
			if err := c.send(stanza.New(stream.NSTLS, "proceed")); err != nil {
				return false, err
			}
			if err := c.t.startTLS(srv.tls); err != nil {
				return false, err
			}
			return true, nil

		case c.mustStartTLS():
			return false, stream.ErrPolicyViolation.WithText("STARTTLS is required")

		case el.Is(stream.NSSASL, "auth") && !c.authed:
			ok, err := c.authenticate(el)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
			failures++
			if failures >= srv.cfg.MaxAuthRetries {
				return false, stream.ErrNotAuthorized.WithText("too many authentication failures")
			}

		case !c.authed:
			return false, stream.ErrNotAuthorized.WithText("authenticate first")

		case el.Is(stanza.NSClient, stanza.IQ) && el.Child(stream.NSBind, "bind") != nil:
			if done, err := c.bind(el); done || err != nil {
				return false, err
			}

		case el.Is(sm.NS, "resume"):
			if done, err := c.resume(el); done || err != nil {
				return false, err
			}

		case el.Is(sm.NS, "enable"):
			c.send(sm.Failed("unexpected-request", nil))

		default:
			return false, stream.ErrNotAuthorized.WithText("bind a resource first")
		}
	}
}

func (c *conn) mustStartTLS() bool { return c.t.canStartTLS() && c.srv.tls != nil }

// features lists what the client can do next on this stream.
func (c *conn) features() *stanza.Element {
	f := stanza.New(stream.NS, "features")
	srv := c.srv
	switch {
	case c.mustStartTLS():
		f.Add(stanza.New(stream.NSTLS, "starttls").Add(stanza.New(stream.NSTLS, "required")))
	case !c.authed:
		mechs := stanza.New(stream.NSSASL, "mechanisms")
		for _, m := range srv.sasl.Mechanisms(c.t.secure()) {
			mechs.Add(stanza.New(stream.NSSASL, "mechanism").SetText(m))
		}
		f.Add(mechs)
	default:
		f.Add(stanza.New(stream.NSBind, "bind"))
		f.Add(stanza.New(stream.NSSession, "session").Add(stanza.New(stream.NSSession, "optional")))
		f.Add(stanza.New(sm.NS, "sm"))
	}
	f.Add(stanza.New(stream.NSLimits, "limits").Add(
		stanza.New(stream.NSLimits, "max-bytes").SetText(strconv.Itoa(srv.cfg.MaxStanzaBytes)),
		stanza.New(stream.NSLimits, "idle-seconds").SetText(strconv.Itoa(int((srv.cfg.PingInterval+srv.cfg.PingTimeout)/time.Second))),
	))
	return f
}

// authenticate runs one SASL exchange. It returns ok=false after a failure
// the client may retry, and an error when the stream must end.
func (c *conn) authenticate(auth *stanza.Element) (bool, error) {
	srv := c.srv
	ip := c.t.remoteIP()
	fail := func(err error) (bool, error) {
		cond := "not-authorized"
		var se *sasl.Error
		if errors.As(err, &se) {
			cond = se.Condition
		}
		// A refused token (not-allowed) is not a password guess: an
		// HS256 secret cannot be found online, and a page reloading with
		// an expired token must not lock out its neighbours behind one
		// address. The attempt rate still applies.
		if cond != "aborted" && cond != "temporary-auth-failure" && cond != sasl.ErrNotAllowed.Condition {
			srv.limiter.Failure(ip)
		}
		f := stanza.New(stream.NSSASL, "failure").Add(stanza.New(stream.NSSASL, cond))
		if se != nil && se.Text != "" {
			f.Add(stanza.New(stream.NSSASL, "text").SetText(se.Text))
		}
		return false, c.send(f)
	}
	if err := srv.limiter.Allow(ip); err != nil {
		return fail(err)
	}
	sess, err := srv.sasl.StartWith(auth.Get("mechanism"), c.t.secure(), c.token)
	if err != nil {
		return fail(err)
	}
	in, err := sasl.DecodePayload(auth.Text)
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	for {
		out, done, err := sess.Step(ctx, in)
		if err != nil {
			return fail(err)
		}
		if done {
			id := sess.Identity()
			if err := c.setIdentity(id); err != nil {
				return fail(err)
			}
			srv.limiter.Success(ip)
			success := stanza.New(stream.NSSASL, "success")
			if len(out) > 0 {
				success.SetText(sasl.EncodePayload(out))
			}
			return true, c.send(success)
		}
		challenge := stanza.New(stream.NSSASL, "challenge")
		if out != nil {
			challenge.SetText(sasl.EncodePayload(out))
		}
		if err := c.send(challenge); err != nil {
			return false, err
		}
		resp, err := c.t.next()
		if err != nil {
			return false, err
		}
		switch {
		case resp.Is(stream.NSSASL, "abort"):
			return fail(sasl.ErrAborted)
		case resp.Is(stream.NSSASL, "response"):
			if in, err = sasl.DecodePayload(resp.Text); err != nil {
				return fail(err)
			}
		default:
			return false, stream.ErrNotAuthorized.WithText("expected a SASL response")
		}
	}
}

// setIdentity records who authenticated. Anonymous users get a fresh UUID
// localpart, or, when a WebSocket reconnects with ?previd= of an anonymous
// session, that session's localpart so that it can be resumed (as Prosody
// does for Jitsi).
func (c *conn) setIdentity(id sasl.Identity) error {
	srv := c.srv
	local := id.Username
	if id.Anonymous {
		local = uuid.NewString()
		if c.previd != "" {
			srv.mu.Lock()
			if old := srv.resumable[c.previd]; old != nil && old.anonymous {
				local = old.jid.Local
			}
			srv.mu.Unlock()
		}
	}
	j, err := jid.New(local, srv.domain, "")
	if err != nil {
		return sasl.ErrNotAuthorized
	}
	c.authed, c.identity, c.anonymous, c.claims = true, j, id.Anonymous, id.Token
	return nil
}

// bind handles resource binding (RFC 6120 §7). done reports a bound session.
func (c *conn) bind(iq *stanza.Element) (done bool, err error) {
	srv := c.srv
	if iq.Get("type") != "set" {
		return false, c.send(stanza.ErrorReply(iq, stanza.ErrBadRequest))
	}
	want := iq.Child(stream.NSBind, "bind").ChildText(stream.NSBind, "resource")
	res, err := jid.NormalizeResource(want)
	if err != nil || len(res) > 256 {
		return false, c.send(stanza.ErrorReply(iq, stanza.ErrBadRequest.WithText("invalid resource")))
	}
	if srv.router.Resources(c.identity.Local) >= srv.cfg.MaxSessions {
		return false, c.send(stanza.ErrorReply(iq, stanza.ErrResourceConstraint.WithText("too many sessions for this account")))
	}
	s := newSession(srv, c.identity, c.anonymous)
	s.token = c.claims
	for tries := 0; ; tries++ {
		r := res
		if r == "" || tries > 0 {
			// The client asked for none, or its choice is taken: the server
			// assigns one (RFC 6120 §7.7.2.2, third option).
			r = newID()[:12]
			if res != "" {
				r = res + "-" + r
			}
		}
		s.jid = c.identity.WithResource(r)
		if srv.router.Bind(s) {
			break
		}
		if tries > 3 {
			return false, c.send(stanza.ErrorReply(iq, stanza.ErrConflict))
		}
	}
	srv.mu.Lock()
	srv.sessions[s] = struct{}{}
	srv.mu.Unlock()
	result := stanza.NewIQ("result", iq.Get("id"), "", "", stanza.New(stream.NSBind, "bind").Add(
		stanza.New(stream.NSBind, "jid").SetText(s.jid.String())))
	if err := c.send(result); err != nil {
		s.end()
		return false, err
	}
	c.sess = s
	s.attach(c, nil)
	return true, nil
}

// resume handles XEP-0198 <resume/>. done reports a resumed session.
func (c *conn) resume(el *stanza.Element) (done bool, err error) {
	srv := c.srv
	h, perr := sm.ParseH(el.Get("h"))
	if perr != nil {
		return false, c.send(sm.Failed("bad-request", nil))
	}
	srv.mu.Lock()
	s := srv.resumable[el.Get("previd")]
	srv.mu.Unlock()
	if s == nil || !s.sameUser(c.identity, c.anonymous) || !tokenCovers(c.claims, s.token) {
		return false, c.send(sm.Failed("item-not-found", nil))
	}
	if err := s.resumeOn(c, h); err != nil {
		if errors.Is(err, sm.ErrHandledTooHigh) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return false, s.handledTooHighLocked(h)
		}
		return false, c.send(sm.Failed("item-not-found", nil))
	}
	c.sess = s
	return true, nil
}

// tokenCovers reports whether a connection with token now may resume a
// session that logged in with token old: a session without a token needs
// nothing; a token session needs a valid token again (LJM fetches a fresh
// one before resuming, jitsi-dialect.md §2.3) for the same room or "*".
func tokenCovers(now, old *auth.Claims) bool {
	return old == nil || now != nil && (now.Room == "*" || now.Room == old.Room)
}

// writeLock is a mutex that can be waited for with a time limit.
type writeLock chan struct{}

func (l writeLock) Lock()   { l <- struct{}{} }
func (l writeLock) Unlock() { <-l }

func (l writeLock) lockWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
