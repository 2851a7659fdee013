package bridge

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"
	"time"
)

// Dominant speaker identification (dialect §6.2 DominantSpeakerEndpointChangeEvent, sfu-quality.md §4).
//
// Input: the audio level each sender puts in its audio packets (RFC 6464 ssrc-audio-level, header
// extension extAudioLevel as the focus's offer numbers it, in RFC 8285's one-byte or two-byte form). The
// sender's reader goroutine reads it from every decrypted audio packet and appends it to the endpoint's
// level history (speakerLevels.note: one uncontended lock, no allocation). A packet without the
// extension adds nothing; an endpoint that sends no level for levelIdle counts as silent for the time.
// The V bit (the sender's own voice activity flag) is not used: not every sender sets it.
//
// Decision: the conference's housekeeping (bridge.go: every InactiveAfter/4, at most 500 ms apart) runs
// speech.step, at most every speechMinInterval; Jitsi decides every 300 ms. It scores every speaker on three time scales, after Volfin and Cohen as Jitsi implements them (same constants):
//   - immediate: the newest level in thirteen bands of ten (0 … 12);
//   - medium: how many of the newest mediumLen levels (100 ms) have an immediate band above mediumActive;
//   - long: how many of the longLen medium blocks of the last second are active in all mediumLen levels.
//
// Levels less than noiseMargin above the speaker's noise floor (its lowest non-silent level, raised
// slowly) count as silence, so a steady level (a fan, a hum) never scores. Each count becomes a
// log-likelihood score (binomial with p = 0.5 against an exponential prior with a per-scale λ). A
// challenger replaces the dominant speaker when its scores beat the dominant's by c1, c2 and c3 on the
// three scales (the largest medium ratio wins among several) and, our addition, it has spoken in at least
// minTurnBlocks blocks of the last second, and the last change is minChangeInterval old. So a cough or a
// word of 300 ms never takes the stage, a speaker who keeps talking keeps it, and a new turn takes it
// within a second or so (0.6 s of speech, then the next decision). Nobody speaking keeps the last speaker
// (no silence events: "silence" is always false). When the dominant speaker leaves, the most active
// speaker replaces it, else the most recent previous one.
//
// Output: the event goes to every endpoint of the conference when the dominant speaker changes, and to
// an endpoint when its bridge channel opens. previousSpeakers lists earlier dominant speakers still
// present, most recent first, at most recentSpeakers.

const (
	// extAudioLevel is the ssrc-audio-level extension's id in the focus's offer (internal/focus/offer.go).
	extAudioLevel = 1

	levelInterval = int64(20 * time.Millisecond) // one Opus packet: the time one history entry stands for
	levelIdle     = int64(40 * time.Millisecond) // no level for this long: the speaker is silent meanwhile

	mediumLen    = 5                   // levels per medium block (N2: 100 ms)
	longLen      = 10                  // medium blocks per long window (N3: 1 s)
	historyLen   = mediumLen * longLen // levels kept per speaker
	bandWidth    = 10                  // loudness per immediate band: 0 … 127 → 0 … 12
	bands        = 13                  // N1
	noiseMargin  = bandWidth           // loudness above the noise floor that counts as sound
	floorWindow  = 15 * 1000 / 20      // levels (15 s) after which the noise floor may rise
	floorUnset   = 0                   // no non-silent level seen yet
	lambdaImm    = 0.78                // exponential prior of the immediate scale
	lambdaMed    = 24.0                // … of the medium scale
	lambdaLong   = 47.0                // … of the long scale
	minScore     = 1e-10               // scores are floored here before taking ratios
	c1, c2, c3   = 3.0, 2.0, 0.0       // log score ratios a challenger must exceed on each scale
	mediumActive = 7                   // immediate band above which a level counts for the medium scale
	longActive   = mediumLen - 1       // medium count above which a block counts for the long scale

	speechMinInterval = int64(250 * time.Millisecond) // decisions at most this often (Jitsi: every 300 ms)
	minTurnBlocks     = 4                             // active 100 ms blocks in the last second a challenger needs
	minChangeInterval = int64(time.Second)            // least time between two changes while the dominant stays
	recentSpeakers    = 10                            // previousSpeakers kept (Jitsi: 10)
	silenceForwarded  = 3                             // silent audio packets of a run still forwarded (Jitsi: 3)
)

