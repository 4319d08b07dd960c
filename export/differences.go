package export

import (
	"fmt"
	"strconv"
	"strings"

	"bpm/config"
)

// dependencies maps depends_on to Requires= and After=: started after its
// dependencies are started (and ready, as far as the units can tell),
// stopped before them.
func (x *sdExport) dependencies(u *unit, p *config.Process) {
	if len(p.DependsOn) == 0 {
		return
	}
	names := make([]string, len(p.DependsOn))
	for i, d := range p.DependsOn {
		names[i] = x.proj.Prefix + "-" + d + ".service"
	}
	deps := strings.Join(p.DependsOn, ", ")
	if p.RestartWithDeps {
		u.comment("depends_on = [%s], restart_with_dependencies: started once they have started,\n"+
			"stopped before them, restarted when one of them restarts.", deps)
	} else {
		u.comment("depends_on = [%s]: started once they have started, stopped before them.\n"+
			"Requires= also restarts this unit when one of them restarts, which bpm does only\n"+
			"with restart_with_dependencies = true.", deps)
		x.warnf("process %s: systemd restarts it whenever %s restarts (Requires=); bpm does that only with restart_with_dependencies = true",
			p.Name, strings.Join(p.DependsOn, " or "))
	}
	u.set("Requires", strings.Join(names, " "))
	u.set("After", strings.Join(names, " "))
}

// limits maps [process.NAME.limits] to LimitNOFILE=, MemoryMax= and CPUQuota=.
func (x *sdExport) limits(u *unit, p *config.Process) {
	l := p.Limits
	if l == nil {
		return
	}
	if l.OpenFiles > 0 {
		u.set("LimitNOFILE", strconv.FormatUint(l.OpenFiles, 10))
	}
	if l.MemoryMB > 0 {
		u.comment("memory_mb: the unit's cgroup, where bpm also sets RLIMIT_AS; add LimitAS= for that.")
		u.set("MemoryMax", strconv.FormatInt(l.MemoryMB, 10)+"M")
	}
	if l.CPUPercent > 0 {
		u.set("CPUQuota", strconv.Itoa(l.CPUPercent)+"%")
	}
}

// noBuild is the warning that systemd runs what is there, and where that is.
func (x *sdExport) noBuild() string {
	var built []string
	for _, p := range x.cfg.Processes {
		if art := x.proj.Artifacts[p.Name]; art != "" {
			built = append(built, art)
		}
	}
	if len(built) == 0 {
		return fmt.Sprintf("systemd does not build before a restart: after a change, run the release build yourself, then `systemctl restart %s.target`", x.proj.Prefix)
	}
	return fmt.Sprintf("systemd does not build before a restart: the units run what was built just now (%s), which the next build there (by bpm, go or cargo) replaces; after a change, build in release mode, then `systemctl restart %s.target`, or copy the executables elsewhere and point ExecStart= at them",
		strings.Join(built, ", "), x.proj.Prefix)
}

// limitations are the warnings every export prints: what bpm does that
// these units do not.
func (x *sdExport) limitations() []string {
	pre := x.proj.Prefix
	w := []string{
		x.noBuild(),
		"no rollback: a new run that fails is restarted by Restart=on-failure, while bpm's restart keeps the old run serving until the new one is ready",
		"no dev and release modes: crashes always back off as in release mode, and nothing switches modes after dev_timeout_hours",
		fmt.Sprintf("no MCP tools (search_logs, restart, get_status …): output goes to the journal (journalctl -u '%s-*'), state to systemctl status %s.target", pre, pre),
	}
	listen, steps := false, restartSteps(x.cfg.BackoffInitial, x.cfg.BackoffMax) > 0
	for _, p := range x.cfg.Processes {
		listen = listen || p.Listen != ""
	}
	if listen {
		w = append(w, "systemctl restart stops the old run before it starts the new one: meanwhile connections wait in the socket's backlog (none is refused), where bpm's old run keeps serving them")
	}
	switch {
	case !steps:
	case x.version != 0 && x.version < restartStepsVersion:
		w = append(w, fmt.Sprintf("systemd %d restarts every %s: the growing delay up to %s needs RestartSteps= (systemd %d); export with --systemd-version N for the machine the units go to",
			x.version, seconds(x.cfg.BackoffInitial), seconds(x.cfg.BackoffMax), restartStepsVersion))
	default:
		w = append(w, "the restart delay grows with every automatic restart since the unit was last started by hand; bpm's starts from the initial delay again once a run stays up 60 s")
	}
	if x.cfg.Envrc {
		w = append(w, fmt.Sprintf("direnv exec refuses an .envrc its user has not allowed: run `direnv allow %s` as the units' user", x.cfg.Dir))
	}
	return w
}
