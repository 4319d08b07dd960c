package actors

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
)

// aliveForReady is how long a run without a ready check must stay up to
// count as ready.
const aliveForReady = time.Second

// runTailLines is how many of a run's last lines a failed start reports.
const runTailLines = 20

// run is one start of the process's command.
type run struct {
	id       int
	pid      int
	started  time.Time
	ready    bool
	stopping bool // bpm asked it to stop: its exit is not a crash
	failed   bool // it was stopped for not becoming ready: its exit is a crash
	replaced bool // a new run took over its socket
	timers   []Timer
	cancel   chan struct{} // closed to end a ready or health probe

	// failure is why bpm stopped it as a crash, for last_exit (health.go).
	failure string

	cgroup *osproc.RunCgroup // made for its [limits]; nil: none
}

type runExited struct {
	id   int
	info osproc.ExitInfo
}

type runReady struct{ id int }

type runNotReady struct{ id int }

type stopDue struct{ id int }

// startRun starts the command of the last good build as the serving run.
func (p *Process) startRun(ctx actor.Context) {
	if p.mustWait(ctx) {
		return
	}
	if dir := p.dirGone(); dir != "" {
		p.swapDone(ctx, p.dirErr(dir))
		return
	}
	r, err := p.launch(ctx)
	if err != nil {
		if dir := p.dirGone(); dir != "" {
			// It went in the instant between the look and the spawn.
			p.swapDone(ctx, p.dirErr(dir))
			return
		}
		p.crashes++
		p.swapDone(ctx, err)
		p.scheduleRetry(0)
		return
	}
	if r.id > 1 {
		p.restarts++
	}
	p.cur = r
	p.state = StateStarting
	p.event("started", fmt.Sprintf("pid %d (%s)", r.pid, p.runOrigin()))
}

// launch spawns a run of the last good build, with the `listen` socket as
// fd 3 when there is one, and arms its ready check. It leaves cur alone.
func (p *Process) launch(ctx actor.Context) (*run, error) {
	p.nextRun++
	id := p.nextRun
	root, self := p.root, p.self
	now := p.clock.Now()
	// In a crash loop a run's output is throttled: its first lines are
	// kept, the rest counted (LogStart.Throttle).
	throttle := p.loop.active
	spec := spawnSpec{
		Argv: p.cfg.RunArgv(p.proc, p.artMode, p.artifact),
		Dir:  p.proc.Dir, Env: p.proc.Env,
		Root: root, Logs: p.logs, Kind: KindRun, LogID: id,
		OnStarted: func(pid int) {
			ctx.Send(p.logs, LogStart{Kind: KindRun, ID: id, PID: pid, StartedAt: now, Throttle: throttle})
		},
		OnExit: func(info osproc.ExitInfo) { root.Send(self, runExited{id: id, info: info}) },
		Guard:  p.guard,
	}
	if rc := p.proc.Ready; rc != nil && rc.LogRegexp != nil {
		// The readers match it, so output never passes through this actor.
		spec.Ready, spec.OnReady = rc.LogRegexp, func() { root.Send(self, runReady{id: id}) }
	}
	if p.socket != nil {
		spec.Argv = p.cfg.RunArgvVia(p.proc, p.artMode, p.artifact, p.launcher)
		spec.ExtraFiles = []*os.File{p.socket}
		spec.Env = append(append([]string(nil), p.proc.Env...), "LISTEN_FDS=1", "LISTEN_FDNAMES="+p.proc.Name)
	}
	pid, cg, err := p.spawnLimited(spec, id)
	if err != nil {
		msg := fmt.Sprintf("cannot start %s: %v", spec.Argv[0], err)
		ctx.Send(p.logs, LogStart{Kind: KindRun, ID: id, StartedAt: now, Throttle: throttle})
		ctx.Send(p.logs, LogAppend{Kind: KindRun, ID: id, Stream: Stderr, Text: "[bpm] " + msg, Time: now})
		p.lastExit = msg
		p.event("start_failed", msg)
		return nil, fmt.Errorf("restart %s: %s", p.proc.Name, msg)
	}
	r := &run{id: id, pid: pid, started: now, cgroup: cg}
	p.runs[id] = r
	p.watchReady(r)
	return r, nil
}

// watchReady arms what decides that r is ready: the configured check with
// its timeout, or staying alive for aliveForReady.
func (p *Process) watchReady(r *run) {
	root, self, id := p.root, p.self, r.id
	rc := p.proc.Ready
	if rc == nil {
		r.timers = append(r.timers, p.clock.AfterFunc(aliveForReady, func() { root.Send(self, runReady{id: id}) }))
		return
	}
	r.timers = append(r.timers, p.clock.AfterFunc(rc.Timeout, func() { root.Send(self, runNotReady{id: id}) }))
	switch {
	case rc.HTTP != "" || rc.TCP != "":
		r.cancel = make(chan struct{})
		// With `listen` bpm owns the socket: a probe counts only when the
		// new run itself accepted it, not the old run or bpm's backlog.
		owner := 0
		if p.socket != nil {
			owner = r.pid
		}
		go probeReady(rc, owner, r.cancel, func() { root.Send(self, runReady{id: id}) })
	}
}

