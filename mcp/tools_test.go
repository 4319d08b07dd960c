package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// twoProcesses runs two shell processes; web writes "one", "line 1" …
// "line 5", "done" on stdout, then "two" on stderr. Lines of the two pipes
// are read concurrently, so the pause keeps "two" last.
const twoProcesses = `
[process.web]
type = "command"
command = ["sh", "-c", "echo one; i=1; while [ $i -le 5 ]; do echo line $i; i=$((i+1)); done; echo done; sleep 0.3; echo two >&2; sleep 1000"]

[process.worker]
type = "command"
command = ["sh", "-c", "echo working; sleep 1000"]
`

func TestSearchLogsAndStatusOnCommandProcesses(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, twoProcesses), Options{})
	web := b.waitRunning("web", "^two$", 20*time.Second)
	b.waitRunning("worker", "^working$", 20*time.Second)
	cs := b.session(nil)

	t.Run("match with context, grep -C text and structured lines", func(t *testing.T) {
		out, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "pattern": "^line 3$", "context_lines": 1})
		header := fmt.Sprintf("web run -1 (pid %d, started %s, 8 lines): 1 match, 3 shown\n",
			web.PID, web.StartedAt.UTC().Format(time.RFC3339))
		if !strings.HasPrefix(txt, header) {
			t.Errorf("text starts %q, want header %q", firstLine(txt), header)
		}
		if !strings.Contains(txt, " 3: line 2\n") || !strings.Contains(txt, " 4 * line 3\n") || !strings.Contains(txt, " 5: line 4\n") {
			t.Errorf("text lacks the match and its context:\n%s", txt)
		}
		if len(out.Lines) != 3 || out.Lines[1].Text != "line 3" || !out.Lines[1].Match || out.Lines[0].Match || out.Lines[2].Match {
			t.Fatalf("lines = %+v, want line 2, *line 3, line 4", out.Lines)
		}
		l := out.Lines[1]
		if l.N != out.Lines[0].N+1 || l.Stderr || !strings.HasPrefix(txt[len(header):], out.Lines[0].Clock+" 3: line 2\n") {
			t.Errorf("line fields: %+v", l)
		}
		if at := out.Time(l); at.Before(web.StartedAt.Truncate(time.Millisecond)) || at.After(time.Now()) {
			t.Errorf("line time %v, want after the start %v", at, web.StartedAt)
		}
		if out.Run.Index != -1 || out.Run.PID != web.PID || !out.Run.StartedAt.Equal(web.StartedAt) || out.Run.TotalLines != 8 {
			t.Errorf("run = %+v, want index -1, pid %d, started %v, 8 lines", out.Run, web.PID, web.StartedAt)
		}
		if out.RunsKept != 1 || out.Matches != 1 || out.Truncated || out.Process != "web" || out.Kind != "run" {
			t.Errorf("output = %+v", out)
		}
	})
	t.Run("groups are separated by --", func(t *testing.T) {
		_, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "pattern": "^line [15]$"})
		if !strings.Contains(txt, " * line 1\n--\n") || !strings.Contains(txt, " * line 5\n") {
			t.Errorf("want two groups separated by --:\n%s", txt)
		}
	})
	t.Run("stderr lines are marked", func(t *testing.T) {
		out, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "pattern": "^two$"})
		if len(out.Lines) != 1 || !out.Lines[0].Stderr || !strings.Contains(txt, " E 8 * two\n") {
			t.Errorf("lines = %+v, want one stderr line marked E:\n%s", out.Lines, txt)
		}
	})
	t.Run("stream and since", func(t *testing.T) {
		out, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "stream": "stderr"})
		if got := texts(out.Lines); !slices.Equal(got, []string{"two"}) || !strings.Contains(firstLine(txt), " stderr: all 1 shown") {
			t.Errorf("stderr = %q, header %q", got, firstLine(txt))
		}
		out, _ = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "since": "restart", "pattern": "^line"})
		if out.Matches != 5 {
			t.Errorf("since restart: %d matches, want 5", out.Matches)
		}
		later := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
		if out, _ = callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "since": later}); len(out.Lines) != 0 {
			t.Errorf("since a minute from now: %q", texts(out.Lines))
		}
	})
	t.Run("tail and head", func(t *testing.T) {
		out, _ := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "web", "tail": 2, "head": 5})
		if got := texts(out.Lines); !slices.Equal(got, []string{"done", "two"}) {
			t.Errorf("tail 2 = %q", got)
		}
		out, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "worker", "head": 1, "index": 0})
		if got := texts(out.Lines); !slices.Equal(got, []string{"working"}) || out.Run.Index != -1 {
			t.Errorf("head 1 of index 0 = %q (run %+v)", got, out.Run)
		}
		if !strings.HasPrefix(txt, "worker run -1 ") {
			t.Errorf("header %q", firstLine(txt))
		}
	})
	t.Run("get_status", func(t *testing.T) {
		out, txt := callOK[api.StatusOutput](t, cs, "get_status", nil)
		if out.Mode != "release" || out.ReleaseSwitchAt != nil || out.ModeSince.IsZero() {
			t.Errorf("mode %q since %v switch %v, want release, null", out.Mode, out.ModeSince, out.ReleaseSwitchAt)
		}
		if len(out.Processes) != 2 || out.Processes[0].Name != "web" || out.Processes[1].Name != "worker" {
			t.Fatalf("processes = %+v", out.Processes)
		}
		p := out.Processes[0]
		if p.Type != "command" || p.State != actors.StateRunning || p.PID != web.PID || p.UptimeSeconds < 0 ||
			p.NextRestartAt != nil || len(p.Events) == 0 || len(p.Events) > statusEvents {
			t.Errorf("web = %+v", p)
		}
		for _, want := range []string{"mode release since ", "NAME", "STATE", "web", "worker", "running", fmt.Sprint(web.PID)} {
			if !strings.Contains(txt, want) {
				t.Errorf("status text lacks %q:\n%s", want, txt)
			}
		}
	})
	t.Run("tools/list: names, parameters and annotations", func(t *testing.T) {
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		tools := map[string]*sdk.Tool{}
		for _, tool := range res.Tools {
			tools[tool.Name] = tool
		}
		for _, name := range []string{"search_logs", "search_build_log", "restart", "get_status"} {
			if tools[name] == nil || tools[name].Annotations == nil {
				t.Fatalf("tool %s missing or without annotations: %+v", name, tools[name])
			}
		}
		var schema struct{ Properties map[string]any }
		data, _ := json.Marshal(tools["search_logs"].InputSchema)
		_ = json.Unmarshal(data, &schema)
		var params []string
		for k := range schema.Properties {
			params = append(params, k)
		}
		slices.Sort(params)
		if want := []string{"context_lines", "head", "index", "pattern", "process", "since", "stream", "tail"}; !slices.Equal(params, want) {
			t.Errorf("search_logs parameters %q, want %q", params, want)
		}
		for _, name := range []string{"search_logs", "search_build_log", "get_status"} {
			if !tools[name].Annotations.ReadOnlyHint {
				t.Errorf("%s is not read-only", name)
			}
		}
		r := tools["restart"].Annotations
		if r.ReadOnlyHint || r.DestructiveHint == nil || *r.DestructiveHint || r.IdempotentHint {
			t.Errorf("restart annotations %+v, want not read-only, not destructive, not idempotent", r)
		}
	})
}

