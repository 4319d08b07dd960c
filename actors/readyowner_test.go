package actors

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/testkit"
)

// neverAccepts makes goapp hold the inherited socket without ever accepting.
const neverAccepts = "FIXTURE_ACCEPT_AFTER_MS=600000"

// readyKinds are the three ready checks, each pointed at the `listen`
// address (PORT) the way configuration.md's example does.
var readyKinds = []struct{ name, check string }{
	{"log", `log = "^goapp listening"`},
	{"http", `http = "http://127.0.0.1:PORT/"`},
	{"tcp", `tcp = "127.0.0.1:PORT"`},
}

// buildGoapp builds testdata/goapp and returns the binary's path.
func buildGoapp(t *testing.T) string {
	t.Helper()
	testkit.Need(t, "go")
	bin := filepath.Join(t.TempDir(), "goapp")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = testkit.RepoPath("testdata/goapp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// goappProject is a project whose process runs goapp with `listen` and the
// given ready check, through app.sh, which its build copies from next.sh:
// setNext decides what the next run is. A crash in release mode (a first
// start that failed) waits crashWait seconds.
func goappProject(t *testing.T, bin, check string, timeoutSeconds, crashWait int, env ...string) (dir string, port int) {
	t.Helper()
	port = testkit.FreePort(t)
	dir = testkit.NewProject(t, fmt.Sprintf(`
release_crash_backoff_initial_seconds = %d
release_crash_backoff_max_seconds = %d

[process.app]
type = "command"
build = ["cp", "next.sh", "app.sh"]
command = ["/bin/sh", "app.sh"]
listen = "127.0.0.1:%d"
stop_timeout_seconds = 3

[process.app.ready]
%s
timeout_seconds = %d
`, crashWait, crashWait, port, strings.ReplaceAll(check, "PORT", strconv.Itoa(port)), timeoutSeconds))
	setNext(t, dir, bin, env...)
	return dir, port
}

// setNext makes the next build's run goapp with env (KEY=VALUE each). The
// shell execs goapp, so the app keeps the pid in LISTEN_PID.
func setNext(t *testing.T, dir, bin string, env ...string) {
	t.Helper()
	var b strings.Builder
	for _, kv := range env {
		fmt.Fprintf(&b, "export %s\n", kv)
	}
	fmt.Fprintf(&b, "exec %s\n", bin)
	testkit.WriteFile(t, filepath.Join(dir, "next.sh"), b.String())
}

// eventAt is the time of st's first event of kind, and whether there is one.
func eventAt(st ProcessStatus, kind string) (time.Time, bool) {
	for _, e := range st.Events {
		if e.Kind == kind {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

func TestReadyHandoffRollsBackNewRunThatNeverAccepts(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, kind := range readyKinds {
		t.Run(kind.name, func(t *testing.T) {
			// A first start slower than the short timeout is tried again.
			dir, port := goappProject(t, bin, kind.check, 2, 1)
			h := startHarness(t, dir, nil)
			old := h.waitState("app", StateRunning, 20*time.Second)
			setNext(t, dir, bin, neverAccepts)

			r := h.restart("app")
			if r.Err == nil {
				t.Fatalf("restart to a run that never accepts succeeded: %+v", r)
			}
			for _, want := range []string{"not ready within 2s", fmt.Sprintf("pid %d keeps serving", old.PID)} {
				if !strings.Contains(r.Err.Error(), want) {
					t.Errorf("restart error lacks %q: %v", want, r.Err)
				}
			}
			st := h.proc("app")
			if st.PID != old.PID || st.State != StateRunning || !hasInOrder(eventKinds(st), "new_run_started", "ready_timeout", "rolled_back") {
				t.Errorf("after the rollback: pid %d (old %d) state %s events %v", st.PID, old.PID, st.State, eventKinds(st))
			}
			next := newRunPID(st)
			testkit.WaitFor(t, 10*time.Second, "the run that never accepts to be stopped", func() bool { return !testkit.Alive(next) })
			if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", old.PID) {
				t.Errorf("after the rollback the socket answers %q, want the old pid %d", body, old.PID)
			}
		})
	}
}

func TestReadyFirstStartOfRunThatNeverAcceptsIsNotReady(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, kind := range readyKinds {
		t.Run(kind.name, func(t *testing.T) {
			// Not started again during the test.
			dir, _ := goappProject(t, bin, kind.check, 1, 60, neverAccepts)
			h := startHarness(t, dir, nil)
			var st ProcessStatus
			testkit.WaitFor(t, 15*time.Second, "the ready timeout to stop the run", func() bool {
				st = h.proc("app")
				if _, ready := eventAt(st, "ready"); ready || st.State == StateRunning {
					t.Fatalf("a run that never accepts was reported ready: state %s events %v", st.State, eventKinds(st))
				}
				return st.State == StateBackoff
			})
			if !hasInOrder(eventKinds(st), "started", "ready_timeout", "stopping", "crashed") {
				t.Errorf("events %v, want started, ready_timeout, stopping, crashed", eventKinds(st))
			}
		})
	}
}

func TestReadyFirstStartPassesOnceTheRunAccepts(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, kind := range readyKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir, port := goappProject(t, bin, kind.check, 20, 1, "FIXTURE_ACCEPT_AFTER_MS=1000")
			h := startHarness(t, dir, nil)
			st := h.waitState("app", StateRunning, 20*time.Second)
			started, _ := eventAt(st, "started")
			ready, _ := eventAt(st, "ready")
			// The app starts after the started event, then waits 1 s to accept.
			if took := ready.Sub(started); took < time.Second {
				t.Errorf("ready %v after the start, before the run accepted anything (it waits 1s)", took)
			}
			if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", st.PID) {
				t.Errorf("the socket answers %q, want pid %d", body, st.PID)
			}
		})
	}
}

