package export

import (
	"fmt"

	"bpm/config"
)

// dependencies maps depends_on.
func (x *sdExport) dependencies(u *unit, p *config.Process) {}

// limits maps [process.NAME.limits].
func (x *sdExport) limits(u *unit, p *config.Process) {}

// limitations are the warnings every export prints: what bpm does that
// these units do not.
func (x *sdExport) limitations() []string {
	pre := x.proj.Prefix
	w := []string{
		fmt.Sprintf("systemd does not build: the units run the executables built just now (in .bpm/ and target/), which bpm or cargo replace when they build again; after a change, build in release mode and `systemctl restart %s.target`, or copy the executables elsewhere and point ExecStart= at them", pre),
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
	if steps && (x.version == 0 || x.version >= restartStepsVersion) {
		w = append(w, "the restart delay grows with every automatic restart since the unit was last started by hand; bpm's starts from the initial delay again once a run stays up 60 s")
	}
	if x.cfg.Envrc {
		w = append(w, fmt.Sprintf("direnv exec refuses an .envrc its user has not allowed: run `direnv allow %s` as the units' user", x.cfg.Dir))
	}
	return w
}
