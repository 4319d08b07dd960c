package actors

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/config"
	"bpm/testkit"
)

// eventTime returns when the last event of kind whose message contains text
// happened, or the zero time.
func eventTime(st ProcessStatus, kind string) time.Time {
	for i := len(st.Events) - 1; i >= 0; i-- {
		if st.Events[i].Kind == kind {
			return st.Events[i].Time
		}
	}
	return time.Time{}
}

// stays fails unless cond holds at every look for d.
func stays(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(50 * time.Millisecond) // a polling interval, not a wait for a state
	}
}

// dependencyProject: db serves on port only 1.5 s after each start; app
// exits at once when db does not accept (FIXTURE_REQUIRE_TCP), follows db's
// restarts; side needs db too but does not follow them.
func dependencyProject(t *testing.T) (dir string, port int) {
	bin := buildGoapp(t)
	port = testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir = testkit.NewProject(t, fmt.Sprintf(`
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 0.2

[process.app]
type = "command"
command = [%[1]q]
depends_on = ["db"]
restart_with_dependencies = true
env = { FIXTURE_REQUIRE_TCP = %[2]q }

[process.side]
type = "command"
command = [%[1]q]
depends_on = ["db"]
env = { FIXTURE_REQUIRE_TCP = %[2]q }

[process.db]
type = "command"
command = [%[1]q]
env = { FIXTURE_LISTEN = %[2]q, FIXTURE_ACCEPT_AFTER_MS = "1500" }
ready = { tcp = %[2]q, timeout_seconds = 20 }
`, bin, addr))
	return dir, port
}

func TestDependantNeverStartsBeforeItsDependencyIsReady(t *testing.T) {
	t.Parallel()
	dir, _ := dependencyProject(t)
	h := startHarness(t, dir, nil)

	testkit.WaitFor(t, 10*time.Second, "app waiting for db", func() bool {
		st := h.proc("app")
		return st.State == StateWaiting && slices.Equal(st.WaitingFor, []string{"db"})
	})
	db := h.waitState("db", StateRunning, 20*time.Second)
	app := h.waitState("app", StateRunning, 20*time.Second)
	side := h.waitState("side", StateRunning, 20*time.Second)
	if app.Crashes != 0 || side.Crashes != 0 {
		t.Fatalf("dependants crashed on start: app %d, side %d; app events %v", app.Crashes, side.Crashes, eventKinds(app))
	}
	if started, ready := eventTime(app, "started"), eventTime(db, "ready"); started.Before(ready) {
		t.Errorf("app started at %v, before db was ready at %v", started, ready)
	}
	if len(app.WaitingFor) != 0 {
		t.Errorf("app still waiting for %v while running", app.WaitingFor)
	}

	// db restarts without a hand-off: it is down, then not accepting for
	// 1.5 s. app follows it (restart_with_dependencies) and never crashes;
	// side keeps its run.
	r := h.restart("db")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	testkit.WaitFor(t, 20*time.Second, "app restarted after db's new run", func() bool {
		st := h.proc("app")
		return st.State == StateRunning && st.PID != app.PID
	})
	app2, db2 := h.proc("app"), h.proc("db")
	if app2.Crashes != 0 {
		t.Errorf("app crashed %d times across db's restart; events %v", app2.Crashes, eventKinds(app2))
	}
	if started, ready := eventTime(app2, "started"), eventTime(db2, "ready"); started.Before(ready) {
		t.Errorf("app's new run started at %v, before db's new run was ready at %v", started, ready)
	}
	if st := h.proc("side"); st.PID != side.PID || st.Crashes != 0 {
		t.Errorf("side (without restart_with_dependencies): pid %d → %d, crashes %d; want its run kept", side.PID, st.PID, st.Crashes)
	}
}

