// Package botrun holds what the load tools that run many `parley bot`s in
// one process (test/e2eeload, test/classroom) do alike: join a room's bots
// a gap apart, wait without ignoring the run's end, and shorten a bot's
// error for a line of output.
package botrun

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/bot"
)

// JoinTimeout bounds each bot's join in JoinAll.
const JoinTimeout = 90 * time.Second

// JoinAll joins a bot with each of opts, gap apart, each join on its own
// (a join takes longer than the gap on a loaded machine), and returns
// every bot that joined, in the order they did, with the first error. It
// waits for every join it started, even once ctx ends, so no bot is left
// behind unclosed.
func JoinAll(ctx context.Context, opts []bot.Options, gap time.Duration) ([]*bot.Bot, error) {
	type joined struct {
		b   *bot.Bot
		err error
	}
	ch := make(chan joined, len(opts))
	started := 0
	for i, o := range opts {
		if i > 0 && Sleep(ctx, gap) != nil {
			break
		}
		started++
		go func() {
			jctx, cancel := context.WithTimeout(ctx, JoinTimeout)
			defer cancel()
			b, err := bot.Join(jctx, o)
			ch <- joined{b, err}
		}()
	}
	var bots []*bot.Bot
	first := ctx.Err()
	for range started {
		j := <-ch
		if j.err != nil && first == nil {
			first = j.err
		}
		if j.b != nil {
			bots = append(bots, j.b)
		}
	}
	return bots, first
}

// Sleep waits d unless ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Cause is err without what follows its first line or " (received",
// which bot.Wait adds (everything the bot received).
func Cause(err error) error {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if i := strings.Index(s, " (received "); i >= 0 {
		s = s[:i]
	}
	return errors.New(s)
}
