package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// counter counts messages and panics on "boom".
type counter struct{ n int }

func (c *counter) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case string:
		if m == "boom" {
			panic("boom")
		}
		c.n++
	case ModeRequest:
		ctx.Respond(c.n)
	}
}

// parent spawns one counter under resumeStrategy and forwards to it.
type parent struct{ child *actor.PID }

func (p *parent) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		p.child = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &counter{} }))
	case StatusRequest:
		ctx.Respond(p.child)
	}
}

// An actor that panics keeps its state: a process actor that hit a bug must
// not forget the runs it supervises.
func TestActorThatPanicsResumesWithItsState(t *testing.T) {
	t.Parallel()
	system := NewSystem()
	defer system.Shutdown()
	par := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &parent{} }, actor.WithSupervisor(resumeStrategy)))
	child, err := Ask[*actor.PID](system.Root, par, StatusRequest{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	system.Root.Send(child, "one")
	system.Root.Send(child, "boom")
	system.Root.Send(child, "two")
	n, err := Ask[int](system.Root, child, ModeRequest{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("counter = %d after one, boom, two; want 2 (state kept across the panic)", n)
	}
}