func TestDependantCrashWaitsForItsDependency(t *testing.T) {
	t.Parallel()
	dir, _ := dependencyProject(t)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 30*time.Second)
	side := h.waitState("side", StateRunning, 30*time.Second)

	// db is stopped and stays down: side, killed, is not started again
	// (it would exit at once) until db is started and ready.
	if _, err := Ask[StopProcessReply](h.system.Root, h.sup, StopProcessRequest{Process: "db"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(side.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitState("side", StateWaiting, 10*time.Second)
	stays(t, time.Second, "side waiting", func() bool { return h.proc("side").State == StateWaiting })
	// Asked to start meanwhile, it says at once what it waits for.
	began := time.Now()
	r, err := Ask[RestartReply](h.system.Root, h.sup, StartProcessRequest{Process: "side"}, 10*time.Second)
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Error(), "side waits for db, which is not coming up by itself") || time.Since(began) > 2*time.Second {
		t.Errorf("start side while db is stopped: %v %v after %v", err, r.Err, time.Since(began))
	}
	if r, err := Ask[RestartReply](h.system.Root, h.sup, StartProcessRequest{Process: "db"}, 30*time.Second); err != nil || r.Err != nil {
		t.Fatalf("start db: %v %v", err, r.Err)
	}
	st := h.waitState("side", StateRunning, 20*time.Second)
	if st.Crashes != 1 {
		t.Errorf("side crashes = %d, want 1 (the kill); events %v", st.Crashes, eventKinds(st))
	}
}

func TestStopKeepsAProcessDownThroughCrashRestarts(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 0.1
release_crash_backoff_max_seconds = 0.1

[process.app]
type = "command"
command = ["sh", "-c", "echo up; sleep 1.2; exit 3"]
`)
	h := startHarness(t, dir, nil)
	testkit.WaitFor(t, 10*time.Second, "a crash", func() bool { return h.proc("app").Crashes >= 1 })

	r, err := Ask[StopProcessReply](h.system.Root, h.sup, StopProcessRequest{Process: "app"}, 30*time.Second)
	if err != nil || r.Err != nil {
		t.Fatalf("stop: %v %v", err, r.Err)
	}
	st := h.proc("app")
	if st.State != StateStopped || !st.Held || st.PID != 0 {
		t.Fatalf("after stop: state %s held %v pid %d", st.State, st.Held, st.PID)
	}
	crashes := st.Crashes
	// Several crash waits go by: nothing starts.
	stays(t, 1500*time.Millisecond, "app stopped", func() bool {
		st := h.proc("app")
		return st.State == StateStopped && st.PID == 0 && st.Crashes == crashes && st.NextRestartAt.IsZero()
	})

	start, err := Ask[RestartReply](h.system.Root, h.sup, StartProcessRequest{Process: "app"}, 30*time.Second)
	if err != nil || start.Err != nil || start.PID == 0 {
		t.Fatalf("start: %+v %v", start, err)
	}
	if st := h.proc("app"); st.Held {
		t.Errorf("still held after start")
	}
	// Started again, it crashes and is restarted as before.
	testkit.WaitFor(t, 10*time.Second, "crash restarts again", func() bool { return h.proc("app").Crashes >= crashes+2 })
}

func TestStopDuringABuildCancelsItAndRestartUndoesTheStop(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
build = ["sleep", "30"]
command = ["sleep", "1000"]
`)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateBuilding, 10*time.Second)
	r, err := Ask[StopProcessReply](h.system.Root, h.sup, StopProcessRequest{Process: "app"}, 20*time.Second)
	if err != nil || r.Err != nil {
		t.Fatalf("stop: %v %v", err, r.Err)
	}
	if st := h.proc("app"); st.State != StateStopped || st.Build.State != "failed" {
		t.Fatalf("after stop during a build: state %s build %+v", st.State, st.Build)
	}
}

