package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// eventKinds lists the kinds of a process's events, oldest first.
func eventKinds(st ProcessStatus) []string {
	var kinds []string
	for _, e := range st.Events {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

// newRunPID is the pid of the latest hand-off's new run, from its
// new_run_started event; 0 without one.
func newRunPID(st ProcessStatus) int {
	pid := 0
	for _, e := range st.Events {
		if e.Kind == "new_run_started" {
			fmt.Sscanf(e.Message, "pid %d", &pid)
		}
	}
	return pid
}

// hasInOrder reports whether want appear in kinds in that order.
func hasInOrder(kinds []string, want ...string) bool {
	i := 0
	for _, k := range kinds {
		if i < len(want) && k == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestListenHandoffUnderLoadLosesNoRequest(t *testing.T) {
	t.Parallel() // losing no request must hold with other tests beside it too
	tests := []struct {
		name    string
		tools   []string
		fixture string
		proc    string
	}{
		{"rust", []string{"cargo"}, "testdata/rustapp", `type = "rust"`},
		{"node", []string{"node"}, "testdata/nodeapp", `type = "npm"
command = ["node", "server.js"]`},
		// The examples users copy must hold up too.
		{"go example", []string{"go"}, "examples/hello", `type = "go"`},
		{"node example", []string{"node"}, "examples/node-hello", `type = "npm"
command = ["node", "server.js"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.Need(t, tt.tools...)
			port := testkit.FreePort(t)
			dir := t.TempDir()
			testkit.CopyDir(t, tt.fixture, dir)
			os.Remove(filepath.Join(dir, config.FileName)) // the example's own; this test writes its
			testkit.WriteFile(t, filepath.Join(dir, config.FileName), fmt.Sprintf("[process.app]\n%s\nlisten = \"127.0.0.1:%d\"\n", tt.proc, port))
			h := startHarness(t, dir, nil)
			old := h.waitState("app", StateRunning, 3*time.Minute)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)

			load := startLoad(url, 8)
			if !load.waitRequests(300, 30*time.Second) {
				t.Fatalf("load did not get going: %+v", load.stop())
			}
			r := h.restart("app")
			if r.Err != nil {
				load.stop()
				t.Fatalf("restart: %v", r.Err)
			}
			load.waitRequests(load.count.Load()+2000, 30*time.Second)
			res := load.stop()
			t.Logf("%d requests, %d failed, max latency %v, by pid %v", res.ok+res.failed, res.failed, res.maxLatency, res.pids)
			if res.failed != 0 {
				t.Errorf("%d of %d requests failed during the hand-off; first: %s", res.failed, res.ok+res.failed, res.firstErr)
			}
			if res.ok < 2000 {
				t.Errorf("only %d requests succeeded, want thousands", res.ok)
			}
			for _, pid := range []int{old.PID, r.PID} {
				if res.pids[fmt.Sprintf("pid=%d", pid)] == 0 {
					t.Errorf("no response from pid %d; responses by pid: %v", pid, res.pids)
				}
			}
			st := h.proc("app")
			if st.PID != r.PID || r.PID == old.PID {
				t.Errorf("serving pid %d, restart said %d, old %d", st.PID, r.PID, old.PID)
			}
			testkit.WaitFor(t, 10*time.Second, "the old run to stop", func() bool {
				return hasInOrder(eventKinds(h.proc("app")), "new_run_started", "ready", "old_run_stopped")
			})
			if testkit.Alive(old.PID) {
				t.Errorf("old run %d still alive", old.PID)
			}
		})
	}
}

// nodeSwapProject is a project whose build copies next.js over app.js, so a
// test decides what the next run will be.
func nodeSwapProject(t *testing.T, extra string) (dir string, port int) {
	t.Helper()
	testkit.Need(t, "node")
	port = testkit.FreePort(t)
	dir = testkit.NewProject(t, fmt.Sprintf(`
[process.app]
type = "command"
build = ["cp", "next.js", "app.js"]
command = ["node", "app.js"]
listen = "127.0.0.1:%d"
%s`, port, extra))
	server, err := os.ReadFile(testkit.RepoPath("testdata/nodeapp/server.js"))
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "next.js"), string(server))
	return dir, port
}

func TestListenRollsBackWhenNewRunExitsAtStart(t *testing.T) {
	t.Parallel()
	// A log check, not "alive for 1 s": on a loaded machine node may take a
	// second to start and exit, and the exit must come before readiness.
	dir, port := nodeSwapProject(t, `
[process.app.ready]
log = "^nodeapp started"
`)
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 30*time.Second)
	testkit.WriteFile(t, filepath.Join(dir, "next.js"), "console.error('broken start'); process.exit(3);\n")

	r := h.restart("app")
	if r.Err == nil {
		t.Fatalf("restart to a run that exits succeeded: %+v", r)
	}
	for _, want := range []string{"exit code 3", "broken start", fmt.Sprintf("pid %d keeps serving", old.PID)} {
		if !strings.Contains(r.Err.Error(), want) {
			t.Errorf("restart error lacks %q: %v", want, r.Err)
		}
	}
	if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", old.PID) {
		t.Errorf("after the rollback the socket answers %q, want the old pid %d", body, old.PID)
	}
	st := h.proc("app")
	if st.PID != old.PID || st.State != StateRunning || !hasInOrder(eventKinds(st), "new_run_started", "rolled_back") {
		t.Errorf("after the rollback: pid %d state %s events %v", st.PID, st.State, eventKinds(st))
	}
}

// startNeverReadyHandoff starts a project whose runs are ready when they log
// "nodeapp started" (within timeoutSeconds), and whose next build is a run
// that holds the socket but never logs it.
func startNeverReadyHandoff(t *testing.T, timeoutSeconds int) (h *bpmHarness, old ProcessStatus, port int) {
	t.Helper()
	dir, port := nodeSwapProject(t, fmt.Sprintf(`
[process.app.ready]
log = "^nodeapp started"
timeout_seconds = %d
`, timeoutSeconds))
	h = startHarness(t, dir, nil)
	old = h.waitState("app", StateRunning, 30*time.Second)
	testkit.WriteFile(t, filepath.Join(dir, "next.js"), "console.log('warming up forever'); setInterval(() => {}, 1000);\n")
	return h, old, port
}

func TestListenKillsNewRunThatNeverBecomesReady(t *testing.T) {
	t.Parallel()
	// 3 s: a loaded machine may take a second to start node and read its
	// first line, which the error must carry.
	h, old, port := startNeverReadyHandoff(t, 3)

	start := time.Now()
	r := h.restart("app")
	if r.Err == nil {
		t.Fatalf("restart to a run that is never ready succeeded: %+v", r)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("restart took %v, want about the 3s ready timeout", took)
	}
	if !strings.Contains(r.Err.Error(), "not ready within 3s") || !strings.Contains(r.Err.Error(), "warming up forever") {
		t.Errorf("restart error: %v", r.Err)
	}
	st := h.proc("app")
	newPID := newRunPID(st)
	if newPID == 0 {
		t.Fatalf("no new_run_started event: %+v", st.Events)
	}
	testkit.WaitFor(t, 10*time.Second, "the unready run to be stopped", func() bool { return !testkit.Alive(newPID) })
	if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", old.PID) {
		t.Errorf("socket answers %q, want the old pid %d", body, old.PID)
	}
	if st := h.proc("app"); st.PID != old.PID || !hasInOrder(eventKinds(st), "new_run_started", "ready_timeout", "rolled_back") {
		t.Errorf("pid %d events %v", st.PID, eventKinds(st))
	}
}

// A shutdown during a hand-off stops the new run too and still completes.
func TestStopDuringHandoffStopsBothRuns(t *testing.T) {
	t.Parallel()
	h, old, _ := startNeverReadyHandoff(t, 60)
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("app") }()
	var next int
	testkit.WaitFor(t, 20*time.Second, "the new run beside the old", func() bool {
		next = newRunPID(h.proc("app"))
		return next != 0
	})
	if _, err := Ask[StopReply](h.system.Root, h.sup, StopRequest{}, 20*time.Second); err != nil {
		t.Fatalf("stop during the hand-off: %v", err)
	}
	if r := <-replies; r.Err == nil {
		t.Errorf("the restart cut short by the stop succeeded: %+v", r)
	}
	for _, pid := range []int{old.PID, next} {
		if testkit.Alive(pid) {
			t.Errorf("pid %d alive after the stop", pid)
		}
	}
	// The old run was being stopped too: no event may claim it keeps serving.
	for _, e := range h.proc("app").Events {
		if e.Kind == "rolled_back" {
			t.Errorf("a shutdown logged %s: %s", e.Kind, e.Message)
		}
	}
}

// The old run dies during a hand-off whose new run is then not ready in
// time: nothing serves, and the crash wait that passed during the swap must
// not leave the process down for good.
func TestOldRunDyingDuringAFailedHandoffIsStillRestarted(t *testing.T) {
	t.Parallel()
	dir, _ := nodeSwapProject(t, "[process.app.ready]\nlog = \"^nodeapp started\"\ntimeout_seconds = 3\n")
	// The dev crash wait ends while the new run is still warming up.
	file := filepath.Join(dir, config.FileName)
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, file, "dev_crash_wait_seconds = 0.5\n"+string(doc))
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 30*time.Second)
	testkit.WriteFile(t, filepath.Join(dir, "next.js"), "console.log('warming up forever'); setInterval(() => {}, 1000);\n")
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("app") }()
	testkit.WaitFor(t, 20*time.Second, "the new run beside the old", func() bool { return newRunPID(h.proc("app")) != 0 })
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := <-replies; r.Err == nil {
		t.Fatalf("a hand-off to a run that never gets ready succeeded: %+v", r)
	}
	testkit.WaitFor(t, 20*time.Second, "a run started after the rollback", func() bool {
		return hasInOrder(eventKinds(h.proc("app")), "rolled_back", "restart_scheduled", "started")
	})
}
