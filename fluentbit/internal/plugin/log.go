package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Level is a Fluent Bit log level.
type Level int

// Fluent Bit's levels, most severe first.
const (
	LevelError Level = iota + 1
	LevelWarn
	LevelInfo
	LevelDebug
	LevelTrace
)

var levelNames = [...]string{LevelError: "error", LevelWarn: "warn", LevelInfo: "info", LevelDebug: "debug", LevelTrace: "trace"}

// ParseLevel parses a Fluent Bit log level name ("off" logs errors only).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error", "off":
		return LevelError, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "info":
		return LevelInfo, nil
	case "debug":
		return LevelDebug, nil
	case "trace":
		return LevelTrace, nil
	}
	return 0, fmt.Errorf("%q is not a log level (error, warn, info, debug, trace)", s)
}

// Logger writes lines in Fluent Bit's format:
//
//	[2026/11/24 07:00:00] [ info] [output:auditlane:auditlane.0] message
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	level  Level
	prefix string
	now    func() time.Time
}

// NewLogger returns a Logger for the named instance.
func NewLogger(w io.Writer, level Level, instance string) *Logger {
	return &Logger{w: w, level: level, prefix: "[output:auditlane:" + instance + "] ", now: time.Now}
}

// Enabled reports whether l logs at lv.
func (l *Logger) Enabled(lv Level) bool { return l != nil && lv <= l.level }

// Logf logs one line at lv.
func (l *Logger) Logf(lv Level, format string, args ...any) {
	if !l.Enabled(lv) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", " ")
	line := fmt.Sprintf("[%s] [%5s] %s%s\n", l.now().Format("2006/01/02 15:04:05"), levelNames[lv], l.prefix, msg)
	l.mu.Lock()
	io.WriteString(l.w, line)
	l.mu.Unlock()
}

// Errorf, Warnf, Infof and Debugf log at their level.
func (l *Logger) Errorf(format string, args ...any) { l.Logf(LevelError, format, args...) }

// Warnf logs at warn.
func (l *Logger) Warnf(format string, args ...any) { l.Logf(LevelWarn, format, args...) }

// Infof logs at info.
func (l *Logger) Infof(format string, args ...any) { l.Logf(LevelInfo, format, args...) }

// Debugf logs at debug.
func (l *Logger) Debugf(format string, args ...any) { l.Logf(LevelDebug, format, args...) }

// Slog returns a slog.Logger that writes through l (for the sinks).
func (l *Logger) Slog() *slog.Logger { return slog.New(&slogHandler{l: l}) }

type slogHandler struct {
	l     *Logger
	attrs []slog.Attr
}

func slogLevel(lv slog.Level) Level {
	switch {
	case lv >= slog.LevelError:
		return LevelError
	case lv >= slog.LevelWarn:
		return LevelWarn
	case lv >= slog.LevelInfo:
		return LevelInfo
	}
	return LevelDebug
}

func (h *slogHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return h.l.Enabled(slogLevel(lv))
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.l.Logf(slogLevel(r.Level), "%s", b.String())
	return nil
}

func (h *slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &slogHandler{l: h.l, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *slogHandler) WithGroup(string) slog.Handler { return h }
