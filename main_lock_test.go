package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// startLocked runs bpm on dir and waits until it has started its process "a"
// (so it holds the lock); it returns bpm, its MCP URL and the pid of a's run.
func startLocked(t *testing.T, dir string) (*bpmProcess, string, int) {
	t.Helper()
	port := strconv.Itoa(testkit.FreePort(t))
	b := startBPM(t, "--port", port, dir)
	var run int
	testkit.WaitFor(t, 20*time.Second, "a's start event", func() bool {
		m := regexp.MustCompile(`a: started: pid (\d+)`).FindStringSubmatch(b.stderr.String())
		if m != nil {
			run, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	return b, "http://127.0.0.1:" + port + "/mcp", run
}

const sleeper = "[process.a]\ntype = \"command\"\ncommand = [\"sleep\", \"1000\"]\n"

func TestSecondBPMOnAProjectExitsOneNamingTheFirst(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, sleeper)
	first, url, _ := startLocked(t, dir)
	lock, err := os.ReadFile(filepath.Join(dir, ".bpm", "lock"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("pid %d\nmcp %s\n", first.cmd.Process.Pid, url); string(lock) != want {
		t.Errorf(".bpm/lock holds %q, want %q", lock, want)
	}
	secondPort := testkit.FreePort(t)
	second := startBPM(t, "--port", strconv.Itoa(secondPort), dir)
	if code := second.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("second bpm: exit %d, want 1\n%s", code, second.stderr)
	}
	msg := second.stderr.String()
	if !strings.Contains(msg, "pid "+strconv.Itoa(first.cmd.Process.Pid)) || !strings.Contains(msg, url) {
		t.Errorf("second bpm's message %q does not name pid %d and %s", msg, first.cmd.Process.Pid, url)
	}
	if strings.Contains(msg, "a: started") || strings.Contains(second.stdout.String(), "[a]") {
		t.Errorf("second bpm ran a process:\n%s", msg)
	}
	if testkit.Get(fmt.Sprintf("http://127.0.0.1:%d/mcp", secondPort)) != "" {
		t.Error("second bpm served MCP")
	}
	if first.cmd.ProcessState != nil {
		t.Fatal("the first bpm exited")
	}
}

// The lock goes with the bpm that holds it, even when it is killed: a new
// bpm takes it over and writes its own pid.
func TestProjectLockGoesWithBPM(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, sleeper)
	first, _, _ := startLocked(t, dir)
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t, 10*time.Second)
	second, url, _ := startLocked(t, dir)
	lock, _ := os.ReadFile(filepath.Join(dir, ".bpm", "lock"))
	if want := fmt.Sprintf("pid %d\nmcp %s\n", second.cmd.Process.Pid, url); string(lock) != want {
		t.Errorf(".bpm/lock holds %q, want %q", lock, want)
	}
}

// fdsOn lists which of pid's open files are path.
func fdsOn(t *testing.T, pid int, path string) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var fds []string
	for _, e := range entries {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target == path {
			fds = append(fds, e.Name())
		}
	}
	return fds
}

// The lock's descriptor is close-on-exec: a run that outlived bpm must not
// keep the project locked.
func TestProjectLockIsNotInheritedByRuns(t *testing.T) {
	t.Parallel()
	dir := testkit.NewProject(t, sleeper)
	b, _, run := startLocked(t, dir)
	lock := filepath.Join(dir, ".bpm", "lock")
	if fds := fdsOn(t, b.cmd.Process.Pid, lock); len(fds) != 1 {
		t.Errorf("bpm has %s open on fds %v, want one", lock, fds)
	}
	if fds := fdsOn(t, run, lock); len(fds) != 0 {
		t.Errorf("the run (pid %d) inherited %s on fds %v", run, lock, fds)
	}
}
