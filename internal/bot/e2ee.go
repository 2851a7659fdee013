package bot

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-im/parley/internal/e2ee"
	"github.com/parley-im/parley/internal/e2ee/e2eexml"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// End-to-end encryption (docs/e2ee.md). With Options.E2EE the bot puts its
// X25519 key in its presence and asks the focus for an encrypted room; it
// follows the focus's presence to know the key leader. As a member it takes
// the leader's roster (groupchat) and sealed key (private message) and
// turns them into epoch keys (e2ee.Member); as the leader it makes the
// epochs itself (e2ee.Leader): a ratchet when someone joins, a fresh secret
// leaveRekey after someone leaves, every rotateEvery, and when it takes
// over. It decrypts with a new epoch at once and sends with it switchAfter
// later; it encrypts every frame it sends (none go out before it has a
// key) and drops every frame that does not decrypt.
//
//	focus presence <e2ee enabled leader/> → leader? rekey : wait
//	leader: <e2ee-roster/> to the room, <e2ee-key/> to each member that needs one
//	member: roster + key → Receiver now, Sender in 2 s (a key frame with the first epoch only)

// Timing of the key schedule (docs/e2ee.md).
const (
	// joinRekey batches joins that come together into one ratchet.
	joinRekey = 200 * time.Millisecond
	// leaveRekey is how soon after a leave the leader sends a fresh secret:
	// under the contract's 1 s, so that with switchAfter a leaver's keys
	// are useless for what is sent 3 s after it left.
	leaveRekey = 750 * time.Millisecond
	// rotateEvery is the leader's periodic fresh secret.
	rotateEvery = 10 * time.Minute
	// switchAfter is how long after learning an epoch a member starts
	// sending with it.
	switchAfter = 2 * time.Second
	// resendAfter is when the leader sends again a message the room
	// refused for its rate limit (the MUC lets an occupant send a few
	// messages a second: a fresh epoch for N members is N messages);
	// keepSent is how long it remembers what it sent for that.
	resendAfter = time.Second
	keepSent    = 30 * time.Second
	// keepEarly is how long a member keeps the e2ee messages of an
	// occupant the focus has not named leader (yet): a new leader's first
	// epoch may reach it before the focus's presence that names the new
	// leader does. maxEarly bounds them per occupant.
	keepEarly = 5 * time.Second
	maxEarly  = 32
)

// ErrE2EEUnsupported: the room is end-to-end encrypted and this bot does
// not take part (no Options.E2EE); the focus offers it no session.
var ErrE2EEUnsupported = errors.New("bot: the meeting is end-to-end encrypted and this bot was not asked to encrypt")

// Canary is the 32-byte marker every video frame the bot sends carries
// right after its clear prefix, so a tap on the bridge finds it in the
// clear when encryption is off and never when it is on.
const Canary = "PARLEY-PLAINTEXT-CANARY-7c1f09e2"

// withCanary returns frame with Canary inserted after its VP8 clear prefix.
func withCanary(frame []byte) []byte {
	p := min(e2ee.ClearPrefixLen(e2ee.CodecVP8, frame), len(frame))
	out := make([]byte, 0, len(frame)+len(Canary))
	out = append(out, frame[:p]...)
	out = append(out, Canary...)
	return append(out, frame[p:]...)
}

// E2EEReport is the bot's end-to-end encryption state, in its report.
type E2EEReport struct {
	Enabled   bool   `json:"enabled"`    // the focus says the room is encrypted
	Leader    string `json:"leader"`     // the key leader the focus names
	Epoch     uint32 `json:"epoch"`      // the latest epoch learnt (receiving)
	SendEpoch uint32 `json:"send_epoch"` // the epoch the bot sends with
	Epochs    int    `json:"epochs"`     // epochs learnt
	EpochsLed int    `json:"epochs_led"` // epochs the bot made as leader
	// SecurityCode is the latest epoch's code (six groups of five digits).
	SecurityCode string `json:"security_code"`
	// Decrypted counts the received frames that decrypted; Failed the ones
	// dropped, by reason. KeyMismatch is set when every frame failed to
	// authenticate for 5 s (another passphrase).
	Decrypted   uint64     `json:"decrypted"`
	Failed      e2ee.Drops `json:"failed"`
	KeyMismatch bool       `json:"key_mismatch"`
	// RosterAlarms counts rosters or sealed keys that did not match this
	// bot's own key (a substituted key).
	RosterAlarms int `json:"roster_alarms"`
	// FramesUnsent counts frames not sent for want of a key.
	FramesUnsent int `json:"frames_unsent"`
	// Timeline is when each epoch learnt came and was put to use, oldest
	// first (the latest maxTimeline); Room is the joins and leaves of other
	// occupants this bot saw, oldest first (the latest maxTimeline). A
	// load test measures re-keying with them: from a leave to the last
	// member holding the next epoch.
	Timeline []EpochTiming `json:"timeline,omitempty"`
	Room     []RoomEvent   `json:"room,omitempty"`
}

