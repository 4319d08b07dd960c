package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
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
	if p.socket != nil && sharesPort(hc, p.proc.Listen) {
		h.dialer.Owner = r.pid
	}
	if hc.Exec != nil {
		h.argv = p.cfg.Wrap(hc.Exec)
		h.dir = p.proc.Dir
		h.env = append(osproc.WithoutSocketEnv(os.Environ()), p.proc.Env...)
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
	argv  []string      // exec: the probe, wrapped in direnv like runs
	dir   string        // exec: the process's working directory
	env   []string      // exec: bpm's environment plus the process's env
	guard *osproc.Guard // exec: kills a probe's group if bpm dies

	dialer osproc.HealthDialer // http, tcp: how probes connect
	client *http.Client        // http: made by watch from dialer
}

// watch probes every Interval, the first one Interval after the run became
// ready, each bounded by Timeout. After Failures failures in a row it calls
// unhealthy once and returns; a passing probe resets the count. Closing
// cancel ends it, and kills an exec probe under way.
func (h *healthProbe) watch(cancel <-chan struct{}, unhealthy func(error)) {
	ctx, stop := untilClosed(cancel)
	defer stop()
	h.client = h.dialer.Client()
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
		switch {
		case errors.Is(err, osproc.ErrOtherRun):
			continue
		case err == nil:
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
		return osproc.ProbeHTTP(ctx, h.client, h.hc.HTTP, h.hc.Timeout)
	case h.hc.TCP != "":
		return osproc.ProbeTCP(ctx, h.dialer, h.hc.TCP, h.hc.Timeout)
	default:
		return osproc.ProbeExec(ctx, h.argv, h.dir, h.env, h.hc.Timeout, h.guard)
	}
}

// sharesPort reports whether hc's http or tcp probe connects to the port of
// listen, the socket every run of the process shares: then a probe counts
// only when the probed run itself accepted it.
func sharesPort(hc *config.Health, listen string) bool {
	_, lport, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	addr := hc.TCP
	if hc.HTTP != "" {
		u, err := url.Parse(hc.HTTP)
		if err != nil {
			return false
		}
		addr = u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
	}
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == lport
}
