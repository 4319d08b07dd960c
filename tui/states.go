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
	"dir_missing":  {"⊘", tcell.ColorOrange, "orange"},
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
// ↻ crash loop, … waiting for a dependency, ⊘ its directory is missing,
// □ stopped, ■ the rest.
func icon(state string) string { return lookOf(state).icon }

func iconColor(state string) tcell.Color { return lookOf(state).color }

// colorTag is iconColor as a tview colour tag name.
func colorTag(state string) string { return lookOf(state).tag }

// stateText is a state as people write it: "build failed".
func stateText(state string) string { return strings.ReplaceAll(state, "_", " ") }

// counts is "3 processes: ▶ 1  ■ 1  ✗ 1", each symbol in its colour; ↻, …,
// ⊘ and □ follow when some process is in a crash loop, waiting, without its
// directory or stopped.
func counts(ps []api.ProcessStatus) string {
	n := map[string]int{}
	for _, p := range ps {
		n[icon(p.State)]++
	}
	var b strings.Builder
	b.WriteString(plural(len(ps), "process", "processes") + ":")
	sep := " "
	for i, l := range []look{looks["running"], transient, looks["crashed"], looks["crash_loop"], looks["waiting"], looks["dir_missing"], looks["stopped"]} {
		if i < 3 || n[l.icon] > 0 {
			// A no-break space keeps each symbol with its count when
			// a narrow panel wraps the line.
			fmt.Fprintf(&b, "%s[%s]%s\u00a0%d[-]", sep, l.tag, l.icon, n[l.icon])
			sep = "  "
		}
	}
	return b.String()
}

// stateNote is a line for Process Details that says why p is waiting (the
// dependencies not ready), in a crash loop (how many crashes, the first
// error), without its directory (which one) or stopped by request; "" for
// every other state.
func stateNote(p api.ProcessStatus) string {
	var label, why string
	switch p.State {
	case "waiting":
		label, why = "waiting", "for a dependency to be ready"
		if len(p.WaitingFor) > 0 {
			why = "for " + strings.Join(p.WaitingFor, ", ")
		} else if m, ok := newestEvent(p, "waiting"); ok {
			why = m
		}
	case "crash_loop":
		label, why = "crash loop", "restarts wait the longest backoff"
		if m, ok := newestEvent(p, "crash_loop"); ok {
			why = m // "5 crashes within 1m0s; first error: …"
		} else if p.CrashLoop != "" {
			why = "first error: " + p.CrashLoop
		}
	case "dir_missing":
		label, why = "dir missing", "its directory was moved or deleted; it starts once it is back"
		if p.DirMissing != "" {
			why = p.DirMissing + " (moved or deleted?); it starts once it is back"
		} else if m, ok := newestEvent(p, "dir_missing"); ok {
			why = m
		}
	case "stopped":
		if !p.Held {
			return "" // not by request: bpm is shutting down
		}
		label, why = "stopped", "by request (S starts it)"
	default:
		return ""
	}
	return fmt.Sprintf("[%s]%-10s %s[-]", colorTag(p.State), label, escape(why))
}

// newestEvent is the message of p's newest event of kind.
func newestEvent(p api.ProcessStatus, kind string) (string, bool) {
	for i := len(p.Events) - 1; i >= 0; i-- {
		if p.Events[i].Kind == kind {
			return p.Events[i].Message, true
		}
	}
	return "", false
}

// eventColor colours an event kind in Process Details: like the state it
// leads to, green when things came good, red when they went wrong.
func eventColor(kind string) string {
	switch kind {
	case "crashed", "build_failed", "rolled_back", "health_failed", "daemonized":
		return "red"
	case "ready", "build_ok", "started", "crash_loop_ended", "dependencies_ready", "dir_back":
		return "green"
	case "crash_loop", "waiting", "dir_missing":
		return colorTag(kind)
	case "stop_requested":
		return colorTag("stopped")
	}
	return "yellow"
}
