package export

import (
	"fmt"
	"net"
	"slices"

	"bpm/config"
)

// httpProbe is an ExecStartPost= command that returns once url answers 2xx;
// systemd's TimeoutStartSec= bounds it. It needs curl, and says so.
func httpProbe(url string) []string {
	const script = `command -v curl >/dev/null || { echo 'ready check: curl is not installed' >&2; exit 1; }; ` +
		`until curl -fs -o /dev/null --max-time 2 --noproxy '*' "$1"; do sleep 0.2; done`
	return []string{"/bin/sh", "-c", script, "ready", url}
}

// tcpProbe is an ExecStartPost= command that returns once host:port accepts
// a connection (bash's /dev/tcp, so nothing beyond bash is needed).
func tcpProbe(host, port string) []string {
	const script = `until (: <"/dev/tcp/$1/$2") 2>/dev/null; do sleep 0.2; done`
	return []string{"/bin/bash", "-c", script, "ready", host, port}
}

// startType writes Type=: notify for the processes --notify names, exec
// for the others (started once the executable runs).
func (x *sdExport) startType(u *unit, p *config.Process) {
	if slices.Contains(x.notifyNames(), p.Name) {
		u.comment("--notify %s: the app sends READY=1 (sd_notify) when it is ready, from any of its processes.", p.Name)
		u.set("Type", "notify")
		u.set("NotifyAccess", "all")
		return
	}
	u.set("Type", "exec")
	if art := x.proj.Artifacts[p.Name]; art != "" && mentionsNotify(art) {
		x.warnf("process %s: its executable mentions NOTIFY_SOCKET; if it sends READY=1, export with --notify %s for Type=notify",
			p.Name, p.Name)
	}
}

// ready maps [process.NAME.ready] to the nearest systemd form: the app's
// READY=1 with --notify, else an ExecStartPost= probe for http and tcp, else
// a comment and a warning (a log regex has no systemd form).
func (x *sdExport) ready(u *unit, p *config.Process) {
	r := p.Ready
	switch {
	case r == nil:
		return
	case slices.Contains(x.notifyNames(), p.Name):
		u.comment("[process.%s.ready] is left to the app's READY=1, within the same timeout.", p.Name)
	case r.Log != "":
		u.comment("[process.%s.ready] log = %q has no systemd form: the unit counts as started\n"+
			"once the process runs. An app that sends READY=1 can be exported with --notify %s.", p.Name, r.Log, p.Name)
		x.warnf("process %s: its ready check on the log (%q) has no systemd form; the unit counts as started once the process runs",
			p.Name, r.Log)
		return
	case r.HTTP != "":
		u.comment("[process.%s.ready] http: started once %s answers 2xx (curl); a start\n"+
			"that takes longer than TimeoutStartSec= fails and is restarted.", p.Name, r.HTTP)
		u.set("ExecStartPost", execLine(httpProbe(r.HTTP)))
	default:
		host, port, _ := net.SplitHostPort(r.TCP)
		if host == "" {
			host = "127.0.0.1"
		}
		if _, lport, _ := net.SplitHostPort(p.Listen); lport == port {
			u.comment("systemd holds this port's socket from the start, so this check passes at once.")
			x.warnf("process %s: its tcp ready check is on its own listen port, which systemd holds: it passes before the app runs; use an http check", p.Name)
		}
		u.comment("[process.%s.ready] tcp: started once %s accepts a connection; a start\n"+
			"that takes longer than TimeoutStartSec= fails and is restarted.", p.Name, r.TCP)
		u.set("ExecStartPost", execLine(tcpProbe(host, port)))
	}
	u.set("TimeoutStartSec", seconds(r.Timeout))
}

// health maps [process.NAME.health], which systemd cannot express, to a
// comment and a warning.
func (x *sdExport) health(u *unit, p *config.Process) {
	h := p.Health
	if h == nil {
		return
	}
	probe := "http 2xx from " + h.HTTP
	switch {
	case h.TCP != "":
		probe = "tcp connect to " + h.TCP
	case h.Exec != nil:
		probe = fmt.Sprintf("exec %q", h.Exec)
	}
	u.comment("[process.%s.health] %s every %s, %d failures in a row count as a crash:\n"+
		"systemd has no liveness probe. WatchdogSec= restarts an app that sends WATCHDOG=1\n"+
		"(sd_notify) and then stops sending it.", p.Name, probe, seconds(h.Interval), h.Failures)
	x.warnf("process %s: systemd has no liveness probe, so its health check (%s) is not carried over; WatchdogSec= serves an app that sends WATCHDOG=1",
		p.Name, probe)
}
