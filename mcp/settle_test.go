package mcp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

func TestRestartWatchesTheNewRun(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, crasher)
	b := startBPM(t, dir, Options{RestartSettle: 3 * time.Second})
	b.waitRunning("steady", "^steady$", 20*time.Second)
	old := b.waitRunning("crasher", "^starting$", 20*time.Second)
	cs := b.session(nil)

	t.Run("a run that stays up: its first lines", func(t *testing.T) {
		out, txt := callOK[api.RestartOutput](t, cs, "restart", map[string]any{"process": "steady"})
		if out.UpSeconds < 3 || len(out.FirstLines) != 1 || out.FirstLines[0].Text != "steady" {
			t.Errorf("out %+v", out)
		}
		if !strings.Contains(txt, "; up for 3.") || !strings.HasSuffix(txt, ": steady\n") {
			t.Errorf("text %q", txt)
		}
	})
	t.Run("a crash in the settle window is an error with the last lines", func(t *testing.T) {
		type answer struct {
			res *sdk.CallToolResult
			err error
		}
		answers := make(chan answer, 1)
		go func() {
			res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "restart", Arguments: map[string]any{"process": "crasher"}})
			answers <- answer{res, err}
		}()
		// The new run crashes once it serves, inside the settle window
		// however loaded the machine: the test lets it then.
		testkit.WaitFor(t, 20*time.Second, "the new run to be ready and the old one gone", func() bool {
			p := b.proc("crasher")
			return p.PID != 0 && p.PID != old.PID && hasEvent(p, "ready", fmt.Sprintf("pid %d", p.PID)) && !testkit.Alive(old.PID)
		})
		letCrash(t, dir, "0")
		a := <-answers
		if a.err != nil {
			t.Fatalf("restart: %v", a.err)
		}
		txt := text(a.res)
		if !a.res.IsError {
			t.Errorf("a crash in the settle window is not an error:\n%s", txt)
		}
		for _, want := range []string{"the new run (pid ", ") crashed ", " after it started serving (pid ", "exit code 2", "crasher is down, bpm starts it again at ", "panic: boom", "main.main()"} {
			if !strings.Contains(txt, want) {
				t.Errorf("text lacks %q:\n%s", want, txt)
			}
		}
	})
}

// hasEvent reports whether st has an event of kind whose message is msg.
func hasEvent(st actors.ProcessStatus, kind, msg string) bool {
	for _, e := range st.Events {
		if e.Kind == kind && e.Message == msg {
			return true
		}
	}
	return false
}

func TestRestartWithoutWaitReturnsWhileItBuilds(t *testing.T) {
	t.Parallel()
	// The build waits while the project holds a file named hold: the
	// restart is seen to return while it runs, however loaded the machine.
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
command = ["sh", "-c", "echo up $$; sleep 1000"]
build = ["sh", "-c", "while [ -e hold ]; do sleep 0.05; done; echo built"]
`)
	b := startBPM(t, dir, Options{RestartSettle: time.Second})
	first := b.waitRunning("app", "^up ", 30*time.Second)
	cs := b.session(nil)
	hold := filepath.Join(dir, "hold")
	testkit.WriteFile(t, hold, "")
	out, txt := callOK[api.RestartOutput](t, cs, "restart", map[string]any{"wait": false})
	if !out.Pending || out.PID != 0 {
		t.Fatalf("wait false: %+v", out)
	}
	if !strings.HasPrefix(txt, "restart of app begun: its dev build runs now") || !strings.Contains(txt, "wait_for") {
		t.Errorf("text %q", txt)
	}
	// The old run serves while the build runs: it is not what running waits for.
	if w, _ := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"state": "running", "timeout_seconds": 1}); w.Reached {
		t.Errorf("wait_for running during the build: %+v (old pid %d)", w, first.PID)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	w, _ := callOK[api.WaitOutput](t, cs, "wait_for", map[string]any{"state": "running", "timeout_seconds": 30})
	if !w.Reached || w.PID == first.PID || w.PID == 0 {
		t.Errorf("wait_for running after the build: %+v (old pid %d)", w, first.PID)
	}
}
