package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
)

// maxEvents bounds the history a process keeps for get_status.
const maxEvents = 50

// phase is where a process is in its build-and-swap cycle.
type phase int

const (
	phaseIdle     phase = iota
	phaseBuilding       // a build runs; the current run keeps serving
	phaseSwapping       // the build succeeded; the new run is being brought up
)

// Process is the actor that owns one managed process: its runs (spawn,
// stop, crash detection, restart timers) and its build-and-swap cycle. It is
// the only place the process's state lives.
type Process struct {
	cfg   *config.Config
	proc  *config.Process
	clock Clock
	logs  *actor.PID
	build *actor.PID

	root *actor.RootContext
	self *actor.PID

	guard    *osproc.Guard // kills the runs' groups if bpm dies
	socket   *os.File      // the bound `listen` socket, handed to every run as fd 3
	launcher []string      // argv prefix that runs osproc.ListenExec

	cgroups *osproc.Cgroups // where runs with [limits] get cgroups; nil: none

	mode     config.Mode // bpm's mode (decides the crash wait)
	state    string
	cur      *run         // the run that serves (or is starting)
	next     *run         // with `listen`: the new run starting beside cur
	runs     map[int]*run // every run not yet exited, cur included
	nextRun  int
	artifact string      // executable of the last good build
	artMode  config.Mode // mode of that build
	built    bool        // a build has succeeded: there is something to run

	restarts, crashes int
	crashSeries       int // consecutive crashes, for the release backoff
	buildFailures     int // consecutive failed builds with nothing to run, for their backoff
	lastExit          string
	retryTimer        Timer
	retryGen          int
	nextRestartAt     time.Time
	events            []Event

	phase        phase
	buildID      int
	buildRunning bool
	buildSeconds float64
	buildStatus  BuildStatus
	waiting      []*actor.PID // callers served by the build under way
	pending      []*actor.PID // callers that asked during it: the next build
	pendingMode  config.Mode

	stopping    bool
	stopWaiters []*actor.PID

	// Stopped by a client: no restart of any kind until start or restart.
	held        bool
	holdWaiters []*actor.PID
	// Dependencies: whether all are ready (true without any), which are
	// not, and whether a run is due once they are.
	depsReady  bool
	waitingFor []string
	blockedBy  []string
	wantStart  bool

	loop crashLoop
	dirs dirWatch // its directory is missing: watched until it is back
	// swapWhy is why the serving run is replaced when it is not a new
	// build ("" for a build).
	swapWhy string
}

// NewProcess returns the actor for proc; builder and logs are its builder
// and logbuffer actors.
func NewProcess(cfg *config.Config, proc *config.Process, clock Clock, builder, logs *actor.PID) *Process {
	return &Process{
		cfg: cfg, proc: proc, clock: clock, build: builder, logs: logs,
		mode: config.Release, state: StateStopped, runs: map[int]*run{},
		depsReady: len(proc.DependsOn) == 0, waitingFor: proc.DependsOn,
	}
}

// retryDue fires a crash restart; gen tells a cancelled wait from the current one.
type retryDue struct{ gen int }

// ModeChanged tells a process actor bpm's mode changed.
type ModeChanged struct{ Mode config.Mode }

// ReleaseRebuildRequest asks a process to rebuild in release mode and swap,
// if what it runs (or is building) is a dev build; others are left alone.
type ReleaseRebuildRequest struct{}

// processUpdate is a process actor's status, sent to its parent (the
// supervisor) after every message that may have changed it, so that
// get_status is answered from the supervisor's copy without asking anyone.
type processUpdate struct {
	status ProcessStatus
	from   *actor.PID // the process actor: one removed and added again under its name is not confused with its successor
}

// Receive is the process actor's message loop.
func (p *Process) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case ProcessStatusRequest, *actor.Stopping, *actor.Stopped:
	default:
		defer p.publish(ctx)
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.root, p.self = ctx.ActorSystem().Root, ctx.Self()
	case StartRequest:
		p.mode = m.Mode
		p.request(ctx, m.Mode, nil)
	case RestartRequest:
		p.unhold(ctx, "restart")
		p.request(ctx, m.Mode, ctx.Sender())
	case ReleaseRebuildRequest:
		p.releaseRebuild(ctx)
	case ModeChanged:
		p.mode = m.Mode
	case BuildReply:
		p.buildDone(ctx, m)
	case runExited:
		p.exited(ctx, m)
	case runReady:
		if r := p.runs[m.id]; r != nil {
			p.ready(ctx, r)
		}
	case runNotReady:
		p.notReady(ctx, m)
	case runUnhealthy:
		p.unhealthy(ctx, m)
	case stopDue:
		p.stopDue(m)
	case retryDue:
		p.retry(ctx, m)
	case ProcessStatusRequest:
		ctx.Respond(p.status())
	case StopRequest:
		p.stop(ctx, m.Why)
	case StopProcessRequest:
		p.holdStop(ctx)
	case StartProcessRequest:
		p.startHeld(ctx, ctx.Sender())
	case depsChanged:
		p.depsReadyNow(ctx, m)
	case dependencyRestarted:
		p.rerun(ctx, m)
	case reconfigure:
		p.reconfigure(ctx, m)
	case loopSettled:
		p.loopSettled(m)
	case dirCheckDue:
		p.dirCheck(ctx, m)
	case KillRequest:
		p.kill(ctx)
	}
}

