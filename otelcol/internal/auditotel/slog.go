package auditotel

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Slog returns a slog.Logger that writes through the component's zap
// logger, for the sinks, which log with slog.
func Slog(l *zap.Logger) *slog.Logger { return slog.New(&zapHandler{l: l}) }

type zapHandler struct {
	l *zap.Logger
}

func zapLevel(lv slog.Level) zapcore.Level {
	switch {
	case lv >= slog.LevelError:
		return zapcore.ErrorLevel
	case lv >= slog.LevelWarn:
		return zapcore.WarnLevel
	case lv >= slog.LevelInfo:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}

func (h *zapHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return h.l.Core().Enabled(zapLevel(lv))
}

func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	if ce := h.l.Check(zapLevel(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapHandler) WithAttrs(as []slog.Attr) slog.Handler {
	fields := make([]zap.Field, len(as))
	for i, a := range as {
		fields[i] = zap.Any(a.Key, a.Value.Any())
	}
	return &zapHandler{l: h.l.With(fields...)}
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	return &zapHandler{l: h.l.With(zap.Namespace(name))}
}
