package actors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

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

// props returns the props of an actor made by produce. A panic in its
// Receive is a bug in bpm: it is logged at error level with its stack and
// the message's type, and the actor keeps its state and goes on with its
// next message. Restarting it instead (protoactor's default) would start it
// afresh from its first config: a process actor would forget the runs it
// supervises, and the supervisor would spawn every process a second time.
func props(produce actor.Producer, opts ...actor.PropsOption) *actor.Props {
	return actor.PropsFromProducer(produce, append(opts, actor.WithReceiverMiddleware(logPanics))...)
}

func logPanics(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		defer recoverPanic(c.Self(), fmt.Sprintf("%T", env.Message))
		next(c, env)
	}
}

// recoverPanic, deferred, turns a panic into an error log with its stack
// (the stack is still the panicking one while deferred calls run).
func recoverPanic(self *actor.PID, msg string) {
	r := recover()
	if r == nil {
		return
	}
	id := "?"
	if self != nil {
		id = self.Id
	}
	slog.Error("bpm bug: an actor panicked on a message; it keeps its state and goes on with the next one (please report this with the stack)",
		"actor", id, "message", msg, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

// reenterAfter is ctx.ReenterAfter with cont guarded as Receive is: a
// continuation runs outside the receiver middleware.
func reenterAfter(ctx actor.Context, f *actor.Future, cont func(res any, err error)) {
	self := ctx.Self()
	ctx.ReenterAfter(f, func(res any, err error) {
		defer recoverPanic(self, "continuation")
		cont(res, err)
	})
}
