package tui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

func TestPanelsShowProcessesStatesAndOutput(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)

	u.waitText(within, "Server Status", "● connected", "mode release", "Process Details: hello",
		"▶ hello", "■ crashy", "✗ broken", "build failed", "backoff")
	// The first process is selected; its output follows, with the time.
	u.waitMatch(within, `\d\d:\d\d:\d\d hello`)
	u.waitMatch(within, `\d\d:\d\d:\d\d oops`)
	screen := u.waitText(within, "literal [red]brackets[-] stay") // log text is not read as colour tags

	pid := b.proc("hello").PID
	if !strings.Contains(screen, "pid "+strconv.Itoa(pid)) {
		t.Errorf("details do not show hello's pid %d:\n%s", pid, screen)
	}
	for _, s := range []string{"PID", "UPTIME", "4 processes"} {
		if !strings.Contains(screen, s) {
			t.Errorf("wide screen lacks %q:\n%s", s, screen)
		}
	}
	u.waitText(within, "▶ ticker")
	colours := []struct {
		text string
		want tcell.Color
	}{
		{"▶ ticker", tcell.ColorGreen},
		{"■ crashy", tcell.ColorYellow},
		{"✗ broken", tcell.ColorRed},
		{"oops", tcell.ColorRed}, // stderr
	}
	for _, c := range colours {
		if got := u.fg(c.text); got != c.want {
			t.Errorf("%q in %v, want %v", c.text, got, c.want)
		}
	}
	if got := u.fg("literal"); got == tcell.ColorRed {
		t.Errorf("stdout line drawn in the stderr colour")
	}
	// The selected row is drawn inverted: the indicator's colour becomes
	// the background.
	st, _ := u.style("▶ hello")
	if _, bg, _ := st.Decompose(); bg != tcell.ColorGreen {
		t.Errorf("selected ▶ on %v, want green", bg)
	}
}

func TestRestartKeyRestartsSelectedProcess(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.waitText(within, "Process Details: hello", "▶ running")
	old := b.proc("hello").PID

	release := b.holdBuilds() // building… stays until the test has seen it
	u.typ("r")
	u.waitText(within, "restart hello: building…")
	release()
	screen := u.waitText(within, "restarted hello: pid")
	p := b.proc("hello")
	if p.PID == old || p.PID == 0 {
		t.Fatalf("get_status pid %d after restart, was %d", p.PID, old)
	}
	if !strings.Contains(screen, "pid "+strconv.Itoa(p.PID)+" serves now") {
		t.Errorf("status area does not name the new pid %d:\n%s", p.PID, screen)
	}
	u.waitText(within, "mode dev", "→ release ")
	u.waitText(within, "pid "+strconv.Itoa(p.PID)+"  up") // details follow the new run
}

func TestRestartShowsBuildErrors(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.selectProcess("broken")

	u.typ("r")
	screen := u.waitText(within, "restart broken: build broken failed", "error: missing semicolon")
	if !u.hasFg("error: missing semicolon", tcell.ColorRed) {
		t.Errorf("build error not drawn in red:\n%s", screen)
	}
}

func TestBuildLogKeyShowsAndFollowsBuildOutput(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.selectProcess("broken")

	u.typ("b")
	u.waitText(within, "Build log: broken", "compiling", "error: missing semicolon", "build release finished")
	if !u.hasFg("error: missing semicolon", tcell.ColorRed) {
		t.Errorf("stderr of the build not drawn in red:\n%s", u.text())
	}
	// The build log is followed: a new build replaces it without a key.
	u.typ("r")
	u.waitText(within, "build dev finished")
	u.key(tcell.KeyEnter) // back to the tail
	u.waitText(within, "Output: broken", "no runs of broken yet")
}

func TestSearchShowsMatches(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.waitMatch(within, `\d\d:\d\d:\d\d oops`)

	u.typ("/")
	u.waitText(within, "search /")
	u.typ("o+p")
	u.key(tcell.KeyEnter)
	screen := u.waitText(within, "Search hello /o+p/: 1 match of 3 lines")
	if !regexp.MustCompile(`│ +\d oops`).MatchString(screen) {
		t.Errorf("the match is not shown with its line number:\n%s", screen)
	}
	st, _ := u.style("oop")
	if _, bg, _ := st.Decompose(); bg != tcell.ColorYellow {
		t.Errorf("match background %v, want yellow", bg)
	}

	// A bad pattern is bpm's tool error, shown; the console goes on.
	u.typ("/")
	u.key(tcell.KeyCtrlU) // the field starts with the last pattern
	u.typ("(")
	u.key(tcell.KeyEnter)
	u.waitText(within, "invalid pattern", "RE2")

	// Esc leaves the field without quitting; Enter goes back to the tail.
	u.typ("/")
	u.waitText(within, "search /")
	u.key(tcell.KeyEscape)
	u.waitText(within, "q quit")
	u.key(tcell.KeyEnter)
	u.waitText(within, "Output: hello, pid")
}

