package pionlog

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pion/logging"
)

// records keeps every record a logger passes, at any level.
type records struct{ got []slog.Record }

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.got = append(r.got, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// TestLevels: Pion's trace and debug are dropped, its info and warnings
// (the UDP mux warning at every start, "Failed to read from candidate" at
// every leave) reach slog at debug, its errors at info, or at debug from a
// Quiet factory; nothing of Pion's is logged at info by New except errors.
func TestLevels(t *testing.T) {
	type call func(logging.LeveledLogger)
	calls := []struct {
		name       string
		do         call
		new, quiet slog.Level
		dropped    bool
	}{
		{"Trace", func(l logging.LeveledLogger) { l.Trace("t") }, 0, 0, true},
		{"Tracef", func(l logging.LeveledLogger) { l.Tracef("t %d", 1) }, 0, 0, true},
		{"Debug", func(l logging.LeveledLogger) { l.Debug("d") }, 0, 0, true},
		{"Debugf", func(l logging.LeveledLogger) { l.Debugf("d %d", 1) }, 0, 0, true},
		{"Info", func(l logging.LeveledLogger) { l.Info("i") }, slog.LevelDebug, slog.LevelDebug, false},
		{"Infof", func(l logging.LeveledLogger) { l.Infof("i %d", 1) }, slog.LevelDebug, slog.LevelDebug, false},
		{"Warn", func(l logging.LeveledLogger) {
			l.Warn("UDPMuxDefault should not listening on unspecified address, use NewMultiUDPMuxFromPort instead")
		}, slog.LevelDebug, slog.LevelDebug, false},
		{"Warnf", func(l logging.LeveledLogger) {
			l.Warnf("Failed to read from candidate %s: %v", "udp4 host 127.0.0.1:1", "io: read/write on closed pipe")
		}, slog.LevelDebug, slog.LevelDebug, false},
		{"Error", func(l logging.LeveledLogger) { l.Error("e") }, slog.LevelInfo, slog.LevelDebug, false},
		{"Errorf", func(l logging.LeveledLogger) { l.Errorf("e %d", 1) }, slog.LevelInfo, slog.LevelDebug, false},
	}
	for _, c := range calls {
		for _, f := range []struct {
			name string
			make func(*slog.Logger) Factory
			want slog.Level
		}{{"New", New, c.new}, {"Quiet", Quiet, c.quiet}} {
			h := &records{}
			c.do(f.make(slog.New(h)).NewLogger("ice"))
			switch {
			case c.dropped && len(h.got) != 0:
				t.Errorf("%s %s: logged %v, want nothing", f.name, c.name, h.got[0].Level)
			case c.dropped:
			case len(h.got) != 1:
				t.Errorf("%s %s: %d records, want 1", f.name, c.name, len(h.got))
			case h.got[0].Level != f.want:
				t.Errorf("%s %s: level %v, want %v", f.name, c.name, h.got[0].Level, f.want)
			}
		}
	}
}
