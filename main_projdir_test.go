package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// The project moved away while a process crash-loops with log_dir set
// (issue 16, item 4), through the real binary: get_status says dir_missing
// and names the directory, another call's alerts say the process cannot
// start, no ghost of the project is created (not by the log writer either,
// whose file went with the project), and once the project is moved back the
// process runs in it again; SIGTERM still exits 0.
func TestMovedProjectIsNotRecreatedAndItsProcessResumesWhenBack(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), `log_dir = ".bpm/logs"
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 0.2
crash_loop_crashes = 3

[process.app]
type = "command"
command = ["sh", "-c", "echo run >> runs; echo 'error: no database' >&2; exit 1"]

[process.ticker]
type = "command"
command = ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]
`)
	moved := dir + "-moved"
	port := strconv.Itoa(testkit.FreePort(t))
	b := startBPM(t, "--port", port, dir)
	cs := connectMCP(t, port)
	agent := connectMCP(t, port) // a session that calls get_status never: its alerts tell
	testkit.WaitFor(t, 30*time.Second, "app in a crash loop", func() bool {
		text, _ := callTool(t, cs, "get_status", nil)
		return strings.Contains(text, "crash_loop")
	})

	// The agent's alerts start from here: app's crashes so far are told now.
	callTool(t, agent, "search_logs", map[string]any{"process": "ticker", "tail": 1})
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	var status string
	testkit.WaitFor(t, 10*time.Second, "get_status to say app's directory is missing", func() bool {
		status, _ = callTool(t, cs, "get_status", nil)
		return strings.Contains(status, "dir_missing") && strings.Contains(status, "directory missing: "+dir)
	})
	// The ticker's log writer finds its file gone within 2 s and must not
	// make a new one; this call's alerts tell of app.
	var logs string // every answer: the alerts come once
	testkit.WaitFor(t, 15*time.Second, "the ticker's log writer to notice its file is gone", func() bool {
		text, _ := callTool(t, agent, "search_logs", map[string]any{"process": "ticker", "pattern": "log_dir"})
		logs += text
		return strings.Contains(text, "log_dir: cannot write")
	})
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the moved project was re-created at %s: %v", dir, err)
	}
	if !strings.Contains(logs, "[alert]") || !strings.Contains(logs, "app cannot start: project directory "+dir+" is missing") {
		t.Errorf("no alert names the missing directory:\n%s", logs)
	}

	runs := strings.Count(readFile(filepath.Join(moved, "runs")), "\n")
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "app to run again in the project moved back", func() bool {
		return strings.Count(readFile(filepath.Join(dir, "runs")), "\n") > runs
	})
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("bpm exited %d\n%s", code, b.stderr)
	}
}

// readFile is path's content, "" when it cannot be read.
func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
