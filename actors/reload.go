package actors

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
)

// reload reads the config file again, outside the actor (a slow or huge
// file must not hold get_status and stop back), then applies it. Reloads
// asked while a read is under way share the next read, which begins after
// their call, as restarts share a build.
func (s *Supervisor) reload(ctx actor.Context) {
	if s.stopping {
		ctx.Respond(ReloadReply{Err: fmt.Errorf("bpm is shutting down; nothing was changed")})
		return
	}
	s.reloads.next = append(s.reloads.next, ctx.Sender())
	if !s.reloads.reading {
		s.readConfig(ctx)
	}
}

// reloadState is the supervisor's part of reloads under way.
type reloadState struct {
	reading bool
	waiting []*actor.PID // callers of the read under way
	next    []*actor.PID // callers that asked during it: the next read
}

// configRead is the config file as read for a reload.
type configRead struct {
	cfg *config.Config
	err error
}

// readConfig reads the config file in a goroutine for the callers waiting
// for the next read; the result comes back as a configRead.
func (s *Supervisor) readConfig(ctx actor.Context) {
	s.reloads.reading, s.reloads.waiting, s.reloads.next = true, s.reloads.next, nil
	root, self, dir := ctx.ActorSystem().Root, ctx.Self(), s.opts.Config.Dir
	go func() {
		cfg, err := config.Load(dir)
		root.Send(self, configRead{cfg: cfg, err: err})
	}()
}

// configReadDone applies what was read and answers its callers; callers
// that asked meanwhile get a read of their own.
func (s *Supervisor) configReadDone(ctx actor.Context, m configRead) {
	reply := s.apply(ctx, m)
	for _, caller := range s.reloads.waiting {
		if caller != nil {
			ctx.Send(caller, reply)
		}
	}
	s.reloads.reading, s.reloads.waiting = false, nil
	if len(s.reloads.next) > 0 {
		if s.stopping {
			for _, caller := range s.reloads.next {
				if caller != nil {
					ctx.Send(caller, ReloadReply{Err: fmt.Errorf("bpm is shutting down; nothing was changed")})
				}
			}
			s.reloads.next = nil
			return
		}
		s.readConfig(ctx)
	}
}

// apply makes the config read the one bpm runs, or changes nothing and
// says why (the file's error, or a `listen` that cannot be bound).
func (s *Supervisor) apply(ctx actor.Context, m configRead) ReloadReply {
	if s.stopping {
		return ReloadReply{Err: fmt.Errorf("bpm is shutting down; nothing was changed")}
	}
	old, next, err := s.opts.Config, m.cfg, m.err
	if err == nil {
		err = unappliableLimits(s.opts.Cgroups, next)
	}
	if err != nil {
		return ReloadReply{Err: err}
	}
	var reply ReloadReply
	reply.Notes = keepUntilRestart(old, next)
	for _, p := range old.Processes {
		if next.Process(p.Name) == nil {
			reply.Removed = append(reply.Removed, p.Name)
		}
	}
	sockets, handedOn, err := s.rebind(old, next, reply.Removed)
	if err != nil {
		return ReloadReply{Err: err}
	}
	s.opts.Config = next
	for _, name := range reply.Removed {
		s.remove(ctx, old.Process(name), handedOn)
	}
	// An added process runs once every removal under way has ended.
	var removing []*actor.PID
	for _, r := range s.removals {
		removing = append(removing, r.refs.proc)
	}
	for _, p := range next.Processes {
		before := old.Process(p.Name)
		switch {
		case before == nil:
			reply.Added = append(reply.Added, p.Name)
			s.sockets[p.Name] = sockets[p.Name]
			if len(removing) > 0 {
				s.deps.after[p.Name] = slices.Clone(removing)
			}
			s.spawnProcess(ctx, next, p)
		case sameProcess(before, p):
			reply.Unchanged = append(reply.Unchanged, p.Name)
			s.reconfigure(ctx, next, p, false, s.sockets[p.Name], false)
		default:
			reply.Changed = append(reply.Changed, p.Name)
			old := s.sockets[p.Name]
			if f, ok := sockets[p.Name]; ok {
				s.sockets[p.Name] = f
			}
			// The process closes the socket it replaces, unless another
			// process takes that address over.
			s.reconfigure(ctx, next, p, true, s.sockets[p.Name], old != nil && handedOn[old])
		}
	}
	s.sendGates(ctx)
	s.shareLogDir(ctx, next)
	slog.Info("config reloaded", "added", reply.Added, "removed", reply.Removed, "changed", reply.Changed)
	return reply
}

// reconfigure hands a process and its builder their table from next.
func (s *Supervisor) reconfigure(ctx actor.Context, next *config.Config, p *config.Process, rebuild bool, socket *os.File, keepOld bool) {
	refs := s.procs[p.Name]
	m := reconfigure{cfg: next, proc: p, rebuild: rebuild, socket: socket, keepOld: keepOld}
	ctx.Send(refs.builder, m)
	ctx.Send(refs.proc, m)
}

