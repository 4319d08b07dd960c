package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/actors/osproc"
	"bpm/testkit"
)

// guardsOf lists the live guard processes of bpm: children of ppid whose
// command line has osproc.GuardArg.
func guardsOf(ppid int) []int { return testkit.ChildrenWithArg(ppid, osproc.GuardArg) }

// waitGuard waits until bpm runs exactly one guard, other than old, and
// returns its pid.
func waitGuard(t *testing.T, bpm, old int) int {
	t.Helper()
	var pid int
	testkit.WaitFor(t, 10*time.Second, "bpm's guard process", func() bool {
		g := guardsOf(bpm)
		if len(g) == 1 && g[0] != old {
			pid = g[0]
			return true
		}
		return false
	})
	return pid
}

// Guard killed, then bpm killed, both with SIGKILL: bpm used to run on
// without a guard, and the runs' descendants were orphaned.
func TestGuardKilledThenBPMKilledLeavesNoDescendant(t *testing.T) {
	t.Parallel()
	b, all := startFamily(t)
	bpm := b.cmd.Process.Pid
	old := waitGuard(t, bpm, 0)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fresh := waitGuard(t, bpm, old)
	if pgid, _ := syscall.Getpgid(fresh); pgid != fresh {
		t.Errorf("the new guard is in process group %d, want its own: a signal to bpm's group would take it too", pgid)
	}
	stdinHeldOnlyByBPM(t, fresh, bpm, all)
	testkit.WaitFor(t, 10*time.Second, "bpm to log the new guard", func() bool {
		return strings.Contains(b.stderr.String(), "started a new guard process")
	})
	for _, pid := range all {
		if !testkit.Alive(pid) {
			t.Fatalf("pid %d died with the guard", pid)
		}
	}
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 10*time.Second)
	testkit.WaitFor(t, 10*time.Second, "every descendant and the guard to die", func() bool {
		for _, pid := range append(all, fresh) {
			if testkit.Alive(pid) {
				return false
			}
		}
		return true
	})
}

// stdinHeldOnlyByBPM checks that the guard's stdin pipe is open in bpm (its
// write end) and in no other process, the guard itself aside: else the guard
// would not see EOF when bpm dies.
func stdinHeldOnlyByBPM(t *testing.T, guard, bpm int, others []int) {
	t.Helper()
	pipe, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", guard))
	if err != nil || !strings.HasPrefix(pipe, "pipe:") {
		t.Fatalf("the guard's stdin is %q (%v), want a pipe", pipe, err)
	}
	holders := func(pid int) []string {
		var fds []string
		entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range entries {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); l == pipe {
				fds = append(fds, e.Name())
			}
		}
		return fds
	}
	if fds := holders(guard); !slices.Equal(fds, []string{"0"}) {
		t.Errorf("the guard holds its stdin pipe on fds %v, want only 0", fds)
	}
	if len(holders(bpm)) == 0 {
		t.Errorf("bpm does not hold the guard's stdin pipe")
	}
	for _, pid := range others {
		if fds := holders(pid); len(fds) > 0 {
			t.Errorf("pid %d holds the guard's stdin pipe on fds %v", pid, fds)
		}
	}
}

// The guard was a re-exec of bpm, at 14 MB of RSS beside bpm's 21 with three
// idle processes: a second Go runtime that initialised every package bpm
// links, to read a pipe. It is a shell script now; a guard back above 5 MB
// (dash as /bin/sh takes under 2, bash about 3) has become a copy of bpm again.
func TestGuardRSSIsSmall(t *testing.T) {
	const limitKB = 5 << 10
	dir := testkit.NewProject(t, `
[process.a]
type = "command"
command = ["sleep", "1000"]

[process.b]
type = "command"
command = ["sleep", "1000"]

[process.c]
type = "command"
command = ["sleep", "1000"]
`)
	b := startBPM(t, "--port", strconv.Itoa(testkit.FreePort(t)), dir)
	bpm := b.cmd.Process.Pid
	testkit.WaitFor(t, 30*time.Second, "three runs to start", func() bool {
		return strings.Count(b.stderr.String(), ": started: pid ") >= 3
	})
	guard := waitGuard(t, bpm, 0)
	// Blocked reading its pipe, it has run everything it runs before bpm ends.
	testkit.WaitFor(t, 10*time.Second, "the guard to wait on its pipe", func() bool {
		return procState(guard) == "S"
	})
	rss := vmRSSKB(t, guard)
	t.Logf("RSS: guard %d kB, bpm (built with -race) %d kB", rss, vmRSSKB(t, bpm))
	if rss > limitKB {
		t.Errorf("the guard's RSS is %d kB, want at most %d kB", rss, limitKB)
	}
}

func procState(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	return strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))[0]
}

// vmRSSKB is pid's resident set in kB, from /proc/PID/status.
func vmRSSKB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