func TestBadInputIsAToolErrorSayingWhatIsValid(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, twoProcesses), Options{})
	b.waitRunning("web", "^done$", 20*time.Second)
	cs := b.session(nil)
	for _, tc := range []struct {
		name, tool string
		args       any
		want       string
	}{
		{"unknown process", "search_logs", map[string]any{"process": "nope"}, `unknown process "nope"; known: web, worker`},
		{"unknown process, build log", "search_build_log", map[string]any{"process": "nope"}, `unknown process "nope"; known: web, worker`},
		{"unknown process, restart", "restart", map[string]any{"process": "nope"}, `unknown process "nope"; known: web, worker`},
		{"process omitted with two", "search_logs", map[string]any{}, "process is required when several are configured; known: web, worker"},
		{"process omitted with two, restart", "restart", nil, "process is required when several are configured; known: web, worker"},
		{"invalid regex", "search_logs", map[string]any{"process": "web", "pattern": "(unclosed"}, `invalid pattern "(unclosed"`},
		{"index beyond newest", "search_logs", map[string]any{"process": "web", "index": -2}, "index -2 is beyond the 1 run kept; valid: -1 or 0"},
		{"index beyond oldest", "search_logs", map[string]any{"process": "web", "index": 3}, "index 3 is beyond the 1 run kept"},
		{"negative head", "search_logs", map[string]any{"process": "web", "head": -1}, "head must be an integer from 0 to 100000; got -1"},
		{"negative tail", "search_logs", map[string]any{"process": "web", "tail": -5}, "tail must be an integer from 0 to 100000; got -5"},
		{"negative context", "search_logs", map[string]any{"process": "web", "pattern": "x", "context_lines": -1}, "context_lines must be an integer from 0 to 1000; got -1"},
		{"no build step", "search_build_log", map[string]any{"process": "web"}, "web has no build step"},
		{"wrong type", "search_logs", map[string]any{"process": "web", "pattern": 5}, "pattern must be a string; got 5"},
		{"unknown parameter", "search_logs", map[string]any{"process": "web", "lines": 5}, `unknown parameter "lines"; valid: context_lines, head, index, pattern, process, since, stream, tail`},
		{"huge integer", "search_logs", map[string]any{"process": "web", "context_lines": 1e30}, "context_lines must be an integer from 0 to 1000; got 1e+30"},
		{"fraction", "search_logs", map[string]any{"process": "web", "head": 1.5}, "head must be an integer from 0 to 100000; got 1.5"},
		{"string for an integer", "search_logs", map[string]any{"process": "web", "index": "-1"}, `index must be an integer from -10000 to 10000; got "-1"`},
		{"bad stream", "search_logs", map[string]any{"process": "web", "stream": "both"}, `stream "both" is not valid; valid: stdout or stderr`},
		{"bad since", "search_logs", map[string]any{"process": "web", "since": "yesterday"}, `since must be an RFC 3339 time such as 2026-11-25T21:55:00Z, or "restart"; got "yesterday"`},
		{"arguments not an object", "search_logs", []int{1}, "arguments must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, cs, tc.tool, tc.args)
			if !res.IsError || !strings.Contains(text(res), tc.want) {
				t.Errorf("isError %v, text %q; want a tool error containing %q", res.IsError, text(res), tc.want)
			}
		})
	}
	// The session and the server are still fine.
	if out, _ := callOK[api.StatusOutput](t, cs, "get_status", map[string]any{}); len(out.Processes) != 2 {
		t.Errorf("status after bad input: %+v", out)
	}
}

