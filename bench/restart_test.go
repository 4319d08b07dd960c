//go:build e2e

package bench

import (
	"fmt"
	"testing"
	"time"
)

const restarts = 10

// restartVariants: the workload as issue 9 states it, and the same with a
// ready check, which shows the restart without the "alive for 1 s" rule.
var restartVariants = []struct {
	what, process string
}{
	{"no-op build, `sleep`, no ready check", `command = ["sleep", "100000"]`},
	{"no-op build, ready when it prints (`ready.log`)", `command = ["sh", "-c", "echo up; exec sleep 100000"]
ready = { log = "^up$" }`},
}

// restartSplit is where one restart's time went, from its events.
type restartSplit struct {
	call  time.Duration // the restart call, at the client
	build time.Duration // build_started → build_ok
	stop  time.Duration // build_ok → stopped (the old run)
	start time.Duration // stopped → started (the new run)
	ready time.Duration // started → ready
}

// restart is workload 6: restart of a process whose build is a no-op,
// without `listen`, from the call to the new run serving, split into build,
// stop, start and ready by the process's events.
func (s *suite) restart(t *testing.T) {
	const w = "6 restart"
	for _, v := range restartVariants {
		// Without the settle window (restart_settle_seconds, 3 s by default,
		// during which restart watches the new run for a crash) the call
		// measures the swap itself.
		b := s.startBPM(t, "restart_settle_seconds = 0\n\n[process.app]\ntype = \"command\"\nbuild = [\"true\"]\n"+v.process+"\n")
		waitUntil(t, 30*time.Second, 20*time.Millisecond, "app running", func() bool {
			st, _ := getStatus(t, b.cs)
			return st.running() == 1
		})
		var splits []restartSplit
		var buildSeconds []float64
		for range restarts {
			res, took := call(t, b.cs, "restart", map[string]any{"process": "app"})
			var rr struct {
				BuildSeconds float64 `json:"build_seconds"`
			}
			structured(t, res, &rr)
			buildSeconds = append(buildSeconds, rr.BuildSeconds)
			st, _ := getStatus(t, b.cs)
			sp := splitRestart(t, st)
			sp.call = took
			splits = append(splits, sp)
		}
		b.stop(t)
		m := func(f func(restartSplit) time.Duration) time.Duration {
			ds := make([]time.Duration, len(splits))
			for i, sp := range splits {
				ds[i] = f(sp)
			}
			return medianDur(ds)
		}
		call := m(func(sp restartSplit) time.Duration { return sp.call })
		s.add(row{workload: w, what: fmt.Sprintf("restart call → new run serving, %s (median of %d)", v.what, restarts),
			result: fmt.Sprintf("%s: build %s (build_seconds %.3f), stop %s, start %s, ready %s", ms(call),
				ms(m(func(sp restartSplit) time.Duration { return sp.build })), median(buildSeconds),
				ms(m(func(sp restartSplit) time.Duration { return sp.stop })),
				ms(m(func(sp restartSplit) time.Duration { return sp.start })),
				ms(m(func(sp restartSplit) time.Duration { return sp.ready }))),
			target: "< 300 ms", verdict: verdict(call < 300*time.Millisecond)})
	}
}

// splitRestart reads the latest restart's times from get_status's events.
func splitRestart(t *testing.T, st status) restartSplit {
	t.Helper()
	events := st.Processes[0].Events
	at := map[string]time.Time{}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == "build_started" {
			for _, e := range events[i:] {
				if _, seen := at[e.Kind]; !seen {
					at[e.Kind] = e.Time
				}
			}
			break
		}
	}
	for _, k := range []string{"build_started", "build_ok", "stopped", "started", "ready"} {
		if at[k].IsZero() {
			t.Fatalf("no %q event after the restart's build_started in %+v", k, events)
		}
	}
	return restartSplit{
		build: at["build_ok"].Sub(at["build_started"]),
		stop:  at["stopped"].Sub(at["build_ok"]),
		start: at["started"].Sub(at["stopped"]),
		ready: at["ready"].Sub(at["started"]),
	}
}