func TestAllStopsDependantsFirstAndStartsInDependencyOrder(t *testing.T) {
	t.Parallel()
	dir, _ := dependencyProject(t)
	h := startHarness(t, dir, nil)
	h.waitState("app", StateRunning, 30*time.Second)
	h.waitState("side", StateRunning, 30*time.Second)

	stop, err := Ask[BatchReply](h.system.Root, h.sup, StopProcessRequest{Process: All}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range stop.Replies {
		if r.Err != nil {
			t.Errorf("stop %s: %v", r.Process, r.Err)
		}
		order = append(order, r.Process)
	}
	if len(order) != 3 || order[2] != "db" {
		t.Errorf("stop order %v, want db last", order)
	}
	db := h.proc("db")
	for _, name := range []string{"app", "side"} {
		st := h.proc(name)
		if !st.Held || st.State != StateStopped {
			t.Errorf("%s: state %s held %v", name, st.State, st.Held)
		}
		if stopped, stopping := eventTime(st, "stopped"), eventTime(db, "stopping"); stopping.Before(stopped) {
			t.Errorf("db began stopping at %v, before %s had stopped at %v", stopping, name, stopped)
		}
	}

	start, err := Ask[BatchReply](h.system.Root, h.sup, StartProcessRequest{Process: All}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range start.Replies {
		if r.Err != nil || r.PID == 0 {
			t.Errorf("start %s: pid %d err %v", r.Process, r.PID, r.Err)
		}
	}
	if st := h.proc("app"); st.State != StateRunning || st.Crashes != 0 {
		t.Errorf("app after start all: %s, crashes %d; events %v", st.State, st.Crashes, eventKinds(st))
	}
}

func TestCrashLoopWaitsTheLongestBackoffAndEndsWhenARunStaysUp(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, `
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 0.6
crash_loop_crashes = 3
crash_loop_window_seconds = 3

[process.app]
type = "command"
command = ["sh", "-c", "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo starting $n; if [ $n -le 4 ]; then echo \"fatal: no config $n\" >&2; seq 100; exit 3; fi; seq 100; echo up; exec sleep 1000"]
`)
	h := startHarness(t, dir, nil)
	// The loop lasts two waits of 0.6 s: a loaded machine may look only
	// after it, so the test reads the events, which stay.
	loop := h.waitEvent("app", "crash_loop", 20*time.Second)
	if want := "3 crashes within 3s; first error: fatal: no config"; !strings.HasPrefix(loop.Message, want) {
		t.Errorf("crash_loop %q, want it to start %q", loop.Message, want)
	}
	testkit.WaitFor(t, 10*time.Second, "a restart in the loop to wait the longest backoff", func() bool {
		return hasEvent(h.proc("app"), "restart_scheduled", "restart in 600ms (release mode)")
	})
	// The fifth run stays up: after the window the loop is over.
	testkit.WaitFor(t, 15*time.Second, "crash_loop_ended", func() bool {
		st := h.proc("app")
		return st.State == StateRunning && st.CrashLoop == "" && hasEvent(st, "crash_loop_ended", "stayed up")
	})
	// The fourth run, started in the loop, kept its first 50 lines and
	// counted the rest; the third, before the loop, kept all.
	fourth := h.search("app", SearchRequest{Kind: KindRun, Index: -2})
	if fourth.Err != nil || fourth.Run.Lines < 102 || fourth.Selected > 52 || !h.logHasIn("app", -2, "crash loop: the rest of this run's output is counted") {
		t.Errorf("run in the loop: %d lines written, %d kept (err %v); want 102+ written, at most 52 kept with the marker", fourth.Run.Lines, fourth.Selected, fourth.Err)
	}
	third := h.search("app", SearchRequest{Kind: KindRun, Index: -3})
	if third.Err != nil || third.Selected < 102 {
		t.Errorf("run before the loop kept %d lines (err %v), want all 102", third.Selected, third.Err)
	}
	testkit.WaitFor(t, 5*time.Second, "the fifth run's lines kept again", func() bool {
		return h.logHasIn("app", -1, "crash loop over: output is kept again")
	})
}

// logHasIn reports whether run index of name has a line matching pattern.
func (h *bpmHarness) logHasIn(name string, index int, pattern string) bool {
	r := h.search(name, SearchRequest{Kind: KindRun, Pattern: pattern, Index: index})
	return r.Err == nil && r.Matches > 0
}

// reload writes doc as the project's config and reloads it.
func (h *bpmHarness) reload(doc string) ReloadReply {
	h.t.Helper()
	testkit.WriteFile(h.t, filepath.Join(h.dir, config.FileName), doc)
	r, err := Ask[ReloadReply](h.system.Root, h.sup, ReloadRequest{}, 30*time.Second)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.Err != nil {
		h.t.Fatalf("reload: %v", r.Err)
	}
	return r
}

// A process renamed in the file starts once its old self has stopped: on a
// port of its own it does not find it taken, and with `listen` it takes
// the socket over.
func TestReloadRenamesAProcess(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	own, shared := testkit.FreePort(t), testkit.FreePort(t)
	doc := func(a, b string) string {
		return fmt.Sprintf(`
[process.%s]
type = "command"
command = [%q]
env = { FIXTURE_LISTEN = "127.0.0.1:%d" }
ready = { tcp = "127.0.0.1:%d" }

[process.%s]
type = "command"
command = [%q]
listen = "127.0.0.1:%d"
`, a, bin, own, own, b, bin, shared)
	}
	dir := testkit.NewProject(t, doc("db", "web"))
	h := startHarness(t, dir, nil)
	h.waitState("db", StateRunning, 20*time.Second)
	web := h.waitState("web", StateRunning, 20*time.Second)

	r := h.reload(doc("db2", "web2"))
	if !slices.Equal(r.Added, []string{"db2", "web2"}) || !slices.Equal(r.Removed, []string{"db", "web"}) {
		t.Fatalf("reload: %+v", r)
	}
	db2 := h.waitState("db2", StateRunning, 20*time.Second)
	web2 := h.waitState("web2", StateRunning, 20*time.Second)
	if db2.Crashes != 0 || web2.Crashes != 0 {
		t.Errorf("renamed processes crashed: db2 %d (%s), web2 %d (%s)", db2.Crashes, db2.LastExit, web2.Crashes, web2.LastExit)
	}
	if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", shared)); body != fmt.Sprintf("pid=%d\n", web2.PID) {
		t.Errorf("the listen address answers %q, want web2 (pid %d; web was %d)", body, web2.PID, web.PID)
	}
	if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", own)); body != fmt.Sprintf("pid=%d\n", db2.PID) {
		t.Errorf("db2's own port answers %q, want pid %d", body, db2.PID)
	}
}

