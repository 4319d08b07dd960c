package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"bpm/api"
)

func TestNewStatesHaveColoursOfTheirOwn(t *testing.T) {
	seen := map[tcell.Color]string{}
	for _, s := range []string{"running", "building", "crashed", "crash_loop", "waiting", "dir_missing", "stopped"} {
		c := iconColor(s)
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share the colour %s", s, other, c.Name())
		}
		seen[c] = s
	}
}

func TestStateNoteSaysWhy(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := func(kind, msg string) api.Event { return api.Event{Time: at, Kind: kind, Message: msg} }
	for _, tc := range []struct {
		name   string
		p      api.ProcessStatus
		want   string // "" for no note
		colour string
	}{
		{"waiting names the dependencies", api.ProcessStatus{State: "waiting", WaitingFor: []string{"db", "cache"},
			Events: []api.Event{ev("waiting", "for db")}},
			"waiting    for db, cache", "teal"},
		{"waiting from its event", api.ProcessStatus{State: "waiting", Events: []api.Event{
			ev("waiting", "for old"), ev("dependencies_ready", "old"), ev("waiting", "for db")}},
			"waiting    for db", "teal"},
		{"waiting with nothing said", api.ProcessStatus{State: "waiting"}, "waiting    for a dependency to be ready", "teal"},
		{"crash loop with count and first error", api.ProcessStatus{State: "crash_loop", CrashLoop: "fatal: [x] missing", Events: []api.Event{
			ev("crashed", "exit 1"), ev("crash_loop", "5 crashes within 1m0s; first error: fatal: [x] missing")}},
			"crash loop 5 crashes within 1m0s; first error: fatal: [x[] missing", "fuchsia"},
		{"crash loop whose event scrolled away", api.ProcessStatus{State: "crash_loop", CrashLoop: "panic: boom"},
			"crash loop first error: panic: boom", "fuchsia"},
		{"stopped by request", api.ProcessStatus{State: "stopped", Held: true},
			"stopped    by request (S starts it)", "gray"},
		{"stopped, not by request", api.ProcessStatus{State: "stopped"}, "", ""},
		{"dir missing names the directory", api.ProcessStatus{State: "dir_missing", DirMissing: "/src/proj",
			Events: []api.Event{ev("dir_missing", "project directory /src/proj is missing (moved or deleted?); bpm starts app once it is back")}},
			"dir missing /src/proj (moved or deleted?); it starts once it is back", "orange"},
		{"running", api.ProcessStatus{State: "running", WaitingFor: []string{"db"}, Events: []api.Event{ev("waiting", "for db")}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := stateNote(tc.p)
			if tc.want == "" {
				if got != "" {
					t.Fatalf("note %q, want none", got)
				}
				return
			}
			if want := "[" + tc.colour + "]" + tc.want + "[-]"; got != want {
				t.Errorf("note %q, want %q", got, want)
			}
		})
	}
}

func TestCountsAddCrashLoopWaitingAndStoppedWhenPresent(t *testing.T) {
	ps := func(states ...string) []api.ProcessStatus {
		var out []api.ProcessStatus
		for _, s := range states {
			out = append(out, api.ProcessStatus{State: s})
		}
		return out
	}
	for _, tc := range []struct {
		states []string
		want   string
	}{
		{[]string{"running", "backoff", "crashed"}, "3 processes: ▶ 1  ■ 1  ✗ 1"},
		{[]string{"running", "stopped", "waiting", "crash_loop", "build_failed"}, "5 processes: ▶ 1  ■ 0  ✗ 1  ↻ 1  … 1  □ 1"},
		{[]string{"stopped"}, "1 process: ▶ 0  ■ 0  ✗ 0  □ 1"},
		{[]string{"running", "dir_missing", "stopped"}, "3 processes: ▶ 1  ■ 0  ✗ 0  ⊘ 1  □ 1"},
	} {
		if got := strings.ReplaceAll(stripTags(counts(ps(tc.states...))), "\u00a0", " "); got != tc.want {
			t.Errorf("counts(%v) = %q, want %q", tc.states, got, tc.want)
		}
	}
}

// stripTags drops tview colour tags such as [green] and [-].
func stripTags(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '[')
		j := strings.IndexByte(s, ']')
		if i < 0 || j < i {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[j+1:]
	}
}
