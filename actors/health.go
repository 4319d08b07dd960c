package actors

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// runUnhealthy says that the liveness probe of run id failed the configured
// number of times in a row; err is the last probe's error.
type runUnhealthy struct {
	id  int
	err error
}

// watchHealth starts the liveness probes of r, which has just become the
// ready, serving run. They end with r's other watchers (endWatch closes
// r.cancel): when bpm stops r, when it exits, or after reporting it
// unhealthy. Every later run gets probes of its own once it is ready, so a
// failing probe never stops a process for good.
func (p *Process) watchHealth(r *run) {
	hc := p.proc.Health
	if hc == nil || r.cancel != nil || r != p.cur {
		return
	}
	r.cancel = make(chan struct{})
	root, self, id := p.root, p.self, r.id
	h := &healthProbe{hc: hc, guard: p.guard}
	if hc.Exec != nil {
		h.argv = p.cfg.Wrap(hc.Exec)
		h.dir = p.proc.Dir
		h.env = append(withoutSocketEnv(os.Environ()), p.proc.Env...)
	}
	go h.watch(r.cancel, func(err error) { root.Send(self, runUnhealthy{id: id, err: err}) })
}

// unhealthy treats the serving run whose probes failed as crashed: it is
// stopped (stop signal, then SIGKILL after the stop timeout), and its exit
// goes through the crash path (the mode's wait, then a new run). A report
// about a run that no longer serves, or that bpm is already stopping, is
// stale and ignored.
func (p *Process) unhealthy(ctx actor.Context, m runUnhealthy) {
	r := p.runs[m.id]
	if r == nil || r != p.cur || r.stopping || p.stopping {
		return
	}
	why := healthFailure(p.proc.Health.Failures, m.err)
	if p.next != nil {
		// A hand-off: both runs accept on the shared socket, so the
		// failure may be the new run's. Probe again from zero; if the
		// hand-off rolls back, r's own failures show again.
		if n := len(p.events); n == 0 || p.events[n-1].Kind != "health_unsure" {
			p.event("health_unsure", fmt.Sprintf("pid %d: %s, while pid %d starts beside it; probing again", r.pid, why, p.next.pid))
		}
		close(r.cancel)
		r.cancel = nil
		p.watchHealth(r)
		return
	}
	p.event("health_failed", fmt.Sprintf("pid %d: %s", r.pid, why))
	r.failed = true
	r.failure = "health check failed, " + why
	p.stopRun(ctx, r, "health check failed")
}

// healthFailure says how the probes failed: "3 probes failed in a row: GET
// http://127.0.0.1:8080/health: 500 Internal Server Error".
func healthFailure(failures int, err error) string {
	if failures == 1 {
		return fmt.Sprintf("probe failed: %v", err)
	}
	return fmt.Sprintf("%d probes failed in a row: %v", failures, err)
}

// healthProbe is one run's liveness probe. Its goroutine only sends a
// message to the process actor (through unhealthy) and registers exec
// probes with the guard.
type healthProbe struct {
	hc    *config.Health
	argv  []string // exec: the probe, wrapped in direnv like runs
	dir   string   // exec: the process's working directory
	env   []string // exec: bpm's environment plus the process's env
	guard *Guard   // exec: kills a probe's group if bpm dies
}

// watch probes every Interval, the first one Interval after the run became
// ready, each bounded by Timeout. After Failures failures in a row it calls
// unhealthy once and returns; a passing probe resets the count. Closing
// cancel ends it, and kills an exec probe under way.
func (h *healthProbe) watch(cancel <-chan struct{}, unhealthy func(error)) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		select {
		case <-cancel:
			stop()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(h.hc.Interval)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := h.once(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failed = 0
			continue
		}
		if failed++; failed >= h.hc.Failures {
			unhealthy(err)
			return
		}
	}
}

// once runs one probe within Timeout and says why it failed, or nil.
func (h *healthProbe) once(ctx context.Context) error {
	switch {
	case h.hc.HTTP != "":
		return probeHTTP(ctx, h.hc.HTTP, h.hc.Timeout)
	case h.hc.TCP != "":
		return probeTCP(ctx, h.hc.TCP, h.hc.Timeout)
	default:
		return probeExec(ctx, h.argv, h.dir, h.env, h.hc.Timeout, h.guard)
	}
}
