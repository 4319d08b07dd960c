package mcp

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"bpm/api"
	"bpm/testkit"
)

// Clients send null for a parameter they leave out; it must work like one
// not given, for every optional parameter of every tool.
func TestNullMeansNotGiven(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, `
[process.app]
type = "command"
command = ["sh", "-c", "echo hello; sleep 1000"]
`), Options{})
	b.waitRunning("app", "^hello$", 20*time.Second)
	cs := b.session(nil)
	nulls := map[string]any{"process": nil, "pattern": nil, "context_lines": nil, "head": nil, "tail": nil, "index": nil}
	out, txt := callOK[api.SearchOutput](t, cs, "search_logs", nulls)
	if len(out.Lines) != 1 || out.Lines[0].Text != "hello" || !strings.Contains(txt, "hello") {
		t.Errorf("search with nulls = %+v\n%s", out, txt)
	}
	callOK[api.StatusOutput](t, cs, "get_status", map[string]any{})
}

// Every tool's process parameter lists the configured names, so a client
// (and the model) sees them before its first call.
func TestProcessNamesAreAnEnum(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, twoProcesses), Options{})
	cs := b.session(nil)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	withProcess := 0
	for _, tool := range res.Tools {
		var schema struct {
			Properties map[string]struct {
				Enum []any `json:"enum"`
				Type any   `json:"type"`
			} `json:"properties"`
		}
		data, _ := json.Marshal(tool.InputSchema)
		if err := json.Unmarshal(data, &schema); err != nil {
			t.Fatal(err)
		}
		p, ok := schema.Properties["process"]
		if !ok {
			continue
		}
		withProcess++
		want := []any{nil, "web", "worker"}
		if tool.Name == "restart" || tool.Name == "stop" || tool.Name == "start" {
			want = append(want, "all")
		}
		if !slices.Equal(p.Enum, want) {
			t.Errorf("%s: process enum %v, want %v", tool.Name, p.Enum, want)
		}
	}
	if withProcess < 3 {
		t.Errorf("%d tools take a process, want at least 3", withProcess)
	}
}