// EpochTiming is when the bot learnt one epoch and used it.
type EpochTiming struct {
	Epoch   uint32 `json:"epoch"`
	Ratchet bool   `json:"ratchet"`       // derived from the epoch before, not a fresh secret
	Members int    `json:"members"`       // in its roster
	Led     bool   `json:"led,omitempty"` // the bot made it, as the key leader
	// Roster is when its roster came from the leader (the leader: when it
	// made the epoch); Key when its sealed key did (zero when the bot
	// ratcheted to it without one, or learnt it through a later ratchet).
	Roster time.Time `json:"roster,omitzero"`
	Key    time.Time `json:"key,omitzero"`
	// Installed is when the bot could decrypt with it; Sending when it
	// began to encrypt with it (zero: not yet, or never, a later epoch
	// having come first).
	Installed time.Time `json:"installed"`
	Sending   time.Time `json:"sending,omitzero"`
}

// RoomEvent is another occupant's join (its first presence) or leave (its
// unavailable presence, or a dropped key) as this bot saw it.
type RoomEvent struct {
	Nick string    `json:"nick"`
	Left bool      `json:"left,omitempty"`
	At   time.Time `json:"at"`
}

// maxTimeline bounds Timeline and Room.
const maxTimeline = 1024

// appendBounded appends v to s, dropping the oldest past maxTimeline.
func appendBounded[T any](s []T, v T) []T {
	if len(s) >= maxTimeline {
		s = append(s[:0], s[len(s)-maxTimeline+1:]...)
	}
	return append(s, v)
}

// arrival is when a roster or sealed key of an epoch not learnt yet came.
type arrival struct {
	ratchet     bool
	roster, key time.Time
}

// maxArrivals bounds the arrivals kept of epochs not learnt.
const maxArrivals = 64

// keyring is the bot's end-to-end encryption: its keys, the room's state
// and, while it leads, the leader's.
type keyring struct {
	b       *Bot
	self    string // the bot's nick
	room    jid.JID
	keys    *e2ee.KeyPair
	sender  *e2ee.Sender
	recv    *e2ee.Receiver
	passKey []byte
	period  time.Duration // the leader's periodic fresh secret: rotateEvery, shorter in tests

	mu        sync.Mutex
	member    *e2ee.Member          // guarded by mu
	state     e2eexml.State         // guarded by mu: the focus's last word
	occupants map[string][]byte     // guarded by mu: nick → key (nil: cannot encrypt), the bot included
	leader    *e2ee.Leader          // guarded by mu: set while the bot leads
	rekeyAt   time.Time             // guarded by mu: when the pending rekey runs; zero: none
	rekey     *time.Timer           // guarded by mu
	rotate    *time.Ticker          // guarded by mu: while leading
	report    E2EEReport            // guarded by mu
	learnt    []*e2ee.EpochState    // guarded by mu: epochs learnt, oldest first (tests)
	unsent    int                   // guarded by mu
	switches  map[uint32]struct{}   // guarded by mu: epochs with a pending send switch
	sent      map[string]sentMsg    // guarded by mu: the leader's messages by id, kept keepSent
	early     map[string][]earlyMsg // guarded by mu: e2ee messages of occupants not named leader, by nick
	arrivals  map[uint32]arrival    // guarded by mu: of epochs not learnt yet, by number
	changed   chan struct{}         // guarded by mu: closed and replaced on every change of report
}

