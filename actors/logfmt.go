package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// LogHandler is bpm's own slog handler: one short line per record, in the
// same stream as the processes' `[name] line` output, e.g.
//
//	[bpm] 17:42:38 web: started: pid 1234 (release build)
//	[bpm] 17:42:40 WARN stopping a process err="…"
//
// Writes come from many goroutines; each record is one Write call, which
// os.File performs atomically for lines of this size.
type LogHandler struct {
	w     io.Writer
	level slog.Leveler
	attrs string // preformatted " k=v" pairs from WithAttrs
}

// NewLogHandler returns a handler writing records at level or above to w.
func NewLogHandler(w io.Writer, level slog.Leveler) *LogHandler {
	return &LogHandler{w: w, level: level}
}

// Enabled reports whether l is at or above the handler's level.
func (h *LogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// Handle writes r as one line.
func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("[bpm] ")
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("15:04:05"))
	b.WriteByte(' ')
	if r.Level != slog.LevelInfo {
		b.WriteString(r.Level.String())
		b.WriteByte(' ')
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs returns a handler that adds as to every record.
func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		writeAttr(&b, a)
	}
	return &LogHandler{w: h.w, level: h.level, attrs: b.String()}
}

// WithGroup is not used by bpm; groups are flattened.
func (h *LogHandler) WithGroup(string) slog.Handler { return h }

func writeAttr(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	v := a.Value.Resolve().String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		v = strconv.Quote(v)
	}
	fmt.Fprintf(b, " %s=%s", a.Key, v)
}