// Processes added and removed by reloads leave nothing running behind:
// their actors' goroutines (the pass-through writers) end with them.
func TestReloadsAddingAndRemovingLeakNoGoroutines(t *testing.T) {
	base := "[process.keep]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"
	dir := testkit.NewProject(t, base)
	h := startHarness(t, dir, nil)
	h.waitState("keep", StateRunning, 20*time.Second)
	cycle := func() {
		h.reload(base + "\n[process.extra]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n")
		h.waitState("extra", StateRunning, 20*time.Second)
		h.reload(base)
		testkit.WaitFor(t, 20*time.Second, "extra gone", func() bool {
			for _, p := range h.status().Processes {
				if p.Name == "extra" {
					return false
				}
			}
			return true
		})
	}
	cycle()
	before := runtime.NumGoroutine()
	for range 15 {
		cycle()
	}
	testkit.WaitFor(t, 10*time.Second, "goroutines back to where they were", func() bool {
		return runtime.NumGoroutine() < before+10
	})
}

// A crash's cause early in a run (a panic before its long dump) is kept for
// the crash loop even when the ring has dropped it.
func TestFirstErrorLineOutlivesTheRing(t *testing.T) {
	t.Parallel()
	f := spawnLogBuffer(t, 10, 2)
	lines := []string{"starting", "panic: database connection refused", "goroutine 1 [running]:"}
	for i := range 200 {
		lines = append(lines, fmt.Sprintf("\tmain.go:%d +0x4a5", i))
	}
	f.send(LogStart{Kind: KindRun, ID: 1, PID: 7, StartedAt: time.Now()},
		linesChunk(KindRun, 1, Stderr, time.Now(), lines...))
	res, err := f.sys.Root.RequestFuture(f.pid, TailRequest{Kind: KindRun, ID: 1, N: 5}, time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	tail := res.(TailReply)
	if tail.FirstError != "panic: database connection refused" || tail.CrashLine != tail.FirstError || len(tail.Lines) != 5 {
		t.Errorf("tail: first error %q, crash line %q, %d lines; want the panic line twice and 5 lines", tail.FirstError, tail.CrashLine, len(tail.Lines))
	}
	if got := crashCause(tail, "exit code 2"); got != "panic: database connection refused" {
		t.Errorf("crash cause %q, want the panic line", got)
	}
	if r := f.search(SearchRequest{Kind: KindRun, Index: -1, Pattern: "^panic"}); r.Matches != 0 {
		t.Fatalf("the ring of 10 lines still holds the panic: the test proves nothing")
	}
}

// restart "all" restarts a dependant with restart_with_dependencies once,
// not once for its dependency's new run and once more for the batch.
func TestRestartAllRestartsEachDependantOnce(t *testing.T) {
	t.Parallel()
	dir, _ := dependencyProject(t)
	h := startHarness(t, dir, nil)
	app := h.waitState("app", StateRunning, 30*time.Second)
	h.waitState("side", StateRunning, 30*time.Second)
	r, err := Ask[BatchReply](h.system.Root, h.sup, RestartRequest{Process: All}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Replies {
		if p.Err != nil {
			t.Fatalf("restart %s: %v", p.Process, p.Err)
		}
	}
	stays(t, time.Second, "app restarted once", func() bool {
		st := h.proc("app")
		return st.Restarts == app.Restarts+1 && st.State == StateRunning
	})
}

// The shutdown bound follows the config as reloaded, not as bpm started.
func TestShutdownTimeoutFollowsAReload(t *testing.T) {
	t.Parallel()
	base := "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"
	h := startHarness(t, testkit.NewProject(t, base), nil)
	h.waitState("a", StateRunning, 20*time.Second)
	h.reload(base + "\n[process.slow]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\nstop_timeout_seconds = 600\n")
	r, err := Ask[ShutdownTimeoutReply](h.system.Root, h.sup, ShutdownTimeoutRequest{}, 5*time.Second)
	if err != nil || r.Timeout < 600*time.Second {
		t.Errorf("shutdown bound after the reload: %v (err %v), want at least 600s", r.Timeout, err)
	}
}

// A stop that waits for a run which ignores SIGTERM is answered when a
// restart or a start comes first: it says so, and the caller is not left
// waiting for ever (a restart used to drop it).
func TestStopCallerIsAnsweredWhenARestartOrStartComesFirst(t *testing.T) {
	dir := testkit.NewProject(t, `
[process.app]
type = "command"
stop_timeout_seconds = 3
command = ["sh", "-c", "trap '' TERM; echo up; exec sleep 1000"]
`)
	h := startHarness(t, dir, nil)
	for _, next := range []any{RestartRequest{Process: "app"}, StartProcessRequest{Process: "app"}} {
		h.waitState("app", StateRunning, 30*time.Second)
		stopped := make(chan StopProcessReply, 1)
		go func() {
			r, err := Ask[StopProcessReply](h.system.Root, h.sup, StopProcessRequest{Process: "app"}, 30*time.Second)
			if err != nil {
				r.Err = err
			}
			stopped <- r
		}()
		testkit.WaitFor(t, 10*time.Second, "the stop under way", func() bool { return h.proc("app").Held })
		by := strings.TrimSuffix(strings.ToLower(fmt.Sprintf("%T", next)[len("actors."):]), "processrequest")
		by = strings.TrimSuffix(by, "request")
		if _, err := Ask[RestartReply](h.system.Root, h.sup, next, 30*time.Second); err != nil {
			t.Fatalf("%s: %v", by, err)
		}
		r := <-stopped
		if r.Err == nil || !strings.Contains(r.Err.Error(), "a "+by+" came before its runs had stopped") {
			t.Errorf("stop, then %s: the stop's answer is %v", by, r.Err)
		}
	}
}
