package actors

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// guardChildren lists the live guard processes this test binary started.
func guardChildren() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if slices.Contains(strings.Split(string(cmdline), "\x00"), GuardArg) && testkit.Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitNewGuard waits for a guard process not in seen and returns its pid.
func waitNewGuard(t *testing.T, seen ...int) int {
	t.Helper()
	var pid int
	testkit.WaitFor(t, 10*time.Second, "a new guard process", func() bool {
		for _, p := range guardChildren() {
			if !slices.Contains(seen, p) {
				pid = p
				return true
			}
		}
		return false
	})
	return pid
}

// startGroup starts a sleep leading its own process group and returns its
// pid, which is the group's id.
func startGroup(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	return cmd.Process.Pid
}

func startTestGuard(t *testing.T) (*Guard, int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before := guardChildren()
	g, err := StartGuard([]string{self, GuardArg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, waitNewGuard(t, before...)
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, what, func() bool { return !testkit.Alive(pid) })
}

// Killing the guard used to leave bpm without one: a later SIGKILL of bpm
// orphaned every run's descendants. A new guard must know every group.
func TestGuardKilledIsReplacedKnowingEveryGroup(t *testing.T) {
	g, old := startTestGuard(t)
	if pgid, _ := syscall.Getpgid(old); pgid != old {
		t.Errorf("the guard is in process group %d, want its own (%d)", pgid, old)
	}
	kept, removed := startGroup(t), startGroup(t)
	g.Add(kept)
	g.Add(removed)
	g.Remove(removed)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	late := startGroup(t) // registered while the guard may be dead
	g.Add(late)
	fresh := waitNewGuard(t, old)
	if !testkit.Alive(kept) || !testkit.Alive(late) {
		t.Fatal("a group died with the killed guard")
	}
	g.Close()
	waitDead(t, fresh, "the new guard to exit once closed")
	waitDead(t, kept, "the group registered before the restart to be killed")
	waitDead(t, late, "the group registered during the restart to be killed")
	if !testkit.Alive(removed) {
		t.Error("a group removed before the restart was killed")
	}
}

// Close right after the guard died: whether or not a new guard runs yet,
// what is registered is killed.
func TestGuardClosedRightAfterItsDeathStillKillsGroups(t *testing.T) {
	g, old := startTestGuard(t)
	pgid := startGroup(t)
	g.Add(pgid)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, old, "the guard to die")
	g.Close()
	waitDead(t, pgid, "the registered group to be killed")
}

// After Close, and on a nil *Guard, Add, Remove and Close return at once.
func TestGuardCallsAfterCloseDoNotBlock(t *testing.T) {
	const noGroup = 1<<22 + 1 // above any pid_max: no such group
	var none *Guard
	none.Add(noGroup)
	none.Remove(noGroup)
	none.Close()
	g, _ := startTestGuard(t)
	g.Close()
	done := make(chan struct{})
	go func() {
		for i := range 2 * guardQueue {
			g.Add(noGroup + i)
			g.Remove(noGroup + i)
		}
		g.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Add, Remove or Close blocked after Close")
	}
}
