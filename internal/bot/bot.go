// Package bot is a Go participant that joins a Parley (or Jitsi-dialect)
// conference over the real path, as a browser would: it reads
// /config.json, logs in over XMPP WebSocket, asks the focus for the
// conference, joins the room (announcing its audio and camera unmuted in
// <SourceInfo>), answers the focus's Jingle offer with a Pion
// PeerConnection, opens the bridge channel and asks for video with
// ReceiverVideoConstraints (Constraints), sends Opus and three-layer VP8
// simulcast from internal/testmedia (the audio with a speech-like audio
// level, level.go; the video obeying SenderSourceConstraints, camera.go),
// and reports what a viewer would have seen of each remote source through
// the bridge's sources maps: complete and decodable frames, freezes, the
// height, loss and jitter (recv.go, frames.go), asking for a key frame
// when a frame cannot be decoded. It notes the dominant speaker.
//
//	config.json → XMPP login → <conference/> → MUC join → disco#info (answer)
//	→ session-initiate → SDP offer → Pion answer → session-accept
//	→ ICE/DTLS to the bridge → media; bridge channel: ServerHello, sources maps,
//	  SenderSourceConstraints, ForwardedSources
//
// A lost XMPP connection (a restarted server) is dialled again with
// back-off (restartDelay: 1 s, 2 s, 4 s, 8 s, 16 s, then every 30 s, up to a
// fifth longer at random), and the bot asks the focus for the conference
// and joins again as the same endpoint, as the web client does; the focus
// then offers a new session. A session whose ICE fails is restarted
// (session-terminate with bridge-session restart, §5.6) on the same
// schedule; a restart the focus does not know (item-not-found) asks for
// the conference again.
//
// With Options.E2EE the bot takes part in end-to-end encryption
// (docs/e2ee.md, e2ee.go): it encrypts every frame it sends, drops every
// frame that does not decrypt, and as the key leader makes the room's
// epochs. Every video frame carries Canary after its clear prefix.
//
// `parley bot` and the end-to-end tests use it.
package bot

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/testmedia"
	"github.com/parley-im/parley/internal/xmpp/client"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// Options configure one bot.
type Options struct {
	// URL is the room's address, https://HOST:PORT/ROOM.
	URL      string
	Insecure bool // accept a self-signed certificate
	// Name is the display name sent in <nick/>.
	Name string
	// Loopback lets ICE use loopback addresses only (tests on one machine).
	Loopback bool
	// Constraints is the video the bot asks the bridge for; nil is
	// DefaultConstraints.
	Constraints *Constraints
	Log         *slog.Logger

	// E2EE makes the bot take part in end-to-end encryption (e2ee.go): its
	// key in its presence, an encrypted room asked of the focus, every
	// frame encrypted and decrypted. Passphrase mixes a passphrase into
	// the keys (as a link's #k=) and implies E2EE; PassphraseKey, when set,
	// is e2ee.PassphraseKey(Passphrase, room) computed once for many bots.
	E2EE          bool
	Passphrase    string
	PassphraseKey []byte
	// Canary puts the plaintext marker Canary after the clear prefix of
	// every video frame (e2ee.go), for a test that looks for it at the
	// bridge. Off by default: a browser cannot decode frames that carry it,
	// and other bots count them as decode errors no more than browsers do.
	Canary bool
	// Muted makes the bot announce silence as its audio level (−127 dBov,
	// level.go), as a muted microphone's comfort noise would, so the
	// bridge forwards almost none of its audio: a large room where a few
	// speak.
	Muted bool

	// dropReceived, when set, drops the received video packets it is true
	// for (their RTP sequence number; rtx for the bridge's repairs), as a
	// lossy link would (impair.go; tests only).
	dropReceived func(rtx bool, seq uint16) bool
	// dropReceivedAudio, when set, drops the received audio packets it is
	// true for, likewise (tests of RED).
	dropReceivedAudio func(seq uint16) bool
	// rotateEvery, when set, replaces the key leader's 10 minutes between
	// fresh secrets (tests).
	rotateEvery time.Duration
}

