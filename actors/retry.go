package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// releaseRebuild is the switch back to release mode for one process: only a
// dev build is rebuilt; a release build keeps running untouched.
func (p *Process) releaseRebuild(ctx actor.Context) {
	devBuild := p.built && p.artMode == config.Dev
	if p.phase == phaseBuilding && p.buildStatus.Mode == config.Dev {
		devBuild = true
	}
	if len(p.pending) > 0 && p.pendingMode == config.Dev {
		devBuild = true
	}
	if !devBuild || p.held {
		return
	}
	if p.cfg.BuildArgv(p.proc, config.Release) == nil && p.cfg.BuildArgv(p.proc, config.Dev) == nil {
		// Nothing is built: dev and release runs are the same command.
		p.artMode = config.Release
		return
	}
	p.request(ctx, config.Release, nil)
}

// retryAfterFailedBuild keeps a process whose build failed, with no run
// serving, from staying down for good (a network not up yet at boot): with
// a good build it runs that one after the crash wait; without one it builds
// again after the mode's wait, the release backoff growing with each failure.
func (p *Process) retryAfterFailedBuild() {
	if p.stopping || p.held {
		return
	}
	if p.built {
		p.scheduleRetry(0)
		return
	}
	wait := p.cfg.DevCrashWait
	if p.mode != config.Dev {
		wait = ReleaseBackoff(p.cfg.BackoffInitial, p.cfg.BackoffMax, p.buildFailures)
	}
	p.buildFailures++
	p.armRetry(wait)
	p.event("build_retry_scheduled", fmt.Sprintf("build again in %s (%s mode)", wait.Round(time.Millisecond), p.mode))
}

// scheduleRetry arms the wait before restarting after a crash: the dev wait
// in dev mode, the growing backoff in release mode.
func (p *Process) scheduleRetry(uptime time.Duration) {
	if p.stopping || p.held {
		p.state = StateStopped
		return
	}
	if uptime >= backoffResetAfter {
		p.crashSeries = 0
	}
	var wait time.Duration
	if p.mode == config.Dev {
		wait = p.cfg.DevCrashWait
		p.state = StateCrashed
	} else {
		wait = ReleaseBackoff(p.cfg.BackoffInitial, p.cfg.BackoffMax, p.crashSeries)
		p.state = StateBackoff
	}
	p.crashSeries++
	if p.loop.active {
		// A crash loop waits the longest backoff (dev mode keeps its wait).
		if p.mode != config.Dev {
			wait = p.cfg.BackoffMax
		}
		p.state = StateCrashLoop
	}
	p.armRetry(wait)
	p.event("restart_scheduled", fmt.Sprintf("restart in %s (%s mode)", wait.Round(time.Millisecond), p.mode))
}

// armRetry fires retryDue after wait, replacing any wait armed before.
func (p *Process) armRetry(wait time.Duration) {
	p.retryGen++
	gen := p.retryGen
	p.nextRestartAt = p.clock.Now().Add(wait)
	stopTimer(p.retryTimer)
	root, self := p.root, p.self
	p.retryTimer = p.clock.AfterFunc(wait, func() { root.Send(self, retryDue{gen: gen}) })
}

func (p *Process) cancelRetry() {
	stopTimer(p.retryTimer)
	p.retryTimer = nil
	p.retryGen++
	p.nextRestartAt = time.Time{}
}

// retry starts the last good build again after a crash wait. During a build
// it does too (the new build may fail; until it is done the old one serves),
// but not during a swap, which starts a run of its own. Without a good build
// it builds again, in bpm's mode.
func (p *Process) retry(ctx actor.Context, m retryDue) {
	if m.gen != p.retryGen || p.stopping || p.held || p.cur != nil || p.phase == phaseSwapping {
		return
	}
	p.nextRestartAt = time.Time{}
	p.retryTimer = nil
	if !p.built {
		if p.phase == phaseIdle {
			p.waiting = nil
			p.startBuild(ctx, p.mode)
		}
		return
	}
	p.startRun(ctx)
}