func TestReadyHandoffPassesOnceTheNewRunAccepts(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	for _, kind := range readyKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir, port := goappProject(t, bin, kind.check, 20, 1)
			h := startHarness(t, dir, nil)
			old := h.waitState("app", StateRunning, 20*time.Second)
			setNext(t, dir, bin, "FIXTURE_ACCEPT_AFTER_MS=1000")

			start := time.Now()
			r := h.restart("app")
			if r.Err != nil {
				t.Fatalf("restart to a healthy run: %v", r.Err)
			}
			if took := time.Since(start); took < time.Second {
				t.Errorf("restart done after %v, before the new run accepted anything (it waits 1s)", took)
			}
			if r.PID == old.PID {
				t.Fatalf("restart kept pid %d", old.PID)
			}
			testkit.WaitFor(t, 10*time.Second, "the old run to stop", func() bool {
				return hasInOrder(eventKinds(h.proc("app")), "new_run_started", "ready", "old_run_stopped")
			})
			if st := h.proc("app"); st.PID != r.PID || st.State != StateRunning {
				t.Errorf("after the hand-off: pid %d (new %d) state %s", st.PID, r.PID, st.State)
			}
			if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", r.PID) {
				t.Errorf("the socket answers %q, want the new pid %d", body, r.PID)
			}
		})
	}
}

// oNonblock is O_NONBLOCK as /proc/PID/fdinfo prints flags (octal).
const oNonblock = 0o4000

// listenFlags returns the file status flags of pid's descriptor of the
// socket listening on 127.0.0.1:port, from /proc/PID/fdinfo.
func listenFlags(t *testing.T, pid, port int) int64 {
	t.Helper()
	link := fmt.Sprintf("socket:[%d]", listeningInode(t, port))
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if l, _ := os.Readlink(filepath.Join(dir, fd.Name())); l != link {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatalf("fdinfo flags %q: %v", v, err)
				}
				return flags
			}
		}
		t.Fatalf("no flags in fdinfo of pid %d fd %s:\n%s", pid, fd.Name(), info)
	}
	t.Fatalf("pid %d has no descriptor of the socket listening on port %d", pid, port)
	return 0
}

// listeningInode is the inode of the socket listening on 127.0.0.1:port,
// from /proc/net/tcp ("sl local_address rem_address st ... inode ...", each
// address as HEX:PORT, the remote port 0000 while listening).
func listeningInode(t *testing.T, port int) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || !strings.HasSuffix(f[1], local) || !strings.HasSuffix(f[2], ":0000") {
			continue
		}
		if inode, err := strconv.ParseUint(f[9], 10, 64); err == nil && inode != 0 {
			return inode
		}
	}
	t.Fatalf("no socket listens on port %d", port)
	return 0
}

// Starting a run must not switch the shared socket back to blocking mode
// under a Go run that made it non-blocking: that run would block in accept
// and hang in its graceful stop until it is killed.
func TestListenSpawnLeavesOldRunSocketNonBlocking(t *testing.T) {
	t.Parallel()
	bin := buildGoapp(t)
	dir, port := goappProject(t, bin, `log = "^goapp listening"`, 20, 1)
	h := startHarness(t, dir, nil)
	old := h.waitState("app", StateRunning, 20*time.Second)
	if flags := listenFlags(t, old.PID, port); flags&oNonblock == 0 {
		t.Fatalf("the Go run's listener is blocking before any restart: flags %o", flags)
	}
	// The new run leaves the socket alone for 4 s, so whatever changes the
	// flags meanwhile is bpm's spawn.
	setNext(t, dir, bin, "FIXTURE_ACCEPT_AFTER_MS=4000")
	replies := make(chan RestartReply, 1)
	go func() { replies <- h.restart("app") }()
	testkit.WaitFor(t, 20*time.Second, "the new run beside the old", func() bool { return newRunPID(h.proc("app")) != 0 })
	if flags := listenFlags(t, old.PID, port); flags&oNonblock == 0 {
		t.Errorf("starting the new run cleared O_NONBLOCK on the old run's listener: flags %o", flags)
	}
	// A connection makes the old run accept, and accept again: on a blocking
	// socket that second accept would never return.
	if body := testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); body != fmt.Sprintf("pid=%d\n", old.PID) {
		t.Errorf("during the hand-off the socket answers %q, want the old pid %d", body, old.PID)
	}
	if r := <-replies; r.Err != nil {
		t.Fatalf("restart: %v", r.Err)
	}
	testkit.WaitFor(t, 15*time.Second, "the old run to stop", func() bool {
		return hasInOrder(eventKinds(h.proc("app")), "ready", "old_run_stopped")
	})
	for _, e := range h.proc("app").Events {
		if e.Kind == "killed" {
			t.Errorf("the old run did not stop by itself on SIGTERM: %s", e.Message)
		}
	}
}
