package actors

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

func TestRustAndNpmProjectsBuildRunAndLog(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "cargo", "npm", "node")
	dir := testkit.NewProject(t, `
[process.rust]
type = "rust"
dir = "rust"
env = { FIXTURE_ECHO = "from-config" }

[process.web]
type = "npm"
dir = "node"
command = ["npm", "start"]
`)
	testkit.CopyDir(t, "testdata/rustapp", filepath.Join(dir, "rust"))
	testkit.CopyDir(t, "testdata/nodeapp", filepath.Join(dir, "node"))
	h := startHarness(t, dir, nil)

	rust := h.waitState("rust", StateRunning, 3*time.Minute)
	web := h.waitState("web", StateRunning, time.Minute)
	if rust.Mode != "release" || rust.Build.State != "ok" {
		t.Errorf("rust: mode %q build %+v, want a good release build", rust.Mode, rust.Build)
	}
	testkit.WaitFor(t, 10*time.Second, "fixture output in the ring buffers", func() bool {
		return h.logHas("rust", KindRun, `^rustapp started pid=\d+ mode=release$`) &&
			h.logHas("rust", KindRun, `^echo=from-config$`) &&
			h.logHas("web", KindRun, `^nodeapp started pid=\d+`)
	})
	if !h.logHas("rust", KindBuild, `Compiling rustapp`) {
		t.Errorf("rust build log lacks cargo's Compiling line")
	}
	if r := h.search("web", SearchRequest{Kind: KindBuild, Index: -1}); r.Err == nil {
		t.Errorf("npm has no build, but its build log has %d lines", len(r.Lines))
	}
	testkit.WaitFor(t, 5*time.Second, "prefixed pass-through", func() bool {
		out, errOut := h.stdout.String(), h.stderr.String()
		return strings.Contains(out, fmt.Sprintf("[rust] rustapp started pid=%d mode=release\n", rust.PID)) &&
			strings.Contains(errOut, "[rust] rustapp stderr hello\n") &&
			strings.Contains(errOut, "[build rust] ") &&
			strings.Contains(out, "[web] nodeapp started pid=")
	})
	if strings.Contains(h.stdout.String(), `"reason":"compiler-artifact"`) {
		t.Errorf("cargo's JSON messages leaked into the output")
	}
	if !testkit.Alive(web.PID) || !testkit.Alive(rust.PID) {
		t.Errorf("runs not alive: rust %d web %d", rust.PID, web.PID)
	}
}

func TestSIGKILLedRunRestartsAfterReleaseBackoff(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	first := h.waitState("app", StateRunning, 20*time.Second)
	killed := time.Now()
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The backoff lasts a second: a loaded machine may look only after it,
	// so the test reads the crash's events, which stay.
	scheduled := h.waitEvent("app", "restart_scheduled", 10*time.Second)
	if scheduled.Message != "restart in 1s (release mode)" {
		t.Errorf("restart_scheduled %q, want the 1s release backoff", scheduled.Message)
	}
	var second ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "a new run", func() bool {
		second = h.proc("app")
		return second.PID != 0 && second.PID != first.PID
	})
	if took := second.StartedAt.Sub(scheduled.Time); took < 990*time.Millisecond {
		t.Errorf("restarted %v after the crash, before the 1s backoff", took)
	}
	if took := time.Since(killed); took < 990*time.Millisecond {
		t.Errorf("restarted %v after the kill, before the 1s backoff", took)
	}
	if second.Crashes != 1 || !strings.Contains(second.LastExit, "killed") || second.Restarts != 1 {
		t.Errorf("crashes %d, last exit %q, restarts %d; want 1, a kill, 1", second.Crashes, second.LastExit, second.Restarts)
	}
}

func TestSIGKILLedRunRestartsAfterDevWaitInDevMode(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
dev_crash_wait_seconds = 1.5
release_crash_backoff_initial_seconds = 0.1

[process.app]
type = "command"
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 20*time.Second)
	r := h.restart("app")
	if r.Err != nil || r.Mode != "dev" {
		t.Fatalf("restart: %+v", r)
	}
	killed := time.Now()
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	scheduled := h.waitEvent("app", "restart_scheduled", 10*time.Second)
	if scheduled.Message != "restart in 1.5s (dev mode)" {
		t.Errorf("restart_scheduled %q, want the 1.5s dev wait", scheduled.Message)
	}
	var second ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "a new run", func() bool {
		second = h.proc("app")
		return second.PID != 0 && second.PID != r.PID
	})
	if took := second.StartedAt.Sub(scheduled.Time); took < 1490*time.Millisecond {
		t.Errorf("restarted %v after the crash, before the 1.5s dev wait", took)
	}
	if took := time.Since(killed); took < 1490*time.Millisecond {
		t.Errorf("restarted %v after the kill, before the 1.5s dev wait", took)
	}
}

