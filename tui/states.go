package tui

import (
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"

	"bpm/api"
)

// look is how the console draws a process state: an indicator and a
// colour, as a tcell colour and as a tview tag (tcell's own names for a
// colour are not unique: gray is also grey).
type look struct {
	icon  string
	color tcell.Color
	tag   string
}

// States with a look of their own; every other state (building, starting,
// stopping, backoff, or one this console does not know) is a yellow ■.
var looks = map[string]look{
	"running":      {"▶", tcell.ColorGreen, "green"},
	"crashed":      {"✗", tcell.ColorRed, "red"},
	"build_failed": {"✗", tcell.ColorRed, "red"},
	"crash_loop":   {"↻", tcell.ColorFuchsia, "fuchsia"},
	"waiting":      {"…", tcell.ColorTeal, "teal"},
	"stopped":      {"□", tcell.ColorGray, "gray"},
}

var transient = look{"■", tcell.ColorYellow, "yellow"}

func lookOf(state string) look {
	if l, ok := looks[state]; ok {
		return l
	}
	return transient
}

// icon is a state's indicator: ▶ running, ✗ crashed or build failed,
// ↻ crash loop, … waiting for a dependency, □ stopped, ■ the rest.
func icon(state string) string { return lookOf(state).icon }

func iconColor(state string) tcell.Color { return lookOf(state).color }

// colorTag is iconColor as a tview colour tag name.
func colorTag(state string) string { return lookOf(state).tag }

// stateText is a state as people write it: "build failed".
func stateText(state string) string { return strings.ReplaceAll(state, "_", " ") }

// counts is "3 processes: ▶ 1  ■ 1  ✗ 1", each symbol in its colour; ↻, …
// and □ follow when some process is in a crash loop, waiting or stopped.
func counts(ps []api.ProcessStatus) string {
	n := map[string]int{}
	for _, p := range ps {
		n[icon(p.State)]++
	}
	var b strings.Builder
	b.WriteString(plural(len(ps), "process", "processes") + ":")
	sep := " "
	for i, l := range []look{looks["running"], transient, looks["crashed"], looks["crash_loop"], looks["waiting"], looks["stopped"]} {
		if i < 3 || n[l.icon] > 0 {
			fmt.Fprintf(&b, "%s[%s]%s %d[-]", sep, l.tag, l.icon, n[l.icon])
			sep = "  "
		}
	}
	return b.String()
}

// notes say why a process is waiting, in a crash loop or stopped: the
// message of the newest event of that kind, or a fallback when the recent
// events have none.
var notes = map[string]struct{ label, event, fallback string }{
	"waiting":    {"waiting", "waiting", "for a dependency to be ready"},
	"crash_loop": {"crash loop", "crash_loop", "crashed again and again; restarts wait the longest backoff"},
	"stopped":    {"stopped", "stop_requested", ""},
}

// stateNote is a line for Process Details that says why p is waiting,
// in a crash loop or stopped; "" for every other state.
func stateNote(p api.ProcessStatus) string {
	n, ok := notes[p.State]
	if !ok {
		return ""
	}
	why := n.fallback
	for i := len(p.Events) - 1; i >= 0; i-- {
		if p.Events[i].Kind == n.event {
			why = p.Events[i].Message
			break
		}
	}
	if why == "" {
		return ""
	}
	return fmt.Sprintf("[%s]%-10s %s[-]", colorTag(p.State), n.label, escape(why))
}

// eventColor colours an event kind in Process Details: like the state it
// leads to, green when things came good, red when they went wrong.
func eventColor(kind string) string {
	switch kind {
	case "crashed", "build_failed", "rolled_back", "health_failed":
		return "red"
	case "ready", "build_ok", "started", "crash_loop_ended", "dependencies_ready":
		return "green"
	case "crash_loop", "waiting":
		return colorTag(kind)
	case "stop_requested":
		return colorTag("stopped")
	}
	return "yellow"
}