// request records a caller of a build-and-swap and starts the build unless
// one is under way, in which case the caller joins the next build.
func (p *Process) request(ctx actor.Context, mode config.Mode, caller *actor.PID) {
	if mode == "" {
		mode = config.Dev
	}
	if p.stopping {
		p.reply(ctx, caller, fmt.Errorf("restart %s: bpm is shutting down", p.proc.Name))
		return
	}
	if p.phase == phaseSwapping && p.wantStart && len(p.blockedBy) > 0 {
		p.reply(ctx, caller, fmt.Errorf("restart %s: its new run waits for %s, which is not coming up by itself; start or restart it first",
			p.proc.Name, strings.Join(p.blockedBy, ", ")))
		return
	}
	if p.phase != phaseIdle {
		// A dev request wins over a release one: someone is working.
		if len(p.pending) == 0 || mode == config.Dev {
			p.pendingMode = mode
		}
		p.pending = append(p.pending, caller)
		return
	}
	p.cancelRetry()
	p.waiting = []*actor.PID{caller}
	p.startBuild(ctx, mode)
}

func (p *Process) startBuild(ctx actor.Context, mode config.Mode) {
	if dir := p.dirGone(); dir != "" {
		// No build can run; dir_missing starts one once it is back.
		err := p.dirErr(dir)
		p.failWaiters(ctx, err)
		for _, w := range p.pending {
			p.reply(ctx, w, err)
		}
		p.pending = nil
		return
	}
	p.phase, p.swapWhy = phaseBuilding, ""
	p.buildID++
	p.buildRunning = true
	p.buildStatus = BuildStatus{State: "running", Mode: mode, StartedAt: p.clock.Now()}
	if p.cur == nil {
		p.state = StateBuilding
	}
	if p.proc.HasBuild() {
		p.event("build_started", fmt.Sprintf("%s build", mode))
	}
	ctx.Request(p.build, BuildRequest{ID: p.buildID, Mode: mode})
}

func (p *Process) buildDone(ctx actor.Context, m BuildReply) {
	if m.ID != p.buildID || !p.buildRunning {
		return
	}
	p.buildRunning = false
	p.buildStatus.Seconds = m.Seconds
	if p.stopping || p.held {
		p.buildStatus.State = "failed"
		p.buildStatus.Error = "cancelled: bpm is shutting down"
		if p.held {
			p.buildStatus.Error = "cancelled: stopped by a stop request"
		}
		p.phase = phaseIdle
		p.maybeStopped(ctx)
		p.maybeHeld(ctx)
		return
	}
	if m.Err != nil {
		p.buildStatus.State = "failed"
		p.buildStatus.Error = m.Err.Error()
		if len(m.ErrorLines) > 0 && m.ErrorLines[0] != p.buildStatus.Error {
			p.buildStatus.Error += ": " + m.ErrorLines[0]
		}
		p.event("build_failed", m.Err.Error())
		p.failWaiters(ctx, buildError(m, p.cur))
		if p.cur == nil && p.state == StateBuilding {
			p.state = StateBuildFailed
		}
		p.phase = phaseIdle
		p.nextBatch(ctx)
		if p.phase == phaseIdle && p.cur == nil && p.retryTimer == nil {
			p.retryAfterFailedBuild()
		}
		return
	}
	p.buildStatus.State = "ok"
	p.built, p.buildFailures = true, 0
	if p.proc.HasBuild() {
		p.event("build_ok", fmt.Sprintf("%s build in %.1fs", m.Mode, m.Seconds))
	}
	p.artifact, p.artMode, p.buildSeconds = m.Artifact, m.Mode, m.Seconds
	p.phase = phaseSwapping
	p.cancelRetry()
	p.swapIn(ctx)
}

