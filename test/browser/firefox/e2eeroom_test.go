package firefox_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bot"
	"github.com/parley-im/parley/internal/xmpp/xmpptest"
	"github.com/parley-im/parley/test/internal/botrun"
)

// TestFirefoxEncryptedRoomLoad is a load run, not a part of make test: with
// PARLEY_E2EE_ROOM=N it fills an encrypted room with N−2 bots (one leads
// the keys, all muted, none receiving video), Firefox and Chromium, then
// makes bots leave and join and measures how long each member took to hold
// the next epoch: e2eeroom.test.js prints the figures (docs/performance.md,
// "End-to-end encryption"). PARLEY_CONTROL_URL answers:
//
//	POST /bots?n=K&url=ROOMURL  K more bots join (100 ms apart)
//	POST /leave                 the latest bot to join leaves; {"at": unix ms}
//	POST /join                  one more bot joins; {"at": unix ms, when it began}
//	GET  /epochs?after=E        per bot, the epoch it holds and when (unix ms,
//	                            0: not yet) it could first decrypt an epoch after E
//	GET  /bridge                the bridge's debug state
func TestFirefoxEncryptedRoomLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PARLEY_E2EE_ROOM"))
	if n < 4 {
		t.Skip("a load run: PARLEY_E2EE_ROOM=50 go test -run TestFirefoxEncryptedRoomLoad -v ./test/browser/firefox")
	}
	room := &loadRoom{}
	defer room.close()
	runSuite(t, suite{
		file:    "e2eeroom.test.js",
		room:    "Large",
		bot:     &bot.Options{Name: "Leader", Passphrase: e2eePassphrase, Muted: true, Constraints: &bot.Constraints{LastN: 0}},
		control: room.control,
		env:     []string{"PARLEY_PASSPHRASE=" + e2eePassphrase, "PARLEY_E2EE_ROOM=" + strconv.Itoa(n)},
	})
}

// loadRoom is the bots of TestFirefoxEncryptedRoomLoad: the suite's bot
// (the leader) and the ones the node test asks for.
type loadRoom struct {
	mu     sync.Mutex
	leader *bot.Bot
	url    string
	bots   []*bot.Bot
	joined int
}

func (lr *loadRoom) control(leader *bot.Bot, srv *xmpptest.Server) http.HandlerFunc {
	lr.leader = leader
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/bridge":
			writeJSON(w, srv.App.Bridge.Debug())
		case "/bots":
			k, _ := strconv.Atoi(r.URL.Query().Get("n"))
			lr.mu.Lock()
			lr.url = r.URL.Query().Get("url")
			lr.mu.Unlock()
			if err := lr.join(ctx, k); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeJSON(w, map[string]int{"joined": k})
		case "/join":
			at := time.Now()
			if err := lr.join(ctx, 1); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			writeJSON(w, map[string]int64{"at": at.UnixMilli()})
		case "/leave":
			lr.mu.Lock()
			if len(lr.bots) == 0 {
				lr.mu.Unlock()
				http.Error(w, "no bot to leave", http.StatusConflict)
				return
			}
			b := lr.bots[len(lr.bots)-1]
			lr.bots = lr.bots[:len(lr.bots)-1]
			lr.mu.Unlock()
			at := time.Now()
			b.Close()
			writeJSON(w, map[string]int64{"at": at.UnixMilli()})
		case "/epochs":
			after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 32)
			type held struct {
				Epoch     uint32 `json:"epoch"`
				Installed int64  `json:"installed"`
			}
			var out []held
			for _, b := range lr.members() {
				rep := b.E2EE()
				h := held{Epoch: rep.Epoch}
				for _, e := range rep.Timeline {
					if e.Epoch > uint32(after) && !e.Installed.IsZero() && (h.Installed == 0 || e.Installed.UnixMilli() < h.Installed) {
						h.Installed = e.Installed.UnixMilli()
					}
				}
				out = append(out, h)
			}
			writeJSON(w, out)
		default:
			http.NotFound(w, r)
		}
	}
}

// join adds k muted bots that receive no video, with the leader's
// passphrase key (derived once).
func (lr *loadRoom) join(ctx context.Context, k int) error {
	lr.mu.Lock()
	opts := make([]bot.Options, k)
	for i := range opts {
		lr.joined++
		opts[i] = bot.Options{URL: lr.url, Insecure: true, Loopback: true, Name: fmt.Sprintf("load %d", lr.joined),
			Passphrase: e2eePassphrase, PassphraseKey: lr.leader.PassphraseKey(), Muted: true,
			Constraints: &bot.Constraints{LastN: 0}}
	}
	lr.mu.Unlock()
	bots, err := botrun.JoinAll(ctx, opts, 100*time.Millisecond)
	lr.mu.Lock()
	lr.bots = append(lr.bots, bots...)
	lr.mu.Unlock()
	return err
}

func (lr *loadRoom) members() []*bot.Bot {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]*bot.Bot{lr.leader}, lr.bots...)
}

func (lr *loadRoom) close() {
	for _, b := range lr.members()[1:] {
		b.Close()
	}
}