// The crash backoff grows by 1.5 per crash up to the cap and starts over
// after a run that stayed up 60 s; the fake clock stands in for the waits.
func TestReleaseBackoffCurveWithInjectedClock(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 2
release_crash_backoff_max_seconds = 7
crash_loop_crashes = 100

[process.app]
type = "command"
command = ["sh", "-c", "while [ ! -e crash ]; do sleep 0.01; done; rm crash; exit 1"]
`)
	clock := newFakeClock()
	h := startHarness(t, dir, clock)
	crash := func() {
		if err := os.WriteFile(filepath.Join(dir, "crash"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// nextRetry returns the next timer that is not the 1 s alive-for-ready one.
	nextRetry := func() *fakeTimer {
		t.Helper()
		for {
			select {
			case tm := <-clock.timers:
				if tm.d != aliveForReady {
					return tm
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no restart was scheduled")
			}
		}
	}
	ms := time.Millisecond
	for i, want := range []time.Duration{2000 * ms, 3000 * ms, 4500 * ms, 6750 * ms, 7000 * ms, 7000 * ms} {
		crash()
		tm := nextRetry()
		if tm.d != want {
			t.Fatalf("crash %d: wait %v, want %v", i+1, tm.d, want)
		}
		// get_status shows what the process actor published when it was done
		// with the crash, just after it armed the timer.
		var st ProcessStatus
		testkit.WaitFor(t, 5*time.Second, fmt.Sprintf("crash %d: backoff at now+%v", i+1, want), func() bool {
			st = h.proc("app")
			return st.State == StateBackoff && st.NextRestartAt.Equal(clock.Now().Add(want))
		})
		tm.fire()
	}
	// A run that stays up 60 s resets the series.
	testkit.WaitFor(t, 5*time.Second, "the run after the last wait", func() bool { return h.proc("app").PID != 0 })
	clock.advance(61 * time.Second)
	crash()
	if tm := nextRetry(); tm.d != 2*time.Second {
		t.Fatalf("after 61 s up: wait %v, want the initial 2s", tm.d)
	}
}

func TestRestartBuildsWhileOldRunServes(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "node")
	port := testkit.FreePort(t)
	dir := testkit.NewProject(t, fmt.Sprintf(`
[process.web]
type = "command"
build = ["sh", "-c", "while [ ! -e gate ]; do sleep 0.01; done; echo built"]
command = ["node", %q]
env = { FIXTURE_LISTEN = "127.0.0.1:%d" }
`, testkit.RepoPath("testdata/nodeapp/server.js"), port))
	gate := filepath.Join(dir, "gate")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, dir, nil)
	old := h.waitState("web", StateRunning, 20*time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	testkit.WaitFor(t, 5*time.Second, "the old run serving", func() bool { return testkit.Get(url) == fmt.Sprintf("pid=%d\n", old.PID) })

	os.Remove(gate)
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("web") }()
	testkit.WaitFor(t, 5*time.Second, "the build to start", func() bool { return h.proc("web").Build.State == "running" })
	for i := range 20 {
		if body := testkit.Get(url); body != fmt.Sprintf("pid=%d\n", old.PID) {
			t.Fatalf("request %d during the build got %q, want the old run's pid %d", i, body, old.PID)
		}
	}
	if st := h.proc("web"); st.PID != old.PID || st.State != StateRunning {
		t.Fatalf("during the build: pid %d state %s, want the old run %d running", st.PID, st.State, old.PID)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-replies
	if r.Err != nil || r.PID == old.PID || r.Mode != "dev" {
		t.Fatalf("restart reply %+v, want a new pid in dev mode", r)
	}
	testkit.WaitFor(t, 5*time.Second, "the new run serving", func() bool { return testkit.Get(url) == fmt.Sprintf("pid=%d\n", r.PID) })
	if st := h.proc("web"); st.Restarts != 1 || st.Crashes != 0 {
		t.Errorf("after one restart: restarts %d crashes %d, want 1 and 0", st.Restarts, st.Crashes)
	}
	if testkit.Alive(old.PID) {
		t.Errorf("old run %d still alive after the swap", old.PID)
	}
}

func TestBrokenBuildKeepsOldRunServing(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "cargo")
	dir := testkit.NewProject(t, `
[process.app]
type = "rust"
`)
	testkit.CopyDir(t, "testdata/rustapp", dir)
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 3*time.Minute)
	broken := "fn main() { let x: u32 = \"not a number\"; }\n"
	if err := os.WriteFile(filepath.Join(dir, "src", "main.rs"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.restart("app")
	if r.Err == nil {
		t.Fatalf("restart of a broken crate succeeded: %+v", r)
	}
	msg := r.Err.Error()
	for _, want := range []string{"error[E0308]", "mismatched types", fmt.Sprintf("old run (pid %d) is still serving", old.PID)} {
		if !strings.Contains(msg, want) {
			t.Errorf("restart error lacks %q:\n%s", want, msg)
		}
	}
	st := h.proc("app")
	if st.PID != old.PID || st.State != StateRunning || !testkit.Alive(old.PID) {
		t.Errorf("after the failed build: pid %d state %s alive %v, want old pid %d running",
			st.PID, st.State, testkit.Alive(old.PID), old.PID)
	}
	if st.Build.State != "failed" || !strings.Contains(st.Build.Error, "error[E0308]") {
		t.Errorf("build %+v, want failed with the first compiler error", st.Build)
	}
}

func TestConcurrentRestartsCoalesceIntoAtMostTwoBuilds(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
build = ["sleep", "0.3"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 20*time.Second)
	before := h.search("app", SearchRequest{Kind: KindBuild, Index: -1}).Runs

	var wg sync.WaitGroup
	replies := make([]RestartReply, 10)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = h.restart("app")
		}()
	}
	wg.Wait()
	pids := map[int]bool{}
	for i, r := range replies {
		if r.Err != nil {
			t.Fatalf("restart %d: %v", i, r.Err)
		}
		pids[r.PID] = true
	}
	builds := h.search("app", SearchRequest{Kind: KindBuild, Index: -1}).Runs - before
	if builds < 1 || builds > 2 {
		t.Errorf("10 concurrent restarts ran %d builds, want 1 or 2", builds)
	}
	final := h.proc("app")
	var living []int
	for pid := range pids {
		if testkit.Alive(pid) {
			living = append(living, pid)
		}
	}
	if len(living) != 1 || living[0] != final.PID {
		t.Errorf("live runs among the replies: %v, want only the current pid %d", living, final.PID)
	}
}

func TestModeClockSwitchesBackToReleaseAndRebuilds(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "cargo")
	dir := testkit.NewProject(t, `
dev_timeout_hours = 0.002

[process.app]
type = "rust"
`)
	testkit.CopyDir(t, "testdata/rustapp", dir)
	// The dev build is made beforehand, so that the restart's build is quick
	// next to the 7.2 s dev timeout even on a loaded machine.
	if out, err := exec.Command("cargo", "build", "--quiet", "--manifest-path", filepath.Join(dir, "Cargo.toml")).CombinedOutput(); err != nil {
		t.Fatalf("cargo build: %v\n%s", err, out)
	}
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 3*time.Minute)
	r := h.restart("app")
	if r.Err != nil || r.Mode != "dev" {
		t.Fatalf("restart: %+v", r)
	}
	if st := h.status(); st.Mode != "dev" || st.ReleaseSwitchAt.IsZero() {
		t.Fatalf("after restart: mode %s release switch %v, want dev with a switch time", st.Mode, st.ReleaseSwitchAt)
	}
	testkit.WaitFor(t, 5*time.Second, "the dev run's output", func() bool { return h.logHas("app", KindRun, `mode=debug$`) })
	var st StatusReply
	testkit.WaitFor(t, 3*time.Minute, "release mode with a release build running", func() bool {
		st = h.status()
		p := st.Processes[0]
		return st.Mode == "release" && p.Mode == "release" && p.State == StateRunning && p.PID != r.PID
	})
	if !st.ReleaseSwitchAt.IsZero() {
		t.Errorf("release mode still reports a switch time %v", st.ReleaseSwitchAt)
	}
	testkit.WaitFor(t, 5*time.Second, "the release run's output", func() bool { return h.logHas("app", KindRun, `mode=release$`) })
	if !h.logHas("app", KindBuild, `build release finished`) {
		t.Errorf("newest build is not a release build")
	}
}

func TestBuildFailureAtStartLeavesBuildFailedUntilARestartBuilds(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
build = ["sh", "-c", "test -e fixed || { echo 'error: not fixed yet' >&2; exit 1; }"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	st := h.waitState("app", StateBuildFailed, 20*time.Second)
	if st.PID != 0 || st.Build.State != "failed" {
		t.Fatalf("after a failed first build: pid %d build %+v", st.PID, st.Build)
	}
	if r := h.restart("app"); r.Err == nil || !strings.Contains(r.Err.Error(), "error: not fixed yet") {
		t.Fatalf("restart of a still broken build: %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := h.restart("app")
	if r.Err != nil || r.PID == 0 {
		t.Fatalf("restart after the fix: %+v", r)
	}
	if st := h.proc("app"); st.State != StateRunning || st.PID != r.PID {
		t.Errorf("after the fix: state %s pid %d, want running %d", st.State, st.PID, r.PID)
	}
}

// A crash while a restart builds: the crash restart runs the last good build
// meanwhile, and a failed build leaves that run serving.
func TestCrashDuringBuildRestartsLastGoodBuild(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
dev_crash_wait_seconds = 0.2

[process.app]
type = "command"
build = ["sh", "-c", "while [ ! -e gate ]; do sleep 0.01; done; test -e ok || { echo 'error: broken' >&2; exit 1; }"]
command = ["sleep", "1000"]
`)
	gate, ok := filepath.Join(dir, "gate"), filepath.Join(dir, "ok")
	testkit.WriteFile(t, gate, "")
	testkit.WriteFile(t, ok, "")
	h := startHarness(t, dir, nil)
	first := h.waitState("app", StateRunning, 20*time.Second)
	os.Remove(gate)
	os.Remove(ok)
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("app") }()
	testkit.WaitFor(t, 5*time.Second, "the build to start", func() bool { return h.proc("app").Build.State == "running" })
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var second ProcessStatus
	testkit.WaitFor(t, 10*time.Second, "the crash restart during the build", func() bool {
		second = h.proc("app")
		return second.PID != 0 && second.PID != first.PID && second.State == StateRunning
	})
	testkit.WriteFile(t, gate, "")
	if r := <-replies; r.Err == nil || !strings.Contains(r.Err.Error(), "error: broken") {
		t.Fatalf("restart with a failing build: %+v", r)
	}
	if st := h.proc("app"); st.PID != second.PID || st.State != StateRunning || !testkit.Alive(second.PID) {
		t.Errorf("after the failed build: pid %d state %s; want pid %d still running", st.PID, st.State, second.PID)
	}
}

func TestStopDuringBuildKillsTheBuild(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
build = ["sh", "-c", "test -e fast || exec sleep 1000"]
command = ["sleep", "1000"]
`)
	testkit.WriteFile(t, filepath.Join(dir, "fast"), "")
	h := startHarness(t, dir, nil)
	run := h.waitState("app", StateRunning, 20*time.Second)
	os.Remove(filepath.Join(dir, "fast"))
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("app") }()
	var build int
	testkit.WaitFor(t, 5*time.Second, "the slow build", func() bool {
		r := h.search("app", SearchRequest{Kind: KindBuild, Index: -1})
		if r.Err == nil && r.Runs == 2 {
			build = r.Run.PID
		}
		return build != 0 && testkit.Alive(build)
	})
	start := time.Now()
	if _, err := Ask[StopReply](h.system.Root, h.sup, StopRequest{}, 20*time.Second); err != nil {
		t.Fatalf("stop during a build: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stop took %v", took)
	}
	if r := <-replies; r.Err == nil {
		t.Errorf("the restart cut short by the stop succeeded: %+v", r)
	}
	for _, pid := range []int{run.PID, build} {
		if testkit.Alive(pid) {
			t.Errorf("pid %d alive after the stop", pid)
		}
	}
}
