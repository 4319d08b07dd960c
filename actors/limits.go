package actors

import (
	"fmt"
	"log/slog"

	"bpm/actors/osproc"
	"bpm/config"
)

// spawnLimited spawns run id of spec. A process with [limits] starts through
// the launcher (bpm's re-exec between direnv and the app), which joins the
// run's cgroup, if it gets one, and sets the rlimits before it execs the
// app; with `listen` it also sets LISTEN_PID, as without limits.
func (p *Process) spawnLimited(spec spawnSpec, id int) (int, *osproc.RunCgroup, error) {
	l := p.proc.Limits
	if l == nil {
		pid, err := spawn(spec)
		return pid, nil, err
	}
	launch := osproc.Launch{Listen: p.socket != nil, OpenFiles: l.OpenFiles, AddressSpace: uint64(l.MemoryMB) << 20}
	var cg *osproc.RunCgroup
	switch {
	case p.cgroups.Needs(l):
		var err error
		if cg, err = p.cgroups.NewRun(p.proc.Name, id, l); err != nil {
			return 0, nil, err
		}
		launch.Cgroup = cg.Dir
	case l.CPUPercent > 0:
		// bpm refuses to start with a cpu_percent it cannot apply; this
		// is the same promise for a caller that skipped that check.
		return 0, nil, fmt.Errorf("cpu_percent %d needs a cgroup v2 with the cpu controller, and bpm has none", l.CPUPercent)
	}
	via := append(append([]string(nil), p.launcher...), launch.Args()...)
	spec.Argv = p.cfg.RunArgvVia(p.proc, p.artMode, p.artifact, via)
	pid, err := spawn(spec)
	if err != nil {
		removeCgroup(cg)
		return 0, nil, err
	}
	return pid, cg, nil
}

// limitExit returns lastExit, the last_exit of run r that ended as info,
// with which limit ended it, or may have, added. A cgroup OOM kill is certain
// (event limit_exceeded); RLIMIT_AS leaves no trace, so an abnormal end with
// memory_mb set only says that the limit may be the cause. It also removes
// r's cgroup.
func (p *Process) limitExit(r *run, info osproc.ExitInfo, lastExit string) string {
	l := p.proc.Limits
	if l == nil {
		return lastExit
	}
	defer removeCgroup(r.cgroup)
	switch n := r.cgroup.OOMKills(); {
	case n > 0 && info.Signal == "SIGKILL":
		lastExit += fmt.Sprintf(": memory_mb %d reached (cgroup OOM kill)", l.MemoryMB)
		p.event("limit_exceeded", lastExit)
	case n > 0:
		lastExit += fmt.Sprintf("; memory_mb %d reached: the kernel killed %d of the run's processes (cgroup OOM kill)", l.MemoryMB, n)
		p.event("limit_exceeded", lastExit)
	case l.MemoryMB > 0 && !r.stopping && (info.Code != 0 || info.Signal != ""):
		lastExit += fmt.Sprintf("; memory_mb %d is set as RLIMIT_AS (address space): an allocation past it fails, which ends most programs this way, but bpm cannot tell whether it did here", l.MemoryMB)
	}
	return lastExit
}

// removeCgroup removes a run's cgroup off the actor: the kernel empties it a
// moment after its last process dies.
func removeCgroup(cg *osproc.RunCgroup) {
	if cg == nil {
		return
	}
	go func() {
		if err := cg.Remove(); err != nil {
			slog.Warn("a run's cgroup is left behind; bpm removes it at its next start", "err", err)
		}
	}()
}

// unappliableLimits returns why a reload to next cannot apply its limits,
// or nil: a cpu_percent needs the cgroup v2 cpu controller, which bpm sets
// up only when it starts (later its runs sit in its cgroup, and a cgroup
// with processes cannot enable controllers for child cgroups).
func unappliableLimits(cg *osproc.Cgroups, next *config.Config) error {
	if cg != nil && cg.CPU {
		return nil
	}
	if problems := osproc.HostProblems(next); len(problems) > 0 {
		return problems[0]
	}
	for _, p := range next.Processes {
		if p.Limits != nil && p.Limits.CPUPercent > 0 {
			return next.ErrorAt([]string{"process", p.Name, "limits", "cpu_percent"},
				"bpm made no cgroup with the cpu controller when it started, since no process had cpu_percent then; valid: restart bpm to apply it, or remove cpu_percent")
		}
	}
	return nil
}
