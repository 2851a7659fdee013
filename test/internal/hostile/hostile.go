// Package hostile plays a hostile bridge for the browser suites (issue
// "End-to-end encrypted meetings", test 4; docs/e2ee.md): through the
// bridge's forward tap it alters, in place, every media packet of one
// sending endpoint before the bridge forwards it, as whoever runs the
// server could:
//
//   - video: the first packet of each frame gets, in turn, one bit of the
//     VP8 clear prefix flipped (the part the bridge reads, authenticated as
//     SFrame metadata) or its frame replaced by plaintext (the canary
//     marker, repeated); every other packet of the frame is plaintext too;
//   - audio: each packet is, in turn, a replay of an earlier one of the
//     sender's (one that went out unaltered, of the same length), plaintext
//     (the canary), or has one bit flipped.
//
// None of it may ever reach a decoder: a receiver counts every such frame
// as dropped (auth, unknown key, replay or malformed) and decodes nothing
// of the sender while it lasts. Control is an HTTP handler for the node
// tests: POST /watch?endpoint=ID learns the sender's audio (for replays),
// POST /start?endpoint=ID begins to alter (counts from zero), POST /stop
// ends; each, and GET /, answers the counts as JSON.
package hostile

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/parley-im/parley/internal/bridge"
)

// Canary fills the plaintext the hostile bridge injects.
const Canary = "PARLEY-HOSTILE-PLAINTEXT-CANARY!"

// Counts is what the hostile bridge did, by kind and what it did.
type Counts struct {
	Endpoint string `json:"endpoint"`
	Active   bool   `json:"active"`
	// Video counts frames (their first packets): PrefixFlipped, Plaintext;
	// VideoPackets every video packet altered.
	PrefixFlipped int `json:"prefixFlipped"`
	Plaintext     int `json:"plaintext"`
	VideoPackets  int `json:"videoPackets"`
	// Audio counts packets (each one frame).
	AudioReplayed  int `json:"audioReplayed"`
	AudioPlaintext int `json:"audioPlaintext"`
	AudioFlipped   int `json:"audioFlipped"`
	// AudioLearnt is how many lengths of the sender's audio it holds a
	// payload of, to replay.
	AudioLearnt int `json:"audioLearnt"`
}

// Bridge is the hostile part of one bridge.
type Bridge struct {
	mu      sync.Mutex
	c       Counts         // guarded by mu
	history map[int][]byte // guarded by mu: the target's latest unaltered audio payload of each length
	audio   int            // guarded by mu: audio packets altered, for the turn
}

// Install puts the hostile tap on b (replacing any tap).
func Install(b *bridge.Bridge) *Bridge {
	h := &Bridge{history: map[int][]byte{}}
	b.SetForwardTap(h.tap)
	return h
}

func (h *Bridge) tap(endpoint, kind string, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if endpoint != h.c.Endpoint || len(payload) == 0 {
		return
	}
	switch {
	case kind == "audio" && !h.c.Active:
		if len(h.history) < 512 || h.history[len(payload)] != nil {
			h.history[len(payload)] = append([]byte(nil), payload...)
		}
	case kind == "audio":
		h.alterAudio(payload)
	case kind == "video" && h.c.Active:
		h.alterVideo(payload)
	}
}

func (h *Bridge) alterAudio(p []byte) {
	turn := h.audio % 3
	h.audio++
	if old := h.history[len(p)]; turn == 0 && old != nil && string(old) != string(p) {
		copy(p, old)
		h.c.AudioReplayed++
		return
	}
	if turn == 1 {
		fill(p)
		h.c.AudioPlaintext++
		return
	}
	p[len(p)/2] ^= 0x10
	h.c.AudioFlipped++
}

func (h *Bridge) alterVideo(p []byte) {
	d, ok := descLen(p)
	if !ok || d >= len(p) {
		return
	}
	h.c.VideoPackets++
	first := p[0]&0x10 != 0 && p[0]&0x07 == 0 // S, partition 0
	if !first {
		fill(p[d:])
		return
	}
	if (h.c.PrefixFlipped+h.c.Plaintext)%2 == 0 {
		// A bit of the VP8 frame tag's first partition size: the bridge does
		// not read it, the receiver authenticates it.
		p[d] ^= 0x40
		h.c.PrefixFlipped++
		return
	}
	fill(p[d+1:]) // the frame tag's first byte stays: its P bit says how long the clear prefix is
	h.c.Plaintext++
}

// fill overwrites b with the canary, repeated.
func fill(b []byte) {
	for i := range b {
		b[i] = Canary[i%len(Canary)]
	}
}

// descLen is the length of a VP8 payload descriptor (RFC 7741 §4.2).
func descLen(p []byte) (int, bool) {
	if len(p) < 1 {
		return 0, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return 0, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(p) <= i {
				return 0, false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return i, i <= len(p)
}

// Control is the handler the node tests drive the hostile bridge with.
func (h *Bridge) Control() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/start":
			h.c = Counts{Endpoint: r.URL.Query().Get("endpoint"), Active: true}
			h.audio = 0
		case r.Method == http.MethodPost && r.URL.Path == "/stop":
			h.c.Active = false
		case r.Method == http.MethodPost && r.URL.Path == "/watch":
			// Learn the sender's audio before altering it (for the replays).
			h.c = Counts{Endpoint: r.URL.Query().Get("endpoint")}
			clear(h.history)
		case r.Method != http.MethodGet:
			h.mu.Unlock()
			http.Error(w, "POST /watch, /start or /stop?endpoint=ID, or GET", http.StatusMethodNotAllowed)
			return
		}
		c := h.c
		c.AudioLearnt = len(h.history)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c)
	})
}