func (p *Process) ready(ctx actor.Context, r *run) {
	if r.ready || r.stopping {
		return
	}
	r.ready = true
	r.endWatch()
	switch r {
	case p.next:
		// The hand-off: the new run serves on the shared socket, so the old
		// one can drain and stop.
		old := p.cur
		p.cur, p.next = r, nil
		p.restarts++
		p.cancelRetry()
		p.state = StateRunning
		p.event("ready", fmt.Sprintf("pid %d", r.pid))
		if old != nil {
			old.replaced = true
			p.stopRun(ctx, old, fmt.Sprintf("replaced by pid %d", r.pid))
		}
	case p.cur:
		p.state = StateRunning
		p.event("ready", fmt.Sprintf("pid %d", r.pid))
	default:
		return
	}
	p.watchLoopEnd(r)
	p.watchHealth(r)
	p.swapDone(ctx, nil)
}

func (p *Process) notReady(ctx actor.Context, m runNotReady) {
	r := p.runs[m.id]
	if r == nil || r.ready || r.stopping {
		return
	}
	msg := fmt.Sprintf("pid %d not ready within %s", r.pid, p.proc.Ready.Timeout)
	p.event("ready_timeout", msg)
	err := fmt.Errorf("restart %s: new run %s", p.proc.Name, msg)
	if r == p.next {
		p.next = nil
		p.rolledBack(ctx, r, err)
		p.stopRun(ctx, r, "not ready in time")
		return
	}
	r.failed = true
	p.failSwap(ctx, r, err)
	p.stopRun(ctx, r, "not ready in time")
}

// rolledBack ends a hand-off whose new run failed (r; nil when it never
// started): the old run keeps serving. During a shutdown there is nothing to
// roll back to, and no event says otherwise.
func (p *Process) rolledBack(ctx actor.Context, r *run, err error) {
	if p.stopping {
		p.swapDone(ctx, fmt.Errorf("%w; bpm is shutting down", err))
		return
	}
	serving := "no run is serving"
	if p.cur != nil {
		serving = fmt.Sprintf("pid %d keeps serving", p.cur.pid)
	}
	p.event("rolled_back", serving)
	err = fmt.Errorf("%w; rolled back: %s", err, serving)
	// The old run died during the hand-off: its crash wait may have come
	// and gone while the swap ran, so nothing would start a run again.
	defer p.retryIfNothingServes()
	if r == nil {
		p.swapDone(ctx, err)
		return
	}
	p.failSwap(ctx, r, err)
}

// retryIfNothingServes arms the crash wait when no run serves, none is
// being brought up and no restart is pending.
func (p *Process) retryIfNothingServes() {
	if p.cur != nil || p.phase != phaseIdle || p.held || p.stopping {
		return
	}
	if !p.nextRestartAt.IsZero() && p.nextRestartAt.After(p.clock.Now()) {
		return
	}
	p.scheduleRetry(0)
}

// failSwap ends a swap whose new run r failed: the callers get err followed
// by r's last lines, asked of the logbuffer, which by now holds all of r's
// output that was read (its mailbox is FIFO).
func (p *Process) failSwap(ctx actor.Context, r *run, err error) {
	if p.phase != phaseSwapping {
		return
	}
	waiters := p.waiting
	p.waiting = nil
	p.phase = phaseIdle
	p.nextBatch(ctx)
	f := ctx.RequestFuture(p.logs, TailRequest{Kind: KindRun, ID: r.id, N: runTailLines}, askTimeout)
	reenterAfter(ctx, f, func(res any, _ error) {
		t, _ := res.(TailReply)
		full := fmt.Errorf("%w; last lines:\n%s", err, strings.Join(t.Lines, "\n"))
		for _, w := range waiters {
			p.reply(ctx, w, full)
		}
	})
}

