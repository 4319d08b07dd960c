package tui

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"bpm/api"
)

// tailLines is how many of the newest lines the output panel fetches.
const tailLines = 500

type outputMode int

const (
	modeTail   outputMode = iota // the selected process's newest lines, followed
	modeSearch                   // matches of a pattern, until Enter
	modeBuild                    // the latest build log, followed, until Enter
)

// output is what the Output panel shows and how it got there.
type output struct {
	mode    outputMode
	pattern string
	gen     int  // bumped per request; answers to older ones are dropped
	busy    int  // requests in flight
	paused  bool // the user scrolled up: the tail is not replaced
	title   string
	shown   string          // identity of the tail on screen, to skip identical redraws
	last    mark            // newest line of the tail on screen
	marks   map[string]mark // per process: c hides lines up to here
}

// mark is a line of a run: runs are told apart by pid and start time.
type mark struct {
	pid     int
	started time.Time
	n       int
}

// selectRow follows the process table's selection.
func (c *Console) selectRow(row int) {
	if c.status == nil || row < 1 || row > len(c.status.Processes) {
		return
	}
	name := c.status.Processes[row-1].Name
	if name == c.selected {
		return
	}
	c.selected = name
	c.out.mode, c.out.paused, c.out.shown, c.out.last = modeTail, false, "", mark{}
	c.ui.output.Clear()
	c.renderDetails()
	c.fetchOutput()
}

// showTail goes back to following the selected process's tail (Enter).
func (c *Console) showTail() {
	c.out.mode, c.out.paused, c.out.shown = modeTail, false, ""
	c.fetchOutput()
}

// showBuildLog shows the selected process's latest build log (b).
func (c *Console) showBuildLog() {
	c.out.mode, c.out.paused, c.out.shown = modeBuild, false, ""
	c.fetchOutput()
}

// clearOutput empties the output panel; the tail then shows only lines
// written after this (c).
func (c *Console) clearOutput() {
	if c.selected == "" {
		return
	}
	c.out.marks[c.selected] = c.out.last
	c.out.mode, c.out.paused, c.out.shown = modeTail, false, ""
	c.ui.output.Clear()
	c.fetchOutput()
}

// startSearch opens the search field (/).
func (c *Console) startSearch() {
	if c.selected == "" {
		return
	}
	c.searching = true
	c.ui.search.SetText(c.out.pattern)
	c.ui.footer.SwitchToPage("search")
	c.app.SetFocus(c.ui.search)
}

// searchDone closes the search field: Enter searches, Esc cancels.
func (c *Console) searchDone(key tcell.Key) {
	c.searching = false
	c.ui.footer.SwitchToPage("keys")
	c.app.SetFocus(c.ui.procs)
	if key != tcell.KeyEnter {
		return
	}
	c.out.pattern = c.ui.search.GetText()
	if c.out.pattern == "" {
		c.showTail()
		return
	}
	c.out.mode, c.out.paused = modeSearch, false
	c.fetchOutput()
}

// fetchOutput asks for what the output mode shows, for the selected process.
func (c *Console) fetchOutput() {
	name, cs := c.selected, c.session
	if name == "" || cs == nil {
		return
	}
	c.out.gen++
	gen, mode := c.out.gen, c.out.mode
	tool, args := "search_logs", searchArgs{Process: name, Tail: tailLines}
	switch mode {
	case modeBuild:
		tool = "search_build_log"
	case modeSearch:
		args.Pattern = c.out.pattern
	}
	c.out.busy++
	c.spawn(func(ctx context.Context) func() {
		call := func(args searchArgs) (api.SearchOutput, error) {
			var r api.SearchOutput
			_, err := callTool(ctx, cs, tool, args, searchTimeout, &r)
			return r, err
		}
		var r api.SearchOutput
		var err error
		if mode == modeSearch {
			r, err = call(args)
		} else {
			r, err = fetchLines(call, args)
		}
		return func() {
			c.out.busy--
			if gen != c.out.gen || name != c.selected {
				return
			}
			c.showOutput(mode, args, r, err)
		}
	})
}

