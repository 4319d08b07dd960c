package osproc

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"bpm/testkit"
)

// guardChildren lists the live guard processes this test binary started.
func guardChildren() []int { return testkit.ChildrenWithArg(os.Getpid(), GuardArg) }

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

// guardKinds are the two guards: the shell script, and this test binary
// standing in for bpm where no shell can be started.
var guardKinds = []struct {
	name  string
	shell []string
}{
	{"sh", []string{guardShell}},
	{"bpm", []string{"/nonexistent/sh"}},
}

// selfGuard is the argv that runs this test binary as the guard (TestMain).
func selfGuard(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{self, GuardArg}
}

func startTestGuard(t *testing.T, shell []string) (*Guard, int) {
	t.Helper()
	before := guardChildren()
	g, err := startGuard(shell, selfGuard(t))
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
	for _, kind := range guardKinds {
		t.Run(kind.name, func(t *testing.T) { testGuardKilledIsReplaced(t, kind.shell) })
	}
}

func testGuardKilledIsReplaced(t *testing.T, shell []string) {
	g, old := startTestGuard(t, shell)
	if pgid, _ := syscall.Getpgid(old); pgid != old {
		t.Errorf("the guard is in process group %d, want its own (%d)", pgid, old)
	}
	kept, removed := startGroup(t), startGroup(t)
	g.Add(kept, "")
	g.Add(removed, "")
	g.Remove(removed)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	late := startGroup(t) // registered while the guard may be dead
	g.Add(late, "")
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
	for _, kind := range guardKinds {
		t.Run(kind.name, func(t *testing.T) {
			g, old := startTestGuard(t, kind.shell)
			pgid := startGroup(t)
			g.Add(pgid, "")
			if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitDead(t, old, "the guard to die")
			g.Close()
			waitDead(t, pgid, "the registered group to be killed")
		})
	}
}

// After Close, and on a nil *Guard, Add, Remove and Close return at once.
func TestGuardCallsAfterCloseDoNotBlock(t *testing.T) {
	const noGroup = 1<<22 + 1 // above any pid_max: no such group
	var none *Guard
	none.Add(noGroup, "")
	none.Remove(noGroup)
	none.Close()
	g, _ := startTestGuard(t, []string{guardShell})
	g.Close()
	done := make(chan struct{})
	go func() {
		for i := range 2 * guardQueue {
			g.Add(noGroup+i, "")
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

// The guard script under each shell that may be /bin/sh, and RunGuard, on
// one input: a set kept right through repeats and removals (first, middle,
// last), lines that name no group skipped, and a last line without its
// newline (bpm died while writing it) ignored rather than read as a
// shorter, wrong pgid. No line names pgid 1 or 0: a guard that took it
// would kill every process this test may signal.
func TestGuardScriptUnderEachShell(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"/bin/sh", []string{guardShell}},
		{"dash", []string{"dash"}},
		{"bash", []string{"bash"}},
		{"busybox", []string{"busybox", "sh"}},
		{"mksh", []string{"mksh"}},
		{"RunGuard", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := selfGuard(t)
			if tc.argv != nil {
				if _, err := exec.LookPath(tc.argv[0]); err != nil {
					t.Skipf("%s not installed", tc.argv[0])
				}
				argv = append(tc.argv, "-c", guardScript, "bpm", GuardArg)
			}
			a, b, c, d, e := startGroup(t), startGroup(t), startGroup(t), startGroup(t), startGroup(t)
			in := fmt.Sprintf("+%[1]d\n+%[2]d\n+%[5]d\n+%[1]d\n-%[2]d\n-%[1]d\n+%[1]d\n-%[5]d\n+%[5]d\n"+
				"+0%[4]d\n+ %[4]d\n%[4]d\n*%[4]d\n+%[4]dx\n+x\n\n-%[3]d\n+%[3]d", a, b, c, d, e)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = strings.NewReader(in)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("the guard failed: %v", err)
			}
			waitDead(t, a, "a group added, removed and added again to be killed")
			waitDead(t, e, "the last group added to be killed")
			for _, pgid := range []int{b, c, d} {
				if !testkit.Alive(pgid) {
					t.Errorf("group %d was killed; only %d and %d are registered", pgid, a, e)
				}
			}
		})
	}
}
