package actors

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
)

// daemonized reports whether run r daemonized: bpm did not ask it to stop,
// its leader exited 0, and it left descendants running (a double fork, or a
// child sent to the background). bpm manages foreground processes: what it
// left was killed with it (osproc.Guard.Release), and restarting the command
// would only start, and kill, one more daemon each time.
func daemonized(r *run, info osproc.ExitInfo) bool {
	return !r.stopping && info.Err == nil && info.Signal == "" && info.Code == 0 && len(info.Left) > 0
}

// daemonized ends the serving run r that daemonized: the process stays
// stopped, as after a stop request, with last_exit saying why, until start
// or restart; a restart waiting for r gets the same error.
func (p *Process) daemonized(ctx actor.Context, r *run) {
	p.event("daemonized", p.lastExit)
	if p.phase == phaseSwapping && !r.ready {
		p.failSwap(ctx, r, fmt.Errorf("restart %s: %s", p.proc.Name, p.lastExit))
	}
	p.held, p.wantStart = true, false
	p.cancelRetry()
	p.endCrashLoop("")
	p.state = StateStopped
}

// pidList names pids for last_exit: "pid 12", "pids 12, 13 and 2 more".
func pidList(pids []int) string {
	const shown = 3
	var b strings.Builder
	if len(pids) == 1 {
		b.WriteString("pid ")
	} else {
		b.WriteString("pids ")
	}
	for i, pid := range pids[:min(len(pids), shown)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(pid))
	}
	if len(pids) > shown {
		fmt.Fprintf(&b, " and %d more", len(pids)-shown)
	}
	return b.String()
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