// Bot is one participant.
type Bot struct {
	o      Options
	log    *slog.Logger
	conn   atomic.Pointer[client.Client] // the current XMPP connection (x())
	cfg    *clientConfig
	wsURL  string
	room   jid.JID // bare room JID
	nick   string  // endpoint id
	focus  jid.JID // room/focus
	origin string  // https://HOST:PORT
	region string  // the URL's ?region=: sent in <jitsi_participant_region/> for bridge selection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cam  *camera  // what the bot sends of its video; has its own lock
	keys *keyring // end-to-end encryption, nil without Options.E2EE; has its own lock, taken before mu

	mu          sync.Mutex
	media       *session      // guarded by mu: the current Jingle session's media
	in          *inbound      // guarded by mu: what arrived, by remote source (recv.go)
	constraints Constraints   // guarded by mu: sent on each bridge channel
	forwarded   []string      // guarded by mu: the last ForwardedSources
	dominant    string        // guarded by mu: the dominant speaker the bridge last announced
	restarts    int           // guarded by mu: session restarts since a session stayed connected stableAfter
	start, end  time.Time     // guarded by mu: when Join began, when Close or Vanish ran (zero before)
	changed     chan struct{} // closed and replaced on every change of what arrived, the maps or the dominant speaker
	err         error

	// jingleGen counts the focus's session-initiates, and session-terminates of the latest one, in
	// the order they arrived; jingleSID is the latest session-initiate's sid. Both guarded by mu: a
	// session whose setup an offer or terminate overtook is dropped (media.go).
	jingleGen int
	jingleSID string
}

// config.json as far as the bot reads it.
type clientConfig struct {
	Hosts struct {
		Domain string `json:"domain"`
		MUC    string `json:"muc"`
		Focus  string `json:"focus"`
	} `json:"hosts"`
	WebSocket string `json:"websocket"`
}

// Join connects a bot to the room at o.URL and waits until the focus has
// offered it a session.
func Join(ctx context.Context, o Options) (*Bot, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bot: bad room URL %q", o.URL)
	}
	roomName := strings.Trim(u.Path, "/")
	if roomName == "" || strings.Contains(roomName, "/") {
		return nil, fmt.Errorf("bot: the URL must name one room: %q", o.URL)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := DefaultConstraints()
	if o.Constraints != nil {
		c = *o.Constraints
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fx, err := testmedia.Load()
	if err != nil {
		return nil, err
	}
	b := &Bot{o: o, log: log, origin: u.Scheme + "://" + u.Host, region: u.Query().Get("region"), in: newInbound(), cam: newCamera(fx),
		constraints: c, start: time.Now(), changed: make(chan struct{})}
	cfg, err := b.fetchConfig(ctx)
	if err != nil {
		return nil, err
	}
	if b.room, err = jid.New(strings.ToLower(roomName), cfg.Hosts.MUC, ""); err != nil {
		return nil, fmt.Errorf("bot: room name %q: %w", roomName, err)
	}
	wsURL := cfg.WebSocket
	if wsURL == "" {
		wsURL = "wss://" + u.Host + "/xmpp-websocket"
	}
	b.cfg, b.wsURL = cfg, wsURL
	b.ctx, b.cancel = context.WithCancel(context.Background())
	xc, err := b.dial(ctx)
	if err != nil {
		b.cancel()
		return nil, err
	}
	b.conn.Store(xc)
	self, _ := jid.Parse(xc.JID())
	b.nick = endpointID(self.Local)
	b.focus = b.room.WithResource("focus")
	if o.E2EE || o.Passphrase != "" || o.PassphraseKey != nil {
		if b.keys, err = newKeyring(b, o); err != nil {
			b.Close()
			return nil, err
		}
		b.in.open = b.keys.open
	}
	if err := b.enter(ctx, xc); err != nil {
		b.Close()
		return nil, err
	}
	b.wg.Add(1)
	go b.supervise()
	return b, nil
}

// x is the current XMPP connection.
func (b *Bot) x() *client.Client { return b.conn.Load() }

func (b *Bot) dial(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, client.Options{URL: b.wsURL, Domain: b.cfg.Hosts.Domain, Insecure: b.o.Insecure, Handler: b.onStanza})
}

// askFocus sends the conference request (§3) and wants ready="true".
func (b *Bot) askFocus(ctx context.Context, c *client.Client) error {
	conf := stanza.New(nsFocus, "conference", "room", b.room.String(), "machine-uid", b.nick)
	conf.Add(stanza.New(nsFocus, "property", "name", "rtcstatsEnabled", "value", "false"))
	if b.keys != nil {
		conf.Add(stanza.New(nsFocus, "property", "name", "e2ee", "value", "true"))
	}
	r, err := c.IQ(ctx, stanza.NewIQ("set", "", "", b.cfg.Hosts.Focus, conf))
	if err != nil {
		return fmt.Errorf("bot: conference request: %w", err)
	}
	if cf := r.Child(nsFocus, "conference"); cf == nil || cf.Get("ready") != "true" {
		return fmt.Errorf("bot: the focus is not ready: %s", r)
	}
	return nil
}

