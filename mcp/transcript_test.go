package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/testkit"
)

// TestTranscripts writes what an agent sees for each tool, failures
// included, to the file named by BPM_TRANSCRIPTS (docs/mcp.md quotes it).
// Skipped without it.
func TestTranscripts(t *testing.T) {
	t.Parallel()
	path := os.Getenv("BPM_TRANSCRIPTS")
	if path == "" {
		t.Skip("BPM_TRANSCRIPTS not set")
	}
	testkit.Need(t, "go")
	dir := testkit.NewProject(t, `
dev_crash_wait_seconds = 8
release_crash_backoff_initial_seconds = 30

[process.api]
type = "go"
dir = "api"
env = { FIXTURE_TICK_MS = "400" }

[process.worker]
type = "command"
command = ["sh", "-c", "echo worker up; sleep 2.5; echo 'panic: queue closed' >&2; echo 'goroutine 7 [running]:' >&2; exit 2"]
`)
	testkit.CopyDir(t, "testdata/goapp", filepath.Join(dir, "api"))
	b := startBPM(t, dir, Options{RestartSettle: 3 * time.Second})
	b.waitRunning("api", "^tick 6$", 2*time.Minute)
	testkit.WaitFor(t, 20*time.Second, "worker to crash", func() bool { return b.proc("worker").Crashes > 0 })
	cs := b.session(nil)
	var out strings.Builder
	record := func(tool string, args map[string]any) {
		res := call(t, cs, tool, args)
		in, _ := json.Marshal(map[string]any{"name": tool, "arguments": args})
		fmt.Fprintf(&out, "### %s\n\n```json\n%s\n```\n\nisError: %v\n\n```\n%s\n```\n\n", tool, in, res.IsError, text(res))
		if res.StructuredContent != nil {
			data, _ := json.Marshal(res.StructuredContent)
			fmt.Fprintf(&out, "```json\n%s\n```\n\n", data)
		}
	}
	record("get_status", map[string]any{})
	record("search_logs", map[string]any{"process": "api"})
	record("search_logs", map[string]any{"process": "api", "pattern": "tick [0-9]*5$", "context_lines": 1})
	record("search_logs", map[string]any{"process": "api", "stream": "stderr"})
	record("search_build_log", map[string]any{"process": "api"})
	record("search_build_log", map[string]any{"process": "worker"})
	record("search_logs", map[string]any{"process": "web"})
	record("search_logs", map[string]any{"process": "api", "context_lines": 1e30})
	record("search_logs", map[string]any{"process": "api", "since": "yesterday"})
	record("restart", map[string]any{"process": "api"})
	record("wait_for", map[string]any{"process": "api", "pattern": "^tick [0-9]*0$"})
	record("wait_for", map[string]any{"process": "api", "pattern": "never", "timeout_seconds": 2})
	record("restart", map[string]any{"process": "worker"})
	crashes := b.proc("worker").Crashes
	testkit.WriteFile(t, filepath.Join(dir, "api", "broken.go"), "package main\n\nfunc broken() int { return \"not a number\" }\n")
	record("restart", map[string]any{"process": "api"})
	os.Remove(filepath.Join(dir, "api", "broken.go"))
	record("restart", map[string]any{"process": "api", "wait": false})
	record("wait_for", map[string]any{"process": "api", "state": "running", "timeout_seconds": 60})
	testkit.WaitFor(t, 40*time.Second, "worker to crash again", func() bool { return b.proc("worker").Crashes > crashes })
	record("search_logs", map[string]any{"process": "api", "tail": 2})
	record("stop", map[string]any{"process": "worker"})
	record("start", map[string]any{"process": "worker"})
	record("stop", map[string]any{"process": "all"})
	record("start", map[string]any{"process": "all"})
	good, err := os.ReadFile(filepath.Join(dir, ".mcp-run"))
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), strings.Replace(string(good), `type = "command"`, `type = "shell"`, 1))
	record("reload_config", map[string]any{})
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), string(good)+"\n[process.docs]\ntype = \"command\"\ncommand = [\"sh\", \"-c\", \"echo serving docs; exec sleep 1000\"]\n")
	record("reload_config", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cs.ListTools(ctx, &sdk.ListToolsParams{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
