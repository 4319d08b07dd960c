package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// ModeClock is the actor that owns bpm's mode. It starts in release mode,
// goes to dev mode on SetDevRequest, and back to release after idle time
// without ActivityRequest, telling its parent with releaseSwitch.
type ModeClock struct {
	idle  time.Duration
	clock Clock

	root  *actor.RootContext
	self  *actor.PID
	mode  config.Mode
	since time.Time
	last  time.Time // last activity
	timer Timer
	gen   int
}

// idleCheck fires when the idle time may have run out.
type idleCheck struct{ gen int }

// NewModeClock returns a mode clock in release mode that switches back to
// release after idle without activity.
func NewModeClock(idle time.Duration, clock Clock) *ModeClock {
	return &ModeClock{idle: idle, clock: clock, mode: config.Release}
}

// Receive is the mode clock's message loop.
func (m *ModeClock) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.root, m.self = ctx.ActorSystem().Root, ctx.Self()
		m.since, m.last = m.clock.Now(), m.clock.Now()
	case ActivityRequest:
		m.last = m.clock.Now()
	case SetDevRequest:
		m.last = m.clock.Now()
		if m.mode != config.Dev {
			m.mode, m.since = config.Dev, m.last
			m.arm(m.idle)
		}
		if ctx.Sender() != nil {
			ctx.Respond(m.reply())
		}
	case ModeRequest:
		ctx.Respond(m.reply())
	case idleCheck:
		if msg.gen != m.gen || m.mode != config.Dev {
			return
		}
		now := m.clock.Now()
		if left := m.last.Add(m.idle).Sub(now); left > 0 {
			m.arm(left)
			return
		}
		m.mode, m.since, m.timer = config.Release, now, nil
		if ctx.Parent() != nil {
			ctx.Send(ctx.Parent(), releaseSwitch{})
		}
	case *actor.Stopping:
		stopTimer(m.timer)
	}
}

func (m *ModeClock) arm(d time.Duration) {
	stopTimer(m.timer)
	m.gen++
	gen, root, self := m.gen, m.root, m.self
	m.timer = m.clock.AfterFunc(d, func() { root.Send(self, idleCheck{gen: gen}) })
}

func (m *ModeClock) reply() ModeReply {
	r := ModeReply{Mode: m.mode, Since: m.since}
	if m.mode == config.Dev {
		r.ReleaseSwitchAt = m.last.Add(m.idle)
	}
	return r
}