// changedLocked wakes E2EEChanged's and Wait's callers.
func (k *keyring) changedLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
	k.b.changedE2EE()
}

// E2EEChanged returns a channel closed at the next change of the bot's
// end-to-end encryption state (E2EE: the leader, an epoch learnt or used,
// a join or leave seen), nil without Options.E2EE. Unlike Wait, it does not
// wake for media.
func (b *Bot) E2EEChanged() <-chan struct{} {
	if b.keys == nil {
		return nil
	}
	b.keys.mu.Lock()
	defer b.keys.mu.Unlock()
	return b.keys.changed
}

// earlyMsg is an e2ee message from an occupant the focus had not named
// leader when it came, kept keepEarly in case the focus names it next.
type earlyMsg struct {
	el *stanza.Element
	at time.Time
}

// sentMsg is a message of the leader's, kept to send it again if the room
// refuses it for its rate.
type sentMsg struct {
	el    *stanza.Element
	epoch uint32
	at    time.Time
}

// newKeyring makes the bot's session key pair and, with a passphrase, the
// meeting's passphrase key (once: it costs PBKDF2's 600000 rounds).
func newKeyring(b *Bot, o Options) (*keyring, error) {
	kp, err := e2ee.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	pk := o.PassphraseKey
	if pk == nil && o.Passphrase != "" {
		if pk, err = e2ee.PassphraseKey(o.Passphrase, b.room.String()); err != nil {
			return nil, err
		}
	}
	period := rotateEvery
	if o.rotateEvery > 0 {
		period = o.rotateEvery
	}
	k := &keyring{b: b, self: b.nick, room: b.room, keys: kp, sender: e2ee.NewSender(), recv: e2ee.NewReceiver(nil),
		passKey: pk, period: period, occupants: map[string][]byte{}, switches: map[uint32]struct{}{}, sent: map[string]sentMsg{},
		early: map[string][]earlyMsg{}, arrivals: map[uint32]arrival{}, changed: make(chan struct{})}
	k.member = e2ee.NewMember(kp, b.room.String(), b.nick, pk)
	k.occupants[b.nick] = kp.Public()
	return k, nil
}

// PassphraseKey returns the passphrase key the bot derived (nil without a
// passphrase), for Options.PassphraseKey of other bots in the same room.
func (b *Bot) PassphraseKey() []byte {
	if b.keys == nil {
		return nil
	}
	return append([]byte(nil), b.keys.passKey...)
}

// presenceKey is the bot's key element for its presence.
func (k *keyring) presenceKey() *stanza.Element { return e2eexml.Key(k.keys.Public()) }

// seal encrypts one frame to send; false when there is no key yet (the
// frame must not go out).
func (k *keyring) seal(ctx e2ee.Context, frame []byte) ([]byte, bool) {
	out, err := k.sender.Encrypt(ctx, frame)
	if err != nil {
		k.mu.Lock()
		k.unsent++
		k.mu.Unlock()
		return nil, false
	}
	return out, true
}

// open decrypts one received frame in place of the decoder's input; false
// when it must be dropped.
func (k *keyring) open(codec e2ee.Codec, data []byte) bool {
	_, err := k.recv.Decrypt(codec, data)
	return err == nil
}

// onStanza takes the room's presences and the leader's messages.
func (k *keyring) onStanza(el *stanza.Element) {
	if el.Name.Local == stanza.Message && stanza.Type(el) == "error" {
		k.onRefused(el)
		return
	}
	from, err := jid.Parse(el.Get("from"))
	if err != nil || from.Bare() != k.room || from.Resource == "" {
		return
	}
	switch el.Name.Local {
	case stanza.Presence:
		k.onPresence(el, from.Resource)
	case stanza.Message:
		k.onMessage(el, from.Resource)
	}
}