// showOutput puts an answer of fetchOutput on the output panel.
func (c *Console) showOutput(mode outputMode, args searchArgs, r api.SearchOutput, err error) {
	o := c.ui.output
	if err != nil && mode == modeTail && !isToolError(err) {
		return // the connection is lost: keep the last lines; Server Status says so
	}
	if err != nil {
		c.out.shown = ""
		c.out.title = fmt.Sprintf("%s: %s", modeName(mode), escape(args.Process))
		o.SetText("[gray]" + escape(err.Error()) + "[-]")
		if mode != modeTail {
			c.setMessage(levelBad, err.Error())
		}
		c.renderOutputTitle()
		return
	}
	switch mode {
	case modeTail:
		c.showTailLines(r)
	case modeSearch:
		re, _ := regexp.Compile(args.Pattern) // bpm compiled it already: RE2 both sides
		if len(r.Lines) == 0 {
			o.SetText("[gray](no matches)[-]")
		} else {
			o.SetText(formatLines(r.Lines, lineFormat{number: true, re: re, before: r.Selected - len(r.Lines)}))
			o.ScrollToEnd()
		}
		c.out.title = fmt.Sprintf("Search %s /%s/: %s of %s", escape(args.Process), escape(args.Pattern),
			plural(r.Matches, "match", "matches"), plural(r.Run.TotalLines, "line", "lines"))
	case modeBuild:
		c.out.title = fmt.Sprintf("Build log: %s, started %s", escape(args.Process), clock(r.Run.StartedAt))
		c.showLines(r, r.Lines, 0)
	}
	c.renderOutputTitle()
}

// showTailLines shows a tail, without the lines hidden by c, following it
// unless the user scrolled up.
func (c *Console) showTailLines(r api.SearchOutput) {
	name := r.Process
	run := mark{pid: r.Run.PID, started: r.Run.StartedAt}
	lines, cleared := r.Lines, 0
	if m, ok := c.out.marks[name]; ok && m.pid == run.pid && m.started.Equal(run.started) {
		for len(lines) > 0 && lines[0].N <= m.n {
			lines = lines[1:]
		}
		cleared = m.n
	}
	c.out.last = run
	if n := len(r.Lines); n > 0 {
		c.out.last.n = r.Lines[n-1].N
	}
	c.out.title = fmt.Sprintf("Output: %s, pid %d", escape(name), run.pid)
	c.showLines(r, lines, cleared)
}

// showLines shows lines of the tail r, those after line cleared (c),
// following them unless the user scrolled up; the same lines as on screen
// are not drawn again. Lines of the tail that bpm left out are noted.
func (c *Console) showLines(r api.SearchOutput, lines []api.LineOut, cleared int) {
	f := lineFormat{time: c.wide(), run: r, terminal: true, gaps: true}
	if len(lines) > 0 {
		f.before = lines[0].N - max(windowStart(r), cleared+1)
	}
	last := 0
	if n := len(r.Lines); n > 0 {
		last = r.Lines[n-1].N
	}
	shown := fmt.Sprintf("%s %d %d %d %d %t", r.Kind, r.Run.PID, r.Run.StartedAt.UnixNano(), last, len(lines), f.time)
	if shown == c.out.shown || c.out.paused {
		return
	}
	c.out.shown = shown
	if len(lines) == 0 {
		note := "(no output yet)"
		if len(r.Lines) > 0 {
			note = "(cleared; new lines show here)"
		}
		c.ui.output.SetText("[gray]" + note + "[-]")
		return
	}
	c.ui.output.SetText(formatLines(lines, f))
	c.ui.output.ScrollToEnd()
}

func modeName(m outputMode) string {
	switch m {
	case modeSearch:
		return "Search"
	case modeBuild:
		return "Build log"
	}
	return "Output"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// escape keeps text from being read as tview colour tags.
func escape(s string) string { return tview.Escape(s) }
