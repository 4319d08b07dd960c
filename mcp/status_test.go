package mcp

import (
	"slices"
	"strings"
	"testing"
	"time"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// crasher runs 2.5 s, writes a panic to stderr and exits 2; bpm waits 30 s
// before starting it again (release mode) or 30 s in dev mode.
const crasher = `
release_crash_backoff_initial_seconds = 30
dev_crash_wait_seconds = 30

[process.crasher]
type = "command"
command = ["sh", "-c", "echo starting; sleep 2.5; echo 'panic: boom' >&2; echo 'goroutine 1 [running]:' >&2; echo 'main.main()' >&2; exit 2"]

[process.steady]
type = "command"
command = ["sh", "-c", "echo steady; sleep 1000"]
`

func TestStatusTextShowsEventsAndTheStderrOfACrash(t *testing.T) {
	b := startBPM(t, testkit.NewProject(t, crasher), Options{})
	testkit.WaitFor(t, 20*time.Second, "crasher to crash", func() bool {
		return b.proc("crasher").State == actors.StateBackoff
	})
	cs := b.session(nil)
	out, txt := callOK[api.StatusOutput](t, cs, "get_status", nil)
	c := out.Processes[0]
	want := []string{"panic: boom", "goroutine 1 [running]:", "main.main()"}
	if !slices.Equal(c.LastStderr, want) || out.Processes[1].LastStderr != nil {
		t.Errorf("last_stderr %q (steady %q), want %q and none", c.LastStderr, out.Processes[1].LastStderr, want)
	}
	for _, s := range append(want, "last stderr:", "crashed: ", "bpm starts it again at ", "steady:\n") {
		if !strings.Contains(txt, s) {
			t.Errorf("status text lacks %q:\n%s", s, txt)
		}
	}
}