func (k *keyring) onPresence(p *stanza.Element, nick string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if nick == "focus" {
		if st, ok := e2eexml.ParseState(p); ok {
			k.onStateLocked(st)
		}
		return
	}
	if nick == k.self {
		return
	}
	_, had := k.occupants[nick]
	if p.Get("type") == "unavailable" {
		delete(k.early, nick)
		if had {
			delete(k.occupants, nick)
			k.report.Room = appendBounded(k.report.Room, RoomEvent{Nick: nick, Left: true, At: time.Now()})
			k.scheduleLocked(leaveRekey)
			k.changedLocked()
		}
		return
	}
	if p.Get("type") != "" {
		return
	}
	pub, _ := e2eexml.ParseKey(p)
	old := k.occupants[nick]
	k.occupants[nick] = pub
	switch {
	case had && string(old) == string(pub):
	case had && old != nil:
		k.report.Room = appendBounded(k.report.Room, RoomEvent{Nick: nick, Left: true, At: time.Now()})
		k.scheduleLocked(leaveRekey) // a changed or dropped key is a leave
		k.changedLocked()
	default:
		if !had {
			k.report.Room = appendBounded(k.report.Room, RoomEvent{Nick: nick, At: time.Now()})
			k.changedLocked()
		}
		k.scheduleLocked(joinRekey)
	}
}

// onStateLocked follows the focus: taking over as leader makes a fresh
// epoch; losing the lead stops the leader's timers; another leader's
// messages that came before the focus named it are taken now, and
// half-received epochs of the previous one are forgotten.
func (k *keyring) onStateLocked(st e2eexml.State) {
	if st.Leader != k.state.Leader {
		k.member.DropPending()
	}
	k.state = st
	k.report.Enabled, k.report.Leader = st.Enabled, st.Leader
	lead := st.Enabled && st.Leader == k.self
	switch {
	case lead && k.leader == nil:
		k.leader = e2ee.NewLeader(k.room.String(), k.self, k.member.Seen())
		k.rotate = time.NewTicker(k.period)
		go k.rotateLoop(k.rotate)
		k.rekeyLocked(true)
	case !lead && k.leader != nil:
		k.leader = nil
		k.rotate.Stop()
		if k.rekey != nil {
			k.rekey.Stop()
			k.rekeyAt = time.Time{}
		}
	}
	k.takeEarlyLocked(st.Leader)
	k.changedLocked()
}

func (k *keyring) rotateLoop(t *time.Ticker) {
	for {
		select {
		case <-k.b.ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		if k.rotate != t {
			k.mu.Unlock()
			return
		}
		k.rekeyLocked(true)
		k.mu.Unlock()
	}
}

// scheduleLocked makes the leader rekey within d (joins and leaves that
// come together make one epoch).
func (k *keyring) scheduleLocked(d time.Duration) {
	if k.leader == nil {
		return
	}
	at := time.Now().Add(d)
	if !k.rekeyAt.IsZero() && !k.rekeyAt.After(at) {
		return
	}
	if k.rekey != nil {
		k.rekey.Stop()
	}
	k.rekeyAt = at
	k.rekey = time.AfterFunc(d, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.rekeyAt = time.Time{}
		k.rekeyLocked(false)
	})
}

// rekeyLocked makes the next epoch for the occupants that can encrypt and
// sends it: the roster to the room, each sealed key to its member.
func (k *keyring) rekeyLocked(fresh bool) {
	if k.leader == nil || k.b.ctx.Err() != nil {
		return
	}
	var members []e2ee.Candidate
	for nick, pub := range k.occupants {
		if pub != nil {
			members = append(members, e2ee.Candidate{Nick: nick, Pub: pub})
		}
	}
	ep, err := k.leader.Next(members, fresh)
	if err != nil {
		k.b.log.Warn("bot: e2ee epoch", "endpoint", k.self, "err", err)
		return
	}
	if ep == nil {
		return
	}
	now := time.Now()
	for id, m := range k.sent {
		if now.Sub(m.at) > keepSent {
			delete(k.sent, id)
		}
	}
	msg := stanza.New(stanza.NSClient, stanza.Message, "type", "groupchat", "to", k.room.String(), "id", randomHex(6))
	msg.Add(e2eexml.RosterElement(e2eexml.Roster{Epoch: ep.Number, Ratchet: ep.Ratchet, Members: ep.Roster}))
	k.sendLocked(msg, ep.Number)
	for _, sk := range ep.Keys {
		m := stanza.New(stanza.NSClient, stanza.Message, "type", "chat", "to", k.room.WithResource(sk.Nick).String(), "id", randomHex(6))
		m.Add(e2eexml.SealedKeyElement(e2eexml.SealedKey{Epoch: ep.Number, Enc: sk.Enc, CT: sk.CT}))
		k.sendLocked(m, ep.Number)
	}
	k.report.EpochsLed++
	k.b.trace(fmt.Sprintf("e2ee epoch %d (ratchet %v, %d members)", ep.Number, ep.Ratchet, len(ep.Roster)))
	k.arrivedLocked(ep.Number, ep.Ratchet, true)
	st, err := k.member.Learn(ep)
	k.learntLocked(st, err)
	if n := len(k.report.Timeline); st != nil && n > 0 && k.report.Timeline[n-1].Epoch == ep.Number {
		k.report.Timeline[n-1].Led = true
	}
}

