package tui

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// overwriting has a process that draws a progress line with carriage
// returns, and one that writes two lines of 64 KiB among short ones.
const overwriting = `
[process.progress]
type = "command"
command = ["sh", "-c", "echo before; printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'; echo after; printf 'done\\r\\r\\n'; echo last; exec sleep 1000"]

[process.long]
type = "command"
command = ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; head -c 70000 /dev/zero | tr '\\0' x; echo; echo line 7; head -c 70000 /dev/zero | tr '\\0' y; echo; exec sleep 1000"]
`

var outputRowRE = regexp.MustCompile(`║│(.*)│$`)

// outputRows is the text of the output panel's rows, the time column
// included, without trailing blanks.
func outputRows(screen string) []string {
	var rows []string
	for _, row := range strings.Split(screen, "\n") {
		if m := outputRowRE.FindStringSubmatch(row); m != nil {
			rows = append(rows, strings.TrimRight(m[1], " "))
		}
	}
	return rows
}

// inOrder reports whether each of want is in a row of rows after the row of
// the one before it, and nothing else is between them (but rows that
// continue a wrapped line, which have no time column).
func inOrder(rows []string, want ...string) bool {
	at := -1
	for i, r := range rows {
		if strings.Contains(r, want[0]) {
			at = i
			break
		}
	}
	if at < 0 {
		return false
	}
	for _, w := range want[1:] {
		at++
		for at < len(rows) && !timeColumn.MatchString(rows[at]) && !strings.Contains(rows[at], w) {
			at++ // the rest of a wrapped line
		}
		if at >= len(rows) || !strings.Contains(rows[at], w) {
			return false
		}
	}
	return true
}

var timeColumn = regexp.MustCompile(`^ \d\d:\d\d:\d\d `)

func TestProgressLineIsDrawnAsATerminalLeavesIt(t *testing.T) {
	t.Parallel()
	b := startProject(t, overwriting, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.waitText(within, "Output: progress")

	screen := u.waitText(within, "before", "after", "last")
	rows := outputRows(screen)
	if !inOrder(rows, "before", "progress 100%", "after", "done", "last") {
		t.Errorf("the output is not before, progress 100%%, after, done, last, a row each:\n%s", strings.Join(rows, "\n"))
	}
	for _, s := range []string{"progress 10%", "progress 50%", "␍"} {
		if strings.Contains(screen, s) {
			t.Errorf("%q is drawn; a terminal shows only the last segment:\n%s", s, screen)
		}
	}
	// A search shows the whole line, carriage returns as ␍, and finds the
	// segments a terminal no longer shows.
	u.typ("/")
	u.waitText(within, "search /")
	u.typ("50%")
	u.key(tcell.KeyEnter)
	u.waitText(within, "Search progress /50%/: 1 match", "progress 10%␍progress 50%␍progress 100%")
}

func TestLongLineIsCutAndEarlierLinesStay(t *testing.T) {
	t.Parallel()
	b := startProject(t, overwriting, "")
	u := startConsole(t, b.url, Options{}, 160, 45)
	u.selectProcess("long")

	screen := u.waitText(within, "Output: long", "line 1", "line 7", "yyyy", "of this line left out]")
	rows := outputRows(screen)
	if !inOrder(rows, "line 1", "line 2", "line 3", "line 4", "line 5",
		"… 1 line left out: longer than 500 characters; / finds them", "line 7", "yyyy") {
		t.Errorf("the output is not lines 1 to 5, a note of the x line, line 7, the y line:\n%s", strings.Join(rows, "\n"))
	}
	// The y line is cut at 500 characters; the note says how much is left out
	// (the line bpm kept is 64 KiB and its marker).
	ys := strings.Count(strings.Join(rows, ""), "y")
	if ys != 500 {
		t.Errorf("%d y drawn, want the first 500:\n%s", ys, screen)
	}
	if !regexp.MustCompile(`…\[63\.\d KiB of this line left out\]`).MatchString(screen) {
		t.Errorf("no note of the 63.x KiB left out:\n%s", screen)
	}
	if strings.Contains(screen, "xxxxx") {
		t.Errorf("the x line, left out of both answers, is drawn:\n%s", screen)
	}
}
