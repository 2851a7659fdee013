package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes Pion's ICE and DTLS logs into the bridge's slog logger. Pion's trace and debug output is
// dropped: it is per packet.
type pionLogs struct{ log *slog.Logger }

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (pionLogger) Debug(string)          {}
func (pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(msg string)     { l.log.Log(context.Background(), slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any) {
	l.log.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l pionLogger) Warn(msg string) { l.log.Log(context.Background(), slog.LevelInfo, msg) }
func (l pionLogger) Warnf(format string, args ...any) {
	l.log.Log(context.Background(), slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (l pionLogger) Error(msg string) { l.log.Log(context.Background(), slog.LevelWarn, msg) }
func (l pionLogger) Errorf(format string, args ...any) {
	l.log.Log(context.Background(), slog.LevelWarn, fmt.Sprintf(format, args...))
}
