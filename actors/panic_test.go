package actors

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// panicky counts its starts and the messages it handled, and panics on
// boom, in Receive or in a continuation.
type panicky struct{ starts, handled int }

type (
	boom             struct{}
	boomContinuation struct{}
	counts           struct{}
)

func (p *panicky) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		p.starts++
	case boom:
		p.handled++
		var m map[string]int
		m["nil map"]++ // a real bug's panic: assignment to a nil map
	case boomContinuation:
		p.handled++
		f := actor.NewFuture(ctx.ActorSystem(), time.Second)
		ctx.Send(f.PID(), "done")
		reenterAfter(ctx, f, func(any, error) {
			var pid *actor.PID
			_ = pid.Id // nil dereference
		})
	case counts:
		p.handled++
		ctx.Respond([2]int{p.starts, p.handled})
	}
}

// syncBuffer is a bytes.Buffer for a log handler used from several goroutines.
type syncBuffer struct{ ch chan *bytes.Buffer }

func newSyncBuffer() *syncBuffer {
	b := &syncBuffer{ch: make(chan *bytes.Buffer, 1)}
	b.ch <- &bytes.Buffer{}
	return b
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	buf := <-b.ch
	defer func() { b.ch <- buf }()
	return buf.Write(p)
}

func (b *syncBuffer) String() string {
	buf := <-b.ch
	defer func() { b.ch <- buf }()
	return buf.String()
}

// An actor that panics is a bug in bpm: the panic is logged at error level
// with its stack, and the actor is neither stopped nor restarted (a restart
// would start it again from its first state, and a supervisor restarted so
// spawned every process a second time).
func TestActorPanicIsLoggedWithItsStackAndTheActorKeepsItsState(t *testing.T) {
	logs := newSyncBuffer()
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	system := NewSystem()
	pid := system.Root.Spawn(props(func() actor.Actor { return &panicky{} }))
	defer system.Root.Stop(pid)

	ask := func() [2]int {
		t.Helper()
		r, err := Ask[[2]int](system.Root, pid, counts{}, 10*time.Second)
		if err != nil {
			t.Fatalf("the actor does not answer after a panic: %v\nlog:\n%s", err, logs)
		}
		return r
	}
	system.Root.Send(pid, boom{})
	if got := ask(); got != [2]int{1, 2} {
		t.Fatalf("after a panic in Receive: starts, messages = %v, want [1 2] (started once, kept its count)", got)
	}
	system.Root.Send(pid, boomContinuation{})
	var got [2]int
	for {
		got = ask()
		if strings.Count(logs.String(), "bpm bug") >= 2 {
			break
		}
		if got[1] > 1000 {
			t.Fatalf("the continuation's panic was not logged:\n%s", logs)
		}
	}
	if got[0] != 1 {
		t.Fatalf("after a panic in a continuation the actor started %d times, want 1", got[0])
	}
	log := logs.String()
	for _, want := range []string{
		"level=ERROR", "bpm bug: an actor panicked", "message=actors.boom",
		"assignment to entry in nil map", "actors.(*panicky).Receive", "panic_test.go",
		"message=continuation", "nil pointer dereference",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}