// audioLevel finds the RFC 6464 audio level in the header extension of an RTP packet: level is −dBov
// (0 loudest … 127 silence), voice the V bit. It accepts the one-byte (0xBEDE) and two-byte (0x100X)
// forms of RFC 8285, skips padding bytes between elements, stops at id 15 of the one-byte form, and never
// reads past the extension or the packet, whatever the packet says.
func audioLevel(pkt []byte, id uint8) (level uint8, voice, ok bool) {
	if len(pkt) < 12 || pkt[0]&0x10 == 0 || id == 0 {
		return 0, false, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if off+4 > len(pkt) {
		return 0, false, false
	}
	profile := binary.BigEndian.Uint16(pkt[off:])
	end := off + 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return 0, false, false
	}
	ext := pkt[off+4 : end]
	var data []byte
	switch {
	case profile == 0xbede: // one-byte form: ID (4 bits), L (4 bits, length − 1)
		if id > 14 {
			return 0, false, false
		}
		for i := 0; i < len(ext); {
			eid, n := ext[i]>>4, int(ext[i]&0x0f)+1
			if eid == 0 { // padding
				i++
				continue
			}
			if eid == 15 { // reserved: stop (RFC 8285 §4.2)
				return 0, false, false
			}
			if i+1+n > len(ext) {
				return 0, false, false
			}
			if eid == id {
				data = ext[i+1 : i+1+n]
				break
			}
			i += 1 + n
		}
	case profile&0xfff0 == 0x1000: // two-byte form: ID byte, length byte
		for i := 0; i < len(ext); {
			eid := ext[i]
			if eid == 0 { // padding
				i++
				continue
			}
			if i+2 > len(ext) {
				return 0, false, false
			}
			n := int(ext[i+1])
			if i+2+n > len(ext) {
				return 0, false, false
			}
			if eid == id {
				data = ext[i+2 : i+2+n]
				break
			}
			i += 2 + n
		}
	}
	if len(data) == 0 {
		return 0, false, false
	}
	return data[0] & 0x7f, data[0]&0x80 != 0, true
}

// noteAudioLevel records the audio level of one plaintext audio packet of e (reader goroutine) and
// reports whether the packet says it is silence (level 127, the lowest RFC 6464 can say).
func (e *Endpoint) noteAudioLevel(pkt []byte, now int64) (silent bool) {
	level, _, ok := audioLevel(pkt, extAudioLevel)
	if ok {
		e.levels.note(127-level, now)
	}
	return ok && level == 127
}

// speakerLevels is one endpoint's recent audio levels as loudness (127 − level: 0 silence … 127 the
// loudest), one entry per audio packet, and its noise floor. The endpoint's reader goroutine writes it
// once per audio packet; the conference's decision reads it.
type speakerLevels struct {
	mu      sync.Mutex        // guards the fields below
	ring    [historyLen]uint8 // ring[next-1] is the newest
	next    int
	last    int64 // unix ns of the newest entry; 0 before the first
	floor   uint8 // lowest non-silent loudness (floorUnset before one), raised every floorWindow levels
	winMin  uint8 // lowest non-silent loudness in the current window (floorUnset: none yet)
	winSeen int   // non-silent levels in the current window
}

// note appends one loudness measured at now.
func (s *speakerLevels) note(loud uint8, now int64) {
	s.mu.Lock()
	s.pushLocked(loud)
	s.last = now
	if loud != 0 {
		s.updateFloorLocked(loud)
	}
	s.mu.Unlock()
}

func (s *speakerLevels) pushLocked(loud uint8) {
	s.ring[s.next] = loud
	if s.next++; s.next == historyLen {
		s.next = 0
	}
}

