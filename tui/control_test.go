package tui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

func TestStopKeyKeepsProcessDownAndStartBringsItBack(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.waitText(within, "Process Details: hello", "▶ running")
	old := b.proc("hello").PID

	u.typ("s")
	screen := u.waitText(within, "□ hello", "□ stopped")
	if p := b.proc("hello"); p.State != "stopped" || p.PID != 0 {
		t.Fatalf("after s: hello is %s with pid %d, want stopped without a pid", p.State, p.PID)
	}
	// The details say why, in the stopped colour; the list row (selected,
	// so drawn inverted) and the counts show it too.
	u.waitMatch(within, `│ stopped +by request`)
	if !u.hasFg("□ stopped", tcell.ColorGray) {
		t.Errorf("details do not draw □ stopped in grey:\n%s", screen)
	}
	if st, _ := u.style("□ hello"); !hasBg(st, tcell.ColorGray) {
		t.Errorf("the stopped row's indicator is not grey:\n%s", screen)
	}
	u.waitText(within, "□\u00a01", "stopped hello; it stays stopped") // bpm's answer
	if !u.hasFg("stopped hello;", tcell.ColorGreen) {
		t.Errorf("the stop's answer is not drawn as a success:\n%s", u.text())
	}

	u.typ("S")
	u.waitText(within, "▶ hello", "▶ running")
	p := b.proc("hello")
	if p.State != "running" || p.PID == 0 || p.PID == old {
		t.Fatalf("after S: hello is %s with pid %d (was %d), want running with a new pid", p.State, p.PID, old)
	}
	u.waitText(within, "started hello: pid "+strconv.Itoa(p.PID))
	if !u.hasFg("started hello:", tcell.ColorGreen) {
		t.Errorf("the start's answer is not drawn as a success:\n%s", u.text())
	}
}

func hasBg(st tcell.Style, c tcell.Color) bool {
	_, bg, _ := st.Decompose()
	return bg == c
}

// orchestrated has a process waiting for a dependency that never gets
// ready, and one that crashes at once until it is in a crash loop.
const orchestrated = `
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 3600
crash_loop_crashes = 3
crash_loop_window_seconds = 60

[process.db]
type = "command"
command = ["sh", "-c", "echo db starting; exec sleep 1000"]
[process.db.ready]
log = "accepting connections"
timeout_seconds = 3600

[process.app]
type = "command"
command = ["sleep", "1000"]
depends_on = ["db"]

[process.looper]
type = "command"
command = ["sh", "-c", "echo 'fatal: config.toml missing' >&2; exit 1"]
`

func TestWaitingAndCrashLoopAreShownWithTheirReasons(t *testing.T) {
	t.Parallel()
	b := startProject(t, orchestrated, "")
	u := startConsole(t, b.url, Options{}, 160, 45)

	screen := u.waitText(within, "… app", "waiting", "↻ looper", "crash loop", "↻\u00a01  …\u00a01")
	if got := u.fg("… app"); got != tcell.ColorTeal {
		t.Errorf("… app in %v, want teal:\n%s", got, screen)
	}
	if got := u.fg("↻ looper"); got != tcell.ColorFuchsia {
		t.Errorf("↻ looper in %v, want fuchsia:\n%s", got, screen)
	}
	if p := b.proc("app"); p.State != "waiting" || p.PID != 0 {
		t.Errorf("app is %s with pid %d, want waiting without a run", p.State, p.PID)
	}

	u.selectProcess("app")
	u.waitMatch(within, `│ waiting +.*\bdb\b`) // which dependency
	u.selectProcess("looper")
	u.waitMatch(within, `│ crash loop .*fatal: config\.toml missing`) // the first error
	if !u.hasFg("↻ crash loop", tcell.ColorFuchsia) {
		t.Errorf("details do not draw ↻ crash loop in fuchsia:\n%s", u.text())
	}
	if p := b.proc("looper"); p.State != "crash_loop" {
		t.Errorf("looper is %s, want crash_loop", p.State)
	}
}

func TestStartKeyShowsWhyItFailed(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.selectProcess("broken") // its build fails: start has nothing to run

	// The build waits until released: "starting…" is shown while it runs,
	// and the failure then replaces it.
	release := b.holdBuilds()
	u.typ("S")
	u.waitText(within, "start broken: starting…")
	release()
	screen := u.waitFor(within, "the start's answer", func(s string) bool {
		return strings.Contains(s, "start broken: ") && !strings.Contains(s, "start broken: starting…")
	})
	if !u.hasFg("start broken: ", tcell.ColorRed) {
		t.Errorf("the failed start is not drawn in red:\n%s", screen)
	}
	if p := b.proc("broken"); p.State != "build_failed" || p.PID != 0 {
		t.Errorf("broken is %s with pid %d after a failed start, want build_failed without a run", p.State, p.PID)
	}
}