func TestProcessMayBeOmittedWhenOnlyOneAndIndexReachesThePreviousRun(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, `
[process.app]
type = "command"
command = ["sh", "-c", "echo started $$; sleep 1000"]
`), Options{})
	first := b.waitRunning("app", "^started ", 20*time.Second)
	cs := b.session(nil)

	_, txt := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"pattern": "started"})
	if !strings.HasPrefix(txt, fmt.Sprintf("app run -1 (pid %d, ", first.PID)) {
		t.Errorf("header %q, want app run -1 with pid %d", firstLine(txt), first.PID)
	}
	r, txt := callOK[api.RestartOutput](t, cs, "restart", map[string]any{})
	if r.Process != "app" || r.Mode != "dev" || r.PID == 0 || r.PID == first.PID {
		t.Fatalf("restart = %+v, want app in dev with a new pid (old %d)", r, first.PID)
	}
	if !strings.Contains(txt, fmt.Sprintf("pid %d", r.PID)) {
		t.Errorf("restart text %q lacks the new pid", txt)
	}
	b.waitRunning("app", fmt.Sprintf("^started %d$", r.PID), 10*time.Second)
	prev, _ := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"pattern": "^started", "index": -2})
	if prev.Run.PID != first.PID || prev.Run.Index != -2 || prev.RunsKept != 2 || len(prev.Lines) != 1 ||
		prev.Lines[0].Text != fmt.Sprintf("started %d", first.PID) {
		t.Errorf("index -2 = %+v, want the first run (pid %d)", prev, first.PID)
	}
	oldest, _ := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"index": 0})
	newest, _ := callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{})
	if oldest.Run.PID != first.PID || newest.Run.PID != r.PID {
		t.Errorf("index 0 pid %d, default index pid %d; want %d and %d", oldest.Run.PID, newest.Run.PID, first.PID, r.PID)
	}
}