// swapIn brings up a run of the last good build in place of the serving
// one, once the dependencies are ready: beside it on the shared socket,
// after it has stopped, or at once when nothing serves.
func (p *Process) swapIn(ctx actor.Context) {
	if p.mustWait(ctx) {
		return
	}
	if dir := p.dirGone(); dir != "" {
		// A serving run is not stopped for a new one that cannot start.
		p.swapDone(ctx, p.dirErr(dir))
		return
	}
	switch {
	case p.cur != nil && p.socket != nil:
		// Hand-off: the new run starts on the shared socket beside the old.
		r, err := p.launch(ctx)
		if err != nil {
			p.rolledBack(ctx, nil, err)
			return
		}
		p.next = r
		p.event("new_run_started", fmt.Sprintf("pid %d beside pid %d (%s)", r.pid, p.cur.pid, p.runOrigin()))
	case p.cur != nil:
		why := "replaced by a new build"
		if p.swapWhy != "" {
			why = "replaced by a new run: " + p.swapWhy
		}
		p.stopRun(ctx, p.cur, why)
		// the swap goes on when the old run has exited
	default:
		p.startRun(ctx)
	}
}

// buildError is the error a restart caller gets for a failed build.
func buildError(m BuildReply, serving *run) error {
	var b strings.Builder
	b.WriteString(m.Err.Error())
	if serving != nil {
		fmt.Fprintf(&b, "; the old run (pid %d) is still serving", serving.pid)
	}
	if len(m.ErrorLines) > 0 {
		b.WriteString("\n\n")
		b.WriteString(strings.Join(m.ErrorLines, "\n"))
	}
	return errors.New(b.String())
}

// swapDone ends a swap: the callers get the new run, or err.
func (p *Process) swapDone(ctx actor.Context, err error) {
	if p.phase != phaseSwapping {
		return
	}
	p.swapWhy = ""
	if err != nil {
		p.failWaiters(ctx, err)
	} else {
		for _, w := range p.waiting {
			if w != nil {
				p.answer(ctx, w, RestartReply{Process: p.proc.Name, PID: p.cur.pid, Mode: p.artMode, BuildSeconds: p.buildSeconds})
			}
		}
		p.waiting = nil
	}
	p.phase = phaseIdle
	p.nextBatch(ctx)
}

// nextBatch starts the build for callers that asked during the last one.
func (p *Process) nextBatch(ctx actor.Context) {
	if len(p.pending) == 0 || p.stopping {
		return
	}
	p.waiting, p.pending = p.pending, nil
	p.cancelRetry()
	p.startBuild(ctx, p.pendingMode)
}

func (p *Process) failWaiters(ctx actor.Context, err error) {
	for _, w := range p.waiting {
		p.reply(ctx, w, err)
	}
	p.waiting = nil
}

func (p *Process) reply(ctx actor.Context, to *actor.PID, err error) {
	if to != nil {
		p.answer(ctx, to, RestartReply{Process: p.proc.Name, Err: err})
	}
}

func (p *Process) event(kind, msg string) {
	p.events = append(p.events, Event{Time: p.clock.Now(), Kind: kind, Message: msg})
	slog.Info(p.proc.Name + ": " + kind + ": " + msg)
	if len(p.events) > maxEvents {
		p.events = p.events[len(p.events)-maxEvents:]
	}
}

// answer sends msg to a caller, after the status it will see in get_status.
func (p *Process) answer(ctx actor.Context, to *actor.PID, msg any) {
	p.publish(ctx)
	ctx.Send(to, msg)
}

// publish sends the status to the parent.
func (p *Process) publish(ctx actor.Context) {
	if parent := ctx.Parent(); parent != nil {
		ctx.Send(parent, processUpdate{status: p.status(), from: ctx.Self()})
	}
}

// runOrigin says what a new run was made from: "dev build", or "dev mode"
// for a process without a build.
func (p *Process) runOrigin() string {
	if p.proc.HasBuild() {
		return string(p.artMode) + " build"
	}
	return string(p.artMode) + " mode"
}

func (p *Process) status() ProcessStatus {
	s := ProcessStatus{
		Name: p.proc.Name, Type: p.proc.Type, HasBuild: p.proc.HasBuild(), State: p.state,
		Restarts: p.restarts, Crashes: p.crashes, LastExit: p.lastExit,
		NextRestartAt: p.nextRestartAt, Mode: p.artMode, Build: p.buildStatus,
		Events: append([]Event(nil), p.events...),
		Held:   p.held, WaitingFor: append([]string(nil), p.waitingFor...), CrashLoop: p.loop.firstError,
		DirMissing: p.dirs.missing,
	}
	if p.depsReady {
		s.WaitingFor = nil
	}
	if p.cur != nil {
		s.PID, s.StartedAt = p.cur.pid, p.cur.started
	}
	return s
}
