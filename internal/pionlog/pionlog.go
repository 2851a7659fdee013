// Package pionlog routes Pion's leveled logs (ICE, DTLS, SCTP, TURN) into
// log/slog. Pion's trace and debug output is per packet and dropped; its
// info and warnings go out at debug and its errors at info: they are about
// one peer's packets or Pion's own set-up (a UDP mux on an unspecified
// address at every start, a closed pipe at every leave), not about Parley,
// and at info they would bury Parley's own lines. A TURN server hears from
// anyone on the internet, so Quiet puts its errors at debug too.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory is a logging.LoggerFactory writing to an slog.Logger.
type Factory struct {
	log       *slog.Logger
	warn, err slog.Level
}

// New returns a factory for log.
func New(log *slog.Logger) Factory {
	return Factory{log: log, warn: slog.LevelDebug, err: slog.LevelInfo}
}

// Quiet returns a factory that logs Pion's warnings and errors at debug.
func Quiet(log *slog.Logger) Factory {
	return Factory{log: log, warn: slog.LevelDebug, err: slog.LevelDebug}
}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{f.log.With("pion", scope), f.warn, f.err}
}

type logger struct {
	log       *slog.Logger
	warn, err slog.Level
}

func (logger) Trace(string)          {}
func (logger) Tracef(string, ...any) {}
func (logger) Debug(string)          {}
func (logger) Debugf(string, ...any) {}

func (l logger) Info(msg string) { l.at(slog.LevelDebug, msg) }
func (l logger) Infof(format string, args ...any) {
	l.at(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l logger) Warn(msg string)                   { l.at(l.warn, msg) }
func (l logger) Warnf(format string, args ...any)  { l.at(l.warn, fmt.Sprintf(format, args...)) }
func (l logger) Error(msg string)                  { l.at(l.err, msg) }
func (l logger) Errorf(format string, args ...any) { l.at(l.err, fmt.Sprintf(format, args...)) }

func (l logger) at(level slog.Level, msg string) { l.log.Log(context.Background(), level, msg) }