func TestToolCallsAreActivityAndRestartCountsWhenItEnds(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, `
dev_timeout_hours = 1

[process.app]
type = "command"
command = ["sleep", "1000"]
build = ["sh", "-c", "echo compiling; sleep 1; echo built"]
`), Options{})
	b.waitRunning("app", "", 20*time.Second)
	cs := b.session(nil)
	mode := func() actors.ModeReply {
		t.Helper()
		m, err := actors.Ask[actors.ModeReply](b.system.Root, b.sup, actors.ModeRequest{}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	began := time.Now()
	callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "app"})
	after := mode()
	if after.Mode != "dev" {
		t.Fatalf("mode %q after restart, want dev", after.Mode)
	}
	// The build takes 1 s: the last activity is its end, not the call.
	if last := after.ReleaseSwitchAt.Add(-time.Hour); last.Sub(began) < time.Second {
		t.Errorf("last activity %v after the call began, want >= 1s (the end of the build)", last.Sub(began))
	}
	st, _ := callOK[api.StatusOutput](t, cs, "get_status", nil)
	if st.Mode != "dev" || st.ReleaseSwitchAt == nil {
		t.Errorf("get_status mode %q switch %v, want dev and a time", st.Mode, st.ReleaseSwitchAt)
	}

	for _, tc := range []struct {
		name, tool string
		args       map[string]any
	}{
		{"search_logs", "search_logs", map[string]any{"process": "app"}},
		{"search_build_log", "search_build_log", map[string]any{"process": "app"}},
		{"get_status", "get_status", nil},
		{"a call with bad input", "search_logs", map[string]any{"process": "nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mode()
			testkit.WaitFor(t, time.Second, "the clock to move", func() bool {
				return time.Since(before.ReleaseSwitchAt.Add(-time.Hour)) > 5*time.Millisecond
			})
			call(t, cs, tc.tool, tc.args)
			if now := mode(); !now.ReleaseSwitchAt.After(before.ReleaseSwitchAt) {
				t.Errorf("release switch stayed at %v after %s", now.ReleaseSwitchAt, tc.tool)
			}
		})
	}
}

func texts(lines []api.LineOut) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}

// bpm's own console polls every second; its reads must not keep dev mode
// alive, while its restarts still count.
func TestConsolePollingIsNotActivity(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, `
dev_timeout_hours = 1

[process.app]
type = "command"
command = ["sleep", "1000"]
`), Options{})
	b.waitRunning("app", "", 20*time.Second)
	client := sdk.NewClient(&sdk.Implementation{Name: api.ConsoleClientName, Version: "0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: b.url, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	switchAt := func() time.Time {
		t.Helper()
		m, err := actors.Ask[actors.ModeReply](b.system.Root, b.sup, actors.ModeRequest{}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m.ReleaseSwitchAt
	}
	callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "app"})
	before := switchAt()
	testkit.WaitFor(t, time.Second, "the clock to move", func() bool { return time.Since(before.Add(-time.Hour)) > 5*time.Millisecond })
	callOK[api.StatusOutput](t, cs, "get_status", nil)
	callOK[api.SearchOutput](t, cs, "search_logs", map[string]any{"process": "app"})
	if now := switchAt(); !now.Equal(before) {
		t.Errorf("the console's reads moved the release switch from %v to %v", before, now)
	}
	callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "app"})
	if now := switchAt(); !now.After(before) {
		t.Errorf("the console's restart did not count as activity: switch still %v", now)
	}
}
