package actors

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
)

// askTimeout bounds how long the supervisor waits for one actor's answer
// while it gathers a status.
const askTimeout = 5 * time.Second

// Options configure the actor tree.
type Options struct {
	Config *config.Config
	Clock  Clock     // nil: the wall clock
	Stdout io.Writer // where run and build lines are written through
	Stderr io.Writer
	// Launcher is the argv prefix that runs osproc.ListenExec (bpm's hidden
	// subcommand); nil: this executable with osproc.ListenExecArg.
	Launcher []string
	// GuardArgv is bpm with osproc.GuardArg, which calls osproc.RunGuard:
	// the guard process where /bin/sh cannot run the guard script; nil: no
	// guard.
	GuardArgv []string
	// Cgroups is where runs with memory_mb or cpu_percent get a cgroup of
	// their own (osproc.Prepare); nil: none, rlimits only.
	Cgroups *osproc.Cgroups
}

// Supervisor is the root actor: it starts a process, builder and logbuffer
// actor per configured process and the mode clock, and routes requests from
// the MCP server and main to them.
type Supervisor struct {
	opts      Options
	guard     *osproc.Guard
	sockets   map[string]*os.File // bound `listen` sockets by process
	procs     map[string]procRefs
	modeclock *actor.PID
	// The latest status each process actor published: get_status is
	// answered from these without asking every process.
	statuses map[string]ProcessStatus
	mode     config.Mode // bpm's mode, as last broadcast
	deps     depsState
	stopping bool // shutting down: no reload
	// removals are the processes reloads removed that are still stopping.
	// Every name in the config has its actors from the moment it is added;
	// an added process just does not start a run before the removals in
	// progress when it was added have ended (a rename must not find its
	// port taken by its old self).
	removals []removal
	reloads  reloadState
}

type procRefs struct {
	proc, builder, logs *actor.PID
}

// removal is a process a reload removed, still stopping.
type removal struct {
	name        string
	refs        procRefs
	stopTimeout time.Duration
	done        *actor.Future // answers once it has stopped
}

// NewSupervisor returns the root actor for opts.
func NewSupervisor(opts Options) *Supervisor {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	return &Supervisor{opts: opts, procs: map[string]procRefs{}, statuses: map[string]ProcessStatus{},
		mode: config.Release, deps: newDepsState()}
}

// Start binds every `listen` socket, then spawns the supervisor (which
// starts building and running every process) and returns its PID. A socket
// that cannot be bound is an error naming the address.
func Start(system *actor.ActorSystem, opts Options) (*actor.PID, error) {
	sockets := map[string]*os.File{}
	closeAll := func() {
		for _, f := range sockets {
			f.Close()
		}
	}
	for _, p := range opts.Config.Processes {
		if p.Listen == "" {
			continue
		}
		f, err := osproc.BindListen(p.Listen)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("process %s: %w", p.Name, err)
		}
		sockets[p.Name] = f
	}
	self, err := os.Executable()
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("cannot find bpm's own executable: %w", err)
	}
	if opts.Launcher == nil {
		opts.Launcher = []string{self, osproc.ListenExecArg}
	}
	var guard *osproc.Guard
	if opts.GuardArgv != nil {
		if guard, err = osproc.StartGuard(opts.GuardArgv); err != nil {
			closeAll()
			return nil, err
		}
	}
	// The supervisor's children, and the supervisor under its guardian, are
	// resumed after a panic that escaped the panic log (a continuation).
	sup := props(func() actor.Actor {
		s := NewSupervisor(opts)
		s.sockets, s.guard = sockets, guard
		return s
	}, actor.WithSupervisor(resumeStrategy), actor.WithGuardian(resumeStrategy))
	pid, err := system.Root.SpawnNamed(sup, "bpm")
	if err != nil {
		closeAll()
		guard.Close()
	}
	return pid, err
}

// resumeStrategy keeps an actor that failed, with its state, and goes on
// with its next message. Restarting it (protoactor's default) would start a
// process actor afresh, forgetting the runs it supervises, and the
// supervisor afresh, spawning every process a second time. Panics are
// caught and logged with their stack before they get here (props); this is
// the last line behind that.
var resumeStrategy = actor.NewOneForOneStrategy(1000, time.Minute, func(reason any) actor.Directive {
	slog.Error("bpm bug: an actor failed on a message; it keeps its state and goes on", "reason", fmt.Sprint(reason))
	return actor.ResumeDirective
})