// enter asks the focus for the conference and joins the room as b.nick.
func (b *Bot) enter(ctx context.Context, c *client.Client) error {
	if err := b.askFocus(ctx, c); err != nil {
		return err
	}
	pres := stanza.New(stanza.NSClient, stanza.Presence, "to", b.room.WithResource(b.nick).String())
	pres.Add(stanza.New(nsMUC, "x"))
	if b.o.Name != "" {
		pres.Add(stanza.New(nsNick, "nick").SetText(b.o.Name))
	}
	pres.Add(stanza.New(stanza.NSClient, "jitsi_participant_codecList").SetText("vp8"))
	if b.region != "" {
		pres.Add(stanza.New(stanza.NSClient, "jitsi_participant_region").SetText(b.region))
	}
	pres.Add(stanza.New(stanza.NSClient, "SourceInfo").SetText(sourceInfo(b.nick)))
	if b.keys != nil {
		pres.Add(b.keys.presenceKey())
	}
	return c.Send(pres)
}

// restartDelay is the wait before attempt n (0-based) of a run of
// reconnections or session restarts: 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s,
// each up to a fifth longer at random (the web client's schedule,
// web/src/session.ts). Five restarts take over 30 s: under the focus's five
// a minute.
func restartDelay(n int) time.Duration {
	base := min(time.Second<<min(max(n, 0), 10), 30*time.Second)
	return base + time.Duration(mathrand.Int64N(int64(base)/5+1))
}

// stableAfter is how long a session must stay connected before the restart count starts over.
const stableAfter = 10 * time.Second

// pause waits d; false when the bot is closed meanwhile.
func (b *Bot) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}

// supervise dials again when the XMPP connection ends (a restarted
// server), with back-off, then asks the focus and joins again as the same
// endpoint; the focus offers a new session.
func (b *Bot) supervise() {
	defer b.wg.Done()
	for {
		c := b.x()
		select {
		case <-b.ctx.Done():
			return
		case <-c.Done():
		}
		b.log.Info("bot: XMPP connection lost; reconnecting", "endpoint", b.nick, "err", c.Err())
		b.endSession()
		for n := 0; ; n++ {
			if !b.pause(restartDelay(n)) {
				return
			}
			if err := b.reconnect(); err != nil {
				b.log.Info("bot: reconnecting failed", "endpoint", b.nick, "attempt", n+1, "err", err)
				continue
			}
			b.log.Info("bot: reconnected", "endpoint", b.nick)
			break
		}
	}
}

func (b *Bot) reconnect() error {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	c, err := b.dial(ctx)
	if err != nil {
		return err
	}
	b.conn.Store(c) // before enter: the focus's disco#info and Jingle arrive on it
	if b.ctx.Err() != nil {
		c.Close() // Close ran meanwhile
		return b.ctx.Err()
	}
	if err := b.enter(ctx, c); err != nil {
		c.Close()
		return err
	}
	return nil
}

// sourceInfo is the <SourceInfo> text of the bot's presence (jitsi-dialect.md §4.1): its sources by the
// names it gives them in Jingle (§5.5), the audio and the camera, never muted; a camera has no videoType.
// Without it other clients draw the bot as muted although it sends both.
func sourceInfo(endpoint string) string {
	type source struct {
		Muted bool `json:"muted"`
	}
	text, _ := json.Marshal(map[string]source{endpoint + "-a0": {}, endpoint + "-v0": {}})
	return string(text)
}

// endpointID derives the endpoint id from the login's local part the way
// Jitsi's client does (jitsi-dialect.md §2.2): its first 8 characters when
// they are hex, else random.
func endpointID(local string) string {
	if len(local) >= 8 {
		p := strings.ToLower(local[:8])
		if strings.Trim(p, "0123456789abcdef") == "" {
			return p
		}
	}
	return randomHex(4)
}

func (b *Bot) fetchConfig(ctx context.Context) (*clientConfig, error) {
	hc := http.DefaultClient
	if b.o.Insecure {
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.origin+"/config.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bot: config.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bot: config.json: %s", resp.Status)
	}
	var cfg clientConfig
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("bot: config.json: %w", err)
	}
	if cfg.Hosts.Domain == "" || cfg.Hosts.MUC == "" || cfg.Hosts.Focus == "" {
		return nil, errors.New("bot: config.json lacks hosts")
	}
	return &cfg, nil
}

