package actors

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
)

// reload reads the config file again and applies it, or changes nothing
// and answers why (the file's error, or a `listen` that cannot be bound).
func (s *Supervisor) reload(ctx actor.Context) {
	if s.stopping {
		ctx.Respond(ReloadReply{Err: fmt.Errorf("bpm is shutting down; nothing was changed")})
		return
	}
	old := s.opts.Config
	next, err := config.Load(old.Dir)
	if err == nil {
		err = unappliableLimits(s.opts.Cgroups, next)
	}
	if err != nil {
		ctx.Respond(ReloadReply{Err: err})
		return
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
		ctx.Respond(ReloadReply{Err: err})
		return
	}
	s.opts.Config = next
	var removals []*actor.Future
	for _, name := range reply.Removed {
		removals = append(removals, s.remove(ctx, name, handedOn))
	}
	for _, p := range next.Processes {
		before := old.Process(p.Name)
		switch {
		case before == nil:
			reply.Added = append(reply.Added, p.Name)
			s.sockets[p.Name] = sockets[p.Name]
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
	s.spawnAdded(ctx, reply.Added, removals)
	s.sendGates(ctx)
	s.shareLogDir(ctx, next)
	slog.Info("config reloaded", "added", reply.Added, "removed", reply.Removed, "changed", reply.Changed)
	ctx.Respond(reply)
}

// spawnAdded starts the added processes once the removed ones have stopped:
// a process renamed in the file must not start while its old self still
// holds its port.
func (s *Supervisor) spawnAdded(ctx actor.Context, names []string, removals []*actor.Future) {
	if len(names) == 0 {
		return
	}
	if len(removals) == 0 {
		s.startAdded(ctx, addedReady{names: names})
		return
	}
	root, self := ctx.ActorSystem().Root, ctx.Self()
	go func() {
		for _, f := range removals {
			_, _ = f.Result()
		}
		root.Send(self, addedReady{names: names})
	}()
}

// addedReady says the processes a reload added may start now.
type addedReady struct{ names []string }

// startAdded spawns the added processes still in the config and not yet
// running (a later reload may have changed that meanwhile).
func (s *Supervisor) startAdded(ctx actor.Context, m addedReady) {
	cfg := s.opts.Config
	for _, name := range m.names {
		p := cfg.Process(name)
		if _, spawned := s.procs[name]; p == nil || spawned || s.stopping {
			continue
		}
		s.spawnProcess(ctx, cfg, p)
	}
	s.sendGates(ctx)
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

// remove stops a process that left the config for good, then its actors
// and its socket (unless another process took it over). It is unknown to
// every request from now on. The future answers once it has stopped.
func (s *Supervisor) remove(ctx actor.Context, name string, handedOn map[*os.File]bool) *actor.Future {
	refs, socket := s.procs[name], s.sockets[name]
	delete(s.procs, name)
	delete(s.statuses, name)
	delete(s.sockets, name)
	delete(s.deps.sent, name)
	delete(s.deps.readyPIDs, name)
	f := ctx.RequestFuture(refs.proc, StopRequest{Why: "removed from the config"}, stopMargin+time.Minute)
	ctx.ReenterAfter(f, func(any, error) {
		ctx.Stop(refs.proc)
		ctx.Stop(refs.builder)
		// The logbuffer goes last, after the last lines reached it.
		ctx.Poison(refs.logs)
		if socket != nil && !handedOn[socket] {
			socket.Close()
		}
	})
	return f
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
