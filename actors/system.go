package actors

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// NewSystem returns an actor system whose own logger reports only errors,
// through slog's default handler, so protoactor never prints to the user's
// terminal on its own.
func NewSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(errorsOnly{})
	}))
}

// errorsOnly forwards error records to the default slog handler, as it is
// when the record is logged.
type errorsOnly struct {
	attrs []slog.Attr
	group string
}

func (errorsOnly) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h errorsOnly) Handle(ctx context.Context, r slog.Record) error {
	var next slog.Handler = slog.Default().Handler()
	if h.group != "" {
		next = next.WithGroup(h.group)
	}
	if len(h.attrs) > 0 {
		next = next.WithAttrs(h.attrs)
	}
	return next.Handle(ctx, r)
}

func (h errorsOnly) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h errorsOnly) WithGroup(name string) slog.Handler {
	h.group = name
	return h
}
