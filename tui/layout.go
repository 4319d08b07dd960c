package tui

import (
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// widgets are the console's tview primitives.
type widgets struct {
	root    *tview.Pages // "main", and "help" over it
	main    *tview.Flex  // top, bottom, footer
	top     *tview.Flex  // server | details
	bottom  *tview.Flex  // procs | output
	server  *tview.TextView
	details *tview.TextView
	procs   *tview.Table
	output  *tview.TextView
	footer  *tview.Pages // "keys", or "search" while typing a pattern
	keys    *tview.TextView
	search  *tview.InputField
}

// keyHints is the footer line on screens of 100 columns and more;
// shortHints fits 80.
const (
	keyHints = "[yellow]↑↓/jk[-] select  [yellow]⏎[-] logs  [yellow]r[-] restart  [yellow]s[-] stop  [yellow]S[-] start  " +
		"[yellow]b[-] build log  [yellow]/[-] search  [yellow]c[-] clear  [yellow]?[-] help  [yellow]q[-] quit"
	shortHints = "[yellow]↑↓[-] select  [yellow]⏎[-] logs  [yellow]r[-] restart  [yellow]s/S[-] stop/start  " +
		"[yellow]b[-] build  [yellow]/[-] search  [yellow]?[-] help  [yellow]q[-] quit"
)

// helpText is the ? overlay.
const helpText = `[::b]Keys[::-]

  [yellow]↑ ↓  j k[-]    select a process (g: the first)
  [yellow]Enter[-]       show the selected process's output tail again
  [yellow]r[-]           restart it: rebuild in dev mode, then swap
  [yellow]s[-]  [yellow]S[-]        stop it (it stays down) / start it again
  [yellow]b[-]           show its latest build log
  [yellow]/[-]           search its output with a regex (RE2); Esc cancels
  [yellow]c[-]           clear the output panel (new lines still come)
  [yellow]PgUp PgDn[-]   scroll the output (stops following)
  [yellow]End  G[-]      follow the tail again
  [yellow]?[-]           this help
  [yellow]q  Esc[-]      quit (bpm and its processes keep running)

  [green]▶[-] running   [yellow]■[-] building, starting, stopping, backoff
  [red]✗[-] crashed, build failed   [fuchsia]↻[-] crash loop   [teal]…[-] waiting for a dependency
  [gray]□[-] stopped (s; S starts it)   [orange]⊘[-] dir missing   output: [red]stderr in red[-]

The console polls get_status and the output once a second and
reconnects by itself when bpm restarts. Press any key to close.`

func (c *Console) build() {
	u := &c.ui
	u.server = panel(" Server Status ")
	u.details = panel(" Process Details ")
	u.output = panel(" Output ")
	u.output.SetScrollable(true).SetWrap(true).SetWordWrap(false)
	u.procs = tview.NewTable().SetSelectable(true, false)
	u.procs.SetBorder(true).SetTitle(" Processes ").SetTitleAlign(tview.AlignLeft)
	u.procs.SetSelectionChangedFunc(func(row, _ int) { c.selectRow(row) })

	u.top = tview.NewFlex().
		AddItem(u.server, 0, 2, false).
		AddItem(u.details, 0, 3, false)
	u.bottom = tview.NewFlex().
		AddItem(u.procs, 30, 0, true).
		AddItem(u.output, 0, 1, false)

	u.keys = tview.NewTextView().SetDynamicColors(true).SetText(shortHints)
	u.search = tview.NewInputField().SetLabel("search /").SetPlaceholder("RE2 regex, Enter to search, Esc to cancel")
	u.search.SetDoneFunc(c.searchDone)
	u.footer = tview.NewPages().
		AddPage("keys", u.keys, true, true).
		AddPage("search", u.search, true, false)

	u.main = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.top, 8, 0, false).
		AddItem(u.bottom, 0, 1, true).
		AddItem(u.footer, 1, 0, false)

	help := tview.NewTextView().SetDynamicColors(true).SetText(helpText)
	help.SetBorder(true).SetTitle(" bpm console ")
	u.root = tview.NewPages().
		AddPage("main", u.main, true, true).
		AddPage("help", centered(help, 76, 22), true, false)

	c.app.SetRoot(u.root, true).SetFocus(u.procs)
	c.app.SetInputCapture(c.keys)
	c.app.SetBeforeDrawFunc(func(screen tcell.Screen) bool {
		if w, h := screen.Size(); w != c.width || h != c.height {
			c.width, c.height = w, h
			c.layout()
		}
		return false
	})
	c.renderServer()
	c.renderDetails()
	c.renderOutputTitle()
}

// panel is a bordered text view with colour tags.
func panel(title string) *tview.TextView {
	t := tview.NewTextView().SetDynamicColors(true).SetWrap(true)
	t.SetBorder(true).SetTitle(title).SetTitleAlign(tview.AlignLeft).SetBorderPadding(0, 0, 1, 1)
	return t
}

// centered puts p in the middle of the screen, at most w×h.
func centered(p tview.Primitive, w, h int) tview.Primitive {
	return tview.NewFlex().
		AddItem(nil, 0, 1, false).
		AddItem(tview.NewFlex().SetDirection(tview.FlexRow).
			AddItem(nil, 0, 1, false).
			AddItem(p, h, 0, true).
			AddItem(nil, 0, 1, false), w, 0, true).
		AddItem(nil, 0, 1, false)
}

// layout sizes the panels for the screen: the top row gets a third of the
// height (8 to 16 rows), the process list as much width as its columns need
// (at most half the screen), the output the rest. Wide screens (120 columns
// and more) show pid and uptime in the process list and times in the output.
func (c *Console) layout() {
	topH := min(max((c.height-1)/3, 8), 16)
	c.ui.main.ResizeItem(c.ui.top, topH, 0)
	// Narrow screens split the top row evenly, so status messages (a
	// restart's result, build errors) get two lines; wide ones give the
	// details more room for events.
	status, details := 1, 1
	if c.wide() {
		status, details = 2, 3
	}
	c.ui.top.ResizeItem(c.ui.server, 0, status).ResizeItem(c.ui.details, 0, details)
	hints := shortHints
	if c.width >= 100 {
		hints = keyHints
	}
	c.ui.keys.SetText(hints)
	c.renderProcs()
	c.renderDetails()
}

// wide reports whether the screen has room for the extra columns.
func (c *Console) wide() bool { return c.width >= 120 }

// resizeProcs makes the process list as wide as its content.
func (c *Console) resizeProcs(contentWidth int) {
	w := min(max(contentWidth+2, 24), max(c.width/2, 24))
	c.ui.bottom.ResizeItem(c.ui.procs, w, 0)
}