// Receive routes requests to the actor that owns the answer.
func (s *Supervisor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.spawnAll(ctx)
	case RestartRequest:
		s.restart(ctx, m)
	case StopProcessRequest:
		if m.Process == All {
			s.stopOrdered(ctx, func(string) any { return m }, stopWithin, s.batchReplier(ctx))
			return
		}
		s.forward(ctx, m.Process, m, func(err error) any { return StopProcessReply{Process: m.Process, Err: err} })
	case StartProcessRequest:
		if m.Process == All {
			s.fanOut(ctx, func(string) any { return m })
			return
		}
		s.forward(ctx, m.Process, m, func(err error) any { return RestartReply{Process: m.Process, Err: err} })
	case ReloadRequest:
		s.reload(ctx)
	case configRead:
		s.configReadDone(ctx, m)
	case releaseSwitch:
		slog.Info("no tool call for a while: switching to release mode", "after", s.opts.Config.DevTimeout)
		s.mode = config.Release
		s.broadcast(ctx, ModeChanged{Mode: config.Release})
		s.broadcast(ctx, ReleaseRebuildRequest{})
	case ActivityRequest:
		ctx.Send(s.modeclock, m)
	case ModeRequest:
		ctx.RequestWithCustomSender(s.modeclock, m, ctx.Sender())
	case LogSearchRequest:
		refs, err := s.lookup(m.Process)
		if err != nil {
			ctx.Respond(SearchReply{Err: err})
			return
		}
		ctx.RequestWithCustomSender(refs.logs, m.SearchRequest, ctx.Sender())
	case batchAnswered:
		if s.deps.inBatch[m.name]--; s.deps.inBatch[m.name] <= 0 {
			delete(s.deps.inBatch, m.name)
		}
	case processUpdate:
		s.updated(ctx, m)
	case StatusRequest:
		// The mode clock is asked, after any activity sent to it before;
		// the processes' part is the supervisor's own copy.
		caller := ctx.Sender()
		f := ctx.RequestFuture(s.modeclock, ModeRequest{}, askTimeout)
		reenterAfter(ctx, f, func(res any, err error) {
			reply := s.status()
			if mode, ok := res.(ModeReply); ok {
				reply.Mode, reply.ModeSince, reply.ReleaseSwitchAt = mode.Mode, mode.Since, mode.ReleaseSwitchAt
			} else {
				reply.Err = fmt.Errorf("no answer from the mode clock: %v", err)
			}
			if caller != nil {
				ctx.Send(caller, reply)
			}
		})
	case ShutdownTimeoutRequest:
		ctx.Respond(ShutdownTimeoutReply{Timeout: s.shutdownTimeout()})
	case StopRequest:
		s.stopping = true
		s.stopAll(ctx)
	case KillRequest:
		s.broadcast(ctx, m)
		for _, r := range s.removals {
			ctx.Send(r.refs.proc, m)
		}
	}
}

func (s *Supervisor) spawnAll(ctx actor.Context) {
	cfg := s.opts.Config
	s.modeclock = ctx.Spawn(props(func() actor.Actor {
		return NewModeClock(cfg.DevTimeout, s.opts.Clock)
	}))
	for _, p := range cfg.Processes {
		s.spawnProcess(ctx, cfg, p)
	}
	s.sendGates(ctx)
}

// spawnProcess starts p's process, builder and logbuffer actors and asks
// for its first build and run, in bpm's mode.
func (s *Supervisor) spawnProcess(ctx actor.Context, cfg *config.Config, p *config.Process) {
	share := logDirBudget(cfg)
	logs := ctx.Spawn(props(func() actor.Actor {
		b := NewLogBuffer(p.Name, cfg.LogLines, cfg.LogRuns, newPassthrough(s.opts.Stdout), newPassthrough(s.opts.Stderr))
		b.bytes, b.files = cfg.LogBytes, newLogFiles(cfg, p.Name, share)
		return b
	}))
	builder := ctx.Spawn(props(func() actor.Actor {
		b := NewBuilder(cfg, p, logs)
		b.guard = s.guard
		return b
	}))
	socket := s.sockets[p.Name]
	// The process knows its gate before its first message, so that its
	// first start already waits for what it must.
	gate := s.gate(p.Name)
	s.deps.sent[p.Name] = gate
	proc := ctx.Spawn(props(func() actor.Actor {
		proc := NewProcess(cfg, p, s.opts.Clock, builder, logs)
		proc.guard, proc.socket, proc.launcher = s.guard, socket, s.opts.Launcher
		proc.cgroups = s.opts.Cgroups
		proc.depsReady, proc.waitingFor = gate.ready, gate.missing
		return proc
	}))
	s.procs[p.Name] = procRefs{proc: proc, builder: builder, logs: logs}
	ctx.Send(proc, StartRequest{Mode: s.mode})
}

// restart forwards a restart to one process, or to every one; a restart
// without a mode switches bpm to dev mode.
func (s *Supervisor) restart(ctx actor.Context, m RestartRequest) {
	var refs procRefs
	if m.Process != All {
		var err error
		if refs, err = s.lookup(m.Process); err != nil {
			ctx.Respond(RestartReply{Process: m.Process, Err: err})
			return
		}
	}
	if m.Mode == "" || m.Mode == config.Dev {
		m.Mode = config.Dev
		s.mode = config.Dev
		ctx.Send(s.modeclock, SetDevRequest{})
		s.broadcast(ctx, ModeChanged{Mode: config.Dev})
	}
	if m.Process == All {
		s.fanOut(ctx, func(string) any { return m })
		return
	}
	ctx.RequestWithCustomSender(refs.proc, m, ctx.Sender())
}

