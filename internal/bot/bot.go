// Package bot is a Go participant that joins a Parley (or Jitsi-dialect)
// conference over the real path, as a browser would: it reads
// /config.json, logs in over XMPP WebSocket, asks the focus for the
// conference, joins the room (announcing its audio and camera unmuted in
// <SourceInfo>), answers the focus's Jingle offer with a Pion
// PeerConnection, opens the bridge channel, sends Opus and three-layer VP8
// simulcast from internal/testmedia (the audio with a speech-like audio
// level, level.go), counts what it receives from each remote participant
// through the bridge's sources maps, and notes the dominant speaker.
//
//	config.json → XMPP login → <conference/> → MUC join → disco#info (answer)
//	→ session-initiate → SDP offer → Pion answer → session-accept
//	→ ICE/DTLS to the bridge → media; bridge channel: ServerHello, sources maps
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
	"net/http"
	"net/url"
	"strings"
	"sync"

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
	Log      *slog.Logger
}

// Remote is what a bot received from one remote participant.
type Remote struct {
	AudioPackets int `json:"audioPackets"`
	VideoFrames  int `json:"videoFrames"`
}

// Bot is one participant.
type Bot struct {
	o      Options
	log    *slog.Logger
	xmpp   *client.Client
	room   jid.JID // bare room JID
	nick   string  // endpoint id
	focus  jid.JID // room/focus
	origin string  // https://HOST:PORT

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	media    *session          // guarded by mu: the current Jingle session's media
	owners   map[uint32]string // guarded by mu: slot SSRC → remote endpoint (sources maps)
	received map[string]*Remote
	dominant string        // guarded by mu: the dominant speaker the bridge last announced
	changed  chan struct{} // closed and replaced on every change of received/owners/dominant
	err      error
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
	b := &Bot{o: o, log: log, origin: u.Scheme + "://" + u.Host, owners: map[uint32]string{},
		received: map[string]*Remote{}, changed: make(chan struct{})}
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
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.xmpp, err = client.Dial(ctx, client.Options{URL: wsURL, Domain: cfg.Hosts.Domain, Insecure: o.Insecure, Handler: b.onStanza})
	if err != nil {
		b.cancel()
		return nil, err
	}
	self, _ := jid.Parse(b.xmpp.JID())
	b.nick = endpointID(self.Local)
	b.focus = b.room.WithResource("focus")

	conf := stanza.New(nsFocus, "conference", "room", b.room.String(), "machine-uid", b.nick)
	conf.Add(stanza.New(nsFocus, "property", "name", "rtcstatsEnabled", "value", "false"))
	r, err := b.xmpp.IQ(ctx, stanza.NewIQ("set", "", "", cfg.Hosts.Focus, conf))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bot: conference request: %w", err)
	}
	if c := r.Child(nsFocus, "conference"); c == nil || c.Get("ready") != "true" {
		b.Close()
		return nil, fmt.Errorf("bot: the focus is not ready: %s", r)
	}
	pres := stanza.New(stanza.NSClient, stanza.Presence, "to", b.room.WithResource(b.nick).String())
	pres.Add(stanza.New(nsMUC, "x"))
	if o.Name != "" {
		pres.Add(stanza.New(nsNick, "nick").SetText(o.Name))
	}
	pres.Add(stanza.New(stanza.NSClient, "jitsi_participant_codecList").SetText("vp8"))
	pres.Add(stanza.New(stanza.NSClient, "SourceInfo").SetText(sourceInfo(b.nick)))
	if err := b.xmpp.Send(pres); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
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

// Received returns a copy of what arrived, by remote endpoint id.
func (b *Bot) Received() map[string]Remote {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]Remote, len(b.received))
	for k, v := range b.received {
		out[k] = *v
	}
	return out
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
		case <-b.xmpp.Done():
			return fmt.Errorf("bot %s: XMPP connection ended: %v", b.nick, b.xmpp.Err())
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

// Close leaves the room and the server.
func (b *Bot) Close() error {
	b.cancel()
	b.endSession()
	if b.xmpp != nil {
		b.xmpp.Send(stanza.New(stanza.NSClient, stanza.Presence, "to", b.room.WithResource(b.nick).String(), "type", "unavailable"))
		b.xmpp.Close()
	}
	b.wg.Wait()
	return nil
}

// Vanish drops the connection without leaving, as a crashed client would.
func (b *Bot) Vanish() {
	b.cancel()
	b.endSession()
	b.xmpp.Drop()
	b.wg.Wait()
}

// Namespaces the bot speaks.
const (
	nsFocus  = "http://jitsi.org/protocol/focus"
	nsMUC    = "http://jabber.org/protocol/muc"
	nsNick   = "http://jabber.org/protocol/nick"
	nsJingle = "urn:xmpp:jingle:1"
)

// features the bot announces in disco#info (jitsi-dialect.md §5.1).
var features = []string{
	"urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
	"urn:xmpp:jingle:apps:rtp:video", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0",
	"urn:ietf:rfc:4588", "urn:ietf:rfc:5761", "urn:ietf:rfc:5888", "http://jitsi.org/source-name",
	"http://jitsi.org/ssrc-rewriting-1", "http://jitsi.org/receive-multiple-video-streams",
}

// onStanza runs on the XMPP reader goroutine.
func (b *Bot) onStanza(el *stanza.Element) {
	if el.Name.Local != stanza.IQ || (el.Get("type") != "get" && el.Get("type") != "set") {
		return
	}
	from, _ := jid.Parse(el.Get("from"))
	switch {
	case el.Child(stanza.NSDiscoInf, "query") != nil:
		q := stanza.New(stanza.NSDiscoInf, "query")
		q.Add(stanza.New(stanza.NSDiscoInf, "identity", "category", "client", "type", "bot", "name", "parley bot"))
		for _, f := range features {
			q.Add(stanza.New(stanza.NSDiscoInf, "feature", "var", f))
		}
		b.xmpp.Send(stanza.Result(el, q))
	case el.Child(nsJingle, "jingle") != nil:
		if from != b.focus {
			e := stanza.ErrNotAllowed.WithText("Jingle is taken from the focus only")
			b.xmpp.Send(stanza.ErrorReply(el, e))
			return
		}
		// Acknowledge at once, as Jitsi's client does, then work off the
		// reader goroutine.
		b.xmpp.Send(stanza.Result(el, nil))
		j := el.Child(nsJingle, "jingle")
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.onJingle(j)
		}()
	default:
		b.xmpp.Send(stanza.ErrorReply(el, stanza.ErrServiceUnavailable))
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

// endSession closes the current Jingle session's media, if any.
func (b *Bot) endSession() {
	b.mu.Lock()
	m := b.media
	b.media = nil
	b.mu.Unlock()
	if m != nil {
		m.close()
	}
}
