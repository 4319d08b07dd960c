package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
)

// depsState is what the supervisor knows about dependencies: the gate it
// last told each process, and the pid each process last ran ready with.
type depsState struct {
	sent      map[string]depsChanged
	readyPIDs map[string]int
	// inBatch counts the restarts of "all" under way that will still
	// restart a process: it then needs no restart for its dependency.
	inBatch map[string]int
	// after lists, for a process a reload added, the removed processes
	// (their process actors) that must stop before it runs.
	after map[string][]*actor.PID
}

func newDepsState() depsState {
	return depsState{sent: map[string]depsChanged{}, readyPIDs: map[string]int{}, inBatch: map[string]int{},
		after: map[string][]*actor.PID{}}
}

// batchAnswered says a process answered its part of a request for "all".
type batchAnswered struct{ name string }

// isReady reports whether a process counts as ready for its dependants: it
// runs and its run passed its ready check.
func isReady(st ProcessStatus) bool { return st.State == StateRunning }

// updated records a process's new status; when its readiness changed, its
// dependants learn whether they may start, and when it is ready again with
// a new run, those with restart_with_dependencies restart.
func (s *Supervisor) updated(ctx actor.Context, m processUpdate) {
	st := m.status
	if refs, ok := s.procs[st.Name]; !ok || !refs.proc.Equal(m.from) {
		return // removed by a reload (perhaps added again since): stale
	}
	old := s.statuses[st.Name]
	s.statuses[st.Name] = st
	if isReady(old) == isReady(st) && old.PID == st.PID && blocks(old) == blocks(st) {
		return
	}
	dependants := s.opts.Config.Dependants(st.Name)
	// A dependant with restart_with_dependencies that runs learns of the
	// dependency's new run before it learns that its dependencies are ready:
	// one that was waiting (no run) then starts once and is not restarted.
	if isReady(st) {
		prev := s.deps.readyPIDs[st.Name]
		s.deps.readyPIDs[st.Name] = st.PID
		if prev != 0 && prev != st.PID {
			for _, d := range dependants {
				if p := s.opts.Config.Process(d); p != nil && p.RestartWithDeps && s.deps.inBatch[d] == 0 {
					ctx.Send(s.procs[d].proc, dependencyRestarted{name: st.Name, pid: st.PID})
				}
			}
		}
	}
	for _, d := range dependants {
		s.sendGate(ctx, d)
	}
}

// blocks reports whether a process that is not ready will stay so until
// someone acts: stopped by request, build failed, in a crash loop, or its
// directory is missing.
func blocks(st ProcessStatus) bool {
	return st.Held || st.State == StateBuildFailed || st.State == StateCrashLoop || st.State == StateDirMissing
}

// gate is whether name's dependencies are all ready, and which are not;
// a process a reload added also waits for the removals it came after
// ("old to stop").
func (s *Supervisor) gate(name string) depsChanged {
	g := depsChanged{ready: true}
	p := s.opts.Config.Process(name)
	if p == nil {
		return g
	}
	for _, r := range s.removals {
		if slices.ContainsFunc(s.deps.after[name], r.refs.proc.Equal) {
			g.ready = false
			g.missing = append(g.missing, r.name+" to stop")
		}
	}
	for _, d := range p.DependsOn {
		st := s.statuses[d]
		if isReady(st) {
			continue
		}
		g.ready = false
		g.missing = append(g.missing, d)
		if blocks(st) {
			g.blocked = append(g.blocked, d)
		}
	}
	return g
}

// sendGate tells name its gate, unless it knows it already.
func (s *Supervisor) sendGate(ctx actor.Context, name string) {
	refs, ok := s.procs[name]
	if !ok {
		return
	}
	g := s.gate(name)
	if last, ok := s.deps.sent[name]; ok && last.ready == g.ready && slices.Equal(last.missing, g.missing) && slices.Equal(last.blocked, g.blocked) {
		return
	}
	s.deps.sent[name] = g
	ctx.Send(refs.proc, g)
}

// sendGates tells every process with dependencies its gate.
func (s *Supervisor) sendGates(ctx actor.Context) {
	for _, p := range s.opts.Config.Processes {
		if len(p.DependsOn) > 0 || s.deps.sent[p.Name].missing != nil {
			s.sendGate(ctx, p.Name)
		}
	}
}