// EndpointID is the bot's endpoint id (its nick in the room).
func (b *Bot) EndpointID() string { return b.nick }

// Received returns what arrived, by remote endpoint id.
func (b *Bot) Received() map[string]Remote {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.in.remotes()
}

// Sent returns what the bot sent of its camera.
func (b *Bot) Sent() Sent { return b.cam.stats() }

// Report returns what the bot received and sent, and when.
func (b *Bot) Report() Report {
	var e2eeReport *E2EEReport
	if b.keys != nil {
		e := b.keys.stats() // before mu: the keyring's lock is never taken under it
		e2eeReport = &e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	end := b.end
	if end.IsZero() {
		end = time.Now()
	}
	return Report{Endpoint: b.nick, Start: b.start, End: end, Received: b.in.remotes(), Sent: b.cam.stats(),
		Forwarded: append([]string{}, b.forwarded...), E2EE: e2eeReport}
}

// E2EE returns the bot's end-to-end encryption state; the zero report
// without Options.E2EE.
func (b *Bot) E2EE() E2EEReport {
	if b.keys == nil {
		return E2EEReport{}
	}
	return b.keys.stats()
}

// changedE2EE wakes Wait on a change of the encryption state.
func (b *Bot) changedE2EE() {
	b.mu.Lock()
	b.notifyLocked()
	b.mu.Unlock()
}

// requestKeyFrame makes the camera send a key frame next (after a switch
// to a new epoch's keys, so receivers decode at once).
func (b *Bot) requestKeyFrame() {
	b.mu.Lock()
	m := b.media
	b.mu.Unlock()
	if m != nil {
		select {
		case m.plis <- struct{}{}:
		default:
		}
	}
}

// outgoing is what the bot sends of one frame: video with Canary after
// its clear prefix, encrypted when the bot encrypts; false when it must
// not be sent (no key yet).
func (b *Bot) outgoing(ctx e2ee.Context, frame []byte) ([]byte, bool) {
	if ctx != e2ee.ContextAudio && b.o.Canary {
		frame = withCanary(frame)
	}
	if b.keys == nil {
		return frame, true
	}
	return b.keys.seal(ctx, frame)
}

// Forwarded returns the video sources the bridge last said it forwards to the bot.
func (b *Bot) Forwarded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.forwarded...)
}

// DominantSpeaker returns the endpoint id the bridge last named as the dominant speaker, or "".
func (b *Bot) DominantSpeaker() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dominant
}

// Wait blocks until cond holds for what was received, the bot fails, or
// ctx ends.
func (b *Bot) Wait(ctx context.Context, cond func(map[string]Remote) bool) error {
	for {
		b.mu.Lock()
		ch, err := b.changed, b.err
		b.mu.Unlock()
		if cond(b.Received()) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-b.ctx.Done():
			return fmt.Errorf("bot %s: closed", b.nick)
		case <-ctx.Done():
			return fmt.Errorf("bot %s: %w (received %v)", b.nick, ctx.Err(), b.Received())
		}
	}
}

// notifyLocked wakes Wait.
func (b *Bot) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Bot) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
		b.notifyLocked()
	}
	b.mu.Unlock()
	b.log.Warn("bot failed", "endpoint", b.nick, "err", err)
}

// ended notes when the bot left.
func (b *Bot) ended() {
	b.mu.Lock()
	if b.end.IsZero() {
		b.end = time.Now()
	}
	b.mu.Unlock()
}

// Close leaves the room and the server.
func (b *Bot) Close() error {
	b.ended()
	b.cancel()
	if b.keys != nil {
		b.keys.stop()
	}
	b.endSession()
	if c := b.x(); c != nil {
		c.Send(stanza.New(stanza.NSClient, stanza.Presence, "to", b.room.WithResource(b.nick).String(), "type", "unavailable"))
		c.Close()
	}
	b.wg.Wait()
	return nil
}

// Vanish drops the connection without leaving, as a crashed client would.
func (b *Bot) Vanish() {
	b.ended()
	b.cancel()
	if b.keys != nil {
		b.keys.stop()
	}
	b.endSession()
	b.x().Drop()
	b.wg.Wait()
}

