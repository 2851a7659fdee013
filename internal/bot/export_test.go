package bot

import (
	"time"

	"github.com/parley-im/parley/internal/e2ee"
)

// WithRotation returns o with the key leader's periodic fresh secret every d.
func WithRotation(o Options, d time.Duration) Options {
	o.rotateEvery = d
	return o
}

// LearntKeys returns the keys of every epoch the bot learnt, oldest first,
// for tests that try them on captured frames.
func (b *Bot) LearntKeys() []e2ee.EpochKeys {
	if b.keys == nil {
		return nil
	}
	b.keys.mu.Lock()
	defer b.keys.mu.Unlock()
	var out []e2ee.EpochKeys
	for _, st := range b.keys.learnt {
		out = append(out, st.Keys)
	}
	return out
}
