package actors

import (
	"fmt"
	"os"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// depsChanged tells a process actor whether its dependencies are all ready;
// missing names those that are not. The supervisor sends it whenever that
// changes.
type depsChanged struct {
	ready   bool
	missing []string
	// blocked names the missing ones that will not become ready by
	// themselves: stopped by request, build failed, or in a crash loop.
	blocked []string
}

// dependencyRestarted tells a process with restart_with_dependencies that a
// dependency is ready again with a new run.
type dependencyRestarted struct {
	name string
	pid  int
}

// reconfigure gives a process actor its new configuration after a reload;
// rebuild asks for a build and swap (its table changed), with socket as its
// `listen` socket from then on (nil: none).
type reconfigure struct {
	cfg     *config.Config
	proc    *config.Process
	rebuild bool
	socket  *os.File
	keepOld bool // the socket it replaces went to another process: not closed
}

// holdStop stops the process at a client's request and keeps it down: no
// crash restart, no dependency restart, no mode-switch rebuild, until start
// or restart. A build under way is cancelled; restart callers waiting for
// it get an error.
func (p *Process) holdStop(ctx actor.Context) {
	if p.stopping {
		p.answer(ctx, ctx.Sender(), StopProcessReply{Process: p.proc.Name, Err: fmt.Errorf("stop %s: bpm is shutting down", p.proc.Name)})
		return
	}
	if !p.held {
		p.event("stop_requested", "stays stopped until start or restart")
	}
	p.held, p.wantStart = true, false
	p.cancelRetry()
	p.endDirWatch()
	p.endCrashLoop("")
	if p.phase == phaseSwapping {
		p.phase = phaseIdle
	}
	if ctx.Sender() != nil {
		p.holdWaiters = append(p.holdWaiters, ctx.Sender())
	}
	p.endWork(ctx, fmt.Errorf("restart %s: stopped by a stop request", p.proc.Name), "stopped by request")
	p.maybeHeld(ctx)
}

// maybeHeld answers the stop callers once no run or build of a held
// process is left.
func (p *Process) maybeHeld(ctx actor.Context) {
	if !p.held || len(p.runs) > 0 || p.buildRunning {
		return
	}
	p.state = StateStopped
	for _, w := range p.holdWaiters {
		p.answer(ctx, w, StopProcessReply{Process: p.proc.Name})
	}
	p.holdWaiters = nil
}

// unhold ends a stop request's hold for a start or restart (by); stop
// callers still waiting for the runs to end are answered that it came first.
func (p *Process) unhold(ctx actor.Context, by string) {
	if !p.held {
		return
	}
	p.held = false
	p.event("start_requested", "by "+by)
	for _, w := range p.holdWaiters {
		p.answer(ctx, w, StopProcessReply{Process: p.proc.Name, Err: fmt.Errorf("stop %s: a %s came before its runs had stopped", p.proc.Name, by)})
	}
	p.holdWaiters = nil
}

// startHeld starts the process again after a stop, or after a crash whose
// restart has not come yet; the caller gets a RestartReply once the run is
// ready. A process that runs or is being brought up already is left alone.
func (p *Process) startHeld(ctx actor.Context, caller *actor.PID) {
	if p.stopping {
		p.reply(ctx, caller, fmt.Errorf("start %s: bpm is shutting down", p.proc.Name))
		return
	}
	p.unhold(ctx, "start")
	switch {
	case p.phase != phaseIdle:
		// A build or swap is under way: its result is the caller's, unless
		// it waits for a dependency that will not come up by itself.
		p.waiting = append(p.waiting, caller)
		if p.wantStart {
			p.failBlocked(ctx)
		}
		return
	case p.cur != nil && p.cur.ready && !p.cur.stopping:
		p.answer(ctx, caller, RestartReply{Process: p.proc.Name, PID: p.cur.pid, Mode: p.artMode})
		return
	}
	p.cancelRetry()
	p.waiting = []*actor.PID{caller}
	if !p.built {
		p.startBuild(ctx, p.mode)
		return
	}
	p.phase, p.swapWhy = phaseSwapping, "start requested"
	p.swapIn(ctx)
}

// depsReadyNow records the dependencies' readiness and, when they all are
// ready, starts the run that was waiting for them.
func (p *Process) depsReadyNow(ctx actor.Context, m depsChanged) {
	waited := p.waitingFor
	p.depsReady, p.waitingFor, p.blockedBy = m.ready, m.missing, m.blocked
	if !m.ready {
		if p.wantStart {
			p.failBlocked(ctx)
		}
		return
	}
	if !p.wantStart {
		return
	}
	p.wantStart = false
	if p.held || p.stopping {
		return
	}
	p.event("dependencies_ready", strings.Join(waited, ", "))
	if p.phase == phaseSwapping {
		p.swapIn(ctx)
		return
	}
	if p.cur == nil {
		p.startRun(ctx)
	}
}

// mustWait reports whether a run may not start now because a dependency is
// not ready; it then marks the start as due once they are.
func (p *Process) mustWait(ctx actor.Context) bool {
	if p.depsReady {
		return false
	}
	if !p.wantStart {
		p.event("waiting", "for "+strings.Join(p.waitingFor, ", "))
	}
	p.wantStart = true
	if p.cur == nil {
		p.state = StateWaiting
	}
	p.failBlocked(ctx)
	return true
}

// failBlocked answers the callers of a start or restart that waits for a
// dependency that will not come up by itself, instead of leaving them
// waiting; the run still starts once the dependency is ready.
func (p *Process) failBlocked(ctx actor.Context) {
	if len(p.blockedBy) == 0 || len(p.waiting)+len(p.pending) == 0 {
		return
	}
	// A restart that asked for the next build waits behind this swap, which
	// waits for the dependency: it is told too, or it would wait as long.
	p.waiting, p.pending = append(p.waiting, p.pending...), nil
	p.failWaiters(ctx, fmt.Errorf("%s waits for %s, which is not coming up by itself (stopped, build failed, in a crash loop or its directory missing); start or restart it, and %s starts once it is ready",
		p.proc.Name, strings.Join(p.blockedBy, ", "), p.proc.Name))
}

// rerun replaces the serving run by a new run of the same build, after a
// dependency came back with a new run (restart_with_dependencies).
func (p *Process) rerun(ctx actor.Context, m dependencyRestarted) {
	if p.held || p.stopping || p.cur == nil || p.phase != phaseIdle || !p.built {
		return
	}
	p.event("dependency_restarted", fmt.Sprintf("%s runs again as pid %d: restarting", m.name, m.pid))
	p.waiting = nil
	p.phase = phaseSwapping
	p.swapWhy = fmt.Sprintf("%s restarted", m.name)
	p.swapIn(ctx)
}

// reconfigure takes a reloaded table; a changed one is rebuilt and swapped
// in as a restart would, unless the process is stopped by request.
func (p *Process) reconfigure(ctx actor.Context, m reconfigure) {
	p.cfg, p.proc = m.cfg, m.proc
	if m.socket != p.socket {
		// Runs keep their own copy of the old socket; bpm's goes.
		if p.socket != nil && !m.keepOld {
			p.socket.Close()
		}
		p.socket = m.socket
	}
	// depsReady is the supervisor's to say (sendGates follows a reload): a
	// process a reload added may still wait for a removal to end.
	if !m.rebuild || p.held || p.stopping {
		return
	}
	p.event("config_changed", "rebuilding and restarting with the reloaded table")
	p.request(ctx, p.mode, nil)
}