// forward sends m to the process actor of name, which answers the caller;
// an unknown name is answered at once with failed(err).
func (s *Supervisor) forward(ctx actor.Context, name string, m any, failed func(error) any) {
	refs, err := s.lookup(name)
	if err != nil {
		ctx.Respond(failed(err))
		return
	}
	ctx.RequestWithCustomSender(refs.proc, m, ctx.Sender())
}

// lookup resolves a process name; empty means the only configured process.
func (s *Supervisor) lookup(name string) (procRefs, error) {
	names := s.opts.Config.Names()
	if name == "" {
		if len(names) == 1 {
			return s.procs[names[0]], nil
		}
		return procRefs{}, fmt.Errorf("process is required when several are configured; known: %s", strings.Join(names, ", "))
	}
	refs, ok := s.procs[name]
	if !ok {
		return procRefs{}, fmt.Errorf("unknown process %q; known: %s", name, strings.Join(names, ", "))
	}
	return refs, nil
}

// broadcast sends msg to every process actor, in configuration order.
func (s *Supervisor) broadcast(ctx actor.Context, msg any) {
	for _, name := range s.opts.Config.Names() {
		if refs, ok := s.procs[name]; ok {
			ctx.Send(refs.proc, msg)
		}
	}
}

// status is every process's state, from what the process actors last published.
// A process that has not published yet is shown stopped.
func (s *Supervisor) status() StatusReply {
	var reply StatusReply
	for _, p := range s.opts.Config.Processes {
		st, ok := s.statuses[p.Name]
		if !ok {
			st = ProcessStatus{Name: p.Name, Type: p.Type, HasBuild: p.HasBuild(), State: StateStopped}
		}
		reply.Processes = append(reply.Processes, st)
	}
	return reply
}

// stopMargin is what a process's stop may take beyond its stop timeout: the
// SIGKILL, the exit report and the drain of its pipes.
const stopMargin = 30 * time.Second

// stopWithin is how long a stop of p may take.
func stopWithin(p *config.Process) time.Duration { return p.StopTimeout + stopMargin }

// ShutdownTimeout is how long a clean shutdown of cfg's processes may take:
// each stops within its stop timeout once its dependants have stopped, so
// the longest chain of stop timeouts, plus stopMargin, and then their last
// lines are flushed.
func ShutdownTimeout(cfg *config.Config) time.Duration {
	chain := map[string]time.Duration{} // a process's stop timeout plus its dependants' longest chain
	var longest time.Duration
	order := cfg.StartOrder()
	for i := len(order) - 1; i >= 0; i-- {
		p := cfg.Process(order[i])
		var after time.Duration
		for _, d := range cfg.Dependants(p.Name) {
			after = max(after, chain[d])
		}
		chain[p.Name] = after + p.StopTimeout
		longest = max(longest, chain[p.Name])
	}
	return longest + stopMargin + 2*flushTimeout + 5*time.Second
}

// shutdownTimeout is ShutdownTimeout of the processes configured now, or
// longer while a process a reload removed takes longer to stop.
func (s *Supervisor) shutdownTimeout() time.Duration {
	d := ShutdownTimeout(s.opts.Config)
	for _, r := range s.removals {
		d = max(d, r.stopTimeout+stopMargin+2*flushTimeout+5*time.Second)
	}
	return d
}

// stopAll stops every process for good, dependants before their
// dependencies, and replies when all have stopped, those that reloads
// removed included.
func (s *Supervisor) stopAll(ctx actor.Context) {
	root, caller, guard := ctx.ActorSystem().Root, ctx.Sender(), s.guard
	var logs []*actor.PID
	for _, name := range s.opts.Config.Names() {
		logs = append(logs, s.procs[name].logs)
	}
	var removals []removal
	for _, r := range s.removals {
		removals = append(removals, r) // its logbuffer flushes as it stops
	}
	s.stopOrdered(ctx, func(string) any { return StopRequest{} }, stopWithin, func(results []stopResult) {
		for _, r := range results {
			if r.err != nil {
				slog.Warn("stopping a process", "process", r.name, "err", r.err)
			}
		}
		for _, r := range removals {
			if _, err := r.done.Result(); err != nil {
				slog.Warn("stopping a removed process", "process", r.name, "err", err)
			}
		}
		// Every process has stopped for good; the guard kills what a
		// process that did not answer in time left registered.
		guard.Close()
		// Their last lines (a shutdown message) reach the terminal.
		flushes := make([]*actor.Future, len(logs))
		for i, pid := range logs {
			flushes[i] = root.RequestFuture(pid, FlushRequest{}, 2*flushTimeout)
		}
		for _, f := range flushes {
			_, _ = f.Result()
		}
		if caller != nil {
			root.Send(caller, StopReply{})
		}
	})
}
