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
	sockets, err := s.rebind(old, next)
	if err != nil {
		ctx.Respond(ReloadReply{Err: err})
		return
	}
	for _, p := range old.Processes {
		if next.Process(p.Name) == nil {
			reply.Removed = append(reply.Removed, p.Name)
		}
	}
	s.opts.Config = next
	for _, name := range reply.Removed {
		s.remove(ctx, name)
	}
	for _, p := range next.Processes {
		before := old.Process(p.Name)
		switch {
		case before == nil:
			reply.Added = append(reply.Added, p.Name)
			s.sockets[p.Name] = sockets[p.Name]
			s.spawnProcess(ctx, next, p)
		case sameProcess(before, p):
			reply.Unchanged = append(reply.Unchanged, p.Name)
			s.reconfigure(ctx, next, p, false, s.sockets[p.Name])
		default:
			reply.Changed = append(reply.Changed, p.Name)
			if f, ok := sockets[p.Name]; ok {
				s.sockets[p.Name] = f // the process closes the one it replaces
			}
			s.reconfigure(ctx, next, p, true, s.sockets[p.Name])
		}
	}
	s.sendGates(ctx)
	s.shareLogDir(ctx, next)
	slog.Info("config reloaded", "added", reply.Added, "removed", reply.Removed, "changed", reply.Changed)
	ctx.Respond(reply)
}

// reconfigure hands a process and its builder their table from next.
func (s *Supervisor) reconfigure(ctx actor.Context, next *config.Config, p *config.Process, rebuild bool, socket *os.File) {
	refs := s.procs[p.Name]
	m := reconfigure{cfg: next, proc: p, rebuild: rebuild, socket: socket}
	ctx.Send(refs.builder, m)
	ctx.Send(refs.proc, m)
}

// rebind binds the `listen` addresses that next adds or changes. On an
// error nothing stays bound and the reload is refused. A process whose
// listen goes away gets a nil socket.
func (s *Supervisor) rebind(old, next *config.Config) (map[string]*os.File, error) {
	bound := map[string]*os.File{}
	for _, p := range next.Processes {
		before := old.Process(p.Name)
		if before != nil && before.Listen == p.Listen {
			continue
		}
		if p.Listen == "" {
			bound[p.Name] = nil
			continue
		}
		f, err := osproc.BindListen(p.Listen)
		if err != nil {
			for _, f := range bound {
				if f != nil {
					f.Close()
				}
			}
			return nil, fmt.Errorf("process %s: %w; nothing was changed", p.Name, err)
		}
		bound[p.Name] = f
	}
	return bound, nil
}

// remove stops a process that left the config for good, then its actors
// and its socket. It is unknown to every request from now on.
func (s *Supervisor) remove(ctx actor.Context, name string) {
	refs, socket := s.procs[name], s.sockets[name]
	delete(s.procs, name)
	delete(s.statuses, name)
	delete(s.sockets, name)
	delete(s.deps.sent, name)
	delete(s.deps.readyPIDs, name)
	p := refs.proc
	f := ctx.RequestFuture(p, StopRequest{}, stopMargin+time.Minute)
	ctx.ReenterAfter(f, func(any, error) {
		ctx.Stop(refs.proc)
		ctx.Stop(refs.builder)
		// The logbuffer goes last, after the last lines reached it.
		ctx.Poison(refs.logs)
		if socket != nil {
			socket.Close()
		}
	})
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
	note("mcp_port", old.MCPPort != next.MCPPort)
	note("mcp_token", old.MCPToken != next.MCPToken)
	note("mcp_session_idle_minutes", old.SessionIdle != next.SessionIdle)
	note("mcp_max_sessions", old.MaxSessions != next.MaxSessions)
	note("restart_settle_seconds", old.RestartSettle != next.RestartSettle)
	note("dev_timeout_hours", old.DevTimeout != next.DevTimeout)
	note("log_lines, log_runs or log_bytes", old.LogLines != next.LogLines || old.LogRuns != next.LogRuns || old.LogBytes != next.LogBytes)
	note("log_dir, log_max_mb, log_keep or log_total_mb", old.LogDir != next.LogDir || old.LogMaxBytes != next.LogMaxBytes ||
		old.LogKeep != next.LogKeep || old.LogTotalBytes != next.LogTotalBytes)
	next.MCPHost, next.MCPPort, next.MCPToken = old.MCPHost, old.MCPPort, old.MCPToken
	next.SessionIdle, next.MaxSessions, next.RestartSettle, next.DevTimeout = old.SessionIdle, old.MaxSessions, old.RestartSettle, old.DevTimeout
	next.LogLines, next.LogRuns, next.LogBytes = old.LogLines, old.LogRuns, old.LogBytes
	next.LogDir, next.LogMaxBytes, next.LogKeep, next.LogTotalBytes = old.LogDir, old.LogMaxBytes, old.LogKeep, old.LogTotalBytes
	return notes
}
