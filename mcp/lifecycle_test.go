package mcp

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

const dependentProcesses = `
[process.web]
type = "command"
command = ["sh", "-c", "echo web up; exec sleep 1000"]
depends_on = ["db"]

[process.db]
type = "command"
command = ["sh", "-c", "echo db up; exec sleep 1000"]
`

func TestStopAndStartTools(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, dependentProcesses), Options{})
	web := b.waitRunning("web", "", 20*time.Second)
	b.waitRunning("db", "", 20*time.Second)
	cs := b.session(nil)

	out, text := callOK[api.LifecycleOutput](t, cs, "stop", map[string]any{"process": "web"})
	if !strings.Contains(text, "stopped web; it stays stopped until start or restart") || len(out.Results) != 1 || out.Results[0].Process != "web" {
		t.Errorf("stop web: %q %+v", text, out)
	}
	st, stText := callOK[api.StatusOutput](t, cs, "get_status", map[string]any{})
	if p := st.Processes[0]; p.Name != "web" || p.State != actors.StateStopped || !p.Held || p.PID != 0 {
		t.Errorf("web after stop: %+v", p)
	}
	if !strings.Contains(stText, "stopped by request: it stays down until start or restart") {
		t.Errorf("status text does not say web is held:\n%s", stText)
	}
	if testkit.Alive(web.PID) {
		t.Errorf("web's run %d still alive after stop", web.PID)
	}

	out, text = callOK[api.LifecycleOutput](t, cs, "start", map[string]any{"process": "web"})
	if len(out.Results) != 1 || out.Results[0].PID == 0 || out.Results[0].PID == web.PID || !strings.Contains(text, "started web: pid") {
		t.Errorf("start web: %q %+v", text, out)
	}
	// start of a running process changes nothing.
	again, _ := callOK[api.LifecycleOutput](t, cs, "start", map[string]any{"process": "web"})
	if again.Results[0].PID != out.Results[0].PID {
		t.Errorf("start of a running process: pid %d, want %d", again.Results[0].PID, out.Results[0].PID)
	}

	// "all": stop goes dependants first, start in dependency order.
	all, text := callOK[api.LifecycleOutput](t, cs, "stop", map[string]any{"process": "all"})
	if names := resultNames(all); !slices.Equal(names, []string{"web", "db"}) || !strings.HasPrefix(text, "stopped 2 of 2 processes") {
		t.Errorf("stop all: %v\n%s", names, text)
	}
	all, text = callOK[api.LifecycleOutput](t, cs, "start", map[string]any{"process": "all"})
	if names := resultNames(all); !slices.Equal(names, []string{"db", "web"}) || !strings.HasPrefix(text, "started 2 of 2 processes") {
		t.Errorf("start all: %v\n%s", names, text)
	}
	for _, r := range all.Results {
		if r.PID == 0 || r.Error != "" {
			t.Errorf("start all: %+v", r)
		}
	}

	res := call(t, cs, "stop", map[string]any{"process": "nope"})
	if got := textOf(res); !res.IsError || !strings.Contains(got, `unknown process "nope"; known: web, db`) {
		t.Errorf("stop nope: isError %v %q", res.IsError, got)
	}
}

func TestRestartAllAndTheProcessEnum(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, dependentProcesses), Options{})
	web := b.waitRunning("web", "", 20*time.Second)
	db := b.waitRunning("db", "", 20*time.Second)
	cs := b.session(nil)

	out, text := callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "all"})
	if out.Process != "all" || len(out.Results) != 2 || !strings.HasPrefix(text, "restarted 2 of 2 processes") {
		t.Fatalf("restart all: %q %+v", text, out)
	}
	for _, r := range out.Results {
		if r.Error != "" || r.PID == 0 || r.PID == web.PID || r.PID == db.PID {
			t.Errorf("restart all: %+v", r)
		}
	}

	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		raw, _ := json.Marshal(tool.InputSchema)
		hasAll := strings.Contains(string(raw), `"all"`)
		takesAll := tool.Name == "stop" || tool.Name == "start" || tool.Name == "restart"
		if strings.Contains(string(raw), `"process"`) && hasAll != takesAll {
			t.Errorf("%s: \"all\" in the process enum = %v, want %v", tool.Name, hasAll, takesAll)
		}
	}
}

// textOf is text, for where a variable shadows it.
var textOf = text

func resultNames(out api.LifecycleOutput) []string {
	var names []string
	for _, r := range out.Results {
		names = append(names, r.Process)
	}
	return names
}