// Namespaces the bot speaks.
const (
	nsFocus  = "http://jitsi.org/protocol/focus"
	nsMUC    = "http://jabber.org/protocol/muc"
	nsNick   = "http://jabber.org/protocol/nick"
	nsJingle = "urn:xmpp:jingle:1"
)

// featureRED asks the focus to offer RED for audio.
const featureRED = "http://jitsi.org/opus-red"

// features the bot announces in disco#info (jitsi-dialect.md §5.1).
var features = []string{
	"urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
	"urn:xmpp:jingle:apps:rtp:video", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0",
	"urn:ietf:rfc:4588", "urn:ietf:rfc:5761", "urn:ietf:rfc:5888", "http://jitsi.org/source-name", "http://jitsi.org/tcc",
	featureRED,
	"http://jitsi.org/ssrc-rewriting-1", "http://jitsi.org/receive-multiple-video-streams",
}

// onStanza runs on the XMPP reader goroutine.
func (b *Bot) onStanza(el *stanza.Element) {
	if el.Name.Local == stanza.Message && e2eexml.IsUnsupported(el) && el.Get("from") == b.focus.String() {
		b.fail(ErrE2EEUnsupported)
		return
	}
	if b.keys != nil && (el.Name.Local == stanza.Presence || el.Name.Local == stanza.Message) {
		b.keys.onStanza(el)
		return
	}
	if el.Name.Local != stanza.IQ || (el.Get("type") != "get" && el.Get("type") != "set") {
		return
	}
	from, _ := jid.Parse(el.Get("from"))
	switch {
	case el.Child(stanza.NSDiscoInf, "query") != nil:
		q := stanza.New(stanza.NSDiscoInf, "query")
		q.Add(stanza.New(stanza.NSDiscoInf, "identity", "category", "client", "type", "bot", "name", "parley bot"))
		for _, f := range features {
			if f == featureRED && b.keys != nil {
				continue // no RED with end-to-end encryption: each Opus frame is a whole SFrame
			}
			q.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
		}
		b.x().Send(stanza.Result(el, q))
	case el.Child(nsJingle, "jingle") != nil:
		if from != b.focus {
			e := stanza.ErrNotAllowed.WithText("Jingle is taken from the focus only")
			b.x().Send(stanza.ErrorReply(el, e))
			return
		}
		// Acknowledge at once, as Jitsi's client does, then work off the
		// reader goroutine.
		b.x().Send(stanza.Result(el, nil))
		j := el.Child(nsJingle, "jingle")
		gen := b.noteJingle(j.Get("action"), j.Get("sid"))
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.onJingle(j, gen)
		}()
	default:
		b.x().Send(stanza.ErrorReply(el, stanza.ErrServiceUnavailable))
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func httpClient(insecure bool) *http.Client {
	if !insecure {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// trace logs a step of the session at debug level (`parley bot -v`).
func (b *Bot) trace(ev string) { b.log.Debug("bot", "endpoint", b.nick, "event", ev) }

// noteJingle counts a Jingle request from the focus in the order it arrived, on the reader
// goroutine, and returns the count it leaves (see jingleGen).
func (b *Bot) noteJingle(action, sid string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case action == "session-initiate":
		b.jingleGen++
		b.jingleSID = sid
	case action == "session-terminate" && sid == b.jingleSID:
		b.jingleGen++
	}
	return b.jingleGen
}

// endSession closes the current Jingle session's media, if any, and drops a session being set up.
func (b *Bot) endSession() {
	b.mu.Lock()
	b.jingleGen++
	m := b.media
	b.media = nil
	b.mu.Unlock()
	if m != nil {
		m.close()
	}
}

// replaceSession closes the current Jingle session's media for the offer gen, unless a later
// session-initiate or session-terminate than gen's arrived; it reports whether gen is still the
// latest.
func (b *Bot) replaceSession(gen int) bool {
	b.mu.Lock()
	if b.jingleGen != gen {
		b.mu.Unlock()
		return false
	}
	m := b.media
	b.media = nil
	b.mu.Unlock()
	if m != nil {
		m.close()
	}
	return true
}

// endSessionOf closes the media of session sid if it is the current one: a session-terminate from
// the focus (it moves the bot to another bridge, or the conference ends) ends nothing newer.
func (b *Bot) endSessionOf(sid string) {
	b.mu.Lock()
	m := b.media
	if m == nil || m.sid != sid {
		b.mu.Unlock()
		return
	}
	b.media = nil
	b.mu.Unlock()
	m.close()
}