func TestClearKeepsFollowingNewLines(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.selectProcess("ticker")
	u.waitMatch(within, `tick 5\b`)

	u.typ("c")
	before := maxTick(u.text())
	u.waitFor(within, "ticks after the clear", func(screen string) bool {
		return minTick(screen) > before
	})
	// Later refreshes do not bring the cleared lines back.
	u.waitFor(within, "more ticks", func(screen string) bool {
		return maxTick(screen) > before+5 && minTick(screen) > before
	})
}

var tickRE = regexp.MustCompile(`tick (\d+)`)

func ticks(screen string) []int {
	var n []int
	for _, m := range tickRE.FindAllStringSubmatch(screen, -1) {
		i, _ := strconv.Atoi(m[1])
		n = append(n, i)
	}
	return n
}

func maxTick(screen string) int {
	m := 0
	for _, n := range ticks(screen) {
		m = max(m, n)
	}
	return m
}

// minTick is the smallest tick on screen; 0 when there is none.
func minTick(screen string) int {
	ns := ticks(screen)
	if len(ns) == 0 {
		return 0
	}
	m := ns[0]
	for _, n := range ns {
		m = min(m, n)
	}
	return m
}

func TestDisconnectAndReconnect(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.waitText(within, "● connected", "▶ hello")

	b.stopHTTP()
	screen := u.waitText(within, "✗ disconnected", "retrying in", "(last known)")
	if !strings.Contains(screen, "▶ hello") {
		t.Errorf("the last known processes are gone while disconnected:\n%s", screen)
	}

	b.serve() // same port, a handler that knows none of the old sessions
	u.waitText(within, "● connected", "reconnected (new session)")
	// The new session serves calls: a restart goes through it.
	old := b.proc("hello").PID
	u.typ("r")
	u.waitText(within, "restarted hello: pid")
	if b.proc("hello").PID == old {
		t.Errorf("restart through the new session did not restart hello")
	}
}

func TestTokenIsSentAsBearer(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "s3cret")
	with := startConsole(t, b.url, Options{Token: "s3cret"}, 160, 45)
	without := startConsole(t, b.url, Options{}, 160, 45)

	with.waitText(within, "● connected", "▶ hello")
	without.waitText(within, "✗ disconnected", "unauthorized (401)", "BPM_MCP_TOKEN")
}

func TestLayoutFitsTerminal(t *testing.T) {
	t.Parallel()
	b := startBPM(t, "")
	for _, size := range []struct {
		w, h int
		wide bool
	}{{80, 24, false}, {100, 30, false}, {160, 45, true}, {220, 60, true}} {
		t.Run(strconv.Itoa(size.w)+"x"+strconv.Itoa(size.h), func(t *testing.T) {
			u := startConsole(t, b.url, Options{}, size.w, size.h)
			screen := u.waitText(within, "Server Status", "Process Details: hello", "Processes", "Output: hello",
				"● connected", "▶ hello", "■ crashy", "✗ broken", "hello (command)", "q quit")
			u.waitMatch(within, `│ (\d\d:\d\d:\d\d )?oops`)
			rows := u.rows()
			if len(rows) != size.h {
				t.Fatalf("%d rows, want %d", len(rows), size.h)
			}
			if got := strings.Contains(screen, "UPTIME"); got != size.wide {
				t.Errorf("UPTIME column shown: %v, want %v:\n%s", got, size.wide, screen)
			}
			keys := strings.TrimRight(rows[size.h-1], " ")
			if !strings.HasPrefix(keys, "↑↓") || !strings.HasSuffix(keys, "q quit") || !regexp.MustCompile(`s/S stop/start|s stop  S start`).MatchString(keys) {
				t.Errorf("last row is not the whole key line with s and S: %q", keys)
			}
			// The bottom panels get at least half the height.
			out := regexp.MustCompile(`Output: hello`)
			for y, row := range rows {
				if out.MatchString(row) && y > size.h/2 {
					t.Errorf("output panel starts at row %d of %d:\n%s", y, size.h, screen)
				}
			}
		})
	}
}

func TestQuitKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []struct {
		name string
		key  tcell.Key
		r    rune
	}{{"q", tcell.KeyRune, 'q'}, {"Esc", tcell.KeyEscape, 0}, {"Ctrl-C", tcell.KeyCtrlC, 0}} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			// Nothing listens there: quitting must not wait on the dialler.
			u := startConsole(t, "http://127.0.0.1:1/mcp", Options{}, 80, 24)
			u.waitText(within, "✗ disconnected", "connection refused")
			u.sim.InjectKey(k.key, k.r, tcell.ModNone)
			if err := u.wait(within); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

func TestHelpKeyShowsKeysUntilAnyKey(t *testing.T) {
	t.Parallel()
	u := startConsole(t, "http://127.0.0.1:1/mcp", Options{}, 80, 24)
	u.waitText(within, "✗ disconnected")

	u.typ("?")
	u.waitText(within, "bpm console", "Press any key to close")
	u.typ("q") // closes the help, does not quit
	u.waitFor(within, "help closed", func(s string) bool { return !strings.Contains(s, "Press any key") })
	select {
	case <-u.done:
		t.Fatalf("q on the help quit the console")
	default:
	}
}