// arrivedLocked notes when a roster (or, with roster false, a sealed key)
// of epoch came, for Timeline.
func (k *keyring) arrivedLocked(epoch uint32, ratchet, roster bool) {
	if epoch <= k.member.Epoch() {
		return
	}
	a, ok := k.arrivals[epoch]
	if !ok && len(k.arrivals) >= maxArrivals {
		return
	}
	now := time.Now()
	switch {
	case roster && a.roster.IsZero():
		a.roster, a.ratchet = now, ratchet
	case !roster && a.key.IsZero():
		a.key = now
	}
	k.arrivals[epoch] = a
}

// sendLocked sends one of the leader's messages and keeps it a while.
func (k *keyring) sendLocked(m *stanza.Element, epoch uint32) {
	k.sent[m.Get("id")] = sentMsg{el: m, epoch: epoch, at: time.Now()}
	k.b.x().Send(m)
}

// onRefused sends again, resendAfter later, a message the room refused for
// its rate limit, while the bot leads (a roster of an epoch already
// replaced still matters: members ratchet through it); other refusals are
// logged.
func (k *keyring) onRefused(m *stanza.Element) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.sent[m.Get("id")]
	e := stanza.ErrorOf(m)
	if !ok || e == nil {
		return
	}
	if e.Type != stanza.Wait || k.leader == nil {
		k.b.log.Warn("bot: e2ee message refused", "endpoint", k.self, "epoch", s.epoch, "err", e)
		return
	}
	k.b.trace(fmt.Sprintf("e2ee message of epoch %d refused for rate; sending it again", s.epoch))
	time.AfterFunc(resendAfter, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.leader != nil && k.b.ctx.Err() == nil {
			k.b.x().Send(s.el)
		}
	})
}

// onMessage takes the leader's roster and sealed key. Those of another
// occupant are kept keepEarly, in case the focus names it leader next, and
// never applied otherwise.
func (k *keyring) onMessage(m *stanza.Element, nick string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case nick == k.self:
	case nick == k.state.Leader:
		k.takeLocked(m)
	case isE2EEMessage(m):
		k.keepEarlyLocked(m, nick)
	}
}

// isE2EEMessage reports whether m carries a roster or a sealed key.
func isE2EEMessage(m *stanza.Element) bool {
	return m.Child(e2eexml.NS, "e2ee-roster") != nil || m.Child(e2eexml.NS, "e2ee-key") != nil
}

// keepEarlyLocked keeps an e2ee message of an occupant not named leader,
// forgetting its ones older than keepEarly and the oldest past maxEarly.
func (k *keyring) keepEarlyLocked(m *stanza.Element, nick string) {
	now := time.Now()
	kept := k.early[nick][:0]
	for _, e := range k.early[nick] {
		if now.Sub(e.at) <= keepEarly {
			kept = append(kept, e)
		}
	}
	if len(kept) >= maxEarly {
		kept = kept[1:]
	}
	k.early[nick] = append(kept, earlyMsg{el: m, at: now})
}

// takeEarlyLocked applies, in the order they came, the messages the new
// leader sent before the focus named it, and forgets every occupant's.
func (k *keyring) takeEarlyLocked(leader string) {
	msgs := k.early[leader]
	clear(k.early)
	if leader == k.self {
		return
	}
	now := time.Now()
	for _, e := range msgs {
		if now.Sub(e.at) <= keepEarly {
			k.takeLocked(e.el)
		}
	}
}

