package tui

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"bpm/api"
)

type level int

const (
	levelInfo level = iota
	levelBusy
	levelOK
	levelBad
)

// message is the last thing the console has to say (a restart's result, a
// bad pattern …), shown in the Server Status panel.
type message struct {
	text  string
	level level
	at    time.Time
}

func (c *Console) setMessage(l level, text string) {
	c.msg = message{text: text, level: l, at: time.Now()}
	c.renderServer()
}

func (c *Console) renderAll() {
	c.renderServer()
	c.renderProcs()
	c.renderDetails()
}

// renderServer fills Server Status: connection, mode, counts, message.
func (c *Console) renderServer() {
	var b strings.Builder
	host := c.url
	if u, err := url.Parse(c.url); err == nil && u.Host != "" {
		host = u.Host
	}
	switch c.conn.state {
	case connecting:
		fmt.Fprintf(&b, "[yellow]… connecting[-] to %s\n", escape(host))
	case connected:
		fmt.Fprintf(&b, "[green]● connected[-] %s", escape(host))
		if c.wide() {
			fmt.Fprintf(&b, " since %s", clock(c.conn.since))
		}
		b.WriteString("\n")
	case disconnected:
		fmt.Fprintf(&b, "[red]✗ disconnected[-] %s since %s\n", escape(host), clock(c.conn.since))
		fmt.Fprintf(&b, "  [red]%s[-]\n", escape(c.conn.err))
		if c.conn.attempt > 0 {
			fmt.Fprintf(&b, "  retrying in %s (attempt %d)\n", c.conn.retryIn, c.conn.attempt)
		}
	}
	if st := c.status; st != nil {
		stale := ""
		if c.conn.state != connected {
			stale = "[gray](last known)[-] "
		}
		fmt.Fprintf(&b, "%smode [::b]%s[::-] since %s", stale, st.Mode, clock(st.ModeSince))
		if st.ReleaseSwitchAt != nil {
			fmt.Fprintf(&b, "\n→ release %s (in %s)", clock(*st.ReleaseSwitchAt), human(time.Until(*st.ReleaseSwitchAt)))
		}
		b.WriteString("\n" + counts(st.Processes) + "\n")
	}
	if c.msg.text != "" {
		color := map[level]string{levelInfo: "-", levelBusy: "yellow", levelOK: "green", levelBad: "red"}[c.msg.level]
		text := strings.ReplaceAll(c.msg.text, "\n\n", "\n")
		fmt.Fprintf(&b, "[gray]%s[-] [%s]%s[-]", clock(c.msg.at), color, escape(text))
	}
	c.ui.server.SetText(b.String())
}

// renderProcs fills the process table and keeps the selection on the
// selected name (the first process when none is).
func (c *Console) renderProcs() {
	t := c.ui.procs
	t.Clear()
	if c.status == nil {
		return
	}
	header := []string{"", "NAME", "STATE"}
	if c.wide() {
		header = append(header, "PID", "UPTIME")
	}
	widths := make([]int, len(header))
	set := func(row, col int, text string, color tcell.Color) {
		cell := tview.NewTableCell(escape(text)).SetTextColor(color)
		if row == 0 {
			cell.SetSelectable(false).SetAttributes(tcell.AttrBold)
		}
		t.SetCell(row, col, cell)
		widths[col] = max(widths[col], tview.TaggedStringWidth(text))
	}
	for i, h := range header {
		set(0, i, h, tcell.ColorDefault)
	}
	textColor := tcell.ColorDefault
	if c.conn.state != connected {
		textColor = tcell.ColorGray
	}
	selected := 0
	for i, p := range c.status.Processes {
		row := i + 1
		stateColor := textColor
		if c.conn.state == connected {
			stateColor = iconColor(p.State)
		}
		set(row, 0, icon(p.State), iconColor(p.State))
		set(row, 1, p.Name, textColor)
		set(row, 2, stateText(p.State), stateColor)
		if c.wide() {
			set(row, 3, orDash(p.PID), textColor)
			set(row, 4, uptime(p), textColor)
		}
		if p.Name == c.selected {
			selected = i
		}
	}
	content := len(widths) - 1
	for _, w := range widths {
		content += w
	}
	c.resizeProcs(content)
	if len(c.status.Processes) > 0 {
		t.Select(selected+1, 0)
		c.selectRow(selected + 1) // the first render selects without a change event
	}
}

