package mcp

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bpm/actors"
	"bpm/api"
	"bpm/testkit"
)

// crasher runs until the test writes a file named crash into the project
// (see letCrash), then the seconds that file says; then it writes a panic
// to stderr and exits 2. bpm waits 30 s before starting it again (release
// mode) or 30 s in dev mode. A crash at a fixed time after the start would
// be over before a loaded machine looked at the run.
const crasher = `
release_crash_backoff_initial_seconds = 30
dev_crash_wait_seconds = 30

[process.crasher]
type = "command"
command = ["sh", "-c", "echo starting; while [ ! -e crash ]; do sleep 0.05; done; sleep $(cat crash); echo 'panic: boom' >&2; echo 'goroutine 1 [running]:' >&2; echo 'main.main()' >&2; exit 2"]

[process.steady]
type = "command"
command = ["sh", "-c", "echo steady; sleep 1000"]
`

// letCrash lets the crasher of the project in dir crash, after seconds.
func letCrash(t *testing.T, dir, seconds string) {
	t.Helper()
	testkit.WriteFile(t, filepath.Join(dir, "crash"), seconds)
}

func TestStatusTextShowsEventsAndTheStderrOfACrash(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, crasher)
	b := startBPM(t, dir, Options{})
	letCrash(t, dir, "0")
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
