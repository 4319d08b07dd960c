package actors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bpm/testkit"
)

// newNestedProject writes mcpRun into a project directory of its own under
// a temp dir, so that the test can move the project away and back.
func newNestedProject(t *testing.T, mcpRun string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, ".mcp-run"), mcpRun)
	return dir
}

// countLines is how many lines the file at path has (0 when it is missing).
func countLines(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "\n")
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// The project moved away while a process crash-loops with log_dir set
// (issue 16, item 4): bpm re-created proj/.bpm/logs/… and ran every later
// restart in that empty ghost. Now the process waits in dir_missing, naming
// the directory, without counting crashes; a log writer that finds its file
// gone does not re-create the project; and once the project is moved back
// the process runs in it again and the logs are written there again.
func TestMovedProjectWaitsInDirMissingWithoutAGhostAndResumesWhenBack(t *testing.T) {
	dir := newNestedProject(t, `
log_dir = ".bpm/logs"
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
	h := startHarness(t, dir, nil)
	h.waitState("app", StateCrashLoop, 30*time.Second)
	h.waitState("ticker", StateRunning, 30*time.Second)

	mustRename(t, dir, moved)
	st := h.waitState("app", StateDirMissing, 10*time.Second)
	if st.DirMissing != dir || !hasEvent(st, StateDirMissing, "project directory "+dir+" is missing") {
		t.Fatalf("dir_missing status: dir %q, events %+v", st.DirMissing, st.Events)
	}
	// The ticker runs on in the moved project; its log writer finds its
	// file gone (within checkFileEvery) and must not make a new one.
	testkit.WaitFor(t, 15*time.Second, "the ticker's log writer to notice its file is gone", func() bool {
		return h.logHas("ticker", KindRun, `log_dir: cannot write .*project directory is missing`)
	})
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the moved project was re-created at %s: %v", dir, err)
	}
	after := h.proc("app")
	if after.State != StateDirMissing || after.Crashes != st.Crashes || after.PID != 0 {
		t.Fatalf("while the project is away: state %s, crashes %d→%d, pid %d; want dir_missing, no new crash, no run",
			after.State, st.Crashes, after.Crashes, after.PID)
	}
	if r := h.restart("app"); r.Err == nil || !strings.Contains(r.Err.Error(), dir+" is missing") {
		t.Errorf("restart while the project is away: %v; want an error naming %s", r.Err, dir)
	}

	runs := countLines(filepath.Join(moved, "runs"))
	mustRename(t, moved, dir)
	testkit.WaitFor(t, 10*time.Second, "app to run again in the project moved back", func() bool {
		return countLines(filepath.Join(dir, "runs")) > runs
	})
	if st := h.proc("app"); st.DirMissing != "" || !hasEvent(st, "dir_back", dir+" is back") {
		t.Errorf("after the move back: dir %q, events %+v", st.DirMissing, st.Events)
	}
	testkit.WaitFor(t, 3*retryWrites, "the ticker's log file to be written again", func() bool {
		return countLines(filepath.Join(dir, ".bpm", "logs", "ticker", "run.log")) > 0
	})
}

// A process whose own `dir` is deleted waits in dir_missing naming it; a
// dependant that is asked to start is told its dependency is not coming up
// by itself; once the directory is back, the process runs there again.
func TestMissingProcessDirWaitsAndResumesWhenBack(t *testing.T) {
	dir := newNestedProject(t, `
release_crash_backoff_initial_seconds = 0.05
release_crash_backoff_max_seconds = 0.2

[process.web]
type = "command"
dir = "web"
command = ["sh", "-c", "echo run >> runs; sleep 1.5; exit 1"]

[process.api]
type = "command"
depends_on = ["web"]
command = ["sleep", "1000"]
`)
	web := filepath.Join(dir, "web")
	if err := os.Mkdir(web, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, dir, nil)
	// web is ready after a second, then crashes; api starts once it is.
	h.waitState("api", StateRunning, 20*time.Second)
	mustRename(t, web, web+"-gone")
	st := h.waitState("web", StateDirMissing, 10*time.Second)
	if st.DirMissing != web || !hasEvent(st, StateDirMissing, "working directory (dir) "+web+" is missing") {
		t.Fatalf("dir_missing status: dir %q, events %+v", st.DirMissing, st.Events)
	}
	if _, err := os.Lstat(web); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the missing dir was re-created: %v", err)
	}
	if _, err := Ask[StopProcessReply](h.system.Root, h.sup, StopProcessRequest{Process: "api"}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := Ask[RestartReply](h.system.Root, h.sup, StartProcessRequest{Process: "api"}, 20*time.Second)
	if err != nil || r.Err == nil || !strings.Contains(r.Err.Error(), "waits for web, which is not coming up by itself") {
		t.Errorf("start of a dependant of a process whose dir is missing: %v, %v; want it told web is blocked", r.Err, err)
	}

	runs := countLines(filepath.Join(web+"-gone", "runs"))
	mustRename(t, web+"-gone", web)
	testkit.WaitFor(t, 10*time.Second, "web to run again in its dir", func() bool {
		return countLines(filepath.Join(web, "runs")) > runs
	})
	h.waitState("api", StateRunning, 20*time.Second)
}
