package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// dirPoll is how often a process whose directory is missing looks for it
// again. A stat a second is nothing; a directory moved back is noticed
// within a second.
const dirPoll = time.Second

// dirCheckDue is the time to look for the missing directory again; gen
// tells the current watch from an ended one.
type dirCheckDue struct{ gen int }

// dirWatch is a process's watch on a directory its builds and runs need
// (the project's, or its `dir`) that was moved or deleted while bpm ran.
// Starting anyway would fail with a misleading "fork/exec …: no such file
// or directory", count as a crash, and soon as a crash loop; and the log
// writer would re-create an empty ghost of the project for the next run.
type dirWatch struct {
	missing string // the directory found missing; "" when not watching
	gen     int
	timer   Timer
}

// dirGone returns the directory the process's builds and runs need that is
// missing now, "" when none is. When none serves, the process then waits in
// state dir_missing, the directory is looked for every dirPoll and the
// process started once it is back: a missing directory is neither a crash
// nor a failed build. A directory found back ends the watch.
func (p *Process) dirGone() string {
	dir := p.cfg.MissingDir(p.proc)
	if dir == "" {
		if p.dirs.missing != "" {
			p.event("dir_back", fmt.Sprintf("%s %s is back", p.cfg.DirKind(p.dirs.missing), p.dirs.missing))
			p.endDirWatch()
		}
		return ""
	}
	if p.cur == nil && !p.held && !p.stopping {
		p.watchDir(dir)
	}
	return dir
}

// watchDir puts the process in state dir_missing, dir being what is
// missing, and arms the first look for it.
func (p *Process) watchDir(dir string) {
	p.cancelRetry()
	p.state = StateDirMissing
	if p.dirs.missing == dir {
		return
	}
	first := p.dirs.missing == ""
	p.dirs.missing = dir
	p.event(StateDirMissing, fmt.Sprintf("%s %s is missing (moved or deleted?); bpm starts %s once it is back",
		p.cfg.DirKind(dir), dir, p.proc.Name))
	if first {
		p.armDirCheck()
	}
}

func (p *Process) armDirCheck() {
	stopTimer(p.dirs.timer)
	p.dirs.gen++
	root, self, gen := p.root, p.self, p.dirs.gen
	p.dirs.timer = p.clock.AfterFunc(dirPoll, func() { root.Send(self, dirCheckDue{gen: gen}) })
}

// endDirWatch stops looking for the directory (it is back, or the process
// was stopped).
func (p *Process) endDirWatch() {
	stopTimer(p.dirs.timer)
	p.dirs = dirWatch{gen: p.dirs.gen + 1}
}

// dirCheck looks for the missing directory; once it is back the process
// goes on where it stopped: a run of its last good build, or a build.
func (p *Process) dirCheck(ctx actor.Context, m dirCheckDue) {
	if m.gen != p.dirs.gen || p.dirs.missing == "" {
		return
	}
	if p.held || p.stopping || p.cur != nil {
		p.endDirWatch()
		return
	}
	if p.dirGone() != "" {
		p.armDirCheck()
		return
	}
	if p.phase != phaseIdle {
		return
	}
	if !p.built {
		p.waiting = nil
		p.startBuild(ctx, p.mode)
		return
	}
	p.startRun(ctx)
}

// dirErr is what the caller of a start or restart gets while dir is missing.
func (p *Process) dirErr(dir string) error {
	err := fmt.Errorf("%s cannot start: its %s %s is missing (moved or deleted?); bpm starts it once the directory is back",
		p.proc.Name, p.cfg.DirKind(dir), dir)
	if p.cur != nil {
		err = fmt.Errorf("%s cannot restart: its %s %s is missing (moved or deleted?); pid %d keeps serving",
			p.proc.Name, p.cfg.DirKind(dir), dir, p.cur.pid)
	}
	return err
}