// takeLocked applies a roster or sealed key of the leader's.
func (k *keyring) takeLocked(m *stanza.Element) {
	if r, ok, err := e2eexml.ParseRoster(m); ok {
		if err != nil {
			k.b.log.Warn("bot: bad e2ee roster", "endpoint", k.self, "err", err)
			return
		}
		k.arrivedLocked(r.Epoch, r.Ratchet, true)
		st, err := k.member.OnRoster(r.Epoch, r.Ratchet, r.Members)
		k.learntLocked(st, err)
		return
	}
	if sk, ok, err := e2eexml.ParseSealedKey(m); ok && stanza.Type(m) == "chat" {
		if err != nil {
			k.b.log.Warn("bot: bad e2ee key", "endpoint", k.self, "err", err)
			return
		}
		k.arrivedLocked(sk.Epoch, false, false)
		st, err := k.member.OnKey(sk.Epoch, sk.Enc, sk.CT)
		k.learntLocked(st, err)
	}
}

// learntLocked applies an epoch the member learnt: decrypt with it now,
// send with it switchAfter later (at once when there is no key yet).
func (k *keyring) learntLocked(st *e2ee.EpochState, err error) {
	if err != nil {
		if errors.Is(err, e2ee.ErrRosterMismatch) {
			k.report.RosterAlarms++
		}
		k.b.log.Warn("bot: e2ee epoch refused", "endpoint", k.self, "err", err)
		k.changedLocked()
		return
	}
	if st == nil {
		return
	}
	k.recv.Add(st.Keys)
	a := k.arrivals[st.Keys.Epoch]
	for e := range k.arrivals {
		if e <= st.Keys.Epoch {
			delete(k.arrivals, e)
		}
	}
	k.report.Timeline = appendBounded(k.report.Timeline, EpochTiming{Epoch: st.Keys.Epoch, Ratchet: a.ratchet,
		Members: len(st.Roster), Roster: a.roster, Key: a.key, Installed: time.Now()})
	k.learnt = append(k.learnt, st)
	k.report.Epoch, k.report.SecurityCode = st.Keys.Epoch, st.Code
	k.report.Epochs++
	if _, sending := k.sender.Epoch(); !sending {
		k.useLocked(st)
	} else {
		k.switches[st.Keys.Epoch] = struct{}{}
		time.AfterFunc(switchAfter, func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			delete(k.switches, st.Keys.Epoch)
			k.useLocked(st)
		})
	}
	k.changedLocked()
}

// useLocked starts sending with an epoch, with a key frame when it is the
// bot's first (nothing it sent could be decoded before). A later switch
// sends none: receivers hold the epoch's key by then and keep decoding the
// stream as it goes, and a switch of every sender at once would otherwise
// be a key frame from each at the same instant (a burst the bridge's
// estimate took for congestion: seconds of frozen video in a 12-bot room).
// A receiver that cannot decrypt asks for a key frame itself.
func (k *keyring) useLocked(st *e2ee.EpochState) {
	_, sending := k.sender.Epoch()
	if err := k.sender.Use(st.Keys, st.Index); err != nil {
		return // a later epoch is in use already
	}
	k.report.SendEpoch = st.Keys.Epoch
	for i := len(k.report.Timeline) - 1; i >= 0; i-- {
		if t := &k.report.Timeline[i]; t.Epoch == st.Keys.Epoch {
			t.Sending = time.Now()
			break
		}
	}
	if !sending {
		k.b.requestKeyFrame()
	}
	k.changedLocked()
}

// stats is the report's e2ee part.
func (k *keyring) stats() E2EEReport {
	k.mu.Lock()
	r := k.report
	r.Timeline = append([]EpochTiming(nil), r.Timeline...)
	r.Room = append([]RoomEvent(nil), r.Room...)
	r.FramesUnsent = k.unsent
	k.mu.Unlock()
	r.Decrypted, r.Failed = k.recv.Stats()
	r.KeyMismatch = k.recv.KeyMismatch()
	return r
}

// stop ends the leader's timers.
func (k *keyring) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rekey != nil {
		k.rekey.Stop()
	}
	if k.rotate != nil {
		k.rotate.Stop()
	}
	k.leader = nil
}