// exited handles the end of a run: the next step of a swap or shutdown when
// bpm stopped it, a crash otherwise.
func (p *Process) exited(ctx actor.Context, m runExited) {
	r := p.runs[m.id]
	if r == nil {
		return
	}
	delete(p.runs, m.id)
	// During a shutdown, whichever run ends last answers the stop callers.
	defer p.maybeStopped(ctx)
	defer p.maybeHeld(ctx)
	r.endWatch()
	// Whatever the leader left behind in its group goes with it.
	_ = osproc.SignalGroup(r.pid, syscall.SIGKILL)
	p.guard.Remove(r.pid)
	p.lastExit = fmt.Sprintf("pid %d: %s", r.pid, m.info)
	if r.failure != "" {
		p.lastExit = fmt.Sprintf("pid %d: %s; then %s", r.pid, r.failure, m.info)
	}
	p.lastExit = p.limitExit(r, m.info, p.lastExit)
	daemon := daemonized(r, m.info)
	if daemon {
		p.lastExit = fmt.Sprintf("pid %d daemonized: the command exited 0 leaving %s; bpm manages foreground processes and stopped %s: run the command without its daemon flag (in the foreground)",
			r.pid, pidList(m.info.Left), them(len(m.info.Left)))
	} else if len(m.info.Left) > 0 && !r.stopping {
		p.lastExit += fmt.Sprintf("; it left %s, which bpm killed", pidList(m.info.Left))
	}
	wasCur := r == p.cur
	if wasCur {
		p.cur = nil
	}
	if r == p.next {
		p.next = nil
		p.rolledBack(ctx, r, fmt.Errorf("restart %s: new run %s before it was ready", p.proc.Name, p.lastExit))
		return
	}
	if daemon && wasCur {
		p.daemonized(ctx, r)
		return
	}
	if r.stopping && !r.failed {
		kind := "stopped"
		if r.replaced {
			kind = "old_run_stopped"
		}
		p.event(kind, p.lastExit)
		switch {
		case p.stopping || p.held:
			p.state = StateStopped
		case p.phase == phaseSwapping && wasCur:
			p.startRun(ctx)
		case wasCur:
			p.state = StateStopped
		}
		return
	}
	p.crashes++
	p.event("crashed", p.lastExit)
	// A run whose directory went away waits for it in dir_missing: its
	// exit does not count towards a crash loop, nor is a restart armed.
	gone := wasCur && p.dirGone() != ""
	if wasCur && !gone {
		p.noteCrash(ctx, r)
	}
	if wasCur && p.phase == phaseSwapping && !r.ready {
		p.failSwap(ctx, r, fmt.Errorf("restart %s: new run %s before it was ready", p.proc.Name, p.lastExit))
	}
	if wasCur && !gone {
		p.scheduleRetry(p.clock.Now().Sub(r.started))
	}
}

// stopRun asks r's process group to stop, and kills it after the stop timeout.
func (p *Process) stopRun(ctx actor.Context, r *run, why string) {
	if r.stopping {
		return
	}
	r.stopping = true
	r.endWatch()
	if r == p.cur {
		p.state = StateStopping
	}
	p.event("stopping", fmt.Sprintf("pid %d: %s", r.pid, why))
	if err := osproc.SignalGroup(r.pid, p.proc.StopSignal); err != nil {
		p.event("signal_failed", err.Error())
	}
	p.guard.Signal(r.pid, p.proc.StopSignal)
	root, self, id := p.root, p.self, r.id
	r.timers = append(r.timers, p.clock.AfterFunc(p.proc.StopTimeout, func() { root.Send(self, stopDue{id: id}) }))
}

func (p *Process) stopDue(m stopDue) {
	if r := p.runs[m.id]; r != nil {
		p.event("killed", fmt.Sprintf("pid %d did not stop within %s", r.pid, p.proc.StopTimeout))
		_ = osproc.SignalGroup(r.pid, syscall.SIGKILL)
		p.guard.Signal(r.pid, syscall.SIGKILL)
	}
}

// stop shuts the process down for good: no more builds, restarts or runs.
func (p *Process) stop(ctx actor.Context, why string) {
	if why == "" {
		why = "bpm is shutting down"
	}
	p.stopping = true
	p.cancelRetry()
	p.endDirWatch()
	if ctx.Sender() != nil {
		p.stopWaiters = append(p.stopWaiters, ctx.Sender())
	}
	p.endWork(ctx, fmt.Errorf("restart %s: %s", p.proc.Name, why), why)
	p.maybeStopped(ctx)
}

// endWork ends everything under way for a stop: restart callers, waiting
// and pending, get err; a build is cancelled; every run is stopped (why).
func (p *Process) endWork(ctx actor.Context, err error, why string) {
	p.failWaiters(ctx, err)
	for _, w := range p.pending {
		p.reply(ctx, w, err)
	}
	p.pending = nil
	if p.buildRunning {
		ctx.Send(p.build, CancelBuildRequest{})
	}
	for _, r := range p.runs {
		p.stopRun(ctx, r, why)
	}
}

// maybeStopped answers the stop callers once no run or build is left.
func (p *Process) maybeStopped(ctx actor.Context) {
	if !p.stopping || len(p.runs) > 0 || p.buildRunning {
		return
	}
	p.state = StateStopped
	for _, w := range p.stopWaiters {
		p.answer(ctx, w, StopReply{})
	}
	p.stopWaiters = nil
}

// kill sends SIGKILL to every run and build at once.
func (p *Process) kill(ctx actor.Context) {
	p.stopping = true
	p.cancelRetry()
	p.endDirWatch()
	for _, r := range p.runs {
		r.stopping = true
		_ = osproc.SignalGroup(r.pid, syscall.SIGKILL)
		p.guard.Signal(r.pid, syscall.SIGKILL)
	}
	ctx.Send(p.build, KillRequest{})
}

// endWatch stops r's timers and ready probe.
func (r *run) endWatch() {
	for _, t := range r.timers {
		t.Stop()
	}
	r.timers = nil
	if r.cancel != nil {
		close(r.cancel)
		r.cancel = nil
	}
}
