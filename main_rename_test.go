package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/testkit"
)

// withMarker lists the live processes whose environment has
// BPM_TEST_MARK=marker (the environment survives exec, unlike arguments).
func withMarker(marker string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		for _, kv := range strings.Split(string(environ), "\x00") {
			if kv == "BPM_TEST_MARK="+marker && testkit.Alive(pid) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// copyWatch watches markers, each of which one process at most may carry at
// any moment (a process and its renamed self are one process), until the
// test ends, and fails the test on a second copy.
func copyWatch(t *testing.T, markers ...string) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, m := range markers {
				if pids := withMarker(m); len(pids) > 1 {
					t.Errorf("%d processes carry %s at once: %v", len(pids), m, pids)
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// stubborn is a process that ignores SIGTERM (so it takes its whole stop
// window) and carries marker in its environment. It never forks: a fork's
// child would carry the marker too for a moment.
func stubborn(name, marker string, stopSeconds int) string {
	return fmt.Sprintf("[process.%s]\ntype = \"command\"\nstop_timeout_seconds = %d\nenv = { BPM_TEST_MARK = %q }\ncommand = [\"sh\", \"-c\", \"trap '' TERM; echo up; exec sleep 100000\"]\n\n", name, stopSeconds, marker)
}

// writeAtomically replaces file with doc in one rename, so that a reload
// never reads half of it.
func writeAtomically(t *testing.T, file, doc string) {
	t.Helper()
	if err := writeFile(file, doc); err != nil {
		t.Error(err)
	}
}

// noBug fails the test if bpm logged an actor panic or a Go panic.
func noBug(t *testing.T, b *bpmProcess) {
	t.Helper()
	if s := b.stderr.String(); strings.Contains(s, "bpm bug") || strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
		t.Errorf("bpm logged a panic:\n%s", s)
	}
}

// A reload renames a process that ignores SIGTERM; within the old run's
// stop window each command that crashed the supervisor (a nil actor for the
// new name) is answered, no process runs twice, and the renamed process
// runs once the old one is gone.
func TestRenameReloadThenEveryCommandInTheOldRunsStopWindow(t *testing.T) {
	const window = 6 // seconds the old run takes to stop
	cases := []struct {
		name string
		act  func(t *testing.T, b *bpmProcess, cs *sdk.ClientSession)
	}{
		{"restart another process", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			if text, isErr := callToolResult(t, cs, "restart", map[string]any{"process": "other"}); isErr {
				t.Errorf("restart other: %s", text)
			}
		}},
		{"restart the renamed process", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			callToolResult(t, cs, "restart", map[string]any{"process": "renamed"}) // answered; an error is an answer
		}},
		{"a second reload, then stop and restart the renamed process", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			if text, isErr := callToolResult(t, cs, "reload_config", map[string]any{}); isErr {
				t.Errorf("reload_config again: %s", text)
			}
			callToolResult(t, cs, "stop", map[string]any{"process": "renamed"})
			callToolResult(t, cs, "restart", map[string]any{"process": "renamed"})
		}},
		{"start all", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			callToolResult(t, cs, "start", map[string]any{"process": "all"})
		}},
		{"restart all", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			callToolResult(t, cs, "restart", map[string]any{"process": "all"})
		}},
		{"stop all", func(t *testing.T, _ *bpmProcess, cs *sdk.ClientSession) {
			if text, isErr := callToolResult(t, cs, "stop", map[string]any{"process": "all"}); isErr {
				t.Errorf("stop all: %s", text)
			}
		}},
		{"SIGTERM", func(t *testing.T, b *bpmProcess, _ *sdk.ClientSession) {
			if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each has a bpm of its own; most of the time is the stop window
			nonce := strconv.FormatInt(time.Now().UnixNano(), 36) + strings.ReplaceAll(c.name, " ", "-")
			mark, otherMark := "bpm-rename-"+nonce, "bpm-other-"+nonce
			copyWatch(t, mark, otherMark)
			dir := t.TempDir()
			file := filepath.Join(dir, ".mcp-run")
			writeAtomically(t, file, stubborn("old", mark, window)+stubborn("other", otherMark, 1))
			port := strconv.Itoa(testkit.FreePort(t))
			b := startBPM(t, "--port", port, dir)
			cs := connectMCP(t, port)
			before := waitRunning(t, cs, "old", "other")

			writeAtomically(t, file, stubborn("renamed", mark, window)+stubborn("other", otherMark, 1))
			text, isErr := callToolResult(t, cs, "reload_config", map[string]any{})
			if isErr || !strings.Contains(text, "renamed") || !strings.Contains(text, "old") {
				t.Fatalf("reload_config: isError %v, %q", isErr, text)
			}
			if !testkit.Alive(before["old"].PID) {
				t.Fatalf("old run %d ended before the command: its stop window was missed", before["old"].PID)
			}
			c.act(t, b, cs)

			if c.name == "SIGTERM" {
				if code := b.wait(t, time.Duration(window+30)*time.Second); code != 0 {
					t.Errorf("bpm exited %d on SIGTERM\n%s", code, b.stderr)
				}
				noBug(t, b)
				for _, m := range []string{mark, otherMark} {
					if pids := withMarker(m); len(pids) > 0 {
						t.Errorf("left running after bpm stopped: %v", pids)
					}
				}
				return
			}
			testkit.WaitFor(t, time.Duration(window+20)*time.Second, "the old run gone", func() bool { return !testkit.Alive(before["old"].PID) })
			if c.name == "stop all" {
				st := statusOf(t, cs)
				if st["renamed"].PID != 0 && testkit.Alive(st["renamed"].PID) {
					t.Errorf("renamed runs after stop all: %+v", st["renamed"])
				}
				callToolResult(t, cs, "start", map[string]any{"process": "all"})
			}
			after := waitRunning(t, cs, "renamed", "other")
			if _, ok := after["old"]; ok {
				t.Errorf("old is back in get_status: %+v", after["old"])
			}
			if pids := withMarker(mark); len(pids) != 1 || pids[0] != after["renamed"].PID {
				t.Errorf("processes of the renamed process: %v, want just its run %d", pids, after["renamed"].PID)
			}
			noBug(t, b)
			if b.cmd.ProcessState != nil {
				t.Fatalf("bpm exited\n%s", b.stderr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_status", Arguments: map[string]any{}}); err != nil {
				t.Errorf("get_status after: %v", err)
			}
		})
	}
}
