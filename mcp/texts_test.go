package mcp

import (
	"strings"
	"testing"
	"time"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// A process without a build step is not talked about as if it had one; a
// process whose build failed points at the build log.
func TestTextsFitTheProcess(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, `
[process.plain]
type = "command"
command = ["sh", "-c", "echo up; sleep 1000"]

[process.broken]
type = "command"
command = ["sleep", "1000"]
build = ["sh", "-c", "echo 'error: syntax error near line 3' >&2; exit 1"]
`), Options{})
	b.waitRunning("plain", "^up$", 20*time.Second)
	testkit.WaitFor(t, 20*time.Second, "broken's build to fail", func() bool {
		return b.proc("broken").State == actors.StateBuildFailed
	})
	cs := b.session(nil)

	res := call(t, cs, "search_build_log", map[string]any{"process": "plain"})
	if !res.IsError || !strings.Contains(text(res), "plain has no build step") || !strings.Contains(text(res), "search_logs") {
		t.Errorf("search_build_log of plain: %q", text(res))
	}
	res = call(t, cs, "search_logs", map[string]any{"process": "broken"})
	// The build is retried after a while: it failed, or failed and runs again;
	// a retry that failed since the previous call comes first as an alert.
	if txt := text(res); !res.IsError || !strings.Contains(txt, "no runs of broken yet: its ") ||
		!strings.Contains(txt, "build failed (build broken failed (exit code 1)") || !strings.Contains(txt, "search_build_log") {
		t.Errorf("search_logs of broken: %q, want why, pointing at search_build_log", txt)
	}
	st, txt := callOK[api.StatusOutput](t, cs, "get_status", nil)
	plain := st.Processes[0]
	if plain.Build.State != "none" {
		t.Errorf("plain build %+v, want state none", plain.Build)
	}
	for _, e := range plain.Events {
		if strings.Contains(e.Kind+e.Message, "build") {
			t.Errorf("plain has a build event: %+v", e)
		}
	}
	if strings.Contains(txt, "ok (release") {
		t.Errorf("status text shows a build for plain:\n%s", txt)
	}
	_, txt = callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "plain"})
	if !strings.Contains(txt, "(no build step)") || strings.Contains(txt, "build in") {
		t.Errorf("restart text %q, want no build wording", txt)
	}
}