// renderDetails fills Process Details for the selected process.
func (c *Console) renderDetails() {
	d := c.ui.details
	p, ok := c.find(c.selected)
	if !ok {
		d.SetTitle(" Process Details ")
		d.SetText("[gray]waiting for bpm…[-]")
		return
	}
	d.SetTitle(" Process Details: " + escape(p.Name) + " ")
	var b strings.Builder
	fmt.Fprintf(&b, "[::b]%s[::-] (%s)  [%s]%s %s[-]\n", escape(p.Name), p.Type,
		colorTag(p.State), icon(p.State), stateText(p.State))
	if note := stateNote(p); note != "" {
		b.WriteString(note + "\n")
	}
	sep := "  "
	if !c.wide() {
		sep = "\n"
	}
	fmt.Fprintf(&b, "pid [::b]%s[::-]  up %s%srestarts %d  crashes %d\n", orDash(p.PID), uptime(p), sep, p.Restarts, p.Crashes)
	fmt.Fprintf(&b, "last exit  %s\n", escape(orDashText(p.LastExit)))
	fmt.Fprintf(&b, "build      %s\n", buildText(p.Build))
	if p.NextRestartAt != nil {
		fmt.Fprintf(&b, "next start %s (in %s)\n", clock(*p.NextRestartAt), human(time.Until(*p.NextRestartAt)))
	}
	// The newest events that fit under the fields (wrapped lines counted);
	// all of them before the first draw has sized the panel.
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for _, e := range p.Events {
		lines = append(lines, fmt.Sprintf("[gray]%s[-] [%s]%s[-] %s", clock(e.Time), eventColor(e.Kind), e.Kind, escape(e.Message)))
	}
	// Drop the oldest events until the rest fits; nothing before the first
	// draw has sized the panel.
	fields := len(lines) - len(p.Events)
	if _, _, w, h := d.GetInnerRect(); w > 0 && h > 0 {
		for len(lines) > fields && rows(lines, w) > h {
			lines = append(lines[:fields], lines[fields+1:]...)
		}
	}
	d.SetText(strings.Join(lines, "\n"))
	d.ScrollToBeginning()
}

// rows is how many screen rows lines take when wrapped at width w.
func rows(lines []string, w int) int {
	n := 0
	for _, l := range lines {
		n += max(1, (tview.TaggedStringWidth(l)+w-1)/w)
	}
	return n
}

func (c *Console) find(name string) (api.ProcessStatus, bool) {
	if c.status != nil {
		for _, p := range c.status.Processes {
			if p.Name == name {
				return p, true
			}
		}
	}
	return api.ProcessStatus{}, false
}

// renderOutputTitle names what the output panel shows.
func (c *Console) renderOutputTitle() {
	title := c.out.title
	if title == "" {
		title = "Output"
	}
	if c.out.mode != modeSearch && c.selected != "" {
		if c.out.paused {
			title += "  [yellow]paused, End follows[-]"
		} else {
			title += ", following"
		}
	}
	if c.out.mode != modeTail {
		title += "  (Enter: tail)"
	}
	c.ui.output.SetTitle(" " + title + " ")
}

func buildText(b api.BuildStatus) string {
	switch b.State {
	case "", "none":
		return "-"
	case "running":
		return "[yellow]running[-] (" + string(b.Mode) + ")"
	case "failed":
		return fmt.Sprintf("[red]failed[-] (%s, %.1fs): %s", b.Mode, b.Seconds, escape(firstLine(b.Error)))
	}
	return fmt.Sprintf("%s (%s, %.1fs)", b.State, b.Mode, b.Seconds)
}

// clock is t as local wall-clock time.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05")
}

// human is d rounded for people: 45s, 3m12s, 2h03m, 3d4h.
func human(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func uptime(p api.ProcessStatus) string {
	if p.PID == 0 {
		return "-"
	}
	return human(time.Duration(p.UptimeSeconds * float64(time.Second)))
}

func orDash(pid int) string {
	if pid == 0 {
		return "-"
	}
	return fmt.Sprint(pid)
}

func orDashText(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