// rebind binds the `listen` addresses that next adds or changes; an
// address that a removed process, or a process moving to another address,
// holds already is handed on rather than bound again (handedOn lists those
// sockets). On an error nothing new stays bound and the reload is refused.
// A process whose listen goes away gets a nil socket.
func (s *Supervisor) rebind(old, next *config.Config, removed []string) (bound map[string]*os.File, handedOn map[*os.File]bool, err error) {
	free := map[string]*os.File{} // address → a socket bpm holds that its process gives up
	for _, p := range old.Processes {
		f := s.sockets[p.Name]
		if n := next.Process(p.Name); f != nil && (n == nil || n.Listen != p.Listen) {
			free[p.Listen] = f
		}
	}
	bound, handedOn = map[string]*os.File{}, map[*os.File]bool{}
	for _, p := range next.Processes {
		before := old.Process(p.Name)
		if before != nil && before.Listen == p.Listen {
			continue
		}
		if p.Listen == "" {
			bound[p.Name] = nil
			continue
		}
		if f := free[p.Listen]; f != nil {
			bound[p.Name], handedOn[f] = f, true
			delete(free, p.Listen)
			continue
		}
		f, err := osproc.BindListen(p.Listen)
		if err != nil {
			for _, f := range bound {
				if f != nil && !handedOn[f] {
					f.Close()
				}
			}
			return nil, nil, fmt.Errorf("process %s: %w; nothing was changed", p.Name, err)
		}
		bound[p.Name] = f
	}
	return bound, handedOn, nil
}

// remove stops p, which left the config, for good, then its actors and its
// socket (unless another process took it over). It is unknown to every
// request from now on; until it has stopped it is among s.removals, which
// processes added meanwhile wait for, and which shutdown waits for too.
func (s *Supervisor) remove(ctx actor.Context, p *config.Process, handedOn map[*os.File]bool) {
	name := p.Name
	refs, socket := s.procs[name], s.sockets[name]
	delete(s.procs, name)
	delete(s.statuses, name)
	delete(s.sockets, name)
	delete(s.deps.sent, name)
	delete(s.deps.readyPIDs, name)
	delete(s.deps.after, name)
	f := ctx.RequestFuture(refs.proc, StopRequest{Why: "removed from the config"}, stopWithin(p))
	s.removals = append(s.removals, removal{name: name, refs: refs, stopTimeout: p.StopTimeout, done: f})
	reenterAfter(ctx, f, func(any, error) {
		ctx.Stop(refs.proc)
		ctx.Stop(refs.builder)
		// The logbuffer goes last, after the last lines reached it.
		ctx.Poison(refs.logs)
		if socket != nil && !handedOn[socket] {
			socket.Close()
		}
		s.removed(ctx, refs.proc)
	})
}

// removed forgets a removal that has ended; the processes that waited for
// it start if nothing else holds them.
func (s *Supervisor) removed(ctx actor.Context, proc *actor.PID) {
	s.removals = slices.DeleteFunc(s.removals, func(r removal) bool { return r.refs.proc.Equal(proc) })
	for name, after := range s.deps.after {
		if after = slices.DeleteFunc(after, proc.Equal); len(after) == 0 {
			delete(s.deps.after, name)
		} else {
			s.deps.after[name] = after
		}
	}
	s.sendGates(ctx)
}

// sameProcess reports whether two tables of one process would run it the
// same way (where they are in the file does not matter).
func sameProcess(a, b *config.Process) bool {
	ca, cb := *a, *b
	ca.Line, cb.Line = 0, 0
	if ca.Ready != nil && cb.Ready != nil {
		ra, rb := *ca.Ready, *cb.Ready
		ra.LogRegexp, rb.LogRegexp = nil, nil
		ca.Ready, cb.Ready = &ra, &rb
	}
	return reflect.DeepEqual(ca, cb)
}

// keepUntilRestart lists the settings next changes that only a restart of
// bpm applies, and keeps their running values in next.
func keepUntilRestart(old, next *config.Config) []string {
	var notes []string
	note := func(key string, changed bool) {
		if changed {
			notes = append(notes, key+" changed: takes effect when bpm restarts")
		}
	}
	note("mcp_host", old.MCPHost != next.MCPHost)
	note("mcp_port", old.MCPPort != next.MCPPort && !old.MCPPortFlag)
	note("mcp_token", old.MCPToken != next.MCPToken)
	note("mcp_session_idle_minutes", old.SessionIdle != next.SessionIdle)
	note("mcp_max_sessions", old.MaxSessions != next.MaxSessions)
	note("restart_settle_seconds", old.RestartSettle != next.RestartSettle)
	note("dev_timeout_hours", old.DevTimeout != next.DevTimeout)
	note("log_lines, log_runs or log_bytes", old.LogLines != next.LogLines || old.LogRuns != next.LogRuns || old.LogBytes != next.LogBytes)
	note("log_dir, log_max_mb, log_keep or log_total_mb", old.LogDir != next.LogDir || old.LogMaxBytes != next.LogMaxBytes ||
		old.LogKeep != next.LogKeep || old.LogTotalBytes != next.LogTotalBytes)
	next.MCPHost, next.MCPPort, next.MCPToken, next.MCPPortFlag = old.MCPHost, old.MCPPort, old.MCPToken, old.MCPPortFlag
	next.SessionIdle, next.MaxSessions, next.RestartSettle, next.DevTimeout = old.SessionIdle, old.MaxSessions, old.RestartSettle, old.DevTimeout
	next.LogLines, next.LogRuns, next.LogBytes = old.LogLines, old.LogRuns, old.LogBytes
	next.LogDir, next.LogMaxBytes, next.LogKeep, next.LogTotalBytes = old.LogDir, old.LogMaxBytes, old.LogKeep, old.LogTotalBytes
	return notes
}
