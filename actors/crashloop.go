package actors

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// crashLoop is a process's record of recent crashes: crash_loop_crashes of
// them within crash_loop_window_seconds put it in state crash_loop, where
// restarts wait the longest backoff and its runs' output is throttled, until
// a run stays up for the window.
type crashLoop struct {
	crashes    []time.Time // crashes within the window, oldest first
	active     bool
	firstError string
	gen        int // tells the current settle timer from cancelled ones
	timer      Timer
}

// loopSettled fires when run id has been ready for the crash-loop window.
type loopSettled struct{ gen, id int }

// errorLine picks the line of a crashed run that most likely says why.
var errorLine = regexp.MustCompile(`(?i)error|panic|fatal|exception|failed|refused|denied|cannot|unable`)

// noteCrash counts a crash of r; the one that reaches the threshold within
// the window starts a crash loop, whose first error line is then asked of
// the logbuffer.
func (p *Process) noteCrash(ctx actor.Context, r *run) {
	now, window := p.clock.Now(), p.cfg.CrashLoopWindow
	kept := p.loop.crashes[:0]
	for _, t := range p.loop.crashes {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	p.loop.crashes = append(kept, now)
	if p.loop.active || len(p.loop.crashes) < p.cfg.CrashLoopCrashes {
		return
	}
	p.loop.active = true
	lastExit := p.lastExit
	summary := fmt.Sprintf("%d crashes within %s", len(p.loop.crashes), window)
	if r.failure != "" {
		// bpm stopped it (a health check): that is the error.
		p.loop.firstError = r.failure
		p.event("crash_loop", summary+"; first error: "+r.failure)
		return
	}
	// The first line of the run that reads like an error (the logbuffer
	// notes it as lines arrive, so a long dump after it cannot push it
	// out), else the likeliest of its last lines.
	f := ctx.RequestFuture(p.logs, TailRequest{Kind: KindRun, ID: r.id, N: runTailLines}, askTimeout)
	reenterAfter(ctx, f, func(res any, _ error) {
		if !p.loop.active {
			return
		}
		p.loop.firstError = lastExit
		if t, ok := res.(TailReply); ok {
			p.loop.firstError = crashCause(t, lastExit)
		}
		p.event("crash_loop", summary+"; first error: "+p.loop.firstError)
		p.publish(ctx)
	})
}

// crashCause picks the line that most likely says why a run crashed: the
// line that opened its crash report (a panic), else an error-like line
// among its last lines, else the first error-like line it wrote to stderr,
// else its last line, else how it exited.
func crashCause(t TailReply, exit string) string {
	if t.CrashLine != "" {
		return t.CrashLine
	}
	line, isError := pickErrorLine(t.Lines)
	switch {
	case isError:
		return line
	case t.FirstError != "":
		return t.FirstError
	case line != "":
		return line
	}
	return exit
}

// pickErrorLine returns the first line that reads like an error (isError),
// else the last non-empty line.
func pickErrorLine(lines []string) (line string, isError bool) {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if errorLine.MatchString(l) {
			return l, true
		}
		line = l
	}
	return line, false
}

// watchLoopEnd arms the end of a crash loop: r, once ready, must stay up
// for the window.
func (p *Process) watchLoopEnd(r *run) {
	if !p.loop.active {
		return
	}
	stopTimer(p.loop.timer)
	p.loop.gen++
	root, self, gen, id := p.root, p.self, p.loop.gen, r.id
	p.loop.timer = p.clock.AfterFunc(p.cfg.CrashLoopWindow, func() { root.Send(self, loopSettled{gen: gen, id: id}) })
}

func (p *Process) loopSettled(m loopSettled) {
	if m.gen != p.loop.gen || p.cur == nil || p.cur.id != m.id {
		return
	}
	p.endCrashLoop(fmt.Sprintf("pid %d stayed up for %s", p.cur.pid, p.cfg.CrashLoopWindow))
	// It was started throttled; from now on its lines are kept again.
	p.root.Send(p.logs, LogUnthrottle{ID: m.id})
}

// endCrashLoop leaves the crash loop (why: "" to say nothing).
func (p *Process) endCrashLoop(why string) {
	stopTimer(p.loop.timer)
	p.loop.gen++
	if p.loop.active && why != "" {
		p.event("crash_loop_ended", why)
	}
	p.loop = crashLoop{gen: p.loop.gen}
}