// updateFloorLocked follows the speaker's background level: a quieter level lowers the floor at once; a
// louder background raises it slowly, to the geometric mean of the floor and the window's minimum every
// floorWindow levels.
func (s *speakerLevels) updateFloorLocked(loud uint8) {
	if s.floor == floorUnset || loud < s.floor {
		s.floor, s.winMin, s.winSeen = loud, floorUnset, 0
		return
	}
	if s.winMin == floorUnset || loud < s.winMin {
		s.winMin = loud
	}
	if s.winSeen++; s.winSeen >= floorWindow {
		s.floor = uint8(math.Sqrt(float64(s.floor) * float64(s.winMin)))
		s.winMin, s.winSeen = floorUnset, 0
	}
}

// speakerScores are one speaker's log scores on the three scales and its active long blocks.
type speakerScores struct {
	imm, med, long float64
	blocks         int
}

// silentScores are the scores of a speaker with no activity at all (and of "nobody").
var silentScores = speakerScores{imm: math.Log(minScore), med: math.Log(minScore), long: math.Log(minScore)}

// scores fills the time since the speaker's last level with silence and scores its history.
func (s *speakerLevels) scores(now int64) speakerScores {
	s.mu.Lock()
	if s.last == 0 {
		s.mu.Unlock()
		return silentScores
	}
	if idle := now - s.last; idle > levelIdle {
		n := idle / levelInterval
		for i := int64(0); i < min(n, historyLen); i++ {
			s.pushLocked(0)
		}
		s.last += n * levelInterval
	}
	var hist [historyLen]uint8 // newest first
	for i := range hist {
		hist[i] = s.ring[(s.next-1-i+2*historyLen)%historyLen]
	}
	floor := int(s.floor)
	s.mu.Unlock()

	var imm [historyLen]int
	for i, l := range hist {
		if int(l) < floor+noiseMargin {
			l = 0
		}
		imm[i] = int(l) / bandWidth
	}
	var mediums [longLen]int
	for b := range mediums {
		for _, v := range imm[b*mediumLen : (b+1)*mediumLen] {
			if v > mediumActive {
				mediums[b]++
			}
		}
	}
	blocks := 0
	for _, m := range mediums {
		if m > longActive {
			blocks++
		}
	}
	return speakerScores{
		imm:    activityScore(imm[0], bands, lambdaImm),
		med:    activityScore(mediums[0], mediumLen, lambdaMed),
		long:   activityScore(blocks, longLen, lambdaLong),
		blocks: blocks,
	}
}

// activityScore is the log of the speech activity score of v active units out of n: the binomial
// likelihood (p = 0.5) over an exponential prior with parameter lambda, floored at minScore.
func activityScore(v, n int, lambda float64) float64 {
	lg := func(x int) float64 { r, _ := math.Lgamma(float64(x + 1)); return r }
	score := lg(n) - lg(v) - lg(n-v) + float64(n)*math.Log(0.5) - math.Log(lambda) + lambda*float64(v)
	return math.Log(max(score, minScore))
}

// challenger returns the index of the speaker that takes over from the dominant one (index dom, -1 for
// nobody), or -1.
func challenger(sc []speakerScores, dom int) int {
	d := silentScores
	if dom >= 0 {
		d = sc[dom]
	}
	best, bestC2 := -1, c2
	for i, s := range sc {
		if i == dom || s.blocks < minTurnBlocks {
			continue
		}
		if s.imm-d.imm > c1 && s.med-d.med > bestC2 && s.long-d.long > c3 {
			best, bestC2 = i, s.med-d.med
		}
	}
	return best
}

// speech is one conference's dominant speaker. The bridge's housekeeping goroutine runs step; channel
// opens and Bridge.DominantSpeaker read the result.
type speech struct {
	mu           sync.Mutex // guards everything below; held while the change is queued on the channels
	dominant     string     // endpoint id, "" before the first decision
	previous     []string   // earlier dominant speakers, most recent first, at most recentSpeakers
	lastDecision int64      // unix ns
	lastChange   int64
}

// step decides once who the dominant speaker is among ids (the conference's endpoints, join order, with
// their level histories) and, when it changed, calls send with the event for every endpoint. It reports
// whether the dominant speaker changed.
func (sp *speech) step(now int64, ids []string, levels []*speakerLevels, send func(raw []byte)) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if now-sp.lastDecision < speechMinInterval {
		return false
	}
	sp.lastDecision = now
	dom := -1
	for i, id := range ids {
		if id == sp.dominant {
			dom = i
		}
	}
	if dom < 0 {
		sp.dominant = "" // left since the last decision
	}
	sp.previous = keepPresent(sp.previous, ids)
	if dom >= 0 && now-sp.lastChange < minChangeInterval {
		return false
	}
	sc := make([]speakerScores, len(ids))
	for i, l := range levels {
		sc[i] = l.scores(now)
	}
	next := challenger(sc, dom)
	if next < 0 && dom < 0 && len(sp.previous) > 0 {
		for i, id := range ids {
			if id == sp.previous[0] {
				next = i
			}
		}
	}
	if next < 0 {
		return false
	}
	prev := make([]string, 0, recentSpeakers)
	if sp.dominant != "" {
		prev = append(prev, sp.dominant)
	}
	for _, id := range sp.previous {
		if id != ids[next] && len(prev) < recentSpeakers {
			prev = append(prev, id)
		}
	}
	sp.dominant, sp.previous, sp.lastChange = ids[next], prev, now
	if raw := sp.eventLocked(); raw != nil {
		send(raw)
	}
	return true
}

// keepPresent drops from list the ids not in ids (in place).
func keepPresent(list, ids []string) []string {
	out := list[:0]
	for _, id := range list {
		for _, x := range ids {
			if x == id {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// forget drops an endpoint that left; if it was dominant, the next decision picks the successor.
func (sp *speech) forget(id string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.dominant == id {
		sp.dominant = ""
	}
	out := sp.previous[:0]
	for _, x := range sp.previous {
		if x != id {
			out = append(out, x)
		}
	}
	sp.previous = out
}

// eventLocked is the current DominantSpeakerEndpointChangeEvent, nil before the first decision.
func (sp *speech) eventLocked() []byte {
	if sp.dominant == "" {
		return nil
	}
	raw, err := json.Marshal(dominantSpeakerEvent{Class: classDominantSpeaker, Endpoint: sp.dominant,
		Previous: append([]string{}, sp.previous...)})
	if err != nil {
		return nil
	}
	return raw
}

// sendCurrent queues the current event on one new bridge channel transport.
func (sp *speech) sendCurrent(ws channelConn) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if raw := sp.eventLocked(); raw != nil {
		ws.send(raw)
	}
}

// current returns the dominant speaker and the previous ones.
func (sp *speech) current() (string, []string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.dominant, append([]string{}, sp.previous...)
}

// decideSpeaker runs one dominant speaker decision (housekeeping goroutine) and announces a change to
// every member.
func (c *Conference) decideSpeaker(now time.Time, members []*Endpoint) {
	senders := append(members[:len(members):len(members)], c.relayedEndpoints()...) // relay.go
	ids := make([]string, len(senders))
	levels := make([]*speakerLevels, len(senders))
	for i, e := range senders {
		ids[i], levels[i] = e.id, &e.levels
	}
	changed := c.speech.step(now.UnixNano(), ids, levels, func(raw []byte) {
		for _, r := range members {
			r.ch.sendRaw(raw)
		}
	})
	if changed {
		c.b.metrics.dominantChanges.Inc()
		// The speech order decides who fills full slots, lastN and what senders should send.
		c.mu.Lock()
		c.reassignLocked()
		c.mu.Unlock()
	}
}

// DominantSpeaker returns the conference's dominant speaker ("" before anyone spoke) and the previous
// dominant speakers still present, most recent first.
func (b *Bridge) DominantSpeaker(conferenceID string) (endpoint string, previous []string, err error) {
	c, err := b.conference(conferenceID, false)
	if err != nil {
		return "", nil, err
	}
	endpoint, previous = c.speech.current()
	return endpoint, previous, nil
}
